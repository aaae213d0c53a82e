"""Jobs queued by name without Celery (evalapp.task_queue, issue 22): the message is the one
Celery's own `apply_async` makes, a real worker runs it (on time, when it is delayed), and a
broker that is away is an error the caller sees within seconds, as with Celery."""

import json
import os
import signal
import time
from datetime import UTC, datetime

import pytest
import redis
from kombu import Producer
from kombu.exceptions import OperationalError

from annotation.models import TaskRun
from annotation.services.task_runs import TASK_OF_KIND
from annotation.tasks import compute_agreement
from evalapp import task_queue
from evalapp.celery import app
from tests.support.waiting import wait_for_run
from tests.support.worker import ON_CI, RedisServer


def test_the_message_is_celerys_own():
    ours, body = task_queue.message("annotation.tasks.compute_agreement", (42,), task_id="t-1")
    celery = app.amqp.as_task_v2(
        "t-1", "annotation.tasks.compute_agreement", args=(42,), ignore_result=True
    )
    assert ours.keys() == celery.headers.keys()
    assert {**ours, "origin": ""} == {**celery.headers, "origin": ""}
    assert ours["origin"].startswith("gen")  # Celery's anonymous name: gen<pid>@<host>
    assert "@" in ours["origin"]
    assert json.dumps(body) == json.dumps(celery.body)  # as the JSON serializer writes it
    assert celery.properties == {"correlation_id": "t-1", "reply_to": ""}


def test_it_is_published_as_celery_publishes_it(monkeypatch):
    published = []

    def publish(producer, body, **options):
        published.append(options)

    monkeypatch.setattr(Producer, "publish", publish)
    compute_agreement.apply_async((7,))
    task_queue.send(compute_agreement.name, (7,))
    celery, ours = published
    for option in ("exchange", "routing_key", "serializer", "compression", "delivery_mode"):
        assert ours.get(option) == celery.get(option), option
    assert ours["retry"] is celery["retry"] is True
    assert ours["retry_policy"] == celery["retry_policy"]
    assert [q.as_dict(recurse=True) for q in ours["declare"]] == [
        q.as_dict(recurse=True) for q in celery["declare"]
    ]
    # Celery's reply_to names its thread, for results this site never asks for.
    assert ours["correlation_id"] == ours["headers"]["id"]


def test_a_delayed_message_carries_its_moment_as_celery_writes_it():
    before = datetime.now(UTC)
    headers, _ = task_queue.message("x", (), task_id="t", countdown=30)
    eta = datetime.fromisoformat(headers["eta"])
    assert eta.tzinfo is not None
    assert 29 <= (eta - before).total_seconds() <= 31
    assert task_queue.message("x", (), task_id="t")[0]["eta"] is None


def test_every_kind_of_job_is_queued_under_a_task_the_worker_has():
    for kind, name in TASK_OF_KIND.items():
        assert name in app.tasks, kind
    assert set(TASK_OF_KIND) == set(TaskRun.Kind.values)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_what_was_queued_and_waits_for_its_moment(celery_worker, draft_study):
    now = TaskRun.objects.create(study=draft_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    task_queue.send(compute_agreement.name, (now.pk,))
    assert wait_for_run(now.pk).status == TaskRun.Status.SUCCEEDED

    later = TaskRun.objects.create(study=draft_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    sent = time.monotonic()
    task_queue.send(compute_agreement.name, (later.pk,), countdown=3)
    time.sleep(1.5)
    later.refresh_from_db()
    assert later.status == TaskRun.Status.QUEUED  # not before its moment
    assert wait_for_run(later.pk).status == TaskRun.Status.SUCCEEDED
    assert time.monotonic() - sent >= 3


def test_an_unreachable_broker_is_an_error_within_seconds(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens on port 9
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    started = time.monotonic()
    with pytest.raises(OperationalError):
        task_queue.send("annotation.tasks.compute_agreement", (1,))
    assert time.monotonic() - started < 15  # Celery's retry policy: three quick retries


@pytest.fixture
def own_redis(tmp_path, settings):
    """A Redis of the test's own as the broker, to count its clients and to stop."""
    server = RedisServer(tmp_path)
    if server.binary is None and not ON_CI:
        # As the fault tests do: CI always has one (.ci/run starts it), and never skips here.
        pytest.skip("no redis-server binary on this machine to start a Redis of the test's own")
    server.start()
    settings.CELERY_BROKER_URL = server.url
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    yield server
    if server.process is not None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


def _clients(url: str) -> int:
    with redis.Redis.from_url(url) as inspector:
        return len(inspector.client_list()) - 1  # not the inspector itself


def test_each_process_keeps_one_connection_to_the_broker_however_many_jobs_it_queues(
    own_redis, settings
):
    task_queue.send("annotation.tasks.compute_agreement", (1,))
    after_one = _clients(own_redis.url)
    for n in range(5):
        task_queue.send("annotation.tasks.compute_agreement", (2 + n,))
    assert _clients(own_redis.url) == after_one <= 2
    with redis.Redis.from_url(own_redis.url) as inspector:
        assert inspector.llen(settings.CELERY_TASK_DEFAULT_QUEUE) == 6  # all six, for the workers


def test_a_redis_that_stops_answering_does_not_hold_the_request(own_redis):
    task_queue.send("annotation.tasks.compute_agreement", (1,))  # connected and answering
    os.kill(own_redis.process.pid, signal.SIGSTOP)  # takes connections, answers nothing
    started = time.monotonic()
    with pytest.raises((OperationalError, OSError, redis.RedisError)):
        task_queue.send("annotation.tasks.compute_agreement", (2,))
    assert time.monotonic() - started < 20  # gunicorn gives a request 30 s
    os.kill(own_redis.process.pid, signal.SIGCONT)
    task_queue.send("annotation.tasks.compute_agreement", (3,))  # and it goes again once back


# Celery settings that would change how a task is sent. evalapp.task_queue sends as Celery's
# defaults do; one of these set would have to be honoured there too.
SENDING_SETTINGS = (
    "CELERY_TASK_ROUTES",
    "CELERY_TASK_DEFAULT_EXCHANGE",
    "CELERY_TASK_DEFAULT_EXCHANGE_TYPE",
    "CELERY_TASK_DEFAULT_ROUTING_KEY",
    "CELERY_TASK_DEFAULT_PRIORITY",
    "CELERY_TASK_DEFAULT_DELIVERY_MODE",
    "CELERY_TASK_SERIALIZER",
    "CELERY_TASK_COMPRESSION",
    "CELERY_TASK_PUBLISH_RETRY",
    "CELERY_TASK_PUBLISH_RETRY_POLICY",
    "CELERY_TASK_PROTOCOL",
    "CELERY_BROKER_WRITE_URL",
    "CELERY_BROKER_USE_SSL",
    "CELERY_BROKER_POOL_LIMIT",
    "CELERY_BROKER_CONNECTION_TIMEOUT",
)


def test_no_setting_changes_how_a_task_is_sent():
    from django.conf import settings

    for name in SENDING_SETTINGS:
        assert not hasattr(settings, name), f"{name} is set: honour it in evalapp.task_queue"
