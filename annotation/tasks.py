"""Celery tasks: each takes a TaskRun id, claims it, and calls one service.

Claiming (a conditional update from queued to running) makes a redelivered or duplicated task a
no-op, which is what lets us acknowledge late without doing the work twice. A copy that finds
its run still held comes back after the lease: if the holder died meanwhile (its heartbeat went
stale) the copy takes the run over and finishes what is missing.

Every worker also sweeps, at start-up and then every TASK_RUN_SWEEP_SECONDS: runs whose worker
died or whose message was lost (a broker or database outage as it was due) are queued again,
so background work resumes without anyone clicking and with no process beyond the worker.
"""

import contextlib
import logging
import threading
import time

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_init, worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections, connection

from annotation import services
from annotation.core import memory
from annotation.models import TaskRun
from annotation.services.adaptive import CHECK_TASK
from annotation.services.adjudication import REFERENCE_TASK
from annotation.services.audit import acting_for_worker
from annotation.services.task_runs import queued_as, runs_jobs_of_kind
from evalapp.celery import app  # noqa: F401 (the app these tasks belong to, wherever imported)

logger = logging.getLogger(__name__)


def _run(task, run_id: int, work, outage_since: float | None = None) -> None:
    """Claim the run and do its work. `outage_since` is when the database first went away for
    this run's message, carried from retry to retry: a job is given up on after
    TASK_DATABASE_GIVE_UP_SECONDS of outage rather than sent back for ever."""
    try:
        services.task_run_received(run_id=run_id)
        run = services.task_run_claim(run_id=run_id)
    except Exception as exc:
        if not services.database_unreachable(exc):
            _fail_unclaimed(run_id, exc)
            raise
        # The database is away: look again shortly rather than fail a run nobody started.
        logger.warning("could not claim task run %s (%s); trying again", run_id, exc)
        close_old_connections()  # the broken connection, so the next try opens a new one
        _retry_after_outage(task, run_id, exc, outage_since)
    if run is None:
        _wait_or_leave(task, run_id)
        return
    try:
        # The audit trail names the user who queued the job, if one did.
        with acting_for_worker(user=run.created_by):
            work(run=run)
    except services.TaskRunLost:
        # Another worker took the run over (this one was silent past the lease): it finishes
        # the run and holds its slots; this one leaves both alone.
        logger.warning(
            "task run %s is no longer this worker's (taken over or deleted); stopping", run_id
        )
    except Exception as exc:
        if services.database_unreachable(exc):
            # Not the job's fault: it goes back to the queue and resumes where it stopped.
            logger.warning("task run %s lost its database (%s); queued again", run_id, exc)
            close_old_connections()
            with contextlib.suppress(Exception):  # still away: the sweep will find it
                services.task_run_release(run=run)
            _retry_after_outage(task, run_id, exc, outage_since)
        logger.exception("task run %s failed", run_id)
        with contextlib.suppress(services.TaskRunLost):
            services.task_run_finish(run=run, ok=False, message=_failed_words(run_id))
        raise


def _wait_or_leave(task, run_id: int) -> None:
    """The run was not claimed: look again later if someone holds it or it waits its turn."""
    status = TaskRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
    if status == TaskRun.Status.RUNNING:
        logger.info("task run %s is held by another worker; looking again later", run_id)
        raise task.retry(countdown=settings.TASK_RUN_LEASE_SECONDS, max_retries=None, kwargs={})
    if status == TaskRun.Status.QUEUED:  # its study's recomputation or bundle is at work
        logger.info("task run %s waits for its study's running statistics job", run_id)
        # Within the lease: each look is the waiting run's heartbeat.
        wait = min(settings.STATS_RECOMPUTE_DELAY_SECONDS, settings.TASK_RUN_LEASE_SECONDS / 2)
        raise task.retry(countdown=max(5, wait), max_retries=None, kwargs={})
    logger.info("task run %s is %s; nothing to do", run_id, status or "gone")


def _retry_after_outage(task, run_id: int, exc: Exception, outage_since: float | None) -> None:
    """Send the task again shortly, unless the database has been away too long: then the run
    is failed with a message saying so (if the database can be reached to say it)."""
    since = outage_since or time.time()
    away = time.time() - since
    if away < settings.TASK_DATABASE_GIVE_UP_SECONDS:
        raise task.retry(
            countdown=settings.TASK_CLAIM_RETRY_SECONDS,
            max_retries=None,
            kwargs={"outage_since": since},
        ) from exc
    message = f"Given up: the database was unreachable for {away:.0f} s. Run it again."
    logger.error("task run %s: %s (%s)", run_id, message, exc)
    with contextlib.suppress(Exception):  # still away: the sweep sends it again once it is back
        services.task_run_give_up(run_id=run_id, message=message)
    raise exc


def _fail_unclaimed(run_id: int, exc: Exception) -> None:
    """A lasting database error while claiming (a locked SQLite file, a missing table): the
    run fails, saying why, instead of being sent again and again."""
    logger.exception("could not claim task run %s", run_id)
    with contextlib.suppress(Exception):
        services.task_run_give_up(run_id=run_id, message=_failed_words(run_id))


def _failed_words(run_id: int) -> str:
    """What a study admin reads about an unexpected failure: the exception's text may name
    hosts, ports or file paths, so it goes to the worker's log only (issue 18)."""
    return f"Failed unexpectedly; the worker's log has the details (task run {run_id})."


@runs_jobs_of_kind(TaskRun.Kind.FETCH_OUTPUTS)
@shared_task(bind=True)
def fetch_outputs(self, run_id: int, outage_since: float | None = None) -> None:
    _run(self, run_id, services.outputs_fetch_missing, outage_since)


@runs_jobs_of_kind(TaskRun.Kind.COMPUTE_AGREEMENT)
@shared_task(bind=True)
def compute_agreement(self, run_id: int, outage_since: float | None = None) -> None:
    _run(self, run_id, _swept_then_computed, outage_since)


def _swept_then_computed(*, run: TaskRun) -> None:
    # Items whose adaptive decision was lost (its task never ran) are decided first, so that
    # the figures count their extras: every submit is followed by a recomputation. A sweep that
    # fails is logged and the figures are computed all the same.
    try:
        services.adaptive_sweep(study=run.study)
    except Exception:
        logger.exception("the adaptive sweep of study %s failed", run.study_id)
    services.agreement_compute(run=run)


@runs_jobs_of_kind(TaskRun.Kind.EXPORT_BUNDLE)
@shared_task(bind=True)
def export_bundle(self, run_id: int, outage_since: float | None = None) -> None:
    _run(self, run_id, services.bundle_build, outage_since)


@runs_jobs_of_kind(TaskRun.Kind.RUN_JUDGE)
@shared_task(bind=True)
def run_judge(self, run_id: int, outage_since: float | None = None) -> None:
    _run(self, run_id, services.judge_run, outage_since)


@runs_jobs_of_kind(TaskRun.Kind.JUDGE_ANSWERS)
@shared_task(bind=True)
def judge_answers(self, run_id: int, outage_since: float | None = None) -> None:
    _run(self, run_id, services.judge_answers_run, outage_since)


@runs_jobs_of_kind(TaskRun.Kind.IMPORT)
@shared_task(bind=True)
def import_study_file(self, run_id: int, outage_since: float | None = None) -> None:
    _run(self, run_id, services.study_import_run, outage_since)


@runs_jobs_of_kind(TaskRun.Kind.OPEN)
@shared_task(bind=True)
def open_study(self, run_id: int, outage_since: float | None = None) -> None:
    _run(self, run_id, services.study_open_run, outage_since)


@shared_task(
    soft_time_limit=settings.NOTIFICATIONS_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.NOTIFICATIONS_TIME_LIMIT_SECONDS,
)
def notifications_send() -> None:
    """The beat's: reminders to stalled raters and notices to admins, each sent once (the
    service claims every e-mail before sending it, so a duplicated beat sends nothing twice).
    Time-limited, so a mail server that stalls cannot hold a worker slot for good."""
    try:
        tally = services.notifications_send_due()
    except SoftTimeLimitExceeded:
        logger.warning(
            "notifications: stopped after %s s (a slow mail server?); the rest goes at the next "
            "beat",
            settings.NOTIFICATIONS_SOFT_TIME_LIMIT_SECONDS,
        )
        return
    if tally.sent or tally.failed:
        logger.info("notifications: %s sent, %s failed", tally.sent, tally.failed)


@queued_as(CHECK_TASK)
@shared_task
def adaptive_item_check(item_id: int) -> None:
    """Whether an item's first k ratings call for extra raters. Idempotent: the item's one
    decision row makes a duplicate a no-op (and the statistics' sweep catches a lost one)."""
    services.adaptive_item_check(item_id=item_id)


@queued_as(REFERENCE_TASK)
@shared_task
def judge_reference_compute(study_id: int) -> None:
    """The judges against the adjudicated reference, alone (a reference recorded in a locked
    study). Idempotent: the family's inputs hash makes a duplicate a no-op."""
    services.judge_reference_compute(study_id=study_id)


# --- the sweep: a timer in every worker's main process ------------------------------------------

_sweep_stop = threading.Event()


def sweep_once() -> list[int]:
    """Queue again what was lost; never raises (the next sweep tries again)."""
    try:
        return services.task_runs_requeue_lost()
    except Exception:
        logger.exception("the sweep for lost task runs failed; trying again later")
        return []
    finally:
        close_old_connections()


def _sweep_forever() -> None:
    while not _sweep_stop.is_set():
        sent = sweep_once()
        if sent:
            logger.info("sweep: queued again task runs %s", sent)
        _sweep_stop.wait(settings.TASK_RUN_SWEEP_SECONDS)
    connection.close()


# glibc's allocator gives a block of 128 KiB or more a mapping of its own, which goes back to the
# system when freed, but raises that threshold (up to 32 MiB) to the size of each such block
# freed. After a worker's first large job the statistics' and the bundle's arrays then come from
# its heap, where what they free stays with the process, and the next job's peak stacks on that
# remainder: a million ratings' recomputation peaked at 483 MB in a fresh worker and at
# 514-520 MB in the same worker next time. Fixed at 4 MiB, every array that size or larger is
# mapped and unmapped on its own, in every job: 455-456 MB each time, for about a tenth more
# CPU (fresh pages for each array; docs/benchmarks.md). A worker's size is set by its peak, and
# a job that passes it is killed, so the memory is worth the time. Smaller blocks stay in the
# heap, where reusing them is cheap.
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024


def worker_memory_setup() -> bool:
    """Fix the allocator's mapping threshold (above) for this process and those it forks;
    False where the C library is not glibc, whose own allocator is left to decide."""
    return memory.mapping_threshold_set(MMAP_THRESHOLD_BYTES)


@worker_init.connect
def _memory_setup(**kwargs) -> None:
    # In the worker's main process, before its pool forks its children, which inherit it.
    if worker_memory_setup():
        logger.info("allocator: blocks of %s bytes or more are mapped", MMAP_THRESHOLD_BYTES)


@worker_ready.connect
def _start_sweeping(**kwargs) -> None:
    if settings.TASK_RUN_SWEEP_SECONDS <= 0:
        return
    _sweep_stop.clear()
    threading.Thread(target=_sweep_forever, name="evalapp-sweep", daemon=True).start()


@worker_shutdown.connect
def _stop_sweeping(**kwargs) -> None:
    _sweep_stop.set()
