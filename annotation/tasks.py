"""Celery tasks: each takes a TaskRun id, claims it, and calls one service.

Claiming (a conditional update from queued to running) makes a redelivered or duplicated task a
no-op, which is what lets us acknowledge late without doing the work twice.
"""

import logging

from celery import shared_task

from annotation import services

logger = logging.getLogger(__name__)


def _run(run_id: int, work) -> None:
    run = services.task_run_claim(run_id=run_id)
    if run is None:
        logger.info("task run %s was already claimed; skipping", run_id)
        return
    try:
        work(run=run)
    except Exception as exc:
        logger.exception("task run %s failed", run_id)
        services.task_run_finish(run=run, ok=False, message=f"{type(exc).__name__}: {exc}")
        raise


@shared_task
def fetch_outputs(run_id: int) -> None:
    _run(run_id, services.outputs_fetch_missing)


@shared_task
def compute_agreement(run_id: int) -> None:
    _run(run_id, services.agreement_compute)
