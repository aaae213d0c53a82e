"""Tests for the fake OpenAI-compatible server, over real HTTP (no Django, no database)."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fake_llm import (
    Delay,
    Drop,
    FakeLLMServer,
    Malformed,
    Reply,
    Status,
)

CHAT_BODY: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "You are a scribe."},
        {"role": "user", "content": "Patient has fever."},
    ],
    "temperature": 0,
    "max_tokens": 50,
}


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as srv:
        yield srv


def post(
    url: str,
    body: dict[str, Any] | bytes | None = None,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> tuple[int, dict[str, str], bytes]:
    """POST and return (status, headers, raw body), closing the response either way."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(
        url,
        data=data,
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        try:
            return error.code, dict(error.headers), error.read()
        finally:
            error.close()


def chat(server: FakeLLMServer, body: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return post(
        f"{server.base_url}/chat/completions", CHAT_BODY if body is None else body, **kwargs
    )


def test_base_url_is_local_v1(server: FakeLLMServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.base_url.endswith("/v1")
    port = int(server.base_url.split(":")[2].split("/")[0])
    assert port > 0


def test_default_success_has_openai_shape(server: FakeLLMServer) -> None:
    status, headers, raw = chat(server)

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    payload = json.loads(raw)
    assert payload["id"] == "chatcmpl-1"
    assert payload["object"] == "chat.completion"
    assert isinstance(payload["created"], int)
    assert payload["model"] == "gpt-4o-fake-20240101"
    assert payload["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Summary: Patient has fever."},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    # 4 + 3 prompt words, 4 completion words.
    assert payload["usage"] == {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11}

    _, _, second = chat(server)
    assert json.loads(second)["id"] == "chatcmpl-2"


def test_rate_limit_with_retry_after_then_success(server: FakeLLMServer) -> None:
    server.enqueue(Status(429, headers={"Retry-After": "0"}))

    status, headers, raw = chat(server)
    assert status == 429
    assert headers["Retry-After"] == "0"
    error = json.loads(raw)["error"]
    assert error["type"] == "requests"
    assert error["code"] == "rate_limit_exceeded"

    status, _, raw = chat(server)
    assert status == 200
    assert json.loads(raw)["choices"][0]["message"]["content"] == "Summary: Patient has fever."


def test_server_error_status(server: FakeLLMServer) -> None:
    server.enqueue(Status(500), Status(502, body="<html>Bad gateway</html>"))

    status, _, raw = chat(server)
    assert status == 500
    assert json.loads(raw)["error"]["type"] == "server_error"

    status, headers, raw = chat(server)
    assert status == 502
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert raw == b"<html>Bad gateway</html>"


def test_faults_are_consumed_in_order(server: FakeLLMServer) -> None:
    server.enqueue(Status(503), Reply("first"), Status(500))

    statuses = [chat(server)[0] for _ in range(4)]

    assert statuses == [503, 200, 500, 200]


def test_set_default_applies_until_reset(server: FakeLLMServer) -> None:
    server.set_default(Status(500))
    server.enqueue(Reply("queued wins"))

    assert json.loads(chat(server)[2])["choices"][0]["message"]["content"] == "queued wins"
    assert chat(server)[0] == 500
    assert chat(server)[0] == 500

    server.set_default(None)
    assert chat(server)[0] == 200


def test_reply_passes_untrusted_content_verbatim(server: FakeLLMServer) -> None:
    server.enqueue(Reply("<script>alert(1)</script>", model="gpt-4o-2024-05-13"))

    payload = json.loads(chat(server)[2])

    assert payload["choices"][0]["message"]["content"] == "<script>alert(1)</script>"
    assert payload["model"] == "gpt-4o-2024-05-13"


def test_reply_with_computes_content_from_request(server: FakeLLMServer) -> None:
    server.reply_with(lambda request: f"{len(request['messages'])} messages")

    payload = json.loads(chat(server)[2])

    assert payload["choices"][0]["message"]["content"] == "2 messages"


def test_delay_times_out_client_and_stop_is_still_prompt() -> None:
    server = FakeLLMServer()
    server.start()
    try:
        server.enqueue(Delay(2))
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            chat(server, timeout=0.2)
        assert time.monotonic() - started < 1.0

        # The sleeping handler must not block other requests.
        assert chat(server)[0] == 200
    finally:
        started = time.monotonic()
        server.stop()
        stop_seconds = time.monotonic() - started
    assert stop_seconds < 1.0


def test_delay_then_behaves_as_wrapped_fault(server: FakeLLMServer) -> None:
    server.enqueue(Delay(0.05, then=Status(503)), Delay(0.05))

    assert chat(server)[0] == 503
    assert chat(server)[0] == 200


def test_malformed_json_body(server: FakeLLMServer) -> None:
    server.enqueue(Malformed("{not json"), Malformed('{"id": "x", "object": "chat.completion"}'))

    status, headers, raw = chat(server)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert raw == b"{not json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)

    status, _, raw = chat(server)
    assert status == 200
    assert "choices" not in json.loads(raw)


def test_drop_closes_connection_without_response(server: FakeLLMServer) -> None:
    server.enqueue(Drop())

    with pytest.raises(http.client.RemoteDisconnected):
        chat(server)

    assert chat(server)[0] == 200
    assert len(server.requests) == 2


def test_require_key(server: FakeLLMServer) -> None:
    server.require_key("sk-test")
    server.enqueue(Status(500))

    status, _, raw = chat(server)
    assert status == 401
    error = json.loads(raw)["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "invalid_api_key"
    assert chat(server, headers={"Authorization": "Bearer wrong"})[0] == 401

    # Rejected requests did not consume the scripted 500.
    assert chat(server, headers={"Authorization": "Bearer sk-test"})[0] == 500
    assert chat(server, headers={"Authorization": "Bearer sk-test"})[0] == 200
    assert server.requests[-1]["headers"]["authorization"] == "Bearer sk-test"

    server.require_key(None)
    assert chat(server)[0] == 200


def test_requests_are_recorded_with_json_body(server: FakeLLMServer) -> None:
    chat(server, headers={"Authorization": "Bearer sk-abc", "X-Trace-Id": "t-1"})

    [recorded] = server.requests
    assert recorded["path"] == "/v1/chat/completions"
    assert recorded["json"] == CHAT_BODY
    assert recorded["headers"]["authorization"] == "Bearer sk-abc"
    assert recorded["headers"]["x-trace-id"] == "t-1"
    assert recorded["headers"]["content-type"] == "application/json"


def test_unknown_path_is_404(server: FakeLLMServer) -> None:
    status, _, raw = post(f"{server.base_url}/completions", CHAT_BODY)

    assert status == 404
    assert json.loads(raw)["error"]["message"] == "Invalid URL (POST /v1/completions)"
    assert server.requests[0]["path"] == "/v1/completions"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (None, None),
        ({"messages": CHAT_BODY["messages"]}, "model"),
        ({"model": "gpt-4o"}, "messages"),
        ({**CHAT_BODY, "temperature": "hot"}, "temperature"),
        ({**CHAT_BODY, "max_tokens": 1.5}, "max_tokens"),
    ],
)
def test_bad_request_body_is_400(
    server: FakeLLMServer, body: dict[str, Any] | bytes | None, param: str | None
) -> None:
    server.enqueue(Status(500))

    status, _, raw = post(f"{server.base_url}/chat/completions", body)

    assert status == 400
    error = json.loads(raw)["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    # The scripted fault is left for the next well-formed request.
    assert chat(server)[0] == 500


def test_enqueue_rejects_non_faults(server: FakeLLMServer) -> None:
    with pytest.raises(TypeError):
        server.enqueue(500)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        server.enqueue(Delay(1, then="boom"))  # type: ignore[arg-type]
