"""Call an OpenAI-compatible chat-completions endpoint and describe what happened. No Django.

Transient failures (429, 5xx, timeouts, dropped connections) are retried by urllib3, waiting
as the server asks (Retry-After, x-ratelimit-reset-*) or else with a capped exponential backoff
with full jitter (core/rate_limits.py), and never past the call's deadline; the statuses of
earlier attempts and each wait are kept so that the stored record says how an output was
obtained, not just what it was, and how long rate limits held it up.

What the server says it served is kept beside the model asked for: `model` in the reply, and
the headers that name the deployment behind an alias (SERVED_HEADERS).

Where a call may go is checked when it is made, not only when the endpoint was saved: the host
against the operator's allowlist, and every address the host resolves to against private,
loopback, link-local and metadata ranges. The socket then connects to an address that was
checked, so a name that resolves differently a moment later (DNS rebinding) gains nothing.
Redirects are never followed. What is stored says what happened in generic words; the detail
(addresses, ports, the operating system's error) goes to the log only.
"""

import base64
import hashlib
import ipaddress
import json
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
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

logger = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_BODY_CHARS = 100_000

# Response headers that say what served a call, kept with it: the provider's model (OpenAI),
# the deployment behind a LiteLLM alias, and the request ids support desks ask for.
SERVED_HEADERS = (
    "openai-model",
    "x-litellm-model-name",
    "x-litellm-model-id",
    "x-litellm-model-group",
    "x-litellm-model-api-base",
    "x-litellm-version",
    "x-litellm-call-id",
    "x-litellm-response-cost",
    "x-request-id",
)
MAX_HEADER_CHARS = 200


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    system_prompt: str = ""
    api_key: str = ""
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    # Structured output: e.g. {"type": "json_schema", "json_schema": {...}} for a judge.
    response_format: dict | None = None


# --- prompt templates -----------------------------------------------------------------------

# A template names a case's fields as {{ input }}, {{ reference }}, {{ case_id }} or
# {{ metadata.age }}. Nothing else is evaluated: no attribute access, no code.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)?)\s*\}\}")
CASE_FIELDS = ("input", "reference", "case_id")
DEFAULT_USER_TEMPLATE = "{{ input }}"


class TemplateError(ValueError):
    """A template that names something a case does not have."""


def template_fields(template: str) -> list[str]:
    return PLACEHOLDER.findall(template)


def check_template(template: str) -> None:
    """Refuse a template naming a field no case has, or with a stray "{{"."""
    unknown = [
        name
        for name in template_fields(template)
        if name not in CASE_FIELDS and not name.startswith("metadata.")
    ]
    if unknown:
        allowed = ", ".join("{{ " + name + " }}" for name in CASE_FIELDS)
        raise TemplateError(
            f"Unknown field {{{{ {unknown[0]} }}}}: use {allowed} or {{{{ metadata.<key> }}}}."
        )
    if "{{" in PLACEHOLDER.sub("", template):
        raise TemplateError("A '{{' starts a field that is not closed with '}}'.")


def render_template(template: str, fields: dict[str, str], metadata: dict) -> str:
    """The template with each field filled in; a metadata key the case lacks is refused, so
    no prompt silently goes out with a hole in it."""

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith("metadata."):
            key = name.split(".", 1)[1]
            if key not in metadata:
                raise TemplateError(f"the case has no metadata {key!r}")
            value = metadata[key]
            return value if isinstance(value, str) else json.dumps(value)
        return fields[name]

    return PLACEHOLDER.sub(fill, template)


@dataclass(frozen=True)
class Image:
    """An image sent with the prompt, for vision-language models."""

    content_type: str
    data: bytes

    @property
    def data_url(self) -> str:
        return f"data:{self.content_type};base64,{base64.b64encode(self.data).decode()}"

    @property
    def reference(self) -> str:
        # What the stored request says instead of megabytes of base64: which image, exactly.
        return f"sha256:{hashlib.sha256(self.data).hexdigest()}"


@dataclass
class Completion:
    """What was asked and what came back; `text` is None unless the call succeeded."""

    request: dict
    url: str
    started_at: datetime
    finished_at: datetime
    latency_ms: int
    text: str | None = None
    http_status: int | None = None
    response_body: str = ""
    error: str = ""
    retries: list[dict] = field(default_factory=list)
    model_version: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    response_id: str = ""
    system_fingerprint: str = ""
    # The SERVED_HEADERS the endpoint sent, names lower-cased.
    served_headers: dict = field(default_factory=dict)
    # Time spent waiting after 429 and 503 answers before trying again, and how many waits.
    rate_limit_wait_ms: int = 0
    rate_limit_waits: int = 0

    @property
    def model_requested(self) -> str:
        return str(self.request.get("model") or "")


def build_request(endpoint: Endpoint, user_text: str, images: tuple[Image, ...] = ()) -> dict:
    """The chat-completions body: system prompt, the user's text and any images (as data
    URLs, the OpenAI-compatible way of sending them), and the decoding parameters set."""
    messages = []
    if endpoint.system_prompt:
        messages.append({"role": "system", "content": endpoint.system_prompt})
    content: str | list = user_text
    if images:
        content = [{"type": "text", "text": user_text}] + [
            {"type": "image_url", "image_url": {"url": image.data_url}} for image in images
        ]
    messages.append({"role": "user", "content": content})
    body: dict = {"model": endpoint.model, "messages": messages}
    optional = {
        "temperature": endpoint.temperature,
        "top_p": endpoint.top_p,
        "max_tokens": endpoint.max_tokens,
        "seed": endpoint.seed,
        "stop": list(endpoint.stop) or None,
        "response_format": endpoint.response_format,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return body


def request_for_record(body: dict, images: tuple[Image, ...]) -> dict:
    """The request as stored: identical, except each image's data URL is replaced by the
    image's SHA-256, so the record names exactly what was sent without holding it twice."""
    if not images:
        return body
    urls = {image.data_url: image.reference for image in images}
    record = json.loads(json.dumps(body))
    for message in record["messages"]:
        if isinstance(message["content"], list):
            for part in message["content"]:
                if part.get("type") == "image_url":
                    part["image_url"]["url"] = urls.get(part["image_url"]["url"], "?")
    return record


# --- where a call may go -------------------------------------------------------------------

# What the stored record and the admin see; the detail is in the log.
NOT_ALLOWED = "the endpoint's address is not allowed"
REDIRECTED = "the endpoint redirected; redirects are not followed"
NO_CONNECTION = "could not connect to the endpoint"
NO_ANSWER = "the endpoint did not answer in time"
CALL_FAILED = "the call to the endpoint failed"

# Cloud instance-metadata services hand out credentials to whoever asks from inside the machine.
# Most sit in ranges refused anyway; they are named so that none slips through a range that
# Python's ipaddress counts as global (192.0.0.192 is, on 3.11).
METADATA_HOSTS = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, Azure, GCP, OpenStack, DigitalOcean
        "169.254.169.253",  # AWS DNS
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS over IPv6
        "fd00:ec2::23",
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(Exception):
    """A call that would go to a host or address the operator has not allowed. Not an OSError,
    so that urllib3 does not retry it and requests does not wrap it."""


def address_refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for any address that is not plainly public: private, loopback, link-local,
    unique-local, multicast, unspecified, reserved, shared (CGNAT) and metadata addresses,
    and IPv6 forms that carry one of those inside (IPv4-mapped, 6to4, NAT64)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address in NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None and address_refused(inner):
            return True
        if address.is_site_local:
            return True
    return (
        address in METADATA_ADDRESSES
        or not address.is_global
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
    )


def _host_name(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class Destinations:
    """Where calls may go. `allowed_hosts` empty allows any host with public addresses;
    `private_hosts` are the exact hosts the operator allows to resolve to private addresses;
    `keyless_hosts`, for an endpoint a study admin typed (no connection), the only hosts it may
    call (None for a connection's endpoint)."""

    allowed_hosts: frozenset[str] = frozenset()
    private_hosts: frozenset[str] = frozenset()
    keyless_hosts: frozenset[str] | None = None

    @classmethod
    def of(
        cls,
        *,
        allowed_hosts: list[str],
        private_hosts: list[str],
        keyless_hosts: list[str] | None = None,
    ) -> "Destinations":
        return cls(
            frozenset(_host_name(host) for host in allowed_hosts),
            frozenset(_host_name(host) for host in private_hosts),
            None if keyless_hosts is None else frozenset(_host_name(h) for h in keyless_hosts),
        )

    def check_host(self, host: str | None) -> None:
        name = _host_name(host or "")
        if not name:
            raise DestinationRefused("the URL names no host")
        if self.allowed_hosts and name not in self.allowed_hosts:
            raise DestinationRefused(f"{name} is not in LLM_ALLOWED_HOSTS")
        # The operator may take a host off the list after an admin saved an endpoint there.
        if self.keyless_hosts is not None and name not in self.keyless_hosts:
            raise DestinationRefused(f"{name} is not in LLM_KEYLESS_HOSTS (an endpoint of its own)")
        if name in METADATA_HOSTS and name not in self.private_hosts:
            raise DestinationRefused(f"{name} is a metadata service")

    def addresses(self, host: str, port: int) -> list[str]:
        """Every address `host` resolves to, once each, after checking all of them: one
        refused address refuses the host, since which one is used is not ours to choose."""
        name = _host_name(host)
        found = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(sockaddr[0].split("%")[0] for *_, sockaddr in found))
        if name in self.private_hosts:
            return addresses
        refused = [a for a in addresses if address_refused(ipaddress.ip_address(a))]
        if refused:
            raise DestinationRefused(f"{name} resolves to {', '.join(refused)}")
        return addresses


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


def cost_estimate(
    prompt_tokens: int | None,
    completion_tokens: int | None,
    *,
    prompt_per_million: float | None,
    completion_per_million: float | None,
) -> float | None:
    """What a call cost at the source's prices per million tokens; None if either is unknown."""
    if None in (prompt_tokens, completion_tokens, prompt_per_million, completion_per_million):
        return None
    return (prompt_tokens * prompt_per_million + completion_tokens * completion_per_million) / 1e6


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
