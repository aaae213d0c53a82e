"""Memory a process freed, handed back to the system: for the worker's large jobs, whose
peak RSS is what the issue measures (22), not what they hold at any one moment."""

import ctypes

# glibc's allocator keeps what it frees for reuse: a freed array from within its heap stays
# counted in RSS, and the next phase's arrays, placed elsewhere, add to it. malloc_trim hands
# every free page back. None where the C library has no such call (musl, macOS).
_TRIM = getattr(ctypes.CDLL(None), "malloc_trim", None)


def release_freed() -> None:
    """Hand the pages this process freed but its allocator kept back to the system; nothing
    where the C library cannot. A few milliseconds at a worker's size."""
    if _TRIM is not None:
        _TRIM(0)
