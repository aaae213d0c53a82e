"""Claiming task runs: duplicates do nothing, a dead worker's run can be taken over."""

from datetime import timedelta

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from annotation import services, tasks
from annotation.models import TaskRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(open_study):
    return TaskRun.objects.create(study=open_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)


def test_a_queued_run_is_claimed_once(run):
    assert services.task_run_claim(run_id=run.pk).status == "running"
    assert services.task_run_claim(run_id=run.pk) is None


def test_a_running_run_with_a_recent_heartbeat_is_not_taken_over(run, settings):
    settings.TASK_RUN_LEASE_SECONDS = 300
    services.task_run_claim(run_id=run.pk)
    TaskRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=200))
    assert services.task_run_claim(run_id=run.pk) is None


def test_a_run_whose_worker_died_is_claimed_by_the_redelivery(run, settings):
    settings.TASK_RUN_LEASE_SECONDS = 300
    services.task_run_claim(run_id=run.pk)
    TaskRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=301))
    assert services.task_run_claim(run_id=run.pk).status == "running"


def test_a_finished_run_is_never_claimed_again(run):
    services.task_run_finish(run=services.task_run_claim(run_id=run.pk), ok=True)
    assert services.task_run_claim(run_id=run.pk) is None


def test_an_unreachable_broker_fails_the_run_instead_of_leaving_it_queued(
    open_study, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.compute_agreement, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.task_run_create(
            study=open_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT, user=None
        )
    run.refresh_from_db()
    assert run.status == "failed"
    assert "Could not queue the task (Error 111" in run.message
