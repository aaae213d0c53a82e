"""Which background jobs (task runs) are alive: queued or running and heard from in time, or
dead, their worker gone or their message lost. The job lifecycle (`services.task_runs`) refuses
a second run while one is alive and sends the dead ones again; `selectors.judges_running`
reads which judges are at work."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from annotation.models import TaskRun

# The start of the message of a run whose task could not be sent (the broker was away).
UNSENT_NOTE = "Waiting for the task queue to come back"


def task_runs_live() -> QuerySet[TaskRun]:
    """Every unfinished run someone is working on, or whose message is on its way."""
    return TaskRun.objects.filter(
        Q(status__in=[TaskRun.Status.QUEUED, TaskRun.Status.RUNNING]) & _alive()
    )


def task_runs_dead() -> QuerySet[TaskRun]:
    """Every unfinished run nobody is working on: its worker died (its heartbeat older than the
    lease) or its message was lost (queued, and not heard from)."""
    return TaskRun.objects.filter(
        status__in=[TaskRun.Status.QUEUED, TaskRun.Status.RUNNING]
    ).exclude(_alive())


def _alive() -> Q:
    """A running run: its heartbeat within the lease. A queued one: sent (created, or sent
    again by the sweep) or received by a worker's task (which stamps it before claiming, and at
    each look while it waits for its study's other statistics job) within
    TASK_RUN_QUEUED_SECONDS, since a message may wait that long behind busy workers; a
    recomputation queued after a submit waits out its delay on top."""
    fresh = timezone.now() - timedelta(seconds=settings.TASK_RUN_LEASE_SECONDS)
    sent = timezone.now() - timedelta(seconds=settings.TASK_RUN_QUEUED_SECONDS)
    # One whose message could not be sent at all has nothing to wait for: a lease.
    unsent = Q(message__startswith=UNSENT_NOTE)
    queued = Q(status=TaskRun.Status.QUEUED)
    return (
        Q(status=TaskRun.Status.RUNNING, heartbeat_at__gte=fresh)
        | queued & ~unsent & _heard_from_since(sent)
        | queued & unsent & _heard_from_since(fresh)
    )


def _heard_from_since(when) -> Q:
    due = when - timedelta(seconds=settings.STATS_RECOMPUTE_DELAY_SECONDS)
    return (
        Q(heartbeat_at__gte=when)
        | Q(created_at__gte=when)
        | Q(kind=TaskRun.Kind.COMPUTE_AGREEMENT, created_at__gte=due)
    )
