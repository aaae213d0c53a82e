"""Background work heals itself (issue 17): the workers' sweep queues again a run whose worker
died or whose message was lost, a click takes a dead run over, claiming waits out a database
outage, and a worker's writes outlast a database restart without dropping a paid-for call."""

import json
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.db import OperationalError, connection
from django.utils import timezone

from annotation import services, tasks
from annotation.models import Generation, JudgeRating, JudgeVerdict, Output, TaskRun
from annotation.services import generation, task_runs
from evalapp import task_queue
from tests.support.fake_llm import Reply
from tests.support.sent_jobs import jobs_recorded

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """Every fetch, recomputation and judge run queued, as (task name, run id), instead of
    going to the broker."""
    return jobs_recorded(monkeypatch, tasks.fetch_outputs, tasks.compute_agreement, tasks.run_judge)


@pytest.fixture
def source(draft_study, fake_llm):
    return services.source_create(
        study=draft_study, label="Echo", base_url=fake_llm.base_url, model_name="echo"
    )


def _ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


class _DriverError(Exception):
    """What psycopg raises, as Django's wrapped error carries it in __cause__."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _error(message: str, sqlstate: str | None = "08006", kind=OperationalError) -> Exception:
    exc = kind(message)
    exc.__cause__ = _DriverError(message, sqlstate)
    return exc


def _fetch(source, **fields) -> TaskRun:
    run = TaskRun.objects.create(
        study=source.study, source=source, kind=TaskRun.Kind.FETCH_OUTPUTS, **fields
    )
    if "created_at" in fields:  # auto_now_add ignores it on create
        TaskRun.objects.filter(pk=run.pk).update(created_at=fields["created_at"])
    return run


def test_the_sweep_queues_again_a_run_whose_worker_died(source, sent, settings):
    dead = _fetch(source, status="running", heartbeat_at=_ago(settings.TASK_RUN_LEASE_SECONDS + 1))
    assert services.task_runs_requeue_lost() == [dead.pk]
    assert sent == [("fetch_outputs", dead.pk)]
    dead.refresh_from_db()
    assert dead.status == "queued"
    # Marked as just sent: another worker's sweep a moment later leaves it alone...
    assert services.task_runs_requeue_lost() == []
    # ...and the message's worker claims it.
    assert services.task_run_claim(run_id=dead.pk).status == "running"


def test_the_sweep_queues_again_a_queued_run_whose_message_was_lost(source, sent, settings):
    lost = _fetch(source, created_at=_ago(settings.TASK_RUN_QUEUED_SECONDS + 1))
    assert services.task_runs_requeue_lost() == [lost.pk]
    assert sent == [("fetch_outputs", lost.pk)]
    # Still lost that long later (the broker dropped that message too): sent again.
    TaskRun.objects.filter(pk=lost.pk).update(
        heartbeat_at=_ago(settings.TASK_RUN_QUEUED_SECONDS + 1)
    )
    assert services.task_runs_requeue_lost() == [lost.pk]


def test_the_sweep_leaves_runs_that_are_alive_alone(source, open_study, sent, settings):
    lease = settings.TASK_RUN_LEASE_SECONDS
    settings.STATS_RECOMPUTE_DELAY_SECONDS = 30
    _fetch(source, status="running", heartbeat_at=_ago(lease - 5))
    _fetch(source, created_at=_ago(lease - 5))
    _fetch(source, status="succeeded", heartbeat_at=_ago(10 * lease))
    # A recomputation waits out its delay before its task first looks at it.
    waiting = TaskRun.objects.create(study=open_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    queued = settings.TASK_RUN_QUEUED_SECONDS
    TaskRun.objects.filter(pk=waiting.pk).update(created_at=_ago(queued + 25))
    assert services.task_runs_requeue_lost() == []
    TaskRun.objects.filter(pk=waiting.pk).update(created_at=_ago(queued + 31))
    assert services.task_runs_requeue_lost() == [waiting.pk]
    assert sent == [("compute_agreement", waiting.pk)]


def test_the_sweep_finishes_a_dead_run_whose_cancel_was_asked_for(source, sent, settings):
    stale = _ago(settings.TASK_RUN_LEASE_SECONDS + 1)
    dead = _fetch(source, status="running", heartbeat_at=stale, cancel_requested_at=stale)
    assert services.task_runs_requeue_lost() == []
    assert sent == []
    dead.refresh_from_db()
    assert dead.status == "cancelled"


def test_a_dead_recomputation_gives_way_to_the_one_waiting(open_study, sent, settings):
    stale = _ago(settings.TASK_RUN_LEASE_SECONDS + 1)
    dead = TaskRun.objects.create(
        study=open_study, kind="compute_agreement", status="running", heartbeat_at=stale
    )
    waiting = TaskRun.objects.create(study=open_study, kind="compute_agreement")
    assert services.task_runs_requeue_lost() == []  # the waiting one reads every rating
    dead.refresh_from_db()
    assert dead.status == "failed"
    waiting.refresh_from_db()
    assert waiting.status == "queued"


def test_a_click_takes_over_a_fetch_whose_worker_died(
    source, sent, settings, study_admin, django_capture_on_commit_callbacks
):
    dead = _fetch(source, status="running", heartbeat_at=_ago(settings.TASK_RUN_LEASE_SECONDS + 1))
    older = _fetch(source, created_at=_ago(3600))
    with django_capture_on_commit_callbacks(execute=True):
        run = services.task_run_create(
            study=source.study, kind=TaskRun.Kind.FETCH_OUTPUTS, user=study_admin, source=source
        )
    assert run.pk == dead.pk  # the same run, so its limit slots are its own to free
    assert run.status == "queued"
    assert sent == [("fetch_outputs", dead.pk)]
    older.refresh_from_db()
    assert older.status == "failed"  # only one of them resumes
    # Alive again, a second click is refused as before.
    with pytest.raises(Exception, match="already being fetched"):
        services.task_run_create(
            study=source.study, kind=TaskRun.Kind.FETCH_OUTPUTS, user=study_admin, source=source
        )


def test_a_click_while_a_fetch_is_alive_is_refused_and_sends_nothing(source, sent, study_admin):
    _fetch(source, status="running", heartbeat_at=timezone.now())
    with pytest.raises(Exception, match="already being fetched"):
        services.task_run_create(
            study=source.study, kind=TaskRun.Kind.FETCH_OUTPUTS, user=study_admin, source=source
        )
    assert sent == []


class _Task:
    kwargs = None

    def retry(self, *, countdown, max_retries, kwargs=None):
        self.countdown, self.kwargs = countdown, kwargs
        return Retry(when=countdown)


def test_a_claim_that_meets_a_database_outage_is_tried_again(open_study, monkeypatch, settings):
    run = TaskRun.objects.create(study=open_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)

    def database_down(*, run_id):
        raise _error("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(services, "task_run_claim", database_down)
    closed = []
    monkeypatch.setattr(tasks, "close_old_connections", lambda: closed.append(True))
    task = _Task()
    with pytest.raises(Retry):
        tasks._run(task, run.pk, lambda run: pytest.fail("no work without a claim"))
    assert task.countdown == settings.TASK_CLAIM_RETRY_SECONDS
    assert closed == [True]  # the broken connection, before trying again
    run.refresh_from_db()
    assert run.status == "queued"  # not failed: the retry claims it


@pytest.mark.django_db(transaction=True)
def test_database_errors_are_retried_on_a_new_connection(monkeypatch):
    closed, attempts = [], []
    monkeypatch.setattr(connection, "close", lambda: closed.append(True))

    def flaky():
        attempts.append(True)
        if len(attempts) < 3:
            raise _error("server closed the connection unexpectedly")
        return "stored"

    assert generation.with_database_retries(flaky) == "stored"
    assert (len(attempts), len(closed)) == (3, 2)


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_longer_than_allowed_is_raised(settings):
    settings.TASK_DATABASE_OUTAGE_SECONDS = 0.2

    def down():
        raise _error("Connection refused")

    with pytest.raises(OperationalError):
        generation.with_database_retries(down)


@pytest.mark.django_db(transaction=True)
def test_a_fetch_keeps_every_result_through_a_database_restart(draft_study, fake_llm, monkeypatch):
    source = services.source_create(
        study=draft_study, label="Echo", base_url=fake_llm.base_url, model_name="echo"
    )
    create = Output.objects.create
    failures = iter([True, False, True])  # the first and third outputs meet a lost connection

    def restarting(**fields):
        if next(failures, False):
            raise _error("terminating connection due to administrator command", "57P01")
        return create(**fields)

    monkeypatch.setattr(Output.objects, "create", restarting)
    run = TaskRun.objects.create(study=draft_study, source=source, kind="fetch_outputs")
    services.outputs_fetch_missing(run=services.task_run_claim(run_id=run.pk))
    run.refresh_from_db()
    cases = draft_study.cases.count()
    assert (run.status, run.done) == ("succeeded", cases), run.message
    assert Output.objects.filter(source=source).count() == cases
    # Each call and its output were written together: no call recorded twice, none lost.
    assert Generation.objects.filter(source=source).count() == cases
    assert len(fake_llm.requests) == cases


@pytest.mark.django_db(transaction=True)
def test_a_judge_keeps_every_verdict_through_a_database_restart(open_study, fake_llm, monkeypatch):
    key = open_study.questions.get().key
    fake_llm.set_default(Reply(json.dumps({"rationale": "fine", key: 4})))
    judge = services.judge_create(
        study=open_study, label="J", base_url=fake_llm.base_url, model_name="j"
    )
    bulk_create = JudgeRating.objects.bulk_create
    failures = iter([True, True])

    def restarting(rows, **kwargs):
        if next(failures, False):
            raise _error("the database system is shutting down", "57P03")
        return bulk_create(rows, **kwargs)

    monkeypatch.setattr(JudgeRating.objects, "bulk_create", restarting)
    run = TaskRun.objects.create(study=open_study, judge=judge, kind="run_judge")
    services.judge_run(run=services.task_run_claim(run_id=run.pk))
    run.refresh_from_db()
    assert (run.status, run.done) == ("succeeded", 6), run.message
    assert JudgeVerdict.objects.filter(judge=judge, outcome="ok").count() == 6
    assert JudgeRating.objects.filter(verdict__judge=judge).count() == 6
    assert len(fake_llm.requests) == 6  # no reply asked for twice


def test_a_sweep_that_cannot_reach_the_broker_tries_again_at_the_next(
    source, settings, monkeypatch
):
    lost = _fetch(source, created_at=_ago(settings.TASK_RUN_QUEUED_SECONDS + 1))

    def broker_down(*args, **kwargs):
        raise OSError("Connection refused")

    monkeypatch.setattr(task_queue, "send", broker_down)
    assert services.task_runs_requeue_lost() == []
    monkeypatch.setattr(task_queue, "send", lambda *args, **kwargs: None)
    assert services.task_runs_requeue_lost() == [lost.pk]


def test_a_job_that_loses_its_database_goes_back_to_the_queue(open_study, monkeypatch, settings):
    run = TaskRun.objects.create(study=open_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    monkeypatch.setattr(tasks, "close_old_connections", lambda: None)

    def database_gone(*, run):
        raise _error("terminating connection due to administrator command", "57P01")

    task = _Task()
    with pytest.raises(Retry):
        tasks._run(task, run.pk, database_gone)
    run.refresh_from_db()
    assert run.status == "queued"  # not failed: the retry claims it and finishes the work
    assert task.countdown == settings.TASK_CLAIM_RETRY_SECONDS
    assert services.task_run_claim(run_id=run.pk).status == "running"


def test_a_recomputation_that_loses_its_database_gives_way_to_the_one_waiting(open_study):
    run = services.task_run_claim(
        run_id=TaskRun.objects.create(study=open_study, kind="compute_agreement").pk
    )
    waiting = TaskRun.objects.create(study=open_study, kind="compute_agreement")
    services.task_run_release(run=run)
    run.refresh_from_db()
    assert run.status == "failed"
    waiting.refresh_from_db()
    assert waiting.status == "queued"


class _Limits:
    def __init__(self, forgotten: list) -> None:
        self.forgotten = forgotten

    def forget(self, owner: str) -> int:
        self.forgotten.append(owner)
        return 1


def test_a_dead_run_that_is_not_resumed_frees_its_limit_slots_at_once(
    source, sent, settings, study_admin, monkeypatch
):
    forgotten = []
    monkeypatch.setattr(task_runs, "limits_for", lambda caller, key=None: _Limits(forgotten))
    stale = _ago(settings.TASK_RUN_LEASE_SECONDS + 1)
    cancelled = _fetch(source, status="running", heartbeat_at=stale, cancel_requested_at=stale)
    services.task_runs_requeue_lost()
    assert forgotten == [f"run-{cancelled.pk}"]
    older = _fetch(source, status="running", heartbeat_at=stale)
    newer = _fetch(source, status="running", heartbeat_at=stale)
    TaskRun.objects.filter(pk=older.pk).update(created_at=_ago(3600))
    forgotten.clear()
    services.task_run_create(
        study=source.study, kind=TaskRun.Kind.FETCH_OUTPUTS, user=study_admin, source=source
    )
    # The newest is taken over (its slots are freed when it is claimed); the older one is not.
    assert forgotten == [f"run-{older.pk}"]
    newer.refresh_from_db()
    assert newer.status == "queued"
