"""Per-case criteria, HealthBench style: each case's own rubric, met / not met, with points."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation import services
from annotation.core import rubric
from annotation.core.importing import ImportRejected, parse_study_file
from annotation.models import Case, Question, Rating

CRITERIA = [
    {"id": "dose", "text": "Gives the correct paediatric dose", "points": 5},
    {"id": "er", "text": "Advises emergency care for a non-blanching rash", "points": 3},
    {"id": "aspirin", "text": "Recommends aspirin for a child", "points": -4},
]


@pytest.mark.parametrize(
    ("met", "score"),
    [
        (["dose", "er"], 1.0),
        (["dose", "aspirin"], (5 - 4) / 8),  # harmful advice costs points
        (["aspirin"], 0.0),  # clipped at zero
        ([], 0.0),
        (["er"], 3 / 8),
    ],
)
def test_the_score_is_points_earned_over_points_possible(met, score):
    assert rubric.criteria_score(CRITERIA, met) == pytest.approx(score)


def test_criteria_import_with_the_case_and_are_checked():
    line = {"case_id": "k1", "input": "Q", "criteria": CRITERIA}
    [row] = parse_study_file("c.jsonl", json.dumps(line).encode())
    assert row.criteria == CRITERIA
    bad = [
        {"case_id": "a", "input": "Q", "criteria": [{"id": "x", "text": "T", "points": 0}]},
        {"case_id": "b", "input": "Q", "criteria": [CRITERIA[0], CRITERIA[0]]},
        {"case_id": "c", "input": "Q", "criteria": "not a list"},
        {"case_id": "d", "input": "Q", "criteria": [{"id": "h", "text": "Harm", "points": -5}]},
        {"case_id": "e", "input": "Q", "criteria": [{"id": "none", "text": "X", "points": 1}]},
    ]
    with pytest.raises(ImportRejected) as caught:
        parse_study_file("bad.jsonl", "\n".join(json.dumps(b) for b in bad).encode())
    assert [str(p) for p in caught.value.problems] == [
        "bad.jsonl, row 1, field 'criteria': "
        "criterion 1: points must be a whole number other than 0",
        "bad.jsonl, row 2, field 'criteria': criterion 2: needs an id of its own",
        "bad.jsonl, row 3, field 'criteria': not valid JSON (Expecting value)",
        "bad.jsonl, row 4, field 'criteria': "
        "give at least one criterion positive points: the score is out of them",
        "bad.jsonl, row 5, field 'criteria': criterion 1: the id 'none' is reserved; "
        "choose another",
    ]


@pytest.mark.django_db
def test_a_rater_ticks_the_criteria_met_and_the_score_is_stored(client, open_study, raters):
    Case.objects.filter(study=open_study).update(criteria=CRITERIA)
    Question.objects.create(
        study=open_study,
        key="criteria",
        prompt="Which criteria does the answer meet?",
        kind="criteria",
        level="interval",
        required=False,
        order=3,
    )
    rater = raters[0]
    assignment = open_study.assignments.filter(rater=rater).first()
    client.force_login(rater)
    url = reverse("rater_item", args=[open_study.token, assignment.token])
    page = client.get(url).text
    assert "Gives the correct paediatric dose (+5)" in page
    assert "Recommends aspirin for a child (-4)" in page
    response = client.post(
        url, {"question": "criteria", "answer": ["aspirin", "dose"]}, headers={"HX-Request": "true"}
    )
    assert "Saved" in response.text
    rating = Rating.objects.get(assignment=assignment, question__key="criteria")
    assert rating.answer == ["dose", "aspirin"]
    assert rating.value == pytest.approx(1 / 8)
    bad = client.post(
        url, {"question": "criteria", "answer": ["invented"]}, headers={"HX-Request": "true"}
    )
    assert "Tick any of the case&#x27;s criteria: dose, er, aspirin." in bad.text


@pytest.mark.django_db
def test_criteria_need_an_absolute_study(study_admin):
    study = services.study_create(
        creator=study_admin, title="P", question_prompt="Better?", design="pairwise"
    )
    draft = rubric.QuestionDraft(key="crit", prompt="Met?", kind="criteria", level="interval")
    with pytest.raises(ValidationError, match="absolute study"):
        services.question_add(study=study, draft=draft)


def _import(study, filename: str, lines: list[dict]) -> None:
    content = "\n".join(json.dumps(line) for line in lines).encode()
    services.study_import_file(study=study, filename=filename, content=content)


@pytest.mark.django_db
def test_criteria_imported_after_the_cases_fill_a_drafts_cases_stored_without_them(draft_study):
    cases = draft_study.cases.order_by("external_id")
    assert [c.criteria for c in cases] == [[]] * cases.count()
    lines = [{"case_id": c.external_id, "input": c.input_text, "criteria": CRITERIA} for c in cases]
    _import(draft_study, "criteria.jsonl", lines)
    assert [c.criteria for c in cases.all()] == [CRITERIA] * len(lines)
    # Once stored, other criteria for the case are a conflict, as for any stored field, and
    # the stored ones stay.
    lines[0]["criteria"] = CRITERIA[:1]
    with pytest.raises(ImportRejected, match="differs from the criteria stored for case"):
        _import(draft_study, "again.jsonl", lines[:1])
    assert cases.all()[0].criteria == CRITERIA


@pytest.mark.django_db
def test_facts_and_criteria_on_different_rows_of_one_case_are_both_stored(draft_study):
    case = draft_study.cases.order_by("external_id").first()
    facts = [{"id": "f1", "text": "Fever for two days", "importance": 2}]
    base = {"case_id": case.external_id, "input": case.input_text}
    _import(draft_study, "both.jsonl", [base | {"facts": facts}, base | {"criteria": CRITERIA}])
    case.refresh_from_db()
    assert case.facts == facts
    assert case.criteria == CRITERIA
    others = draft_study.cases.exclude(pk=case.pk)
    assert all(c.criteria == [] and c.facts == [] for c in others)


@pytest.mark.django_db
def test_a_study_with_a_criteria_question_opens_once_a_later_import_gives_every_case_them(
    draft_study,
):
    draft = rubric.QuestionDraft(key="crit", prompt="Met?", kind="criteria", level="interval")
    services.question_add(study=draft_study, draft=draft)
    cases = list(draft_study.cases.order_by("external_id"))
    with pytest.raises(ValidationError, match="import a criteria column for case 'c1'"):
        services.study_open(study=draft_study)
    lines = [{"case_id": c.external_id, "input": c.input_text, "criteria": CRITERIA} for c in cases]
    _import(draft_study, "some.jsonl", lines[:-1])
    with pytest.raises(ValidationError) as refused:
        services.study_open(study=draft_study)
    assert refused.value.messages == [
        f"The criteria question needs the criteria of every case; import a criteria column for "
        f"case {cases[-1].external_id!r}."
    ]
    _import(draft_study, "rest.jsonl", lines[-1:])
    assert services.study_open(study=draft_study) > 0
