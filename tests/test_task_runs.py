"""Claiming task runs: duplicates do nothing, a dead worker's run can be taken over."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from kombu.exceptions import OperationalError

from annotation import services
from annotation.models import TaskRun
from evalapp import task_queue

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


def test_an_unreachable_broker_leaves_the_run_queued_for_the_sweep(
    open_study, monkeypatch, settings, django_capture_on_commit_callbacks
):
    # Issue 17: it used to be marked failed, and its statistics never caught up.
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(task_queue, "send", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.task_run_create(
            study=open_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT, user=None
        )
    run.refresh_from_db()
    assert run.status == "queued"
    # What the admin reads names no broker address or port: those are in the log.
    assert run.message == "Waiting for the task queue to come back."
    # The broker is back, and the run is older than a lease and a delay: a sweep sends it.
    sent = []
    monkeypatch.setattr(task_queue, "send", lambda name, args, **kw: sent.append(args))
    assert services.task_runs_requeue_lost() == []  # not yet: it may still be on its way
    long_ago = timezone.now() - timedelta(
        seconds=settings.TASK_RUN_LEASE_SECONDS + settings.STATS_RECOMPUTE_DELAY_SECONDS + 1
    )
    TaskRun.objects.filter(pk=run.pk).update(created_at=long_ago)
    assert services.task_runs_requeue_lost() == [run.pk]
    assert sent == [(run.pk,)]
    assert services.task_run_claim(run_id=run.pk).message == ""  # no longer waiting


def _answer_and_submit(assignment, value: int) -> None:
    question = assignment.study.questions.get()
    services.rating_save(assignment=assignment, question=question, answer=value)
    services.assignment_submit(assignment=assignment)


def test_a_burst_of_submits_waits_for_one_recomputation(
    open_study, django_capture_on_commit_callbacks
):
    assignments = list(open_study.assignments.order_by("pk")[:4])
    waiting = TaskRun.objects.filter(study=open_study, kind="compute_agreement", status="queued")
    with django_capture_on_commit_callbacks(execute=True) as sent:
        for assignment in assignments:
            _answer_and_submit(assignment, 3)
        # A revision after submit changes the statistics too: still the same one waiting.
        services.rating_save(
            assignment=assignments[0], question=open_study.questions.get(), answer=4
        )
    assert len(sent) == 5  # every change asked...
    assert waiting.count() == 1  # ...and one recomputation waits for all of them
    # The admin's button computes now: it sends the waiting run again instead of adding one.
    now = services.task_run_create(study=open_study, kind="compute_agreement", user=None)
    assert list(waiting) == [now]


def test_a_submit_after_the_recomputation_started_queues_the_next(
    open_study, django_capture_on_commit_callbacks
):
    first, second = open_study.assignments.order_by("pk")[:2]
    with django_capture_on_commit_callbacks(execute=True):
        _answer_and_submit(first, 3)
    started = services.task_run_claim(run_id=TaskRun.objects.get(study=open_study).pk)
    with django_capture_on_commit_callbacks(execute=True):
        _answer_and_submit(second, 2)
    queued = TaskRun.objects.get(study=open_study, status="queued")
    assert queued != started  # the running one may have read the ratings before this one


def test_a_waiting_recomputation_whose_message_was_lost_is_replaced(
    open_study, settings, django_capture_on_commit_callbacks
):
    settings.TASK_RUN_LEASE_SECONDS = 300
    settings.STATS_RECOMPUTE_DELAY_SECONDS = 0  # a waiting recomputation is alive this much longer
    lost = TaskRun.objects.create(study=open_study, kind="compute_agreement")
    TaskRun.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(seconds=301))
    with django_capture_on_commit_callbacks(execute=True):
        _answer_and_submit(open_study.assignments.first(), 3)
    lost.refresh_from_db()
    assert lost.status == "failed"
    assert (
        TaskRun.objects.filter(study=open_study, status="queued").exclude(pk=lost.pk).count() == 1
    )


def test_a_study_recomputes_one_run_at_a_time(open_study, settings):
    settings.TASK_RUN_LEASE_SECONDS = 300
    first = TaskRun.objects.create(study=open_study, kind="compute_agreement")
    first = services.task_run_claim(run_id=first.pk)
    assert first.status == "running"
    second = TaskRun.objects.create(study=open_study, kind="compute_agreement")
    assert services.task_run_claim(run_id=second.pk) is None  # waits: the first is at work
    second.refresh_from_db()
    assert second.status == "queued"
    services.task_run_finish(run=first, ok=True)
    assert services.task_run_claim(run_id=second.pk).status == "running"


def test_a_dead_recomputation_does_not_hold_up_the_next(open_study, settings):
    settings.TASK_RUN_LEASE_SECONDS = 300
    dead = TaskRun.objects.create(study=open_study, kind="compute_agreement")
    services.task_run_claim(run_id=dead.pk)
    TaskRun.objects.filter(pk=dead.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=301))
    after = TaskRun.objects.create(study=open_study, kind="compute_agreement")
    assert services.task_run_claim(run_id=after.pk).status == "running"
    dead.refresh_from_db()
    assert dead.status == "failed"


def test_a_run_waiting_for_its_studys_other_job_is_not_taken_for_lost(
    open_study, settings, django_capture_on_commit_callbacks
):
    # A bundle may wait behind a long recomputation (and the other way) for longer than the
    # lease: each look its task takes keeps it alive, so no new request supersedes it.
    settings.TASK_RUN_LEASE_SECONDS = 300
    computing = TaskRun.objects.create(study=open_study, kind="compute_agreement")
    services.task_run_claim(run_id=computing.pk)
    waiting = TaskRun.objects.create(study=open_study, kind="export_bundle")
    long_ago = timezone.now() - timedelta(seconds=301)
    TaskRun.objects.filter(pk=waiting.pk).update(created_at=long_ago)
    assert services.task_run_claim(run_id=waiting.pk) is None  # its task looks, and waits
    with pytest.raises(ValidationError, match="already being built"):
        services.task_run_create(study=open_study, kind="export_bundle", user=None)
    waiting.refresh_from_db()
    assert waiting.status == "queued"
    # Silent for longer than the lease (its message lost), it is replaced.
    TaskRun.objects.filter(pk=waiting.pk).update(heartbeat_at=long_ago)
    with django_capture_on_commit_callbacks():
        services.task_run_create(study=open_study, kind="export_bundle", user=None)
    waiting.refresh_from_db()
    assert waiting.status == "failed"
