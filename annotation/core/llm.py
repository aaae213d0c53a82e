"""Calls to an OpenAI-compatible chat-completions endpoint: what they are and where they may
go. No Django.

This module holds what a call is (its endpoint, prompt, images and record) and where it may
go; `llm_http` makes it, with requests and urllib3, which only the worker loads: the web
process, which saves endpoints and renders prompts, does not (issue 22).

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
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime

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
