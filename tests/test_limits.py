"""A source's limits held across worker processes through Redis: calls at once, with leases that
free a crashed worker's slot, and calls started per minute."""

import os
import threading
import time

import pytest

from annotation.core.limits import LimitsUnavailable, LocalLimits, SharedLimits
from tests.support.worker import ON_CI

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def _redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError:
        if ON_CI:
            raise
        pytest.skip(f"no Redis at {REDIS_URL}")
    return client


@pytest.fixture
def client():
    client = _redis()
    key = f"test-limits-{os.getpid()}-{time.monotonic_ns()}"
    yield client, key
    for name in client.scan_iter(f"{key}*"):
        client.delete(name)


def _hammer(workers, *, threads: int, hold: float) -> int:
    """Run `threads` callers per worker, each holding a slot for `hold` s; the most at once."""
    in_flight, most, lock = [0], [0], threading.Lock()

    def one(limits):
        token = limits.acquire()
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(hold)
        with lock:
            in_flight[0] -= 1
        limits.release(token)

    pool = [threading.Thread(target=one, args=(w,)) for w in workers for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return most[0]


def test_two_workers_together_never_pass_the_sources_concurrency(client):
    redis, key = client
    workers = [SharedLimits(redis, key, concurrency=3, per_minute=None) for _ in range(2)]
    assert _hammer(workers, threads=6, hold=0.05) == 3
    assert redis.zcard(f"{key}:slots") == 0  # every slot given back


def test_a_slot_held_by_a_crashed_worker_frees_itself_when_its_lease_ends(client):
    redis, key = client
    crashed = SharedLimits(redis, key, concurrency=1, per_minute=None, lease_seconds=0.3)
    crashed.acquire()  # and never released
    alive = SharedLimits(redis, key, concurrency=1, per_minute=None)
    started = time.monotonic()
    alive.release(alive.acquire())
    assert 0.2 <= time.monotonic() - started < 2


def test_calls_a_minute_are_spaced_across_workers(client):
    redis, key = client
    workers = [SharedLimits(redis, key, concurrency=10, per_minute=600) for _ in range(2)]
    started = time.monotonic()
    _hammer(workers, threads=3, hold=0)
    # Six starts, one every 0.1 s whichever worker makes them: at least 0.5 s.
    assert time.monotonic() - started >= 0.45


def test_within_one_process_the_same_limits_hold_without_redis():
    assert _hammer([LocalLimits(concurrency=2, per_minute=None)], threads=6, hold=0.05) == 2


def test_a_job_taken_over_frees_the_slots_its_dead_worker_held_at_once(client):
    redis, key = client
    dead = SharedLimits(redis, key, concurrency=2, per_minute=None, lease_seconds=600)
    dead.acquire("run-7")
    dead.acquire("run-7")
    other = SharedLimits(redis, key, concurrency=3, per_minute=None)
    kept = other.acquire("run-8")
    assert other.forget("run-7") == 2
    assert redis.zrange(f"{key}:slots", 0, -1) == [kept.encode()]  # another job's slot stays


def test_calls_wait_out_a_redis_outage_then_give_up_with_a_clear_error():
    import redis

    class Down:
        """A Redis whose every command fails to connect, counting the tries."""

        tries = 0

        def register_script(self, _source):
            def script(**_):
                Down.tries += 1
                raise redis.ConnectionError("Connection refused")

            return script

        def zrem(self, *_):
            raise redis.ConnectionError("Connection refused")

    limits = SharedLimits(Down(), "k", concurrency=1, per_minute=None, outage_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(LimitsUnavailable, match="Redis unreachable"):
        limits.acquire()
    assert time.monotonic() - started >= 0.5  # it kept trying for the outage allowance
    assert Down.tries > 3
    limits.release("k/x")  # a release during an outage is no error: the lease frees the slot
    # Once it has given up, the next call tries once: a long outage fails the rest quickly.
    Down.tries = 0
    with pytest.raises(LimitsUnavailable):
        limits.acquire()
    assert Down.tries == 1
