"""A run is its claimer's alone (issue 17 review): a worker whose run was taken over stops
without finishing it; only a lost connection counts as a database outage, and not for ever; a
run waiting behind busy workers is not sent again; a write retried after a lost COMMIT reply
records its call once."""

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.db import IntegrityError, OperationalError, connection
from django.utils import timezone

from annotation import services, tasks
from annotation.core import llm
from annotation.models import Generation, JudgeVerdict, Output, TaskRun
from annotation.services import generation, judges
from annotation.services.task_runs import DATABASE_OUTAGES
from tests.support.fake_llm import Reply
from tests.support.sent_jobs import jobs_recorded

pytestmark = pytest.mark.django_db


class _DriverError(Exception):
    """What psycopg raises, as Django's wrapped error carries it in __cause__."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _error(message: str, sqlstate: str | None = "08006") -> OperationalError:
    exc = OperationalError(message)
    exc.__cause__ = _DriverError(message, sqlstate)
    return exc


class _Task:
    """Stands in for the bound Celery task: records how it would be sent again."""

    countdown = kwargs = None

    def retry(self, *, countdown, max_retries, kwargs=None):
        self.countdown, self.kwargs = countdown, kwargs
        return Retry(when=countdown)


def _ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


@pytest.fixture
def source(draft_study, fake_llm):
    return services.source_create(
        study=draft_study, label="Echo", base_url=fake_llm.base_url, model_name="echo"
    )


@pytest.fixture
def sent(monkeypatch):
    """Every fetch, recomputation and judge run queued, as (task name, run id), instead of
    going to the broker."""
    return jobs_recorded(monkeypatch, tasks.fetch_outputs, tasks.compute_agreement, tasks.run_judge)


def _take_over(run: TaskRun) -> TaskRun:
    """Another worker's claim of the run, once its heartbeat is older than the lease."""
    TaskRun.objects.filter(pk=run.pk).update(heartbeat_at=_ago(3600))
    taken = services.task_run_claim(run_id=run.pk)
    assert taken is not None
    assert taken.started_at != run.started_at
    return taken


# --- 1. the claim ---------------------------------------------------------------------------


@pytest.mark.parametrize(("outage", "refused"), [("40", True), ("30", False)])
def test_settings_refuse_an_outage_wait_not_well_within_the_lease(outage, refused):
    env = {
        **os.environ,
        "SECRET_KEY": "x",
        "TASK_RUN_LEASE_SECONDS": "45",
        "TASK_DATABASE_OUTAGE_SECONDS": outage,
    }
    done = subprocess.run(
        [sys.executable, "-c", "import evalapp.settings"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode != 0) == refused, done.stderr
    if refused:
        assert "ImproperlyConfigured: TASK_DATABASE_OUTAGE_SECONDS=40 must be at most" in (
            done.stderr
        )


def test_a_worker_whose_run_was_taken_over_can_neither_beat_nor_finish_it(open_study):
    first = services.task_run_claim(
        run_id=TaskRun.objects.create(study=open_study, kind="compute_agreement").pk
    )
    second = _take_over(first)
    with pytest.raises(services.TaskRunLost):
        services.task_run_progress(run=first, done=3)
    with pytest.raises(services.TaskRunLost):
        services.task_run_finish(run=first, ok=False, message="from the first worker")
    row = TaskRun.objects.get(pk=first.pk)
    assert (row.status, row.started_at, row.done, row.message) == (
        "running",
        second.started_at,
        0,
        "",
    )
    services.task_run_progress(run=second, done=2)  # the new holder's go through
    services.task_run_finish(run=second, ok=True)
    assert TaskRun.objects.get(pk=first.pk).status == "succeeded"


def test_a_worker_whose_run_was_taken_over_does_not_hand_it_back_to_the_queue(open_study):
    first = services.task_run_claim(
        run_id=TaskRun.objects.create(study=open_study, kind="export_bundle").pk
    )
    second = _take_over(first)
    services.task_run_release(run=first)  # its database was away past its wait
    row = TaskRun.objects.get(pk=first.pk)
    assert (row.status, row.started_at) == ("running", second.started_at)


def test_a_fetch_taken_over_midway_starts_no_more_calls_and_leaves_the_run(
    draft_study, fake_llm, monkeypatch
):
    source = services.source_create(
        study=draft_study,
        label="Echo",
        base_url=fake_llm.base_url,
        model_name="echo",
        samples_per_case=4,
        max_concurrency=1,
    )
    monkeypatch.setattr(generation, "PROGRESS_EVERY_SECONDS", 0)
    record = generation.output_record_generation
    holder = {}

    def record_then_lose_the_run(**kwargs):
        stored = record(**kwargs)
        if not holder:  # after the first result, another worker takes the run over
            holder["run"] = _take_over(TaskRun.objects.get(pk=run.pk))
        return stored

    monkeypatch.setattr(generation, "output_record_generation", record_then_lose_the_run)
    run = TaskRun.objects.create(study=source.study, source=source, kind="fetch_outputs")
    tasks._run(_Task(), run.pk, services.outputs_fetch_missing)  # returns quietly
    assert len(generation.units_missing(source)) >= 9  # 12 units, a few of them done
    # At most the calls already started when the takeover was seen (one at a time, and the
    # window of two): not the rest of the study.
    assert len(fake_llm.requests) <= 3
    row = TaskRun.objects.get(pk=run.pk)
    assert (row.status, row.started_at, row.message) == ("running", holder["run"].started_at, "")
    # Every call it made is kept, once.
    assert Output.objects.filter(source=source).count() == len(fake_llm.requests)


def test_a_bundle_taken_over_stops_and_leaves_no_file(open_study, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path
    run = services.task_run_claim(
        run_id=TaskRun.objects.create(study=open_study, kind="export_bundle").pk
    )
    _take_over(run)
    with pytest.raises(services.TaskRunLost):
        services.bundle_build(run=run)
    assert list(tmp_path.iterdir()) == []
    assert TaskRun.objects.get(pk=run.pk).status == "running"


def test_a_judge_or_a_recomputation_taken_over_does_not_carry_on(open_study, fake_llm):
    judge = services.judge_create(
        study=open_study, label="J", base_url=fake_llm.base_url, model_name="j"
    )
    judging = services.task_run_claim(
        run_id=TaskRun.objects.create(study=open_study, judge=judge, kind="run_judge").pk
    )
    _take_over(judging)
    with pytest.raises(services.TaskRunLost):
        services.judge_run(run=judging)
    assert fake_llm.requests == []
    computing = services.task_run_claim(
        run_id=TaskRun.objects.create(study=open_study, kind="compute_agreement").pk
    )
    _take_over(computing)
    with pytest.raises(services.TaskRunLost):
        services.agreement_compute(run=computing)
    assert not open_study.results.exists()
    assert TaskRun.objects.get(pk=computing.pk).status == "running"


# --- 2. what counts as an outage, and for how long -------------------------------------------


def test_only_a_lost_or_refused_connection_is_an_outage():
    assert services.database_unreachable(_error("server closed the connection", "08006"))
    assert services.database_unreachable(_error("could not connect", "08001"))
    assert services.database_unreachable(_error("terminating connection", "57P01"))
    assert services.database_unreachable(_error("the database system is starting up", "57P03"))
    assert not services.database_unreachable(_error('relation "x" does not exist', "42P01"))
    assert not services.database_unreachable(_error("canceling statement", "57014"))
    assert not services.database_unreachable(OperationalError("database is locked"))
    assert not services.database_unreachable(OperationalError("no such table: x"))
    assert not services.database_unreachable(IntegrityError("duplicate key", "08006"))


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_driver_gave_up_on_is_an_outage():
    if connection.vendor != "postgresql":
        pytest.skip("an embedded database has no connection to lose")
    connection.ensure_connection()
    connection.connection.close()  # as a server restart leaves it: no SQLSTATE to read
    with pytest.raises(DATABASE_OUTAGES) as caught:
        TaskRun.objects.count()
    assert getattr(caught.value.__cause__, "sqlstate", None) is None
    assert services.database_unreachable(caught.value)
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_lasting_database_error_is_not_retried_as_an_outage():
    attempts = []

    # Each database's own: SQLite's carries no SQLSTATE, PostgreSQL's lock_not_available does.
    if connection.vendor == "sqlite":
        error = OperationalError("database is locked")
    else:
        error = _error("could not obtain lock on row", "55P03")

    def locked():
        attempts.append(True)
        raise error

    with pytest.raises(OperationalError):
        generation.with_database_retries(locked)
    assert attempts == [True]


def test_a_job_meeting_a_lasting_database_error_fails_instead_of_coming_back(open_study):
    run = TaskRun.objects.create(study=open_study, kind="compute_agreement")

    def locked(*, run):
        raise OperationalError("database is locked")

    task = _Task()
    with pytest.raises(OperationalError):
        tasks._run(task, run.pk, locked)
    assert task.countdown is None  # not sent again
    run.refresh_from_db()
    # The exception's text goes to the log, never to the admin's page (it can name hosts).
    assert (run.status, run.message) == (
        "failed",
        f"Failed unexpectedly; the worker's log has the details (task run {run.pk}).",
    )


def test_a_claim_meeting_a_lasting_database_error_fails_the_run(open_study, monkeypatch):
    run = TaskRun.objects.create(study=open_study, kind="compute_agreement")

    def missing_table(*, run_id):
        raise OperationalError("no such table: annotation_taskrun")

    monkeypatch.setattr(services, "task_run_claim", missing_table)
    task = _Task()
    with pytest.raises(OperationalError):
        tasks._run(task, run.pk, lambda run: pytest.fail("no work without a claim"))
    assert task.countdown is None
    run.refresh_from_db()
    assert run.status == "failed"
    assert "no such table" not in run.message
    assert run.message.startswith("Failed unexpectedly; the worker's log has the details")


def test_an_outage_is_waited_out_only_so_long(open_study, monkeypatch, settings):
    run = TaskRun.objects.create(study=open_study, kind="compute_agreement")
    monkeypatch.setattr(tasks, "close_old_connections", lambda: None)

    def down(*, run_id):
        raise _error("connection refused", "08001")

    monkeypatch.setattr(services, "task_run_claim", down)
    work = lambda run: pytest.fail("no work without a claim")  # noqa: E731
    task = _Task()
    with pytest.raises(Retry):
        tasks._run(task, run.pk, work)
    since = task.kwargs["outage_since"]
    assert abs(since - time.time()) < 5
    with pytest.raises(Retry):  # a later try keeps counting from the first
        tasks._run(task, run.pk, work, outage_since=since)
    assert task.kwargs == {"outage_since": since}
    task = _Task()
    too_long = time.time() - settings.TASK_DATABASE_GIVE_UP_SECONDS - 1
    with pytest.raises(OperationalError):
        tasks._run(task, run.pk, work, outage_since=too_long)
    assert task.countdown is None
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.message.startswith("Given up: the database was unreachable for ")
    assert "connection refused" not in run.message  # the driver's words go to the log


def test_a_look_while_the_database_is_up_starts_the_outage_count_afresh(open_study, settings):
    settings.TASK_RUN_LEASE_SECONDS = 300
    holder = services.task_run_claim(
        run_id=TaskRun.objects.create(study=open_study, kind="compute_agreement").pk
    )
    task = _Task()
    with pytest.raises(Retry):  # held by another worker: looks again, no outage carried
        tasks._run(task, holder.pk, lambda run: None, outage_since=time.time() - 100)
    assert task.kwargs == {}


# --- 3. a run waiting behind busy workers --------------------------------------------------------


def test_a_queued_run_waiting_behind_busy_workers_is_not_sent_again(
    source, open_study, sent, settings
):
    lease, delay = settings.TASK_RUN_LEASE_SECONDS, settings.STATS_RECOMPUTE_DELAY_SECONDS
    waiting = TaskRun.objects.create(study=source.study, source=source, kind="fetch_outputs")
    TaskRun.objects.filter(pk=waiting.pk).update(created_at=_ago(lease + 1))
    counting_down = TaskRun.objects.create(study=open_study, kind="compute_agreement")
    TaskRun.objects.filter(pk=counting_down.pk).update(created_at=_ago(lease + delay + 1))
    requeued = TaskRun.objects.create(study=source.study, source=source, kind="fetch_outputs")
    TaskRun.objects.filter(pk=requeued.pk).update(
        created_at=_ago(3600), heartbeat_at=_ago(lease + 1)
    )
    assert services.task_runs_requeue_lost() == []
    assert sent == []
    # Never received for longer than TASK_RUN_QUEUED_SECONDS: its message was lost.
    TaskRun.objects.filter(pk=waiting.pk).update(
        created_at=_ago(settings.TASK_RUN_QUEUED_SECONDS + 1)
    )
    assert services.task_runs_requeue_lost() == [waiting.pk]


def test_a_queued_run_whose_message_a_worker_received_is_not_sent_again(
    source, sent, monkeypatch, settings
):
    run = TaskRun.objects.create(study=source.study, source=source, kind="fetch_outputs")
    TaskRun.objects.filter(pk=run.pk).update(created_at=_ago(settings.TASK_RUN_QUEUED_SECONDS + 1))
    monkeypatch.setattr(tasks, "close_old_connections", lambda: None)
    claim = services.task_run_claim

    def down(*, run_id):
        raise _error("connection refused", "08001")

    monkeypatch.setattr(services, "task_run_claim", down)
    with pytest.raises(Retry):  # received, and the database went away before the claim
        tasks._run(_Task(), run.pk, services.outputs_fetch_missing)
    assert services.task_runs_requeue_lost() == []
    assert sent == []
    assert claim(run_id=run.pk).status == "running"


# --- 4. a write retried after its COMMIT's reply was lost -------------------------------------


def _commits_then_loses_the_reply(monkeypatch, module, name: str) -> list:
    real, lost = getattr(module, name), []

    def store(**kwargs):
        stored = real(**kwargs)
        if not lost:
            lost.append(True)
            raise _error("server closed the connection unexpectedly", "08006")
        return stored

    monkeypatch.setattr(module, name, store)
    return lost


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("text", ["A summary.", None])
def test_a_generation_whose_commit_reply_was_lost_is_recorded_once(
    draft_study, fake_llm, monkeypatch, text
):
    source = services.source_create(
        study=draft_study, label="Echo", base_url=fake_llm.base_url, model_name="echo"
    )
    case = draft_study.cases.first()
    lost = _commits_then_loses_the_reply(monkeypatch, generation, "_record_generation")
    now = timezone.now()
    completion = llm.Completion(
        request={}, url=fake_llm.base_url, started_at=now, finished_at=now, latency_ms=5,
        text=text, error="" if text else "HTTP 500", prompt_tokens=10,
    )  # fmt: skip
    stored = services.output_record_generation(source=source, case=case, completion=completion)
    assert lost == [True]
    assert stored is (text is not None)
    assert Generation.objects.filter(source=source).count() == 1
    assert Output.objects.filter(source=source).count() == (1 if text else 0)


@pytest.mark.django_db(transaction=True)
def test_a_failed_verdict_whose_commit_reply_was_lost_is_recorded_once(
    open_study, fake_llm, monkeypatch, settings
):
    settings.JUDGE_MAX_ATTEMPTS = 1
    fake_llm.set_default(Reply("I would rather not answer in JSON."))
    judge = services.judge_create(
        study=open_study, label="J", base_url=fake_llm.base_url, model_name="j"
    )
    lost = _commits_then_loses_the_reply(monkeypatch, judges, "_verdict_store")
    run = TaskRun.objects.create(study=open_study, judge=judge, kind="run_judge")
    services.judge_run(run=services.task_run_claim(run_id=run.pk))
    assert lost == [True]
    calls = len(fake_llm.requests)
    assert calls > 0
    assert JudgeVerdict.objects.filter(judge=judge, outcome="failed").count() == calls
