"""Freed memory goes back to the system when a large job asks (issue 22: the bundle worker's
peak RSS)."""

from pathlib import Path

import pytest

from annotation.core import memory

STATUS = Path("/proc/self/status")


def _rss_mb() -> float:
    for line in STATUS.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(
    memory._TRIM is None or not STATUS.exists(),
    reason=(
        "needs glibc's malloc_trim and Linux's /proc: elsewhere release_freed does nothing by "
        "design (the worker image is Debian with glibc, where this runs)"
    ),
)
def test_memory_freed_within_the_heap_goes_back_to_the_system():
    # 80 MB of blocks below glibc's mmap threshold (in its heap), each written to; every
    # tenth kept, so that the freed ones are holes its own trimming of the heap's top misses.
    blocks = [bytes([n % 256]) * 100_000 for n in range(800)]
    kept = blocks[::10]
    del blocks
    held = _rss_mb()
    memory.release_freed()
    assert held - _rss_mb() > 40  # of the 72 MB freed
    assert [block[-1] for block in kept] == [n * 10 % 256 for n in range(80)]  # kept intact
