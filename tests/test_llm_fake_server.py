"""The fake chat-completions server behaves as the real API does where the app could be fooled:
it refuses what it does not do (a stream, several choices) instead of ignoring it, names each
answer with an x-request-id, and answers 429s with the rate-limit headers real servers send."""

import re

import pytest
import requests

from tests.support.fake_llm import FakeLLMServer, Reply, Status

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Patient has fever."}]}


@pytest.fixture
def server():
    with FakeLLMServer(rate_limit_reset="6m0s") as srv:
        yield srv


def chat(server: FakeLLMServer, **extra) -> requests.Response:
    return requests.post(f"{server.base_url}/chat/completions", json={**BODY, **extra}, timeout=5)


@pytest.mark.parametrize(
    ("extra", "param"),
    [({"stream": True}, "stream"), ({"n": 2}, "n"), ({"n": 0}, "n"), ({"n": "2"}, "n")],
)
def test_what_it_does_not_do_is_refused_with_an_openai_error(server, extra, param):
    server.enqueue(Reply("scripted"))
    response = chat(server, **extra)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]
    # A refused request consumes no scripted answer: the next good one gets it.
    assert chat(server).json()["choices"][0]["message"]["content"] == "scripted"


@pytest.mark.parametrize("extra", [{"stream": False}, {"n": 1}, {}])
def test_a_single_unstreamed_choice_is_answered(server, extra):
    response = chat(server, **extra)
    assert response.status_code == 200
    assert len(response.json()["choices"]) == 1


def test_every_answer_carries_its_own_request_id(server):
    server.enqueue(Status(500))
    answers = [
        chat(server),  # the scripted 500
        chat(server),  # a completion
        chat(server, n=3),  # a refusal
        requests.get(f"{server.base_url}/models", timeout=5),  # a 404
    ]
    ids = [answer.headers["x-request-id"] for answer in answers]
    assert [answer.status_code for answer in answers] == [500, 200, 400, 404]
    assert all(re.fullmatch(r"req_[0-9a-f]{32}", request_id) for request_id in ids)
    assert len(set(ids)) == len(ids)


def test_a_429_has_rate_limit_headers_always_and_retry_after_on_every_second(server):
    server.enqueue(Status(429), Status(429), Status(429))
    first, second, third = chat(server), chat(server), chat(server)
    for answer in (first, second, third):
        assert answer.status_code == 429
        assert answer.json()["error"]["code"] == "rate_limit_exceeded"
        assert answer.headers["x-ratelimit-remaining-requests"] == "0"
        assert answer.headers["x-ratelimit-reset-requests"] == "6m0s"
        assert answer.headers["x-ratelimit-limit-requests"] == "60"
        assert "x-ratelimit-reset-tokens" in answer.headers
    assert "Retry-After" not in first.headers
    assert second.headers["Retry-After"] == "360"
    assert "Retry-After" not in third.headers


def test_scripted_429_headers_win_and_still_come_with_the_rate_limit_ones(server):
    server.enqueue(Status(429, headers={"Retry-After": "0", "x-ratelimit-reset-requests": "1s"}))
    answer = chat(server)
    assert answer.headers["Retry-After"] == "0"
    assert answer.headers["x-ratelimit-reset-requests"] == "1s"
    assert answer.headers["x-ratelimit-remaining-requests"] == "0"


def test_a_completion_names_the_model_it_served_in_body_and_header(server):
    server.enqueue(Reply("hi", model="gpt-4o-2024-08-06"))
    response = chat(server)
    assert response.json()["model"] == "gpt-4o-2024-08-06"
    assert response.headers["openai-model"] == "gpt-4o-2024-08-06"
    assert response.headers["x-ratelimit-remaining-requests"] == "59"
