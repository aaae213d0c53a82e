"""Make a call that `llm` describes, over HTTP with requests and urllib3, and record what
happened (`complete`). Apart from `llm` so that only the processes that call models load them:
the worker does; the web process does not (issue 22).

Transient failures (429, 5xx, timeouts, dropped connections) are retried by urllib3, waiting
as the server asks (Retry-After, x-ratelimit-reset-*) or else with a capped exponential backoff
with full jitter (core/rate_limits.py), and never past the call's deadline; the statuses of
earlier attempts and each wait are kept so that the stored record says how an output was
obtained, not just what it was, and how long rate limits held it up.

The socket connects only to an address `llm.Destinations` checked, so a name that resolves
differently a moment later (DNS rebinding) gains nothing. Redirects are never followed.
"""

import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ResponseError,
)
from urllib3.exceptions import TimeoutError as UrllibTimeoutError
from urllib3.util.retry import Retry

from annotation.core import rate_limits
from annotation.core.llm import (
    CALL_FAILED,
    MAX_BODY_CHARS,
    MAX_HEADER_CHARS,
    NO_ANSWER,
    NO_CONNECTION,
    NOT_ALLOWED,
    REDIRECTED,
    RETRY_STATUSES,
    SERVED_HEADERS,
    Completion,
    DestinationRefused,
    Destinations,
    Endpoint,
    Image,
    build_request,
    request_for_record,
)

# The name operators filter on (docs/deployment.md), as before these calls had a module of
# their own.
logger = logging.getLogger("annotation.core.llm")


class _CheckedConnection:
    """Mixed into urllib3's connections: resolve the host, check every address, then connect
    to a checked address by number, so no second lookup can hand back another one."""

    destinations: Destinations

    def _new_conn(self) -> socket.socket:
        name = self._dns_host
        try:
            addresses = self.destinations.addresses(name, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        error: Exception | None = None
        try:
            for address in addresses:
                # Only the socket goes to the number: TLS still checks the certificate
                # against the host's name (self.host), which is unchanged.
                self._dns_host = address
                try:
                    return super()._new_conn()
                except (NewConnectionError, ConnectTimeoutError) as exc:
                    error = exc
        finally:
            self._dns_host = name
        raise error or NewConnectionError(self, f"{name} resolves to no address")


class CheckedAdapter(HTTPAdapter):
    """An HTTPAdapter that refuses a host outside the allowlist before anything is sent, and
    whose connections check the addresses they connect to."""

    def __init__(self, *, destinations: Destinations, **kwargs) -> None:
        self.destinations = destinations
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self._check_pools(self.poolmanager)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        # With HTTP(S)_PROXY set, the socket goes to the proxy: it is checked like any host,
        # and reaching the endpoint from there is the proxy's to police.
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        self._check_pools(manager)
        return manager

    def _check_pools(self, manager) -> None:
        checked = {"destinations": self.destinations}
        http = type("CheckedHTTPConnection", (_CheckedConnection, HTTPConnection), checked)
        https = type("CheckedHTTPSConnection", (_CheckedConnection, HTTPSConnection), checked)
        manager.pool_classes_by_scheme = {
            "http": type("CheckedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("CheckedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }

    def send(self, request, *args, **kwargs):
        self.destinations.check_host(urlsplit(request.url).hostname)
        return super().send(request, *args, **kwargs)


# --- retries -------------------------------------------------------------------------------


class _CallState:
    """One call's deadline (on time.monotonic) and the waits made for it, for PacedRetry."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.waits: list[dict] = []

    @property
    def rate_limit_waits(self) -> list[dict]:
        return [w for w in self.waits if w["status"] in rate_limits.RATE_LIMIT_STATUSES]


# urllib3 retries on the calling thread, so the call in progress is this thread's.
_calls = threading.local()


@contextmanager
def _call_state(deadline: float | None):
    state = _CallState(deadline)
    _calls.state = state
    try:
        yield state
    finally:
        _calls.state = None


class PacedRetry(Retry):
    """urllib3's Retry, waiting as core/rate_limits.py says (the server's word, else full
    jitter), recording each wait in the call's state, and giving up, with the last answer,
    rather than waiting past the call's deadline."""

    rng: random.Random = random.Random()
    sleeper: Callable[[float], None] = staticmethod(time.sleep)
    wall: Callable[[], datetime] = staticmethod(lambda: datetime.now(UTC))
    planned: tuple[rate_limits.Wait, int | None] | None = None

    def new(self, **kw) -> "PacedRetry":
        retry = super().new(**kw)
        retry.rng, retry.sleeper, retry.wall = self.rng, self.sleeper, self.wall
        return retry

    def increment(
        self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None
    ) -> "PacedRetry":
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        status = response.status if response is not None else None
        wait = rate_limits.wait_before_retry(
            len(retry.history),
            status,
            response.headers if response is not None else {},
            factor=self.backoff_factor,
            rng=self.rng,
            now=self.wall(),
        )
        state = getattr(_calls, "state", None)
        deadline = state.deadline if state is not None else None
        if deadline is not None and time.monotonic() + wait.seconds > deadline:
            reason = error or ResponseError(f"a wait of {wait.seconds:.1f} s passes the deadline")
            raise MaxRetryError(_pool, url, reason) from reason
        retry.planned = (wait, status)
        return retry

    def sleep(self, response=None) -> None:
        if self.planned is None:  # not incremented by us: nothing was planned
            return
        (wait, status), self.planned = self.planned, None
        if wait.seconds > 0:
            self.sleeper(wait.seconds)
        state = getattr(_calls, "state", None)
        if state is not None:
            state.waits.append(
                {"status": status, "waited_ms": round(wait.seconds * 1000), "basis": wait.basis}
            )


def make_session(
    *,
    max_retries: int,
    backoff_factor: float,
    destinations: Destinations,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] | None = None,
) -> requests.Session:
    """A session whose calls go only where `destinations` allow, retried up to `max_retries`
    times. `rng` and `sleep` make the waits reproducible in tests."""
    retry = PacedRetry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"POST"}),  # chat completions have no side effects to repeat
        backoff_factor=backoff_factor,
        respect_retry_after_header=True,
        raise_on_status=False,
        redirect=0,  # complete() follows none either: a 3xx is a failed call
        raise_on_redirect=False,
    )
    if rng is not None:
        retry.rng = rng
    if sleep is not None:
        retry.sleeper = sleep
    session = requests.Session()
    for scheme in ("http://", "https://"):
        session.mount(scheme, CheckedAdapter(destinations=destinations, max_retries=retry))
    return session


def complete(
    session: requests.Session,
    endpoint: Endpoint,
    user_text: str,
    *,
    timeout: float,
    images: tuple[Image, ...] = (),
    deadline: float | None = None,
) -> Completion:
    """One chat completion. `timeout` bounds each attempt; `deadline`, in seconds, the whole
    call: no retry waits past it."""
    body = build_request(endpoint, user_text, images)
    url = endpoint.base_url.rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json"}
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    started_at, t0 = datetime.now(UTC), time.monotonic()
    result = Completion(
        request=request_for_record(body, images),
        url=url,
        started_at=started_at,
        finished_at=started_at,
        latency_ms=0,
    )
    with _call_state(None if deadline is None else t0 + deadline) as state:
        try:
            response = session.post(
                url, data=json.dumps(body), headers=headers, timeout=timeout, allow_redirects=False
            )
        except DestinationRefused as exc:
            logger.warning("call to %s refused: %s", url, exc)
            result.error = NOT_ALLOWED
            response = None
        except requests.RequestException as exc:
            logger.warning("call to %s failed: %r", url, exc)
            result.error = _describe(exc)
            result.retries = _history_from_exception(exc, url)
            response = None
    result.rate_limit_waits = len(state.rate_limit_waits)
    result.rate_limit_wait_ms = sum(wait["waited_ms"] for wait in state.rate_limit_waits)
    if response is not None:
        with response:
            result.http_status = response.status_code
            result.response_body = response.text[:MAX_BODY_CHARS]
            result.served_headers = _served_headers(response.headers)
            result.retries = _history(response.raw.retries, url, state.waits)
            if response.is_redirect or 300 <= response.status_code < 400:
                location = response.headers.get("Location", "")
                logger.warning("call to %s redirected to %r: not followed", url, location)
            _read_completion(result)
    result.finished_at = datetime.now(UTC)
    result.latency_ms = round((time.monotonic() - t0) * 1000)
    return result


def _read_completion(result: Completion) -> None:
    if 300 <= (result.http_status or 0) < 400:
        result.error = REDIRECTED
        return
    if result.http_status != 200:
        result.error = f"HTTP {result.http_status}"
        return
    try:
        payload = json.loads(result.response_body)
        text = payload["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        result.error = f"malformed response body ({type(exc).__name__}: {exc})"
        return
    if not isinstance(text, str) or not text.strip():
        result.error = "the response has no text content"
        return
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
    result.text = text
    result.model_version = str(payload.get("model") or "")[:200]
    result.prompt_tokens = _count(usage.get("prompt_tokens"))
    result.completion_tokens = _count(usage.get("completion_tokens"))
    result.response_id = str(payload.get("id") or "")[:200]
    result.system_fingerprint = str(payload.get("system_fingerprint") or "")[:200]


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None


def _describe(error: BaseException) -> str:
    """Generic words for a failed call: nothing that says which ports answer or how."""
    if isinstance(error, requests.TooManyRedirects):
        return REDIRECTED
    reason = getattr(error.args[0], "reason", None) if error.args else None
    for cause in (error, reason):
        # NewConnectionError is a ConnectTimeoutError in urllib3: refused and unreachable alike.
        if isinstance(cause, requests.ConnectTimeout | ConnectTimeoutError):
            return NO_CONNECTION
        if isinstance(cause, requests.Timeout | UrllibTimeoutError | TimeoutError):
            return NO_ANSWER
    if isinstance(error, requests.ConnectionError | ProtocolError | OSError):
        return NO_CONNECTION
    return CALL_FAILED


def _served_headers(headers) -> dict[str, str]:
    return {name: headers[name][:MAX_HEADER_CHARS] for name in SERVED_HEADERS if name in headers}


def _history(retry: Retry | None, url: str, waits: list[dict]) -> list[dict]:
    """Each earlier attempt: its status or error and, when the next one was waited for, how
    long and on whose word ("retry-after", "x-ratelimit-reset-requests", "backoff", ...)."""
    if retry is None:
        return []
    for entry in retry.history:
        if entry.error:
            logger.info("call to %s retried after %r", url, entry.error)
    history = [
        {"status": entry.status, "error": _describe(entry.error) if entry.error else ""}
        for entry in retry.history
    ]
    for attempt, wait in zip(history, waits, strict=False):
        attempt["waited_ms"], attempt["wait_basis"] = wait["waited_ms"], wait["basis"]
    return history


def _history_from_exception(exc: requests.RequestException, url: str) -> list[dict]:
    # When retries run out, urllib3 raises MaxRetryError; its reason is the last failure.
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return [{"status": None, "error": _describe(reason)}] if reason else []
