"""Jobs queued by name without Celery (evalapp.task_queue, issue 22): the message is the one
Celery's own `apply_async` makes, a real worker runs it (on time, when it is delayed), and a
broker that is away is an error the caller sees within seconds, as with Celery."""

import json
import time
from datetime import UTC, datetime

import pytest
from kombu.exceptions import OperationalError

from annotation.models import TaskRun
from annotation.services.task_runs import TASK_OF_KIND
from annotation.tasks import compute_agreement
from evalapp import task_queue
from evalapp.celery import app
from tests.support.waiting import wait_for_run


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
