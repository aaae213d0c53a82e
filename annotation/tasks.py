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

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections, connection

from annotation import services
from annotation.models import TaskRun
from annotation.services.generation import DATABASE_OUTAGES

logger = logging.getLogger(__name__)


def _run(task, run_id: int, work) -> None:
    try:
        run = services.task_run_claim(run_id=run_id)
    except DATABASE_OUTAGES as exc:
        # The database is away: look again shortly rather than fail a run nobody started.
        logger.warning("could not claim task run %s (%s); trying again", run_id, exc)
        close_old_connections()  # the broken connection, so the next try opens a new one
        raise task.retry(countdown=settings.TASK_CLAIM_RETRY_SECONDS, max_retries=None) from exc
    if run is None:
        status = TaskRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
        if status == TaskRun.Status.RUNNING:
            logger.info("task run %s is held by another worker; looking again later", run_id)
            raise task.retry(countdown=settings.TASK_RUN_LEASE_SECONDS, max_retries=None)
        if status == TaskRun.Status.QUEUED:  # its study's recomputation or bundle is at work
            logger.info("task run %s waits for its study's running statistics job", run_id)
            # Within the lease: each look is the waiting run's heartbeat.
            wait = min(settings.STATS_RECOMPUTE_DELAY_SECONDS, settings.TASK_RUN_LEASE_SECONDS / 2)
            raise task.retry(countdown=max(5, wait), max_retries=None)
        logger.info("task run %s is %s; nothing to do", run_id, status or "gone")
        return
    try:
        work(run=run)
    except DATABASE_OUTAGES as exc:
        # Not the job's fault: it goes back to the queue and resumes where it stopped.
        logger.warning("task run %s lost its database (%s); queued again", run_id, exc)
        close_old_connections()
        with contextlib.suppress(*DATABASE_OUTAGES):  # still away: the sweep will find it
            services.task_run_release(run=run)
        raise task.retry(countdown=settings.TASK_CLAIM_RETRY_SECONDS, max_retries=None) from exc
    except Exception as exc:
        logger.exception("task run %s failed", run_id)
        services.task_run_finish(run=run, ok=False, message=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(bind=True)
def fetch_outputs(self, run_id: int) -> None:
    _run(self, run_id, services.outputs_fetch_missing)


@shared_task(bind=True)
def compute_agreement(self, run_id: int) -> None:
    _run(self, run_id, services.agreement_compute)


@shared_task(bind=True)
def export_bundle(self, run_id: int) -> None:
    _run(self, run_id, services.bundle_build)


@shared_task(bind=True)
def run_judge(self, run_id: int) -> None:
    _run(self, run_id, services.judge_run)


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


@worker_ready.connect
def _start_sweeping(**kwargs) -> None:
    if settings.TASK_RUN_SWEEP_SECONDS <= 0:
        return
    _sweep_stop.clear()
    threading.Thread(target=_sweep_forever, name="evalapp-sweep", daemon=True).start()


@worker_shutdown.connect
def _stop_sweeping(**kwargs) -> None:
    _sweep_stop.set()
