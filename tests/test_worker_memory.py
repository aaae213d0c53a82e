"""A worker gives back what a large job's arrays freed: glibc's allocator maps blocks of 4 MiB
or more on their own for the worker's whole life (annotation.tasks.worker_memory_setup), rather
than raising that threshold after the first large block is freed and serving later arrays from
a heap that keeps what they free. Checked where such a block lands, in a fresh interpreter with
and without the setting, and that a real worker applies it as it starts."""

import json
import subprocess
import sys
import uuid
from pathlib import Path

from tests.support.worker import start_worker, stop_worker

ROOT = Path(__file__).resolve().parent.parent

# In a fresh interpreter: free a 16 MiB block (glibc would then raise its threshold to 16 MiB),
# then make a 6 MiB one and say whether it lies in the heap or in a mapping of its own.
PLACED = """
import ctypes, json, sys
sys.path.insert(0, {root!r})
if {set_up}:
    import os
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalapp.settings")
    import django
    django.setup()
    from annotation.tasks import worker_memory_setup
    assert worker_memory_setup()
large = bytearray(16 * 1024 * 1024)
del large
block = bytearray(6 * 1024 * 1024)
address = ctypes.addressof((ctypes.c_char * len(block)).from_buffer(block))
with open("/proc/self/maps") as maps:
    for line in maps:
        span, *rest = line.split()
        low, high = (int(end, 16) for end in span.split("-"))
        if low <= address < high:
            print(json.dumps(rest[-1] == "[heap]"))
            break
"""


def in_heap(*, set_up: bool) -> bool:
    code = PLACED.format(root=str(ROOT), set_up=set_up)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_after_a_large_block_is_freed_the_next_large_one_is_still_mapped_on_its_own():
    # Without the setting glibc serves it from the heap (so the check can tell them apart).
    assert in_heap(set_up=False)
    assert not in_heap(set_up=True)


def test_a_worker_fixes_the_threshold_as_it_starts(tmp_path):
    log = tmp_path / "worker.log"
    name = f"memory-{uuid.uuid4().hex[:8]}"
    # The line is logged at INFO, as the worker starts (whatever LOG_LEVEL the suite runs with).
    process = start_worker({"CELERY_TASK_DEFAULT_QUEUE": name, "LOG_LEVEL": "INFO"}, log, name)
    try:
        assert "blocks of 4194304 bytes or more are mapped" in log.read_text()
    finally:
        stop_worker(process)
