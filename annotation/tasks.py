"""Celery tasks: each takes a TaskRun id, claims it, and calls one service.

Claiming (a conditional update from queued to running) makes a redelivered or duplicated task a
no-op, which is what lets us acknowledge late without doing the work twice. A copy that finds
its run still held comes back after the lease: if the holder died meanwhile (its heartbeat went
stale) the copy takes the run over and finishes what is missing.
"""

import logging

from celery import shared_task
from django.conf import settings

from annotation import services
from annotation.models import TaskRun

logger = logging.getLogger(__name__)


def _run(task, run_id: int, work) -> None:
    run = services.task_run_claim(run_id=run_id)
    if run is None:
        status = TaskRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
        if status == TaskRun.Status.RUNNING:
            logger.info("task run %s is held by another worker; looking again later", run_id)
            raise task.retry(countdown=settings.TASK_RUN_LEASE_SECONDS, max_retries=None)
        if status == TaskRun.Status.QUEUED:  # its study's recomputation or bundle is at work
            logger.info("task run %s waits for its study's running statistics job", run_id)
            wait = max(5, settings.STATS_RECOMPUTE_DELAY_SECONDS)
            raise task.retry(countdown=wait, max_retries=None)
        logger.info("task run %s is %s; nothing to do", run_id, status or "gone")
        return
    try:
        work(run=run)
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
