"""Pacing calls to a model endpoint: at most so many requests started per minute. No Django.

Concurrency is bounded by the number of threads a fetch runs (`Source.max_concurrency`); this
spaces their starts so that a requests-per-minute quota holds too. Both hold within one worker
process; sharing them across workers (through Redis) is not done yet.
"""

import threading
import time
from collections.abc import Callable


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
