"""A fetch survives what production throws at it: its worker killed mid-fetch and another started,
and Redis (broker and shared limits) going away and coming back. Each test has its own
redis-server and its own worker processes, so it can break them without touching the others.
Every case ends with exactly one output, and no call is paid for twice beyond those in flight
when the worker died. And a worker holding a recomputation's countdown lives through a Redis
outage, and the recomputation still happens (issue 17)."""

import os
import shutil
import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation import services
from annotation.models import Generation, Output, TaskRun
from annotation.tasks import compute_agreement, fetch_outputs
from evalapp import task_queue
from evalapp.celery import app
from tests.conftest import _worker_database_url
from tests.factories import alpha_of
from tests.support.fake_llm import Delay
from tests.support.waiting import wait_for_run
from tests.support.worker import (
    ON_CI,
    RedisServer,
    kill_worker,
    start_worker,
    stop_worker,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

CASES, LATENCY, CONCURRENCY = 40, 0.25, 4


@pytest.fixture
def redis_server(tmp_path):
    if shutil.which("redis-server") is None and not ON_CI:
        pytest.skip("no redis-server on this machine")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


# How long Redis stays away under a worker holding a countdown task (issue 17 asks for 30 s).
REDIS_OUTAGE_SECONDS = float(os.environ.get("FAULTS_REDIS_OUTAGE_SECONDS", "30"))

# A dead worker's message comes back after 2 s, and its run may be taken over after 2 s.
SHORT_LEASES = {
    "CELERY_VISIBILITY_TIMEOUT": "2",
    "CELERY_RESTORE_SWEEP_SECONDS": "1",
    "TASK_RUN_LEASE_SECONDS": "2",
    "TASK_DATABASE_OUTAGE_SECONDS": "1",  # within the lease, as the settings require
}


@pytest.fixture
def workers(redis_server, tmp_path, transactional_db):
    """Start workers on the private Redis (with short leases unless told otherwise); all are
    stopped at the end."""
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    started = []
    env = {
        "DATABASE_URL": _worker_database_url(),
        "CELERY_BROKER_URL": redis_server.url,
        "LLM_LIMITS_REDIS_URL": redis_server.url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "LLM_BACKOFF_FACTOR": "0.01",
        "LLM_REQUEST_TIMEOUT": "5",
    }

    def start(settings: dict[str, str] = SHORT_LEASES):
        process = start_worker(
            {**env, **settings}, tmp_path / "workers.log", f"{queue}-{len(started)}"
        )
        started.append(process)
        return process

    def send(run: TaskRun, task=fetch_outputs, countdown: float | None = None) -> None:
        with app.connection_for_write(redis_server.url) as connection:
            task.apply_async(args=[run.pk], queue=queue, connection=connection, countdown=countdown)

    start.send = send
    start.log = tmp_path / "workers.log"
    yield start
    for process in started:
        if process.poll() is None:
            stop_worker(process)


@pytest.fixture
def fetch(draft_study, fake_llm):
    rows = "case_id,input\n" + "".join(f"f{i},Question {i}\n" for i in range(CASES))
    services.study_import_file(study=draft_study, filename="more.csv", content=rows.encode())
    source = services.source_create(
        study=draft_study,
        label="Echo",
        base_url=fake_llm.base_url,
        model_name="echo",
        max_concurrency=CONCURRENCY,
    )
    fake_llm.set_default(Delay(LATENCY))
    run = TaskRun.objects.create(study=draft_study, source=source, kind=TaskRun.Kind.FETCH_OUTPUTS)
    return run, source, draft_study.cases.count()


def _wait_for_outputs(source, at_least: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while (count := Output.objects.filter(source=source).count()) < at_least:
        assert time.monotonic() < deadline, f"only {count} outputs after {timeout}s"
        time.sleep(0.05)
    return count


def _assert_one_output_per_case(source, cases: int) -> None:
    outputs = Output.objects.filter(source=source)
    assert outputs.count() == cases
    assert outputs.values("case").distinct().count() == cases
    ok = Generation.objects.filter(source=source, outcome=Generation.Outcome.OK)
    assert ok.count() == cases  # one successful call recorded per output, none twice
    assert not Generation.objects.filter(source=source, outcome=Generation.Outcome.FAILED).exists()


def test_a_worker_killed_mid_fetch_is_replaced_and_the_fetch_finishes_once(
    workers, fetch, fake_llm
):
    run, source, cases = fetch
    first = workers()
    workers.send(run)
    before_kill = _wait_for_outputs(source, at_least=8)
    kill_worker(first)
    time.sleep(0.3)  # let the fake server log any request that was on the wire
    killed_at = Output.objects.filter(source=source).count()
    assert before_kill <= killed_at < cases, "the kill came too late to test anything"
    requests_before = len(fake_llm.requests)

    workers()  # a fresh worker takes the message back once its visibility timeout has passed
    run = wait_for_run(run.pk, timeout=60)

    assert run.status == TaskRun.Status.SUCCEEDED, run.message
    assert (run.done, run.total) == (cases - killed_at, cases - killed_at)
    _assert_one_output_per_case(source, cases)
    # The second worker asked only for what was missing; calls in flight at the kill (at most
    # CONCURRENCY) were made twice, and never stored twice.
    asked_again = len(fake_llm.requests) - requests_before
    assert asked_again == cases - killed_at
    assert len(fake_llm.requests) <= cases + CONCURRENCY


def test_a_fetch_rides_out_redis_going_away_and_coming_back(workers, fetch, redis_server, fake_llm):
    run, source, cases = fetch
    workers()
    workers.send(run)
    _wait_for_outputs(source, at_least=4)
    redis_server.stop()  # the broker and the shared limits both go away
    down_at = Output.objects.filter(source=source).count()
    time.sleep(2)
    during = Output.objects.filter(source=source).count()
    redis_server.start()  # empty, as a Redis without persistence comes back

    run = wait_for_run(run.pk, timeout=60)
    assert run.status == TaskRun.Status.SUCCEEDED, run.message
    # Calls in flight finished while Redis was away, but no new one started without the limits.
    assert during - down_at <= CONCURRENCY
    _assert_one_output_per_case(source, cases)
    assert fake_llm.max_in_flight <= CONCURRENCY


def test_a_worker_killed_mid_fetch_is_resumed_within_a_minute_with_the_default_settings(
    workers, fetch, fake_llm
):
    # No shortened visibility timeout or lease: the workers' sweep finds the dead run once its
    # heartbeat is a lease old (45 s), and a new worker resumes it.
    run, source, cases = fetch
    first = workers({})
    workers.send(run)
    _wait_for_outputs(source, at_least=8)
    kill_worker(first)
    time.sleep(0.3)  # let the fake server log any request that was on the wire
    killed_at = Output.objects.filter(source=source).count()
    assert killed_at < cases, "the kill came too late to test anything"
    requests_before = len(fake_llm.requests)

    workers({})
    available = time.monotonic()
    run = wait_for_run(run.pk, timeout=90)
    assert time.monotonic() - available < 60, "not resumed within a minute"

    assert run.status == TaskRun.Status.SUCCEEDED, run.message
    _assert_one_output_per_case(source, cases)
    assert len(fake_llm.requests) - requests_before == cases - killed_at
    assert len(fake_llm.requests) <= cases + CONCURRENCY


def test_a_worker_starting_up_sends_a_run_whose_message_was_lost(workers, fetch, fake_llm):
    run, source, cases = fetch
    # Queued long ago, and its message never reached a worker (a broker outage as it was sent).
    TaskRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(hours=1))
    workers({"TASK_RUN_SWEEP_SECONDS": "60"})  # only the start-up sweep within this test
    run = wait_for_run(run.pk, timeout=30)
    assert run.status == TaskRun.Status.SUCCEEDED, run.message
    _assert_one_output_per_case(source, cases)


def _rate_everything(study) -> None:
    """Every assignment answered and submitted; the recomputation they queue is not sent."""
    question = study.questions.get()
    for n, assignment in enumerate(study.assignments.order_by("pk")):
        services.rating_save(assignment=assignment, question=question, answer=1 + n % 5)
        services.assignment_submit(assignment=assignment)


def test_a_worker_holding_a_countdown_lives_through_a_redis_outage_and_recomputes(
    workers, open_study, redis_server, monkeypatch
):
    monkeypatch.setattr(task_queue, "send", lambda *args, **kwargs: None)
    _rate_everything(open_study)
    run = TaskRun.objects.get(study=open_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    monkeypatch.undo()
    delay = 20
    worker = workers(
        {
            "STATS_RECOMPUTE_DELAY_SECONDS": str(delay),
            "TASK_RUN_LEASE_SECONDS": "10",
            "TASK_DATABASE_OUTAGE_SECONDS": "5",
            "TASK_RUN_SWEEP_SECONDS": "1",
            # The held message was never run, so nothing marked it received: it counts as lost
            # after this long (300 s by default, for messages waiting behind busy workers).
            "TASK_RUN_QUEUED_SECONDS": "10",
        }
    )
    # As a submit does: the recomputation, due `delay` seconds from now. The worker takes the
    # message at once and holds it, unacknowledged, until it is due.
    workers.send(run, task=compute_agreement, countdown=delay)
    log = workers.log
    deadline = time.monotonic() + 10
    while "compute_agreement" not in log.read_text().split(" ready.")[-1]:
        assert time.monotonic() < deadline, "the worker never took the countdown task"
        time.sleep(0.1)
    redis_server.stop()
    time.sleep(REDIS_OUTAGE_SECONDS)
    assert worker.poll() is None, log.read_text()[-3000:]
    redis_server.start()  # empty: the held message is gone with the outage

    run = wait_for_run(run.pk, timeout=60)
    assert worker.poll() is None, log.read_text()[-3000:]
    assert run.status == TaskRun.Status.SUCCEEDED, run.message
    result = alpha_of(open_study)
    assert (result.n_units, result.n_ratings) == (6, 12)
