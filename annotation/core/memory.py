"""Memory a process freed, handed back to the system: for the worker's large jobs, whose
peak RSS is what the issue measures (22), not what they hold at any one moment."""

import contextlib
import ctypes
import gc
from collections.abc import Iterator

# glibc's allocator keeps what it frees for reuse: a freed array from within its heap stays
# counted in RSS, and the next phase's arrays, placed elsewhere, add to it. malloc_trim hands
# every free page back. None where the C library has no such call (musl, macOS).
try:
    _LIBC = ctypes.CDLL(None)  # the C library this process runs on
except (OSError, TypeError):  # none to open this way (Windows)
    _LIBC = None
_TRIM = getattr(_LIBC, "malloc_trim", None)
_MALLOPT = getattr(_LIBC, "mallopt", None)
_M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def release_freed() -> None:
    """Hand the pages this process freed but its allocator kept back to the system; nothing
    where the C library cannot. A few milliseconds at a worker's size."""
    if _TRIM is not None:
        _TRIM(0)


def mapping_threshold_set(nbytes: int) -> bool:
    """Have glibc give every block of `nbytes` or more a mapping of its own, unmapped when it
    is freed, for the rest of this process's life and in the processes it forks (glibc would
    otherwise raise the threshold to the size of each such block freed). False where the C
    library cannot (musl, macOS)."""
    return _MALLOPT is not None and bool(_MALLOPT(_M_MMAP_THRESHOLD, nbytes))


@contextlib.contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Python's cycle collector paused: a large job makes millions of small objects, none in
    a cycle, and the collector would walk every object the process holds again and again as
    they are made (a third of a study's design at a million assignments). What garbage there
    is waits until the end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
