"""Jobs queued during a test, recorded instead of sent to the broker (evalapp.task_queue)."""

from evalapp import task_queue


def jobs_recorded(monkeypatch, *tasks) -> list[tuple]:
    """Every job of these tasks queued from now on, as (the task's short name, *its arguments),
    instead of going to the broker; any other task's goes there as ever."""
    recorded, send = [], task_queue.send
    watched = {task.name for task in tasks}

    def record(name, args, **kwargs):
        if name not in watched:
            return send(name, args, **kwargs)
        recorded.append((name.rsplit(".", 1)[1], *args))
        return "recorded"

    monkeypatch.setattr(task_queue, "send", record)
    return recorded
