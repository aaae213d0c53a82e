"""A second OpenAI-compatible server that no one here wrote: LiteLLM's proxy, with mock
responses, run offline on its local cost map. The real worker fetches a source's generations
from it and runs a judge through it, end to end, so the client is never checked only against
the fake server it was written beside."""

import json
import os
from pathlib import Path

import pytest
import yaml

from annotation import services
from annotation.models import Generation, JudgeRating, JudgeVerdict, Output, TaskRun
from tests.support.served import ServedProcess
from tests.support.waiting import wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

# LiteLLM's proxy lives in its own environment, built by `make test` from requirements-litellm.lock:
# its pins (gunicorn<24, rich<14) must not hold back the app's.
LITELLM = Path(__file__).resolve().parents[1] / ".venv-litellm" / "bin" / "litellm"
# The model the mock deployment stands for; LiteLLM names it in x-litellm-model-name.
DEPLOYED = "openai/gpt-4o-mini"
SUMMARY = "A mock summary of the patient's question."
# The single-question study's key (services.study_create): the judge's mock reply answers it.
QUESTION = "overall"
VERDICT = {"rationale": "Faithful to the question.", QUESTION: 4}


class LiteLLMProxy(ServedProcess):
    """`litellm --config` on a free port of 127.0.0.1, with nothing from the test run's
    environment that it could reach out with (no DATABASE_URL, no Redis): offline, keyless."""

    name = "litellm"
    ready_path = "/health/liveliness"
    ready_timeout = 180.0
    stop_timeout = 15.0
    poll_every = 0.5
    new_session = True

    def __init__(self, config: dict, directory: Path) -> None:
        super().__init__(log=directory / "litellm.log")
        self.config_path = directory / "litellm.yaml"
        self.config_path.write_text(yaml.safe_dump(config))

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def command(self) -> list[str]:
        config = ["--config", str(self.config_path)]
        return [str(LITELLM), *config, "--host", "127.0.0.1", "--port", str(self.port)]

    def environment(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_TELEMETRY": "False",
            # No master key: the proxy is on the loopback address, for this test only.
            "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
            "NO_PROXY": "*",
        }


def mock(alias: str, reply: str) -> dict:
    return {
        "model_name": alias,
        "litellm_params": {"model": DEPLOYED, "api_key": "sk-unused", "mock_response": reply},
    }


@pytest.fixture(scope="module")
def litellm(tmp_path_factory):
    """One proxy for the module: a writer, a judge, and a model that is always rate limited
    (LiteLLM's own 429, with neither Retry-After nor x-ratelimit-* headers)."""
    if not LITELLM.exists():
        pytest.fail(f"{LITELLM} is missing: run `make test`, which builds .venv-litellm")
    proxy = LiteLLMProxy(
        {
            "model_list": [
                mock("mock-writer", SUMMARY),
                mock("mock-judge", json.dumps(VERDICT)),
                mock("mock-limited", "litellm.RateLimitError"),
            ],
            # Each 429 at once: the retries under test are the worker's, not LiteLLM's.
            "router_settings": {"num_retries": 0},
            "litellm_settings": {"num_retries": 0},
        },
        tmp_path_factory.mktemp("litellm"),
    )
    proxy.start()
    yield proxy
    proxy.stop()


def fetch(study, user, **source) -> TaskRun:
    source = services.source_create(study=study, label=source["model_name"], **source)
    run = services.task_run_create(
        study=study, kind=TaskRun.Kind.FETCH_OUTPUTS, user=user, source=source
    )
    return wait_for_run(run.pk, timeout=90)


def test_the_worker_fetches_and_judges_through_litellms_proxy(
    celery_worker, litellm, draft_study, study_admin
):
    assert draft_study.questions.get().key == QUESTION
    run = fetch(
        draft_study,
        study_admin,
        base_url=litellm.base_url,
        model_name="mock-writer",
        temperature=0.0,
        max_tokens=64,
        prompt_price=0.15,
        completion_price=0.60,
    )
    assert (run.status, run.done, run.total) == ("succeeded", 3, 3), run.message
    assert set(Output.objects.filter(source=run.source).values_list("text", flat=True)) == {SUMMARY}
    for generation in Generation.objects.filter(source=run.source):
        assert generation.model_requested == "mock-writer"
        assert generation.model_version  # what LiteLLM's reply says it served
        # The deployment behind the alias, as LiteLLM names it in its headers.
        assert generation.served_headers["x-litellm-model-name"] == DEPLOYED
        assert generation.served_headers["x-litellm-model-group"] == "mock-writer"
        assert generation.response_id
        assert generation.prompt_tokens > 0
        assert generation.completion_tokens > 0
        expected = (generation.prompt_tokens * 0.15 + generation.completion_tokens * 0.60) / 1e6
        assert generation.cost == pytest.approx(expected)
        assert generation.rate_limit_wait_ms == 0

    services.study_open(study=draft_study)
    judge = services.judge_create(
        study=draft_study, label="Judge", base_url=litellm.base_url, model_name="mock-judge"
    )
    run = services.task_run_create(
        study=draft_study, kind=TaskRun.Kind.RUN_JUDGE, user=study_admin, judge=judge
    )
    run = wait_for_run(run.pk, timeout=90)
    items = draft_study.items.count()
    assert (run.status, run.done, run.total) == ("succeeded", items, items), run.message
    verdicts = JudgeVerdict.objects.filter(judge=judge)
    assert {v.outcome for v in verdicts} == {"ok"}
    assert {v.rationale for v in verdicts} == {"Faithful to the question."}
    assert {v.served_headers["x-litellm-model-name"] for v in verdicts} == {DEPLOYED}
    assert {v.model_requested for v in verdicts} == {"mock-judge"}
    # LiteLLM was sent the rubric's JSON schema, and its reply was read into rater form.
    assert all(v.request["response_format"]["type"] == "json_schema" for v in verdicts)
    values = JudgeRating.objects.filter(verdict__judge=judge).values_list("value", flat=True)
    assert len(values) == items
    assert set(values) == {4.0}


def test_litellms_bare_429s_are_backed_off_not_waited_out_and_the_job_says_so(
    celery_worker, litellm, draft_study, study_admin
):
    run = fetch(draft_study, study_admin, base_url=litellm.base_url, model_name="mock-limited")
    assert (run.status, run.done, run.total) == ("failed", 3, 3)
    generations = Generation.objects.filter(source=run.source)
    retries = 5  # the worker's LLM_MAX_RETRIES (its default)
    for generation in generations:
        assert (generation.outcome, generation.http_status) == ("failed", 429)
        assert "rate limit" in generation.response_body.lower()
        assert [r["status"] for r in generation.retries] == [429] * retries
        # Nothing in LiteLLM's answer says when to come back: each wait is the worker's own
        # full-jitter backoff (factor 0.01 s on the test worker), not a fixed long sleep.
        assert {r["wait_basis"] for r in generation.retries} == {"backoff"}
        assert generation.rate_limit_wait_ms == sum(r["waited_ms"] for r in generation.retries)
        assert generation.rate_limit_wait_ms <= sum(10 * 2**n for n in range(retries))
    lost = sum(g.rate_limit_wait_ms for g in generations) / 1000
    assert run.message == (
        "0 of 3 outputs generated; 3 failed (see the generation log; run again to retry them)"
        f"; {lost:.1f} s waiting on rate limits ({3 * retries} waits after 429/503 answers)"
    )
