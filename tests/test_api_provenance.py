"""Per-call provenance through the API: every call made to fetch an output or to judge an item,
with what the server says it served, tokens, latency, cost, retries and the prompt's hash;
for the study's admins only."""

import csv
import hashlib
import io
import json

import pytest
from django.urls import reverse

from annotation import services
from annotation.core import columns
from annotation.models import Connection, Generation, JudgeVerdict
from tests.support.fake_llm import Reply, Status
from tests.test_api import auth
from tests.test_fetch_outputs import run_fetch
from tests.test_judges import _judge, _run

pytestmark = pytest.mark.django_db


@pytest.fixture
def fetched(draft_study, fake_llm, monkeypatch, study_admin):
    """The draft study with a source whose three outputs a worker fetched, the first call
    refused once with a 429 and retried."""
    monkeypatch.setenv("EVALAPP_LLM_KEY_TEST", "sk-test-123")
    connection = Connection.objects.create(
        name="test",
        base_url=fake_llm.base_url,
        allowed_models=["echo-70b"],
        api_key_env="EVALAPP_LLM_KEY_TEST",
    )
    source = services.source_create(
        study=draft_study,
        label="Echo-70B",
        connection=connection,
        model_name="echo-70b",
        system_prompt="Summarise.",
        max_concurrency=1,
        prompt_price=2.0,
        completion_price=8.0,
    )
    fake_llm.enqueue(Status(429, headers={"Retry-After": "0"}))
    assert run_fetch(source, study_admin).status == "succeeded"
    return draft_study


def _url(study, name: str = "api-generation-list") -> str:
    return reverse(name, args=[study.token])


def _expected_hash(request: dict) -> str:
    text = json.dumps(request["messages"], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def test_an_admin_reads_each_fetch_call_with_its_provenance(client, fetched, study_admin):
    answer = client.get(_url(fetched), headers=auth(study_admin))
    assert answer.status_code == 200
    rows = answer.json()["results"]
    generations = Generation.objects.filter(case__study=fetched)
    assert len(rows) == generations.count() == 3
    assert [(r["case_id"], r["source"]) for r in rows] == sorted(
        generations.values_list("case__external_id", "source__label")
    )
    retried = next(r for r in rows if r["retries"])
    assert retried["retries"] == 1
    assert retried["retry_details"][0]["status"] == 429  # a list, not JSON text
    for row in rows:
        stored = generations.get(case__external_id=row["case_id"])
        assert row["outcome"] == "ok"
        assert row["model_requested"] == "echo-70b"
        assert row["model_version"] == stored.model_version == "echo-70b-fake-20240101"
        assert row["served_headers"] == stored.served_headers  # an object, not JSON text
        assert row["served_headers"]["openai-model"] == "echo-70b-fake-20240101"
        assert row["response_id"] == stored.response_id != ""
        assert row["prompt_tokens"] == stored.prompt_tokens > 0
        assert row["completion_tokens"] == stored.completion_tokens > 0
        cost = (stored.prompt_tokens * 2.0 + stored.completion_tokens * 8.0) / 1e6
        assert row["cost"] == pytest.approx(cost)
        assert row["latency_seconds"] == stored.latency_ms / 1000
        assert row["prompt_sha256"] == _expected_hash(stored.request)
        assert row["endpoint"].startswith("http://127.0.0.1")
        assert row["started_at"].endswith("Z")
    # Different cases, different prompts; the hash says so.
    assert len({row["prompt_sha256"] for row in rows}) == 3


def test_the_csv_is_generations_csv(client, fetched, study_admin):
    answer = client.get(_url(fetched), {"format": "csv"}, headers=auth(study_admin))
    assert answer.status_code == 200
    text = b"".join(answer.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == columns.GENERATIONS.names
    assert len(rows) == 3
    retried = next(r for r in rows if r["retries"] != "0")
    assert json.loads(retried["retry_details"])[0]["status"] == 429
    served = [json.loads(r["served_headers"]) for r in rows]
    assert {s["openai-model"] for s in served} == {"echo-70b-fake-20240101"}
    assert {r["outcome"] for r in rows} == {"ok"}


def test_raters_and_outsiders_never_reach_the_calls(client, fetched, raters, outsider):
    services.study_open(study=fetched)
    for name in ("api-generation-list", "api-judge-call-list"):
        url = _url(fetched, name)
        assert client.get(url, headers=auth(raters[0])).status_code == 403
        csv_answer = client.get(url, {"format": "csv"}, headers=auth(raters[0]))
        assert csv_answer.status_code == 403
        assert b"Echo-70B" not in csv_answer.content
        assert client.get(url, headers=auth(outsider)).status_code == 404
        assert client.get(url).status_code == 401


def test_judge_calls_give_every_attempt_and_the_last_calls_provenance(
    client, open_study, study_admin, fake_llm, settings
):
    settings.JUDGE_MAX_ATTEMPTS = 3
    key = open_study.questions.get().key
    good = Reply(json.dumps({"rationale": "", key: 4}))
    fake_llm.enqueue(Reply("I would rate it 4."), good)  # the first unit is asked twice
    fake_llm.set_default(good)
    judge = _judge(open_study, fake_llm, max_concurrency=1)
    assert _run(judge).status == "succeeded"

    answer = client.get(_url(open_study, "api-judge-call-list"), headers=auth(study_admin))
    assert answer.status_code == 200
    rows = answer.json()["results"]
    verdicts = JudgeVerdict.objects.filter(judge=judge)
    assert len(rows) == verdicts.count() == 6
    assert {r["judge"] for r in rows} == {"GPT-judge"}
    assert {r["kind"] for r in rows} == {"rating"}
    asked_twice = [r for r in rows if r["retries"]]
    assert len(asked_twice) == 1
    assert asked_twice[0]["retry_details"][0]["error"].startswith("malformed reply")
    assert asked_twice[0]["retry_details"][1] == {"error": "", "http_status": 200}
    for row in rows:
        verdict = verdicts.get(item__token=row["item_token"], variant=row["variant"])
        assert row["model_requested"] == "judge-1"
        assert row["model_version"] == verdict.model_version != ""
        assert row["response_id"] == verdict.response_id != ""
        assert row["prompt_tokens"] == verdict.prompt_tokens
        assert row["prompt_sha256"] == _expected_hash(verdict.request)
        assert row["shown_order"] == " ".join(map(str, verdict.order))

    text = b"".join(
        client.get(
            _url(open_study, "api-judge-call-list"), {"format": "csv"}, headers=auth(study_admin)
        ).streaming_content
    ).decode()
    assert text.splitlines()[0] == ",".join(columns.JUDGE_CALLS.names)
    assert len(text.splitlines()) == 7
