"""A source's or judge's call limits (concurrency, requests per minute): shared by all workers
through Redis when there is one, else held in this process. Fetching and judging take slots; the
job lifecycle frees a dead run's."""

import logging

import redis
from django.conf import settings

from annotation.core import limits
from annotation.models import (
    ModelEndpoint,
)

logger = logging.getLogger(__name__)


def call_deadline_seconds() -> float:
    """How long one call may take, its retries and their waits included: as long as every
    attempt timing out. No retry waits past it, so a slot's lease outlives the call holding it."""
    return settings.LLM_REQUEST_TIMEOUT * (settings.LLM_MAX_RETRIES + 1)


def limits_for(
    caller: ModelEndpoint, key: str | None = None
) -> limits.SharedLimits | limits.LocalLimits | limits.BothLimits:
    """A source's or judge's limits and, when its connection sets any, the connection's on top:
    the connection's hold across every source and judge of every study that uses it. Held by
    all workers together through Redis when there is one (the broker, or LLM_LIMITS_REDIS_URL),
    else within this process."""
    own = _limits(
        key or f"source:{caller.pk}",
        concurrency=caller.max_concurrency,
        per_minute=caller.requests_per_minute,
    )
    connection = caller.connection if caller.connection_id is not None else None
    if connection is None or (
        connection.max_concurrency is None and connection.requests_per_minute is None
    ):
        return own
    shared = _limits(
        f"connection:{connection.pk}",
        concurrency=connection.max_concurrency,
        per_minute=connection.requests_per_minute,
        process_wide=True,
    )
    return limits.BothLimits(own, shared)


def _limits(
    key: str, *, concurrency: int | None, per_minute: int | None, process_wide: bool = False
) -> limits.SharedLimits | limits.LocalLimits:
    url = settings.LLM_LIMITS_REDIS_URL
    if url:
        return limits.SharedLimits(
            redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5),
            f"evalapp:limits:{key}",
            concurrency=concurrency,
            per_minute=per_minute,
            lease_seconds=call_deadline_seconds() + 30,
            outage_seconds=settings.LLM_LIMITS_OUTAGE_SECONDS,
        )
    if process_wide:  # every run in this process on the connection shares one
        return limits.local_limits_shared(key, concurrency=concurrency, per_minute=per_minute)
    return limits.LocalLimits(concurrency=concurrency, per_minute=per_minute)
