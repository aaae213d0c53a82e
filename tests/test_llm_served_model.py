"""Each stored call says which model was asked for and what the server says served it: the
reply's `model`, and the headers that name a deployment behind an alias (LiteLLM's
x-litellm-model-name, OpenAI's openai-model) with the answer's x-request-id."""

import re

import pytest

from annotation import services
from annotation.models import Connection, Generation, JudgeVerdict, TaskRun
from tests.support.fake_llm import MODEL_VERSION_SUFFIX, Reply, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def model_source(draft_study, fake_llm, monkeypatch):
    monkeypatch.setenv("EVALAPP_LLM_KEY_TEST", "sk-test-123")
    connection = Connection.objects.create(
        name="test",
        base_url=fake_llm.base_url,
        allowed_models=["echo-latest"],
        api_key_env="EVALAPP_LLM_KEY_TEST",
    )
    return services.source_create(
        study=draft_study,
        label="Echo",
        connection=connection,
        model_name="echo-latest",
        max_concurrency=1,
    )


def run(run: TaskRun, service) -> TaskRun:
    service(run=services.task_run_claim(run_id=run.pk))
    run.refresh_from_db()
    return run


def fetch(source, user) -> TaskRun:
    return run(
        TaskRun.objects.create(
            study=source.study, source=source, created_by=user, kind=TaskRun.Kind.FETCH_OUTPUTS
        ),
        services.outputs_fetch_missing,
    )


def test_a_generation_keeps_the_alias_asked_for_beside_the_model_served(
    model_source, fake_llm, study_admin
):
    fake_llm.enqueue(Reply("A summary.", model="echo-2026-11-30"))
    assert fetch(model_source, study_admin).status == "succeeded"
    first, *rest = Generation.objects.order_by("started_at")
    assert first.model_requested == "echo-latest"
    assert first.model_version == "echo-2026-11-30"
    assert first.served_headers["openai-model"] == "echo-2026-11-30"
    assert [g.model_version for g in rest] == [f"echo-latest{MODEL_VERSION_SUFFIX}"] * 2
    ids = [g.served_headers["x-request-id"] for g in (first, *rest)]
    assert all(re.fullmatch(r"req_[0-9a-f]{32}", request_id) for request_id in ids)
    assert len(set(ids)) == 3
    # Only the headers that say what served the call are kept, not the whole set.
    assert "x-ratelimit-limit-requests" not in first.served_headers
    assert "content-type" not in first.served_headers


def test_a_failed_call_keeps_the_request_id_of_its_last_answer(
    model_source, fake_llm, study_admin, settings
):
    settings.LLM_MAX_RETRIES = 0
    fake_llm.enqueue(Status(500))
    fetch(model_source, study_admin)
    failed = Generation.objects.get(outcome="failed")
    assert failed.http_status == 500
    assert failed.model_requested == "echo-latest"
    assert failed.model_version == ""
    assert re.fullmatch(r"req_[0-9a-f]{32}", failed.served_headers["x-request-id"])


def test_a_verdict_keeps_the_model_asked_for_and_served_and_its_rate_limit_waits(
    open_study, fake_llm
):
    question = open_study.questions.get()
    fake_llm.reply_with(lambda request: f'{{"rationale": "ok", "{question.key}": 4}}')
    fake_llm.rate_limit_reset = "200ms"
    fake_llm.enqueue(Status(429))  # x-ratelimit-reset-requests: 200ms, no Retry-After
    judge = services.judge_create(
        study=open_study,
        label="Judge",
        base_url=fake_llm.base_url,
        model_name="judge-alias",
        max_concurrency=1,
    )
    done = run(
        TaskRun.objects.create(study=open_study, judge=judge, kind=TaskRun.Kind.RUN_JUDGE),
        services.judge_run,
    )
    assert done.status == "succeeded", done.message
    assert done.message == (
        "6 of 6 judgements made; 0.2 s waiting on rate limits (1 wait after 429/503 answers)"
    )
    verdicts = JudgeVerdict.objects.all()
    assert {v.model_requested for v in verdicts} == {"judge-alias"}
    assert {v.model_version for v in verdicts} == {f"judge-alias{MODEL_VERSION_SUFFIX}"}
    assert {v.served_headers["openai-model"] for v in verdicts} == {
        f"judge-alias{MODEL_VERSION_SUFFIX}"
    }
    assert sorted(v.rate_limit_wait_ms for v in verdicts) == [0, 0, 0, 0, 0, 200]
