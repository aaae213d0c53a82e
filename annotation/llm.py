"""Call an OpenAI-compatible chat-completions endpoint and describe what happened. No Django.

Transient failures (429, 5xx, timeouts, dropped connections) are retried by urllib3 with
exponential backoff, honouring Retry-After; the statuses of earlier attempts are kept so that
the stored record says how an output was obtained, not just what it was.
"""

import base64
import hashlib
import json
import re
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
    session: requests.Session,
    endpoint: Endpoint,
    user_text: str,
    *,
    timeout: float,
    images: tuple[Image, ...] = (),
) -> Completion:
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
