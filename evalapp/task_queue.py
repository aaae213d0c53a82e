"""Queue a Celery task by its name without loading Celery (issue 22).

The web process queues the worker's jobs (a recomputation after each submit, an export, an
opening) but never runs a task, and Celery's application is some 4 MB of every web process.
What `Task.apply_async` sends is a message in Celery's task protocol, version 2
(https://docs.celeryq.dev/en/stable/internals/protocol.html): this module sends that message
itself, with kombu, the transport library Celery sends through, to the queue the workers
consume, as Celery would: the same headers, body, properties, queue declaration and retry
policy. The worker, which loads Celery anyway, sends its own jobs the same way, so there is one
way a job is queued. `tests/test_task_queue.py` compares the message with the one Celery makes
and has a real worker run what was sent.
"""

import os
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings

# Celery's defaults: task_publish_retry_policy, broker_connection_timeout (seconds), and
# task_default_delivery_mode (2: persistent). A broker that is away makes `send` raise after
# these retries, as apply_async did; the callers leave the job to the workers' sweep.
RETRY_POLICY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.2, "interval_max": 1}
CONNECT_TIMEOUT = 4.0
PERSISTENT = 2

_connections: dict[tuple, object] = {}
_connections_lock = threading.Lock()


def send(name: str, args: tuple = (), *, countdown: float | None = None) -> str:
    """Queue the task called `name` (e.g. "annotation.tasks.compute_agreement") with these
    positional arguments, to run no sooner than `countdown` seconds from now; the task's id.
    Raises the broker's error if it cannot be reached."""
    from kombu import pools  # kombu, not Celery: loaded at the first job queued

    task_id = str(uuid.uuid4())
    headers, body = message(name, tuple(args), task_id=task_id, countdown=countdown)
    queue = default_queue()
    with pools.producers[_connection()].acquire(block=True) as producer:
        producer.publish(
            body,
            exchange="",  # the broker's default exchange: straight to the queue, as Celery sends
            routing_key=queue.name,
            declare=[queue],
            serializer="json",
            headers=headers,
            delivery_mode=PERSISTENT,
            retry=True,
            retry_policy=RETRY_POLICY,
            correlation_id=task_id,
            reply_to="",
        )
    return task_id


def message(
    name: str, args: tuple, *, task_id: str, countdown: float | None = None
) -> tuple[dict, tuple]:
    """The headers and body of protocol 2's message: what Celery's `as_task_v2` makes for a
    task sent with positional arguments only, its result ignored (CELERY_TASK_IGNORE_RESULT)."""
    eta = None
    if countdown:
        eta = (datetime.now(UTC) + timedelta(seconds=countdown)).isoformat()
    headers = {
        "lang": "py",
        "task": name,
        "id": task_id,
        "shadow": None,
        "eta": eta,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [None, None],
        "root_id": task_id,
        "parent_id": None,
        "argsrepr": repr(args),
        "kwargsrepr": "{}",
        "origin": f"gen{os.getpid()}@{socket.gethostname()}",
        "ignore_result": settings.CELERY_TASK_IGNORE_RESULT,
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
    }
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    return headers, (list(args), {}, embed)


def default_queue():
    """The queue the workers consume (CELERY_TASK_DEFAULT_QUEUE), declared as Celery declares
    it: a direct exchange of the same name, bound by the same routing key."""
    from kombu import Exchange, Queue

    name = settings.CELERY_TASK_DEFAULT_QUEUE
    return Queue(name, Exchange(name, type="direct"), routing_key=name)


def _connection():
    """This process's connection to the broker (one per process, opened at the first send;
    a forked child opens its own), for the settings in force."""
    from kombu import Connection

    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    key = (os.getpid(), settings.CELERY_BROKER_URL, repr(sorted(options.items())))
    with _connections_lock:
        if key not in _connections:
            _connections[key] = Connection(
                settings.CELERY_BROKER_URL,
                transport_options=dict(options),
                connect_timeout=CONNECT_TIMEOUT,
            )
        return _connections[key]
