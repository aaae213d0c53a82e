import time

from annotation.models import TaskRun


def wait_for_run(run_id: int, timeout: float = 30, poll: float = 0.1) -> TaskRun:
    """Poll until the worker finishes a task run; fail with its state if it does not."""
    deadline = time.monotonic() + timeout
    run = TaskRun.objects.get(pk=run_id)
    while not run.is_finished:
        if time.monotonic() > deadline:
            raise AssertionError(f"task run {run_id} still {run.status} after {timeout}s")
        time.sleep(poll)
        run.refresh_from_db()
    return run
