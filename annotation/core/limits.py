"""How hard calls may press a model endpoint: calls in flight at once, and calls started per
minute. No Django.

`SharedLimits` holds a source's limits across every worker process through Redis (the broker in
production and CI); `LocalLimits` holds them within one process, for the embedded default.
`BothLimits` puts a source's or judge's own limits and its connection's together: a call takes
a slot of each.
"""

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable

import redis

logger = logging.getLogger(__name__)


class RateLimiter:
    """Starts at most `per_minute` calls in any minute, spaced evenly (None: no limit)."""

    def __init__(
        self,
        per_minute: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = clock()
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this caller may start its call."""
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


# --- limits shared by every worker, through Redis ----------------------------------------------

# Take a slot if fewer than ARGV[1] are held; slots older than their lease (a worker that died
# holding one) no longer count. Time comes from Redis, so every worker shares one clock.
_ACQUIRE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], t + tonumber(ARGV[2]), ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1)
  return 1
end
return 0
"""

# The start time of the next call: the later of now and the time the last one booked, spaced
# by ARGV[1] seconds. Returns how long the caller should wait, in seconds.
_NEXT_START = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local booked = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(t, booked)
redis.call('SET', KEYS[1], tostring(start + tonumber(ARGV[1])), 'EX', 3600)
return tostring(start - t)
"""


class LimitsUnavailable(RuntimeError):
    """Redis, which holds the shared limits, stayed unreachable: no call may start."""


class SharedLimits:
    """A source's limits, held by every worker process together: at most `concurrency` calls
    in flight (slots in a Redis sorted set, each with a lease so that a crashed worker's slot
    frees itself; None: no cap) and calls started at most `per_minute` a minute, spaced
    evenly."""

    def __init__(
        self,
        client,
        key: str,
        *,
        concurrency: int | None,
        per_minute: int | None,
        lease_seconds: float = 300.0,
        poll_seconds: float = 0.01,
        outage_seconds: float = 120.0,
    ) -> None:
        self.client, self.key = client, key
        self.concurrency, self.lease, self.poll = concurrency, lease_seconds, poll_seconds
        self.outage = outage_seconds
        self._gave_up = False
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self._acquire = client.register_script(_ACQUIRE)
        self._next_start = client.register_script(_NEXT_START)

    def acquire(self, owner: str = "") -> str:
        """Wait for a slot and the next start; the returned token releases the slot. `owner`
        names the job holding it, for `forget`.

        While Redis is unreachable this keeps trying, for up to `outage_seconds`, rather than
        call without the limits: then it raises LimitsUnavailable."""
        token = f"{owner}/{uuid.uuid4().hex}"
        slots = f"{self.key}:slots"
        while self.concurrency is not None and not self._redis(
            self._acquire, [slots], [self.concurrency, self.lease, token]
        ):
            time.sleep(self.poll)
        if self.interval:
            wait = float(self._redis(self._next_start, [f"{self.key}:next"], [self.interval]))
            if wait > 0:
                time.sleep(wait)
        return token

    def release(self, token: str) -> None:
        with contextlib.suppress(redis.RedisError):  # Redis is away: the slot's lease frees it
            self.client.zrem(f"{self.key}:slots", token)

    def forget(self, owner: str) -> int:
        """Free the slots an owner holds: a job taken over from a worker that died frees what
        the dead one held at once, rather than when the leases run out. Returns how many."""
        slots = f"{self.key}:slots"
        try:
            held = [
                t for t in self.client.zrange(slots, 0, -1) if t.startswith(f"{owner}/".encode())
            ]
            return self.client.zrem(slots, *held) if held else 0
        except redis.RedisError:
            return 0  # Redis is away: the leases will free them

    def _redis(self, script, keys: list[str], args: list):
        # Once an outage has outlasted `outage_seconds`, later calls try once and give up at
        # once, so a long outage fails a run's remaining calls quickly, not one by one.
        deadline = time.monotonic() + (0 if self._gave_up else self.outage)
        pause = 0.05
        while True:
            try:
                result = script(keys=keys, args=args)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if time.monotonic() >= deadline:
                    self._gave_up = True
                    # The call's record is shown to study admins: Redis's own error, which
                    # names its host and port, goes to the log only.
                    logger.warning("Redis unreachable for the limits: %s", exc)
                    raise LimitsUnavailable(
                        "Redis unreachable for the limits: the call was not sent"
                    ) from exc
                time.sleep(pause)
                pause = min(pause * 2, 1.0)
            else:
                self._gave_up = False
                return result


class LocalLimits:
    """The same limits within one process (the embedded default, with no Redis)."""

    def __init__(self, *, concurrency: int | None, per_minute: int | None) -> None:
        self._slots = threading.BoundedSemaphore(concurrency) if concurrency else None
        self._pace = RateLimiter(per_minute)

    def acquire(self, owner: str = "") -> str:
        if self._slots is not None:
            self._slots.acquire()
        self._pace.wait()
        return ""

    def release(self, token: str) -> None:
        if self._slots is not None:
            self._slots.release()

    def forget(self, owner: str) -> int:
        return 0  # one process: a dead worker's slots died with it


_local: dict[tuple, LocalLimits] = {}
_local_lock = threading.Lock()


def local_limits_shared(
    key: str, *, concurrency: int | None, per_minute: int | None
) -> LocalLimits:
    """The one LocalLimits of this process for `key` and these limits, so that every run in the
    process that names the same key (every source on one connection) shares its slots and pace.
    A change to the limits makes a new one."""
    with _local_lock:
        return _local.setdefault(
            (key, concurrency, per_minute),
            LocalLimits(concurrency=concurrency, per_minute=per_minute),
        )


class BothLimits:
    """A call's own limits and its connection's, held together: a call takes a slot of its own
    first, then one of the connection's, and gives back both. In that order a call waiting its
    own turn holds none of the connection's slots, which every other source on it shares; and
    since every caller takes them in the same order, no two wait on each other."""

    def __init__(self, own, connection) -> None:
        self.own, self.connection = own, connection

    def acquire(self, owner: str = "") -> tuple[str, str]:
        own = self.own.acquire(owner)
        try:
            return own, self.connection.acquire(owner)
        except BaseException:
            self.own.release(own)  # e.g. Redis stayed away: nothing is held for a call not sent
            raise

    def release(self, token: tuple[str, str]) -> None:
        own, connection = token
        self.connection.release(connection)
        self.own.release(own)

    def forget(self, owner: str) -> int:
        return self.own.forget(owner) + self.connection.forget(owner)
