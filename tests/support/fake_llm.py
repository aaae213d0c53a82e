"""Local, scriptable stand-in for an OpenAI-compatible chat-completions API.

Tests point the app's LLM client at ``FakeLLMServer().base_url`` so they exercise real HTTP
(status codes, timeouts, dropped connections, bad payloads) without network access or API keys.

    with FakeLLMServer() as llm:
        llm.enqueue(Status(429, headers={"Retry-After": "0"}), Reply("<b>hi</b>"))
        ...  # run the code under test with base_url=llm.base_url
        assert llm.requests[0]["json"]["model"] == "gpt-4o"

Scripted faults are consumed one per request that reaches the chat-completions handler with a
valid key and a valid body. The server's own 404/401/400 answers never consume one, so a test
script is not thrown off by a request the app got wrong anyway.

Like the real API, it refuses what it does not do (`stream: true`, `n` above 1) with a 400 and
an OpenAI-style error body, sends an `x-request-id` with every answer and the `x-ratelimit-*`
headers with every completion and 429. A scripted 429 without headers of its own also carries
`Retry-After` on every RETRY_AFTER_EVERY-th one (the others leave the client to the
x-ratelimit-reset-* headers, or, for a server such as LiteLLM's proxy, to its own backoff).

Run by hand for demos: ``python -m tests.support.fake_llm --port 8011``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import re
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeAlias, TypedDict
from urllib.parse import urlsplit

__all__ = [
    "CHAT_COMPLETIONS_PATH",
    "MODEL_VERSION_SUFFIX",
    "Delay",
    "Drop",
    "FakeLLMServer",
    "Fault",
    "Malformed",
    "RecordedRequest",
    "Reply",
    "Status",
]

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"
# Providers report a dated model version rather than the alias that was requested; the suffix
# lets tests check the app stores what the provider reported, not what it asked for.
MODEL_VERSION_SUFFIX = "-fake-20240101"
SYSTEM_FINGERPRINT = "fp_fake_0001"
# The request and token limits every completion and 429 reports, in OpenAI's headers.
REQUESTS_PER_MINUTE = 60
TOKENS_PER_MINUTE = 150_000
RETRY_AFTER_EVERY = 2


@dataclass(frozen=True)
class Status:
    """Answer with this status. ``body=None`` sends an OpenAI-style error object for the code."""

    code: int
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Delay:
    """Wait ``seconds``, then behave as ``then`` (``None``: the default success)."""

    seconds: float
    then: Fault | None = None


@dataclass(frozen=True)
class Malformed:
    """200 with ``Content-Type: application/json`` but this raw body."""

    body: str


@dataclass(frozen=True)
class Reply:
    """200 success with exactly this content; ``model`` replaces the reported model name."""

    content: str
    model: str | None = None


@dataclass(frozen=True)
class Drop:
    """Close the connection without sending any response."""


Fault: TypeAlias = Status | Delay | Malformed | Reply | Drop


class RecordedRequest(TypedDict):
    path: str
    headers: dict[str, str]  # names lower-cased
    json: Any  # parsed body, or None when absent or not JSON


ReplyFn: TypeAlias = Callable[[dict[str, Any]], str]


class FakeLLMServer:
    """OpenAI-compatible chat-completions server on 127.0.0.1, run in a background thread."""

    def __init__(self, port: int = 0, *, rate_limit_reset: str = "20ms") -> None:
        """`rate_limit_reset`: when the limits reset, as the x-ratelimit-reset-* headers say it
        (a Go duration, as OpenAI writes it: "1s", "6m0s", "20ms"); Retry-After, when sent,
        is the same in whole seconds, rounded up."""
        self._port = port
        self.rate_limit_reset = rate_limit_reset
        self._rate_limited = itertools.count(1)
        # One lock for all mutable state: handlers run on their own threads.
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._in_flight = 0
        self._max_in_flight = 0
        self._default: Fault | None = None
        self._reply_fn: ReplyFn | None = None
        self._api_key: str | None = None
        self._requests: list[RecordedRequest] = []
        self._ids = itertools.count(1)
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakeLLMServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError("FakeLLMServer is already running")
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", self._port), self)
        # A short poll interval keeps stop() fast: shutdown() waits for the loop's next poll.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-llm-server",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        with self._lock:
            # Wakes handlers sleeping in a Delay and unblocks any waiting on a silent client,
            # so server_close() below can join them without waiting out their timeouts.
            self._stopping.set()
            for conn in self._connections:
                _shutdown_quietly(conn)
        httpd.shutdown()
        httpd.server_close()
        thread.join()
        self._httpd = self._thread = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeLLMServer is not running; call start() first")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    # -- scripting ---------------------------------------------------------------------------

    def enqueue(self, *faults: Fault) -> None:
        """Script the next responses, consumed in order, one per request."""
        for fault in faults:
            _check_fault(fault)
        with self._lock:
            self._faults.extend(faults)

    def set_default(self, fault: Fault | None) -> None:
        """Behaviour for requests when the queue is empty; ``None`` restores plain success."""
        if fault is not None:
            _check_fault(fault)
        with self._lock:
            self._default = fault

    def reply_with(self, fn: ReplyFn | None) -> None:
        """Compute the default success content from the request JSON (``None``: the default)."""
        with self._lock:
            self._reply_fn = fn

    def require_key(self, key: str | None) -> None:
        """Reject requests without ``Authorization: Bearer <key>`` (``None``: accept all)."""
        with self._lock:
            self._api_key = key

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    # -- used by the handler -----------------------------------------------------------------

    @property
    def max_in_flight(self) -> int:
        """The most chat completions this server was answering at one time."""
        with self._lock:
            return self._max_in_flight

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _authorized(self, header: str | None) -> bool:
        with self._lock:
            key = self._api_key
        return key is None or header == f"Bearer {key}"

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else self._default

    def _next_id(self) -> str:
        with self._lock:
            return f"chatcmpl-{next(self._ids)}"

    def _rate_limit_headers(self, *, refused: bool) -> dict[str, str]:
        """The x-ratelimit-* headers: the request limit spent on a 429, one request spent on
        a completion."""
        return {
            "x-ratelimit-limit-requests": str(REQUESTS_PER_MINUTE),
            "x-ratelimit-remaining-requests": "0" if refused else str(REQUESTS_PER_MINUTE - 1),
            "x-ratelimit-reset-requests": self.rate_limit_reset,
            "x-ratelimit-limit-tokens": str(TOKENS_PER_MINUTE),
            "x-ratelimit-remaining-tokens": str(TOKENS_PER_MINUTE - 100),
            "x-ratelimit-reset-tokens": "1ms",
        }

    def _retry_after(self) -> dict[str, str]:
        """Retry-After on every RETRY_AFTER_EVERY-th unscripted 429, nothing on the others."""
        with self._lock:
            count = next(self._rate_limited)
        if count % RETRY_AFTER_EVERY:
            return {}
        return {"Retry-After": str(math.ceil(_seconds(self.rate_limit_reset)))}

    def _default_content(self, request: dict[str, Any]) -> str:
        with self._lock:
            fn = self._reply_fn
        if fn is not None:
            return fn(request)
        return f"Summary: {_last_user_text(request['messages'])}"

    def _track(self, conn: socket.socket) -> None:
        with self._lock:
            # A connection accepted while stop() runs would miss its sweep; close it here.
            if self._stopping.is_set():
                _shutdown_quietly(conn)
            else:
                self._connections.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)


class _HTTPServer(ThreadingHTTPServer):
    # Room for many clients connecting at once (the default backlog of 5 resets connections).
    request_queue_size = 256
    # Non-daemon handler threads are joined by server_close(), so no handler touches test state
    # after stop() returns; stop() wakes them first, which keeps that join prompt.
    daemon_threads = False

    def __init__(self, address: tuple[str, int], fake: FakeLLMServer) -> None:
        self.fake = fake
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall for seconds on a
        # machine without working DNS; the name is only used for CGI, so skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (timeouts, Drop, stop()) are expected; only real bugs get a traceback.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # "Connection: close" on every response: one request per connection means stop() never has
    # idle keep-alive connections to wait for.
    protocol_version = "HTTP/1.1"
    # Bounds how long a client that never finishes its request can hold a handler thread.
    timeout = 10
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        # Keep test output quiet; behaviour is checked through responses and `requests`.
        pass

    def do_POST(self) -> None:
        self._dispatch()

    # Other methods are recorded too and get the same 404 the real API gives them.
    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def _dispatch(self) -> None:
        fake = self.server.fake
        body = _parse_json(self._read_body())
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake._record({"path": self.path, "headers": headers, "json": body})

        path = urlsplit(self.path).path
        if self.command != "POST" or path != CHAT_COMPLETIONS_PATH:
            self._send_error(404, f"Invalid URL ({self.command} {path})")
            return
        if not fake._authorized(self.headers.get("Authorization")):
            self._send_error(401, "Incorrect API key provided.", code="invalid_api_key")
            return
        problem = _validate(body)
        if problem is not None:
            message, param = problem
            code = "unsupported_value" if param in ("stream", "n") else None
            self._send_error(400, message, param=param, code=code)
            return
        fake._enter()
        self._in_flight = True
        try:
            self._respond(fake._next_fault(), body)
        finally:
            self._done()

    def _done(self) -> None:
        """Out of flight once the answer is about to go: the client is free to call again as
        soon as it has read it, possibly before this thread runs on (on a busy machine)."""
        if getattr(self, "_in_flight", False):
            self._in_flight = False
            self.server.fake._leave()

    def _respond(self, fault: Fault | None, request: dict[str, Any]) -> None:
        match fault:
            case None:
                self._send_completion(request)
            case Reply(content=content, model=model):
                self._send_completion(request, content=content, model=model)
            case Status(code=code, body=body, headers=headers):
                self._send_status(code, body, headers)
            case Malformed(body=raw):
                self._send(200, raw.encode(), "application/json")
            case Drop():
                self.close_connection = True
            case Delay(seconds=seconds, then=then):
                # Event.wait rather than time.sleep so stop() can cut a long delay short; the
                # client has usually given up by then, so just hang up.
                if self.server.fake._stopping.wait(seconds):
                    self.close_connection = True
                    return
                self._respond(then, request)

    def _send_completion(
        self, request: dict[str, Any], content: str | None = None, model: str | None = None
    ) -> None:
        if content is None:
            try:
                content = self.server.fake._default_content(request)
            except Exception as exc:
                # Surface a broken reply_with callback as a response the test can see.
                self._send_error(500, f"reply_with callback failed: {exc!r}")
                return
        prompt_tokens = sum(_word_count(_text(m.get("content"))) for m in request["messages"])
        completion_tokens = _word_count(content)
        served = model or f"{request['model']}{MODEL_VERSION_SUFFIX}"
        headers = {"openai-model": served, **self.server.fake._rate_limit_headers(refused=False)}
        self._send_json(
            200,
            {
                "id": self.server.fake._next_id(),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": served,
                "system_fingerprint": SYSTEM_FINGERPRINT,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
            headers,
        )

    def _send_status(
        self, code: int, body: dict[str, Any] | str | None, headers: Mapping[str, str] | None
    ) -> None:
        if code == 429:
            # A realistic 429 has these whatever else it says; scripted headers win (see _send).
            fake = self.server.fake
            extra = fake._rate_limit_headers(refused=True)
            if headers is None:
                extra.update(fake._retry_after())
            headers = {**extra, **(headers or {})}
        if body is None:
            error_code = "rate_limit_exceeded" if code == 429 else None
            message = f"Scripted {code} response from FakeLLMServer."
            self._send_error(code, message, code=error_code, headers=headers)
        elif isinstance(body, str):
            self._send(code, body.encode(), "text/plain; charset=utf-8", headers)
        else:
            self._send_json(code, body, headers)

    def _send_error(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        error = {"message": message, "type": _error_type(status), "param": param, "code": code}
        self._send_json(status, {"error": error}, headers)

    def _send_json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            "Connection": "close",
            "x-request-id": f"req_{uuid.uuid4().hex}",
        }
        # Scripted headers win, compared case-insensitively so they replace rather than duplicate.
        for name, value in (extra_headers or {}).items():
            for existing in [k for k in headers if k.lower() == name.lower()]:
                del headers[existing]
            headers[name] = value
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self._done()
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""


def _check_fault(fault: object) -> None:
    # Fail at enqueue time, in the test, rather than as a dropped connection mid-request.
    if not isinstance(fault, Fault):
        raise TypeError(f"expected Status, Delay, Malformed, Reply or Drop; got {fault!r}")
    if isinstance(fault, Delay) and fault.then is not None:
        _check_fault(fault.then)


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _validate(body: Any) -> tuple[str, str | None] | None:
    """Return (message, param) for the first problem with a request body, else None."""
    if not isinstance(body, dict):
        return "We could not parse the JSON body of your request.", None
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter", "model"
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return "'messages' must be an array of message objects.", "messages"
    if not messages:
        return "'messages' must contain at least one message.", "messages"
    temperature = body.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, int | float)
    ):
        return "Invalid type for 'temperature': expected a number.", "temperature"
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)):
        return "Invalid type for 'max_tokens': expected an integer.", "max_tokens"
    return _unsupported(body)


def _unsupported(body: dict[str, Any]) -> tuple[str, str] | None:
    """What this server does not do, refused as the API refuses a bad value, not ignored: a
    client that asked for a stream or several choices would misread the one reply."""
    if body.get("stream") not in (None, False):
        return "This server does not support 'stream': send stream=false or leave it out.", "stream"
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        return "Invalid value for 'n': expected an integer of at least 1.", "n"
    if n is not None and n > 1:
        return f"This server returns one choice: 'n' must be 1, not {n}.", "n"
    return None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _seconds(duration: str) -> float:
    # The server's own reading of a reset duration, independent of the app's parser.
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION.findall(duration))


def _error_type(status: int) -> str:
    if status == 429:
        return "requests"  # what OpenAI sends for request-rate limits
    return "server_error" if status >= 500 else "invalid_request_error"


def _text(content: Any) -> str:
    # Message content is a string or, in the multi-part format, a list of {"text": ...} parts.
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    return next(
        (_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
    )


def _word_count(text: str) -> int:
    # Deterministic stand-in for a tokenizer: tests can compute expected usage by hand.
    return len(text.split())


def _shutdown_quietly(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake OpenAI-compatible chat API.")
    parser.add_argument("--port", type=int, default=8011)
    args = parser.parse_args(argv)
    with FakeLLMServer(port=args.port) as server:
        print(f"Fake LLM serving at {server.base_url} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
