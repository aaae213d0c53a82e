"""The judge-calls table (API and judge_calls.csv) lists a judge's decisions on readers'
answers beside its rubric units, `kind` telling them apart, a page at a time."""

import csv
import io

import pytest
from django.urls import reverse

from annotation.core import columns
from annotation.models import JudgeScore
from annotation.selectors.judge_calls import JudgeCallPages
from tests.test_api import auth
from tests.test_reading_judge import _judge, _run, judged_study, keyword_judge

__all__ = ["judged_study"]  # a fixture

pytestmark = pytest.mark.django_db


def test_the_judge_calls_list_every_answer_decision_as_kind_answer(
    client, judged_study, fake_llm, study_admin
):
    fake_llm.reply_with(keyword_judge)
    judge = _judge(judged_study, fake_llm)
    assert _run(judge).status == "succeeded"
    decided = JudgeScore.objects.filter(judge=judge).select_related(
        "score__rating__assignment__item"
    )
    assert decided.count() == 6
    url = reverse("api-judge-call-list", args=[judged_study.token])

    pages = [
        client.get(url, {"page": n, "page_size": 4}, headers=auth(study_admin)).json()
        for n in (1, 2)
    ]
    assert [page["count"] for page in pages] == [6, 6]
    rows = pages[0]["results"] + pages[1]["results"]
    assert [len(page["results"]) for page in pages] == [4, 2]
    assert {row["kind"] for row in rows} == {"answer"}
    assert {row["judge"] for row in rows} == {"Judge-LLM"}
    by_response = {j.response_id: j for j in decided}
    assert sorted(row["response_id"] for row in rows) == sorted(by_response)
    for row in rows:
        judged = by_response[row["response_id"]]
        assert row["item_token"] == judged.score.rating.assignment.item.token
        assert (row["shown_order"], row["variant"], row["sample"]) == ("", 0, 0)
        assert row["prompt_tokens"] == judged.prompt_tokens
        assert row["outcome"] == "ok"

    response = client.get(url, {"format": "csv"}, headers=auth(study_admin))
    text = b"".join(response.streaming_content).decode()
    table = list(csv.DictReader(io.StringIO(text)))
    assert list(table[0]) == columns.JUDGE_CALLS.names
    assert [row["kind"] for row in table] == ["answer"] * 6


def test_a_page_spanning_both_kinds_reads_each_from_its_own_table(judged_study, monkeypatch):
    # Two rubric units and three answers, as the pages see them: a slice across the split
    # takes the units' tail and the answers' head, in order.
    module = "annotation.selectors.judge_calls"
    monkeypatch.setattr(f"{module}.judge_call_rows", lambda units: [("rating", u) for u in units])
    monkeypatch.setattr(
        f"{module}.judge_answer_call_rows", lambda answers: [("answer", a) for a in answers]
    )
    pages = JudgeCallPages(study=judged_study)
    pages.units, pages.answers = ["u1", "u2"], ["a1", "a2", "a3"]
    pages.__dict__.update(_units_count=2, _answers_count=3)  # the cached counts
    assert len(pages) == 5
    assert pages[1:4] == [("rating", "u2"), ("answer", "a1"), ("answer", "a2")]
    assert pages[0:2] == [("rating", "u1"), ("rating", "u2")]
    assert pages[3:5] == [("answer", "a2"), ("answer", "a3")]
    assert pages[4] == ("answer", "a3")
