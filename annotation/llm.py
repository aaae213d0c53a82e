"""Call an OpenAI-compatible chat-completions endpoint and describe what happened. No Django.

Transient failures (429, 5xx, timeouts, dropped connections) are retried by urllib3 with
exponential backoff, honouring Retry-After; the statuses of earlier attempts are kept so that
the stored record says how an output was obtained, not just what it was.
"""

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_BODY_CHARS = 100_000


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    system_prompt: str = ""
    api_key: str = ""


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


def build_request(endpoint: Endpoint, user_text: str) -> dict:
    messages = []
    if endpoint.system_prompt:
        messages.append({"role": "system", "content": endpoint.system_prompt})
    messages.append({"role": "user", "content": user_text})
    body: dict = {"model": endpoint.model, "messages": messages}
    if endpoint.temperature is not None:
        body["temperature"] = endpoint.temperature
    if endpoint.max_tokens is not None:
        body["max_tokens"] = endpoint.max_tokens
    return body


def make_session(*, max_retries: int, backoff_factor: float) -> requests.Session:
    retry = Retry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"POST"}),  # chat completions have no side effects to repeat
        backoff_factor=backoff_factor,
        backoff_max=30,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def complete(
    session: requests.Session, endpoint: Endpoint, user_text: str, *, timeout: float
) -> Completion:
    body = build_request(endpoint, user_text)
    url = endpoint.base_url.rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json"}
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    started_at, t0 = datetime.now(UTC), time.monotonic()
    result = Completion(
        request=body, url=url, started_at=started_at, finished_at=started_at, latency_ms=0
    )
    try:
        response = session.post(url, data=json.dumps(body), headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        result.retries = _history_from_exception(exc)
    else:
        with response:
            result.http_status = response.status_code
            result.response_body = response.text[:MAX_BODY_CHARS]
            result.retries = _history(response.raw.retries)
            _read_completion(result)
    result.finished_at = datetime.now(UTC)
    result.latency_ms = round((time.monotonic() - t0) * 1000)
    return result


def _read_completion(result: Completion) -> None:
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


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None


def _history(retry: Retry | None) -> list[dict]:
    if retry is None:
        return []
    return [
        {"status": entry.status, "error": repr(entry.error) if entry.error else ""}
        for entry in retry.history
    ]


def _history_from_exception(exc: requests.RequestException) -> list[dict]:
    # When retries run out, urllib3 raises MaxRetryError; its reason is the last failure.
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return [{"status": None, "error": repr(reason)}] if reason else []
