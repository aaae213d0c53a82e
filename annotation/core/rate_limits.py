"""How long to wait before calling a model endpoint again after a failed attempt. No Django.

A server that says when to come back is believed: `retry-after-ms` (OpenAI, Azure), then
`Retry-After` (seconds or an HTTP date), then, for a 429, the `x-ratelimit-reset-requests` and
`x-ratelimit-reset-tokens` headers of the limit that ran out (Go durations such as "1s",
"6m0s", "20ms"). A server that says nothing (LiteLLM's proxy sends a bare 429) gets an
exponential backoff with full jitter: a uniform draw between 0 and factor * 2^(n-1) seconds
before the n-th retry, so that many workers refused together do not come back together. Every
wait is capped at MAX_WAIT_SECONDS.
"""

import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# The statuses whose waits count as time lost to rate limits: "too many requests" and
# "overloaded, come back later".
RATE_LIMIT_STATUSES = frozenset({429, 503})
MAX_WAIT_SECONDS = 60.0

# Which `remaining` header says the limit behind each reset header ran out.
RESET_HEADERS = {
    "x-ratelimit-reset-requests": "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-tokens": "x-ratelimit-remaining-tokens",
}

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|us|µs|ns|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


@dataclass(frozen=True)
class Wait:
    """How long to wait before the next attempt, and what said so ("retry-after",
    "x-ratelimit-reset-requests", ... or "backoff")."""

    seconds: float
    basis: str


def parse_duration(text: str) -> float | None:
    """Seconds in a Go-style duration ("1s", "6m0s", "20ms", "1h2m3.5s", or a bare number of
    seconds); None for anything else."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def parse_retry_after(value: str, *, now: datetime) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date (a date already
    past means now). None when it is neither."""
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def server_wait(status: int | None, headers: Mapping[str, str], *, now: datetime) -> Wait | None:
    """What the server asked for, if anything. `headers` must look names up without regard to
    case (urllib3's and requests' do)."""
    if milliseconds := headers.get("retry-after-ms"):
        seconds = parse_duration(milliseconds)
        if seconds is not None:
            return Wait(seconds / 1000, "retry-after-ms")
    if retry_after := headers.get("retry-after"):
        seconds = parse_retry_after(retry_after, now=now)
        if seconds is not None:
            return Wait(seconds, "retry-after")
    if status != 429:
        return None
    resets = []
    for reset_name, remaining_name in RESET_HEADERS.items():
        seconds = parse_duration(headers.get(reset_name) or "")
        # A limit with requests or tokens to spare did not cause this 429.
        if seconds is not None and headers.get(remaining_name, "0").strip() in ("0", ""):
            resets.append(Wait(seconds, reset_name))
    return max(resets, key=lambda wait: wait.seconds, default=None)


def backoff_seconds(
    retry_number: int, *, factor: float, rng: random.Random, cap: float = MAX_WAIT_SECONDS
) -> float:
    """Full jitter: uniform in [0, min(cap, factor * 2^(retry_number - 1))]."""
    ceiling = min(cap, factor * 2 ** max(0, retry_number - 1))
    return rng.uniform(0, ceiling)


def wait_before_retry(
    retry_number: int,
    status: int | None,
    headers: Mapping[str, str],
    *,
    factor: float,
    rng: random.Random,
    now: datetime,
    cap: float = MAX_WAIT_SECONDS,
) -> Wait:
    """The wait before the `retry_number`-th retry (1 for the first) after an answer with this
    status and headers (status None: no answer, e.g. a dropped connection)."""
    asked = server_wait(status, headers, now=now)
    if asked is not None:
        return Wait(min(cap, asked.seconds), asked.basis)
    return Wait(backoff_seconds(retry_number, factor=factor, rng=rng, cap=cap), "backoff")


def describe_lost(milliseconds: int, waits: int) -> str:
    """The job's words for time lost to rate limits, e.g. "12.3 s waiting on rate limits
    (4 waits after 429/503 answers)"; "" when none was lost."""
    if waits == 0:
        return ""
    plural = "wait" if waits == 1 else "waits"
    seconds = milliseconds / 1000
    return f"{seconds:.1f} s waiting on rate limits ({waits} {plural} after 429/503 answers)"
