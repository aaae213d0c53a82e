"""Waiting on rate limits: what the server asks for is honoured, silence gets a capped
exponential backoff with full jitter, no wait passes the call's deadline, and the time lost is
kept per call and told in the job's message."""

import random
import re
from datetime import UTC, datetime

import pytest

from annotation import services
from annotation.core import llm, llm_http, rate_limits
from annotation.models import Connection, Generation, TaskRun
from tests.support.fake_llm import FakeLLMServer, Status

NOW = datetime(2026, 12, 5, 21, 0, 0, tzinfo=UTC)


# --- the schedule --------------------------------------------------------------------------


def schedule(seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rate_limits.backoff_seconds(n, factor=1.0, rng=rng) for n in range(1, 11)]


def test_backoff_with_a_fixed_seed_is_reproducible_and_within_its_doubling_ceiling():
    waits = schedule(42)
    assert waits == schedule(42)
    assert waits != schedule(43)
    ceilings = [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]  # factor * 2^(n-1), capped at 60 s
    assert all(0 <= wait <= ceiling for wait, ceiling in zip(waits, ceilings, strict=True))


def test_backoff_is_full_jitter_uniform_from_zero_to_the_ceiling():
    rng = random.Random(7)
    draws = [rate_limits.backoff_seconds(3, factor=0.5, rng=rng) for _ in range(4000)]
    # Ceiling 0.5 * 2^2 = 2 s: full jitter spreads over all of [0, 2], mean 1 (equal jitter
    # would never go below 1; plain exponential backoff would always be 2).
    assert min(draws) < 0.01
    assert max(draws) > 1.99
    assert max(draws) <= 2
    assert abs(sum(draws) / len(draws) - 1.0) < 0.05


def test_backoff_never_exceeds_the_cap_however_many_retries():
    rng = random.Random(1)
    assert all(
        rate_limits.backoff_seconds(n, factor=3.0, rng=rng) <= rate_limits.MAX_WAIT_SECONDS
        for n in range(1, 200)
    )


# --- what servers say ----------------------------------------------------------------------


def test_retry_after_in_seconds():
    assert rate_limits.parse_retry_after("7", now=NOW) == 7
    assert rate_limits.parse_retry_after(" 0 ", now=NOW) == 0


def test_retry_after_as_an_http_date():
    assert rate_limits.parse_retry_after("Sat, 05 Dec 2026 21:00:30 GMT", now=NOW) == 30
    assert rate_limits.parse_retry_after("Sat, 05 Dec 2026 21:02:00 GMT", now=NOW) == 120
    # A date already past means "now", not a negative wait.
    assert rate_limits.parse_retry_after("Sat, 05 Dec 2026 20:59:00 GMT", now=NOW) == 0


@pytest.mark.parametrize("value", ["", "soon", "-3", "nan", "Sat, 99 Foo 2026"])
def test_a_retry_after_that_means_nothing_is_ignored(value):
    assert rate_limits.parse_retry_after(value, now=NOW) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("0.5s", 0.5),
        ("17.254s", 17.254),
        ("250us", 0.00025),
        ("2", 2.0),
    ],
)
def test_x_ratelimit_reset_durations(text, seconds):
    assert rate_limits.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "1x", "1s2", "abc", "-1s", "1 s"])
def test_a_reset_duration_that_means_nothing_is_ignored(text):
    assert rate_limits.parse_duration(text) is None


def test_the_server_word_wins_in_order_retry_after_ms_retry_after_then_resets():
    headers = {
        "retry-after-ms": "1500",
        "retry-after": "9",
        "x-ratelimit-reset-requests": "20s",
    }
    assert rate_limits.server_wait(429, headers, now=NOW) == rate_limits.Wait(1.5, "retry-after-ms")
    del headers["retry-after-ms"]
    assert rate_limits.server_wait(429, headers, now=NOW) == rate_limits.Wait(9, "retry-after")
    del headers["retry-after"]
    assert rate_limits.server_wait(429, headers, now=NOW) == rate_limits.Wait(
        20, "x-ratelimit-reset-requests"
    )


def test_only_the_limit_that_ran_out_sets_the_wait():
    headers = {
        "x-ratelimit-remaining-requests": "12",
        "x-ratelimit-reset-requests": "6m0s",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "450ms",
    }
    assert rate_limits.server_wait(429, headers, now=NOW) == rate_limits.Wait(
        0.45, "x-ratelimit-reset-tokens"
    )
    headers["x-ratelimit-remaining-tokens"] = "900"  # neither ran out: the server said nothing
    assert rate_limits.server_wait(429, headers, now=NOW) is None


def test_a_bare_429_or_503_falls_back_to_the_backoff():
    wait = rate_limits.wait_before_retry(2, 429, {}, factor=1.0, rng=random.Random(5), now=NOW)
    expected = random.Random(5).uniform(0, 2)
    assert wait == rate_limits.Wait(expected, "backoff")
    # Reset headers count for a 429 only; a 503 without Retry-After is backed off.
    resets = {"x-ratelimit-reset-requests": "30s"}
    assert rate_limits.wait_before_retry(
        1, 503, resets, factor=1.0, rng=random.Random(5), now=NOW
    ).basis == ("backoff")


def test_a_server_asking_for_longer_than_the_cap_waits_the_cap():
    wait = rate_limits.wait_before_retry(
        1, 429, {"retry-after": "3600"}, factor=1.0, rng=random.Random(0), now=NOW
    )
    assert wait == rate_limits.Wait(rate_limits.MAX_WAIT_SECONDS, "retry-after")


# --- the client over HTTP ------------------------------------------------------------------


def session(slept: list[float], seed: int = 1):
    return llm_http.make_session(
        max_retries=5,
        backoff_factor=0.5,
        destinations=llm.Destinations.of(allowed_hosts=[], private_hosts=["127.0.0.1"]),
        rng=random.Random(seed),
        sleep=slept.append,
    )


def endpoint(server: FakeLLMServer) -> llm.Endpoint:
    return llm.Endpoint(base_url=server.base_url, model="echo-70b")


def test_the_client_waits_as_each_429_says_and_backs_off_when_none_says():
    slept: list[float] = []
    bare = {"x-ratelimit-remaining-requests": "3", "x-ratelimit-remaining-tokens": "800"}
    with FakeLLMServer(rate_limit_reset="20ms") as server:
        # The first scripted 429 has x-ratelimit-* only, the second Retry-After too, the
        # third says nothing that applies (LiteLLM's kind).
        server.enqueue(Status(429), Status(429), Status(429, headers=bare))
        completion = llm_http.complete(session(slept), endpoint(server), "Hello", timeout=5)
    backoff = random.Random(1).uniform(0, 0.5 * 2**2)  # the third retry's draw, seed 1
    assert slept == [0.02, 1.0, backoff]
    assert completion.text == "Summary: Hello"
    assert [(r["status"], r["wait_basis"]) for r in completion.retries] == [
        (429, "x-ratelimit-reset-requests"),
        (429, "retry-after"),
        (429, "backoff"),
    ]
    assert [r["waited_ms"] for r in completion.retries] == [20, 1000, round(backoff * 1000)]
    assert completion.rate_limit_waits == 3
    assert completion.rate_limit_wait_ms == 20 + 1000 + round(backoff * 1000)


def test_waits_after_server_errors_are_not_counted_as_rate_limits():
    slept: list[float] = []
    with FakeLLMServer() as server:
        server.enqueue(Status(500), Status(503, headers={"Retry-After": "2"}))
        completion = llm_http.complete(session(slept), endpoint(server), "Hello", timeout=5)
    assert len(slept) == 2
    assert slept[1] == 2.0
    assert (completion.rate_limit_waits, completion.rate_limit_wait_ms) == (1, 2000)


def test_no_wait_passes_the_calls_deadline():
    slept: list[float] = []
    with FakeLLMServer() as server:
        server.enqueue(Status(429, headers={"Retry-After": "30"}))
        completion = llm_http.complete(
            session(slept), endpoint(server), "Hi", timeout=5, deadline=5
        )
        assert len(server.requests) == 1
    assert slept == []
    assert (completion.http_status, completion.error, completion.text) == (429, "HTTP 429", None)
    assert completion.rate_limit_wait_ms == 0


def test_a_wait_within_the_deadline_is_made():
    slept: list[float] = []
    with FakeLLMServer() as server:
        server.enqueue(Status(429, headers={"Retry-After": "30"}))
        completion = llm_http.complete(
            session(slept), endpoint(server), "Hi", timeout=5, deadline=45
        )
    assert slept == [30.0]
    assert completion.text == "Summary: Hi"


# --- the job -------------------------------------------------------------------------------


@pytest.fixture
def model_source(draft_study, fake_llm, monkeypatch):
    monkeypatch.setenv("EVALAPP_LLM_KEY_TEST", "sk-test-123")
    connection = Connection.objects.create(
        name="test",
        base_url=fake_llm.base_url,
        allowed_models=["echo-70b"],
        api_key_env="EVALAPP_LLM_KEY_TEST",
    )
    return services.source_create(
        study=draft_study,
        label="Echo-70B",
        connection=connection,
        model_name="echo-70b",
        max_concurrency=1,
    )


def run_fetch(source, user) -> TaskRun:
    run = TaskRun.objects.create(
        study=source.study, source=source, created_by=user, kind=TaskRun.Kind.FETCH_OUTPUTS
    )
    run = services.task_run_claim(run_id=run.pk)
    services.outputs_fetch_missing(run=run)
    run.refresh_from_db()
    return run


@pytest.mark.django_db
def test_the_job_message_states_the_time_lost_to_rate_limits(model_source, fake_llm, study_admin):
    fake_llm.rate_limit_reset = "300ms"
    # A 429 with x-ratelimit-reset-requests 300ms, then one with Retry-After 1 (rounded up).
    fake_llm.enqueue(Status(429), Status(429))
    run = run_fetch(model_source, study_admin)
    assert run.status == "succeeded"
    assert re.fullmatch(
        r"3 of 3 outputs generated; 1\.3 s waiting on rate limits "
        r"\(2 waits after 429/503 answers\)",
        run.message,
    ), run.message
    waited = sorted(Generation.objects.values_list("rate_limit_wait_ms", flat=True))
    assert waited == [0, 0, 1300]


@pytest.mark.django_db
def test_a_job_without_rate_limits_says_nothing_of_them(model_source, study_admin):
    run = run_fetch(model_source, study_admin)
    assert run.message == "3 of 3 outputs generated"
