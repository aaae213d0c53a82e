"""Omission marking against a case's source facts (MED-OMIT): the answer, its weighted rate,
the facts column of an import, the check at opening, and the rater's form."""

import csv
import io
import json

import krippendorff
import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from annotation import services
from annotation.core import judging, rubric
from annotation.core.importing import ImportRejected, parse_study_file
from annotation.core.stats.compare import omissions as omission_stats
from annotation.core.stats.names import THESE_RATERS
from annotation.core.stats.resampling import Bootstrap
from annotation.models import Case, JudgeRating, Output, Question, Rating, Result, TaskRun
from annotation.selectors.omissions import omission_agreement_facts
from tests.factories import submit_rated
from tests.test_api import _json, auth
from tests.test_bundle import build

FACTS = [
    {"id": "f1", "text": "Taking lisinopril 10 mg daily", "importance": 3},
    {"id": "f2", "text": "Dry cough for <b>three</b> weeks", "importance": 1},
    {"id": "f3", "text": "No fever", "importance": 1},
    {"id": "f4", "text": "Asks whether to stop the drug", "importance": 2},
]


def spec(facts=FACTS):
    return rubric.QuestionSpec(rubric.OMISSION, scale=tuple(facts))


@pytest.mark.parametrize(
    ("raw", "stored", "rate"),
    [
        ({"omitted": ["f4", "f1"]}, {"omitted": ["f1", "f4"], "wrong": []}, 5 / 7),
        ({"omitted": ["f2"], "wrong": ["f3"]}, {"omitted": ["f2"], "wrong": ["f3"]}, 1 / 7),
        ({"omitted": [], "wrong": ["f1"]}, {"omitted": [], "wrong": ["f1"]}, 0.0),
        ('{"omitted": ["f1", "f2", "f3", "f4"]}', None, 1.0),
        ("none", "none", 0.0),
        ([rubric.NONE], "none", 0.0),
    ],
)
def test_an_answer_is_stored_in_the_cases_order_and_coded_as_its_weighted_rate(raw, stored, rate):
    answer = rubric.parse_answer(spec(), raw)
    if stored is not None:
        assert answer == stored
    assert rubric.numeric_code(spec(), answer) == pytest.approx(rate)


def test_facts_without_importance_weigh_one_each():
    facts = [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}, {"id": "c", "text": "C"}]
    answer = rubric.parse_answer(spec(facts), {"omitted": ["c"]})
    assert rubric.numeric_code(spec(facts), answer) == pytest.approx(1 / 3)


def test_both_lists_emptied_is_unanswered_not_none():
    answer = rubric.parse_answer(spec(), {"omitted": [], "wrong": []})
    assert answer == []
    assert rubric.is_empty(answer)
    assert rubric.numeric_code(spec(), answer) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"omitted": ["f9"]}, "Tick omitted facts among the case's facts: f1, f2, f3, f4."),
        ({"wrong": ["f1", "f1"]}, "Name each wrong fact once."),
        ({"omitted": ["f1"], "wrong": ["f1"]}, "cannot also be stated wrongly"),
        ({"omitted": ["f1"], "missing": []}, '{"omitted": [ids], "wrong": [ids]}'),
        ({"omitted": None}, "Tick omitted facts among the case's facts"),
        ({"wrong": "f1"}, "Tick wrong facts among the case's facts"),
        (["f1"], '{"omitted": [ids], "wrong": [ids]}'),
        ("{not json", "could not be read"),
        ("na", "no 'not applicable'"),
    ],
)
def test_answers_that_do_not_fit_are_refused(raw, message):
    with pytest.raises(rubric.AnswerError, match=message.replace("[", r"\[").replace("]", r"\]")):
        rubric.parse_answer(spec(), raw)


def test_an_omission_question_takes_no_scale_and_is_analysed_as_a_rate():
    scaled = rubric.QuestionSpec(rubric.OMISSION, scale=({"value": 1, "label": "One"},) * 2)
    rubric.check_spec(rubric.QuestionSpec(rubric.OMISSION), "ratio")
    with pytest.raises(rubric.AnswerError, match="analysed as: interval, ratio"):
        rubric.check_spec(rubric.QuestionSpec(rubric.OMISSION), "nominal")
    with pytest.raises(rubric.AnswerError, match="takes no scale"):
        rubric.check_spec(scaled, "interval")
    with pytest.raises(rubric.AnswerError, match="no facts"):
        rubric.parse_answer(spec(()), {"omitted": []})


def test_facts_import_with_the_case_and_are_checked():
    line = {"case_id": "k1", "input": "Q", "facts": [{"id": "a", "text": "A"}, FACTS[0]]}
    [row] = parse_study_file("f.jsonl", json.dumps(line).encode())
    assert row.facts == [{"id": "a", "text": "A", "importance": 1}, FACTS[0]]
    csv = 'case_id,input,facts\nk2,Q,"[{""id"": ""x"", ""text"": ""X"", ""importance"": 0.5}]"\n'
    [row] = parse_study_file("f.csv", csv.encode())
    assert row.facts == [{"id": "x", "text": "X", "importance": 0.5}]
    bad = [
        {"case_id": "a", "input": "Q", "facts": [FACTS[0], FACTS[0]]},
        {"case_id": "b", "input": "Q", "facts": [{"id": "x", "text": "X", "importance": 0}]},
        {"case_id": "c", "input": "Q", "facts": [{"id": "x", "text": " "}]},
        {"case_id": "d", "input": "Q", "facts": "[1,"},
        {"case_id": "e", "input": "Q", "facts": []},
        {"case_id": "f", "input": "Q", "facts": [{"id": "x", "text": "X", "weight": 2}]},
        {"case_id": "g", "input": "Q", "facts": [{"id": "x", "text": "X", "importance": True}]},
    ]
    with pytest.raises(ImportRejected) as caught:
        parse_study_file("bad.jsonl", "\n".join(json.dumps(b) for b in bad).encode())
    assert [str(p) for p in caught.value.problems] == [
        "bad.jsonl, row 1, field 'facts': fact 2: needs an id of its own",
        "bad.jsonl, row 2, field 'facts': fact 1: importance must be a positive number",
        "bad.jsonl, row 3, field 'facts': fact 1: needs a text",
        "bad.jsonl, row 4, field 'facts': not valid JSON (Expecting value)",
        "bad.jsonl, row 5, field 'facts': must be a non-empty JSON list of facts",
        "bad.jsonl, row 6, field 'facts': fact 1: give id, text (and optionally importance)",
        "bad.jsonl, row 7, field 'facts': fact 1: importance must be a positive number",
    ]


def test_two_rows_of_a_case_must_give_the_same_facts():
    rows = [
        {"case_id": "k", "input": "Q", "source": "A", "output": "x", "facts": FACTS},
        {"case_id": "k", "input": "Q", "source": "B", "output": "y", "facts": FACTS[:2]},
    ]
    with pytest.raises(ImportRejected, match="row 2, field 'facts': differs from row 1"):
        parse_study_file("f.jsonl", "\n".join(json.dumps(r) for r in rows).encode())


def omission_question(study, **fields) -> Question:
    draft = rubric.QuestionDraft(
        key="omitted",
        prompt="Which facts does the summary leave out?",
        kind="omission",
        level="ratio",
        required=False,
        **fields,
    )
    return services.question_add(study=study, draft=draft)


@pytest.mark.django_db
def test_a_study_opens_only_when_every_case_has_facts(draft_study):
    omission_question(draft_study)
    Case.objects.filter(study=draft_study, external_id="c1").update(facts=FACTS)
    with pytest.raises(ValidationError) as caught:
        services.study_open(study=draft_study)
    [message] = caught.value.messages
    assert message.startswith("The omission question needs the facts of every case")
    assert "'c2'" in message
    assert "'c1'" not in message
    Case.objects.filter(study=draft_study).update(facts=FACTS)
    assert services.study_open(study=draft_study) > 0


@pytest.mark.django_db
def test_facts_imported_after_the_cases_fill_them_and_the_study_opens(draft_study):
    omission_question(draft_study)
    with pytest.raises(ValidationError, match="import a facts column"):
        services.study_open(study=draft_study)
    cases = draft_study.cases.order_by("external_id")
    lines = [{"case_id": c.external_id, "input": c.input_text, "facts": FACTS} for c in cases]
    content = "\n".join(json.dumps(line) for line in lines).encode()
    services.study_import_file(study=draft_study, filename="facts.jsonl", content=content)
    assert [c.facts for c in cases.all()] == [FACTS] * len(lines)
    # Once stored, other facts for the case are a conflict, as for any stored field.
    lines[0]["facts"] = FACTS[:2]
    with pytest.raises(ImportRejected, match="differs from the facts stored for case"):
        services.study_import_file(
            study=draft_study, filename="again.jsonl", content=json.dumps(lines[0]).encode()
        )
    assert services.study_open(study=draft_study) > 0


@pytest.mark.django_db
def test_omission_questions_need_one_output_at_a_time(study_admin):
    study = services.study_create(
        creator=study_admin, title="P", question_prompt="Better?", design="pairwise"
    )
    with pytest.raises(ValidationError, match="absolute or side-by-side"):
        omission_question(study)


@pytest.fixture
def omission_study(draft_study):
    omission_question(draft_study)
    Case.objects.filter(study=draft_study).update(facts=FACTS)
    services.study_open(study=draft_study)
    draft_study.refresh_from_db()
    return draft_study


def post(client, url, data):
    return client.post(url, data, headers={"HX-Request": "true"})


@pytest.mark.django_db
def test_a_rater_ticks_facts_and_the_rate_is_stored(client, omission_study, rater):
    assignment = omission_study.assignments.filter(rater=rater).first()
    client.force_login(rater)
    url = reverse("rater_item", args=[omission_study.token, assignment.token])
    page = client.get(url).text
    assert "Dry cough for &lt;b&gt;three&lt;/b&gt; weeks" in page
    assert "<b>three</b>" not in page
    assert page.count('name="omitted"') == 4
    assert page.count('name="wrong"') == 4
    assert "None omitted, none wrong" in page
    response = post(client, url, {"question": "omitted", "omitted": ["f4", "f1"], "wrong": "f2"})
    assert "Saved" in response.text
    rating = Rating.objects.get(assignment=assignment, question__key="omitted")
    assert rating.answer == {"omitted": ["f1", "f4"], "wrong": ["f2"]}
    assert rating.value == pytest.approx(5 / 7)
    page = client.get(url).text
    assert 'name="omitted" value="f1" data-fact checked' in page
    assert 'name="wrong" value="f2" data-fact checked' in page
    assert 'name="omitted" value="f2" data-fact checked' not in page
    answers = client.get(reverse("rater_answers", args=[omission_study.token, assignment.token]))
    assert answers.json()["answers"]["omitted"]["fields"] == {
        "omitted": ["f1", "f4"],
        "wrong": ["f2"],
    }
    post(client, url, {"question": "omitted", "answer": "none"})
    rating.refresh_from_db()
    assert (rating.answer, rating.value) == ("none", 0.0)
    assert [r.answer for r in rating.revisions.order_by("pk")] == [
        {"omitted": ["f1", "f4"], "wrong": ["f2"]},
        "none",
    ]
    refused = post(client, url, {"question": "omitted", "omitted": "f1", "wrong": "f1"})
    assert "cannot also be stated wrongly" in refused.text


@pytest.mark.django_db
def test_the_api_gives_the_facts_and_takes_and_exports_an_omission_answer(
    client, omission_study, rater, study_admin
):
    cases = _json(client, "get", f"/api/v1/studies/{omission_study.token}/cases/", study_admin)
    assert [c["facts"] for c in cases.json()["results"]] == [FACTS] * 3
    base = f"/api/v1/rate/{omission_study.token}/items/"
    first = _json(client, "get", base, rater).json()["results"][0]["token"]
    answers = f"{base}{first}/answers/"
    body = {"question": "omitted", "answer": {"omitted": ["f3"], "wrong": ["f1"]}}
    saved = _json(client, "post", answers, rater, body).json()
    [question] = [q for q in saved["questions"] if q["key"] == "omitted"]
    assert question["answer"] == {"omitted": ["f3"], "wrong": ["f1"]}
    assert [(f["id"], f["omitted"], f["wrong"]) for f in question["facts"]] == [
        ("f1", False, True),
        ("f2", False, False),
        ("f3", True, False),
        ("f4", False, False),
    ]
    unknown = {"question": "omitted", "answer": {"omitted": ["f7"]}}
    refused = _json(client, "post", answers, rater, unknown)
    assert refused.status_code == 400
    assert "f1, f2, f3, f4" in refused.json()["detail"]
    ratings = f"/api/v1/studies/{omission_study.token}/ratings/?question=omitted"
    [row] = _json(client, "get", ratings, study_admin).json()["results"]
    assert row["answer"] == {"omitted": ["f3"], "wrong": ["f1"]}
    assert float(row["value"]) == pytest.approx(1 / 7)
    text = client.get(ratings + "&format=csv", headers=auth(study_admin))
    body = b"".join(text.streaming_content).decode() if text.streaming else text.text
    assert '"{""omitted"": [""f3""], ""wrong"": [""f1""]}"' in body
    history = f"/api/v1/studies/{omission_study.token}/rating-history/?question=omitted"
    [change] = _json(client, "get", history, study_admin).json()["results"]
    assert change["new_answer"] == {"omitted": ["f3"], "wrong": ["f1"]}


def answer_for(case: str, source: str, rater: str) -> object:
    """Deterministic answers: the model omits more than the expert summary, and R2 differs
    from R1 on one fact of the model's outputs."""
    if source == "Expert-written summary":
        return {"omitted": ["f3"]} if case == "c2" else rubric.NONE
    omitted = ["f1", "f3"] if rater == "R2" else ["f3"]
    return {"omitted": omitted, "wrong": ["f4"] if case == "c1" else []}


@pytest.fixture
def rated_omissions(omission_study, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"
    question = omission_study.questions.get(key="omitted")
    names = {m.user_id: m.pseudonym for m in omission_study.memberships.filter(role="rater")}
    for assignment in omission_study.assignments.select_related(
        "item__output__source", "item__output__case"
    ):
        output = assignment.item.output
        answer = answer_for(
            output.case.external_id, output.source.label, names[assignment.rater_id]
        )
        services.rating_save(assignment=assignment, question=question, answer=answer)
    submit_rated(omission_study)
    run = TaskRun.objects.create(study=omission_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    return omission_study


@pytest.mark.django_db
def test_each_source_has_its_weighted_omission_rate_and_the_facts_their_agreement(
    rated_omissions,
):
    study = rated_omissions
    weights = {f["id"]: f["importance"] for f in FACTS}
    rates: dict = {}
    for rating in Rating.objects.filter(question__key="omitted").select_related(
        "assignment__item__output__source", "assignment__item__output__case", "assignment"
    ):
        output = rating.assignment.item.output
        omitted = [] if rating.answer == "none" else rating.answer["omitted"]
        rate = sum(weights[f] for f in omitted) / sum(weights.values())
        key = (output.source.label, output.case.external_id)
        rates.setdefault(key, []).append(rate)
    results = {r.source: r for r in study.results.filter(statistic="omission_rate")}
    assert set(results) == {"Expert-written summary", "MedSumm-7B"}
    for source, result in results.items():
        per_case = [np.mean(v) for (s, _), v in rates.items() if s == source]
        assert result.value == pytest.approx(np.mean(per_case))
        assert result.n_units == 3
        assert result.detail["omission_rate"]["interval_question"] == THESE_RATERS
    assert results["MedSumm-7B"].value > results["Expert-written summary"].value
    # The paired tests run on the same codes, labelled as a rate.
    summary = study.results.get(statistic="score_summary", source="MedSumm-7B")
    assert summary.detail["shown_as"] == "omission rate, mean over ratings"
    assert study.results.filter(statistic="wilcoxon").count() == 1
    # Agreement on the facts: the krippendorff package on raters x (output, fact) units.
    agreement = study.results.get(statistic="omission_fact_agreement")
    marks: dict = {}
    for rating in Rating.objects.filter(question__key="omitted").select_related(
        "assignment__item__output__source", "assignment__item__output__case", "assignment"
    ):
        output = rating.assignment.item.output
        omitted = [] if rating.answer == "none" else rating.answer["omitted"]
        for fact in FACTS:
            unit = (output.case.external_id, output.source.label, fact["id"])
            marks.setdefault(rating.assignment.rater_id, {})[unit] = int(fact["id"] in omitted)
    units = sorted({u for m in marks.values() for u in m})
    grid = np.array([[m.get(u, np.nan) for u in units] for m in marks.values()], dtype=float)
    expected = krippendorff.alpha(reliability_data=grid, level_of_measurement="nominal")
    assert agreement.value == pytest.approx(expected)
    facts = {(f["case"], f["fact"]): f for f in agreement.detail["facts"]}
    assert len(facts) == 12
    assert facts[("c1", "f2")]["alpha"] is None  # nobody omits it: alpha undefined
    assert facts[("c1", "f2")]["percent_agreement"] == 1.0


@pytest.mark.django_db
def test_the_dashboard_and_the_bundle_report_the_rates_and_agreement_per_fact(
    client, rated_omissions, study_admin
):
    study = rated_omissions
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[study.token])).text
    assert 'data-testid="omission-rates-omitted"' in page
    assert "Weighted omission rate" in page
    assert "Agreement per fact (12)" in page
    with build(study) as bundle:
        facts = list(csv.DictReader(io.TextIOWrapper(bundle.open("fact_agreement.csv"))))
        comparison = bundle.read("comparison.csv").decode()
        agreement = bundle.read("agreement.csv").decode()
        dictionary = bundle.read("data_dictionary.md").decode()
        methods = " ".join(bundle.read("methods.md").decode().split())
    assert len(facts) == 12
    assert {row["question"] for row in facts} == {"omitted"}
    c1_f2 = next(r for r in facts if (r["case_id"], r["fact"]) == ("c1", "f2"))
    assert (c1_f2["alpha"], c1_f2["percent_agreement"]) == ("", "1.0")
    assert "omission_rate:omission_rate" in comparison
    assert "omission_rate:wrong_rate" in comparison
    assert "omission_fact_agreement" in agreement
    assert "fact_agreement.csv" in dictionary
    assert "each case carries the facts of its source, 4 per case, each weighted by its" in methods
    assert "0 when it omits nothing, 1 when it omits every fact" in methods
    expert = study.results.get(statistic="omission_rate", source="Expert-written summary")
    assert (
        f'Question "omitted", Expert-written summary: importance-weighted omission rate '
        f"{expert.value:.3f} (95% CI for these raters, cases random," in methods
    )
    alpha = study.results.get(statistic="omission_fact_agreement")
    assert (
        "agreement on which facts an output omits: Krippendorff's alpha (nominal, each " in methods
    )
    assert f"{alpha.value:.3f}" in methods
    assert "defined for " in methods
    assert " of 12 facts (percent agreement only for " in methods


def test_a_judges_reply_is_read_with_the_raters_parser():
    asked = judging.AskedQuestion("omitted", "Omitted?", "", spec(), per_output=False)
    read = judging.parse_reply(
        json.dumps({"rationale": "", "omitted": {"omitted": ["f4", "f2"], "wrong": []}}),
        [asked],
        1,
    )
    assert read.answers == {"omitted": {"omitted": ["f2", "f4"], "wrong": []}}
    nothing = json.dumps({"rationale": "", "omitted": {"omitted": [], "wrong": []}})
    assert judging.parse_reply(nothing, [asked], 1).answers == {"omitted": "none"}
    both = json.dumps({"rationale": "", "omitted": {"omitted": ["f1"], "wrong": ["f1"]}})
    with pytest.raises(judging.MalformedReply, match="omitted: A fact the output omits"):
        judging.parse_reply(both, [asked], 1)
    schema = judging.answer_schema([asked], 1)["properties"]["omitted"]
    ids = {"type": "array", "items": {"enum": ["f1", "f2", "f3", "f4"]}}
    assert schema["anyOf"][0]["properties"] == {"omitted": ids, "wrong": ids}
    assert schema["anyOf"][0]["required"] == ["omitted", "wrong"]
    assert schema["anyOf"][1] == {"enum": ["none"]}


@pytest.mark.django_db
def test_an_llm_judge_answers_from_the_same_list_of_facts(omission_study, fake_llm):
    experts = set(
        Output.objects.filter(source__label="Expert-written summary").values_list("text", flat=True)
    )

    def reply(request):
        text = request["messages"][-1]["content"]
        text = text if isinstance(text, str) else text[0]["text"]
        response = text.split("<<<BEGIN RESPONSE>>>\n")[1].split("\n<<<END")[0]
        answer = "none" if response in experts else {"omitted": ["f1", "f3"], "wrong": ["f2"]}
        return json.dumps({"rationale": "", "overall": 3, "omitted": answer})

    fake_llm.reply_with(reply)
    judge = services.judge_create(
        study=omission_study,
        label="judge",
        base_url=fake_llm.base_url,
        model_name="judge-1",
        max_concurrency=1,
    )
    run = TaskRun.objects.create(study=omission_study, judge=judge, kind=TaskRun.Kind.RUN_JUDGE)
    services.judge_run(run=services.task_run_claim(run_id=run.pk))
    run.refresh_from_db()
    assert run.status == "succeeded", run.message
    sent = fake_llm.requests[0]["json"]
    prompt = sent["messages"][-1]["content"]
    prompt = prompt if isinstance(prompt, str) else prompt[0]["text"]
    assert '"f1" = Taking lisinopril 10 mg daily' in prompt
    assert "a fact in one list at most" in prompt
    ratings = JudgeRating.objects.filter(verdict__judge=judge, question__key="omitted")
    found = {
        (r.verdict.item.output.source.label, json.dumps(r.answer, sort_keys=True), r.value)
        for r in ratings
    }
    assert found == {
        ("Expert-written summary", '"none"', 0.0),
        ("MedSumm-7B", json.dumps({"omitted": ["f1", "f3"], "wrong": ["f2"]}), 4 / 7),
    }


@pytest.mark.django_db
def test_side_by_side_each_response_gets_its_own_fact_list(client, study_admin, raters):
    study = services.study_create(
        creator=study_admin,
        title="Side by side",
        question_prompt="How good?",
        design="side_by_side",
        raters_per_item=2,
        seed=3,
    )
    omission_question(study)
    rows = [
        {"case_id": f"k{n}", "input": "Q", "source": s, "output": f"{s} {n}", "facts": FACTS}
        for n in range(2)
        for s in ("Alpha", "Beta")
    ]
    content = "\n".join(json.dumps(r) for r in rows).encode()
    services.study_import_file(study=study, filename="s.jsonl", content=content)
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    study.refresh_from_db()
    assignment = study.assignments.filter(rater=raters[0]).first()
    client.force_login(raters[0])
    url = reverse("rater_item", args=[study.token, assignment.token])
    page = client.get(url).text
    assert 'id="q-omitted-A"' in page
    assert 'id="q-omitted-B"' in page
    assert page.count('name="omitted" value="f1"') == 2
    post(client, url, {"question": "omitted", "about": "B", "omitted": "f4"})
    rating = Rating.objects.get(assignment=assignment)
    assert rating.output == assignment.shown_outputs()[1]
    assert (rating.answer, rating.value) == ({"omitted": ["f4"], "wrong": []}, 2 / 7)


@pytest.mark.django_db
def test_an_omission_question_is_added_over_the_api_without_a_scale(
    client, draft_study, study_admin
):
    url = f"/api/v1/studies/{draft_study.token}/questions/"
    body = {"key": "om", "prompt": "Left out?", "kind": "omission", "level": "ratio"}
    assert _json(client, "post", url, study_admin, body).status_code == 201
    nominal = {**body, "key": "om2", "level": "nominal"}
    refused = _json(client, "post", url, study_admin, nominal)
    assert refused.status_code == 400
    assert "analysed as: interval, ratio" in refused.text
    scaled = {
        **body,
        "key": "om3",
        "scale": [{"value": 1, "label": "A"}, {"value": 2, "label": "B"}],
    }
    refused = _json(client, "post", url, study_admin, scaled)
    assert refused.status_code == 400
    assert "takes no scale" in refused.text


@pytest.mark.django_db
def test_the_methods_text_counts_facts_without_any_agreement_apart(draft_study):
    from_marks = [
        # c1 f1: alpha defined; c1 f2: every mark the same, percent agreement only;
        # c2 f1: each output read by one rater, neither alpha nor percent agreement.
        *[("c1", "A", "f1", r, m) for r, m in (("R1", 1), ("R2", 0), ("R3", 1))],
        *[("c1", "B", "f1", r, m) for r, m in (("R1", 0), ("R2", 0))],
        *[("c1", s, "f2", r, 0) for s in "AB" for r in ("R1", "R2")],
        ("c2", "A", "f1", "R1", 1),
        ("c2", "B", "f1", "R2", 0),
    ]
    result = omission_stats.fact_agreement(from_marks, bootstrap=Bootstrap(200, seed=1))
    assert [(f.alpha is not None, f.percent_agreement) for f in result.facts] == [
        (True, pytest.approx((1 / 3 + 1) / 2)),  # unit A: 1 of 3 pairs agree; unit B: 1
        (False, 1.0),
        (False, None),
    ]
    Result.objects.create(
        study=draft_study,
        question=omission_question(draft_study),
        statistic="omission_fact_agreement",
        value=result.alpha.value,
        n_units=result.n_units,
        n_raters=result.n_raters,
        n_ratings=result.n_ratings,
        detail={"facts": [f.as_dict() for f in result.facts]},
        inputs_hash="x",
        computed_at=timezone.now(),
    )
    [sentence] = omission_agreement_facts(study=draft_study)
    assert sentence.endswith(
        "Per fact, alpha over the case's outputs was defined for 1 of 3 facts (percent "
        "agreement only for 1; neither for 1, which no two raters read on any output)."
    )
