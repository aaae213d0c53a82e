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

# Celery's defaults: task_publish_retry_policy, broker_connection_timeout (seconds),
# task_default_delivery_mode (2: persistent) and broker_pool_limit. A broker that is away makes
# `send` raise after these retries, as apply_async did; the callers leave the job to the
# workers' sweep.
RETRY_POLICY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.2, "interval_max": 1}
CONNECT_TIMEOUT = 4.0
PERSISTENT = 2
POOL_LIMIT = 10
# A Redis that takes connections but does not answer (stopped, overloaded) would hold a web
# request for good: each read or write on its socket gives up after this long, and the job is
# left to the sweep like any other that could not be sent. Celery's apply_async had none.
REDIS_SOCKET_TIMEOUT = 2.0

_producers: dict[tuple, object] = {}
_producers_lock = threading.Lock()


def send(name: str, args: tuple = (), *, countdown: float | None = None) -> str:
    """Queue the task called `name` (e.g. "annotation.tasks.compute_agreement") with these
    positional arguments, to run no sooner than `countdown` seconds from now; the task's id.
    Raises the broker's error if it cannot be reached."""
    task_id = str(uuid.uuid4())
    headers, body = message(name, tuple(args), task_id=task_id, countdown=countdown)
    queue = default_queue()
    with _producer_pool().acquire(block=True) as producer:
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


def _producer_pool():
    """This process's pool of producers and their connections to the broker, for the settings
    in force: made at the first send, and kept here rather than in kombu's registry of pools,
    which finds a pool by its connection's options (that publishing with retries changes) and
    which a process forked from one that sent would share. A forked child makes its own."""
    from kombu import Connection  # kombu, not Celery: loaded at the first job queued
    from kombu.pools import ProducerPool

    options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}))
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        options.setdefault("socket_timeout", REDIS_SOCKET_TIMEOUT)
        options.setdefault("socket_connect_timeout", CONNECT_TIMEOUT)
    key = (os.getpid(), url, repr(sorted(options.items())))
    with _producers_lock:
        if key not in _producers:
            connection = Connection(url, transport_options=options, connect_timeout=CONNECT_TIMEOUT)
            _producers[key] = ProducerPool(connection.Pool(POOL_LIMIT), limit=POOL_LIMIT)
        return _producers[key]


def _new_lock_after_fork() -> None:
    # A lock held by another thread at the fork would never be released in the child. The
    # parent's pools stay (under the parent's pid, never used here): dropping them could close
    # connections the parent still uses.
    global _producers_lock
    _producers_lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_after_fork)
