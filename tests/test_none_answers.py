""" "No errors found" / "no criterion met": a real answer to a span or criteria question, apart
from leaving it unanswered, stored, submitted, exported and counted as 0 spans / 0 points."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation import selectors, services
from annotation.core import judging, rubric, tables
from annotation.core.importing import ImportRejected
from annotation.core.ratings_file import parse_ratings_file
from annotation.models import Case, Question, Rating
from annotation.services.statistics.rows import criteria_rows, human_rows

CATEGORIES = [
    {"value": "factual", "label": "Factual error"},
    {"value": "omission", "label": "Omission"},
]
SPAN_SPEC = rubric.QuestionSpec(rubric.SPAN, tuple(CATEGORIES), maximum=40.0)
CRITERIA = [
    {"id": "dose", "text": "Gives the correct dose", "points": 5},
    {"id": "aspirin", "text": "Recommends aspirin for a child", "points": -4},
]
CRITERIA_SPEC = rubric.QuestionSpec(rubric.CRITERIA, tuple(CRITERIA))
ONE_SPAN = [{"start": 0, "end": 3, "category": "factual", "severity": "minor"}]


@pytest.mark.parametrize("spec", [SPAN_SPEC, CRITERIA_SPEC])
@pytest.mark.parametrize("raw", ["none", ["none"]])
def test_none_is_an_answer_coded_zero(spec, raw):
    answer = rubric.parse_answer(spec, raw)
    assert answer == rubric.NONE
    assert rubric.is_complete(answer)
    assert rubric.numeric_code(spec, answer) == 0.0


@pytest.mark.parametrize("spec", [SPAN_SPEC, CRITERIA_SPEC])
def test_an_emptied_list_stays_unanswered_and_uncoded(spec):
    answer = rubric.parse_answer(spec, [])
    assert answer == []
    assert not rubric.is_complete(answer)
    assert rubric.numeric_code(spec, answer) is None


def test_other_kinds_have_no_none_answer():
    likert = rubric.QuestionSpec(rubric.LIKERT, ({"value": 1}, {"value": 2}))
    with pytest.raises(rubric.AnswerError):
        rubric.parse_answer(likert, "none")
    choices = rubric.QuestionSpec(rubric.MULTIPLE_CHOICE, tuple(CATEGORIES))
    with pytest.raises(rubric.AnswerError):
        rubric.parse_answer(choices, ["none"])


def test_a_criterion_called_none_keeps_its_list_form():
    spec = rubric.QuestionSpec(
        rubric.CRITERIA, ({"id": "none", "text": "Says nothing harmful", "points": 2},)
    )
    assert rubric.parse_answer(spec, ["none"]) == ["none"]
    assert rubric.parse_answer(spec, "none") == rubric.NONE


@pytest.fixture
def none_study(open_study):
    """The open study with a required span question and a required criteria question."""
    Case.objects.filter(study=open_study).update(criteria=CRITERIA)
    for order, (key, kind, scale) in enumerate(
        [("errors", "span", CATEGORIES), ("criteria", "criteria", [])], start=4
    ):
        Question.objects.create(
            study=open_study,
            key=key,
            prompt=f"The {key}",
            kind=kind,
            level="ratio",
            scale=scale,
            required=True,
            order=order,
        )
    return open_study


def _assignment(study, rater):
    return study.assignments.filter(rater=rater).order_by("position").first()


def _post(client, study, assignment, data):
    url = reverse("rater_item", args=[study.token, assignment.token])
    return client.post(url, data, headers={"HX-Request": "true"})


@pytest.mark.django_db
def test_the_page_posts_none_and_it_is_stored_as_such(client, none_study, raters):
    assignment = _assignment(none_study, raters[0])
    client.force_login(raters[0])
    # The span form posts its hidden list (emptied by the script) and the ticked box.
    response = _post(
        client, none_study, assignment, {"question": "errors", "answer": ["[]", "none"]}
    )
    assert "Saved" in response.text
    _post(client, none_study, assignment, {"question": "criteria", "answer": ["none"]})
    stored = {
        r.question.key: (r.answer, r.value)
        for r in Rating.objects.filter(
            assignment=assignment, question__kind__in=["span", "criteria"]
        )
    }
    assert stored == {"errors": ("none", 0.0), "criteria": ("none", 0.0)}


@pytest.mark.django_db
def test_the_page_shows_the_none_box_ticked_with_its_key(client, none_study, raters):
    assignment = _assignment(none_study, raters[0])
    question = none_study.questions.get(key="errors")
    services.rating_save(assignment=assignment, question=question, answer="none")
    client.force_login(raters[0])
    page = client.get(reverse("rater_item", args=[none_study.token, assignment.token])).text
    assert (
        '<input type="checkbox" name="answer" value="none" data-key="n" data-none checked>'
        " <kbd>n</kbd> No errors found" in page
    )
    assert 'data-key="n" data-none> <kbd>n</kbd> No criterion met' in page  # not ticked
    assert "<kbd>n</kbd> none found" in page  # the keys' hint
    assert page.count('value="none" data-key="n"') == 2  # the Likert question has none


@pytest.mark.django_db
def test_a_required_question_answered_none_can_be_submitted(none_study, raters):
    assignment = _assignment(none_study, raters[0])
    likert = none_study.questions.get(kind="likert")
    errors = none_study.questions.get(key="errors")
    criteria = none_study.questions.get(key="criteria")
    services.rating_save(assignment=assignment, question=likert, answer=3)
    services.rating_save(assignment=assignment, question=criteria, answer="none")
    # A span marked and removed again leaves an empty list: still unanswered.
    services.rating_save(assignment=assignment, question=errors, answer=ONE_SPAN)
    services.rating_save(assignment=assignment, question=errors, answer=[])
    with pytest.raises(ValidationError, match="Still to answer: The errors"):
        services.assignment_submit(assignment=assignment)
    services.rating_save(assignment=assignment, question=errors, answer="none")
    assert services.assignment_submit(assignment=assignment).submitted_at is not None


@pytest.mark.django_db
def test_none_is_exported_and_counted_as_zero(none_study, raters):
    errors = none_study.questions.get(key="errors")
    criteria = none_study.questions.get(key="criteria")
    likert = none_study.questions.get(kind="likert")
    first, second = (_assignment(none_study, rater) for rater in raters[:2])
    for assignment, spans in ((first, "none"), (second, ONE_SPAN)):
        services.rating_save(assignment=assignment, question=likert, answer=3)
        services.rating_save(assignment=assignment, question=errors, answer=spans)
        services.rating_save(assignment=assignment, question=criteria, answer="none")
        services.assignment_submit(assignment=assignment)
    # Marked spans come back as JSON, whose key order is PostgreSQL's own (jsonb): compare values.
    rows = [
        (row["rater"], row["question"], _as_value(row["answer"]), row["value"])
        for row in selectors.study_ratings_long(study=none_study)
        if row["question"] in ("errors", "criteria")
    ]
    names = dict(none_study.memberships.values_list("user_id", "pseudonym"))
    one, two = names[raters[0].pk], names[raters[1].pk]
    assert sorted(rows) == sorted(
        [
            (one, "errors", "none", 0.0),
            (one, "criteria", "none", 0.0),
            (two, "errors", ONE_SPAN, 1.0),
            (two, "criteria", "none", 0.0),
        ]
    )
    codes = sorted((row[3], row[4]) for row in human_rows(none_study, errors))
    assert codes == sorted([(one, 0.0), (two, 1.0)])
    points = [
        (rater, earned, possible)
        for _, _, rater, earned, possible in criteria_rows(none_study, criteria)
    ]
    assert sorted(points) == sorted([(one, 0, 5), (two, 0, 5)])


def _as_value(answer: str) -> object:
    return json.loads(answer) if answer.startswith("[") else answer


@pytest.mark.django_db
def test_an_emptied_criteria_list_is_not_counted(none_study, raters):
    criteria = none_study.questions.get(key="criteria")
    criteria.required = False
    criteria.save()
    assignment = _assignment(none_study, raters[0])
    services.rating_save(
        assignment=assignment, question=none_study.questions.get(kind="likert"), answer=3
    )
    services.rating_save(
        assignment=assignment, question=none_study.questions.get(key="errors"), answer="none"
    )
    services.rating_save(assignment=assignment, question=criteria, answer=["dose"])
    services.rating_save(assignment=assignment, question=criteria, answer=[])
    services.assignment_submit(assignment=assignment)
    assert Rating.objects.get(assignment=assignment, question=criteria).value is None
    assert criteria_rows(none_study, criteria) == []


def _asked(kind_spec):
    return judging.AskedQuestion(
        key="criteria", prompt="Met?", help_text="", spec=kind_spec, per_output=False
    )


def test_the_judge_may_answer_no_criterion_met():
    question = _asked(CRITERIA_SPEC)
    schema = judging.answer_schema([question], 1)["properties"]["criteria"]
    assert schema == {
        "anyOf": [
            {"type": "array", "items": {"enum": ["dose", "aspirin"]}},
            {"enum": ["none"]},
        ]
    }
    prompt = judging.render_prompt(
        case_input="Q", reference="", responses=["R"], questions=[question]
    )
    assert 'or "none" if it meets none of them' in prompt
    for reply in ('"none"', "[]"):
        parsed = judging.parse_reply(f'{{"rationale": "", "criteria": {reply}}}', [question], 1)
        assert parsed.answers == {"criteria": "none"}


def test_imported_ratings_take_none_for_span_and_criteria():
    content = (
        b"rater,case_id,question,value,source\n"
        b"r1,c1,errors,None,m\n"
        b"r1,c2,errors,[],m\n"
        b"r1,c1,criteria,none,m\n"
    )
    questions = {"errors": SPAN_SPEC, "criteria": CRITERIA_SPEC}
    rows = parse_ratings_file("r.csv", content, questions=questions, pairwise=False)
    assert [row.answer for row in rows] == ["none", "none", "none"]
    likert = {"errors": rubric.QuestionSpec(rubric.LIKERT, ({"value": 1}, {"value": 2}))}
    likert_none = b"rater,case_id,question,value,source\nr1,c1,errors,none,m\n"
    with pytest.raises(ImportRejected, match="is not a point on this question's scale"):
        parse_ratings_file("r.csv", likert_none, questions=likert, pairwise=False)


@pytest.mark.django_db
def test_the_api_long_format_csv_and_data_dictionary_carry_none(client, none_study, raters):
    from tests.test_api import auth, body_text

    assignment = _assignment(none_study, raters[0])
    errors = none_study.questions.get(key="errors")
    services.rating_save(assignment=assignment, question=errors, answer="none")
    base = f"/api/v1/studies/{none_study.token}/ratings/?question=errors"
    admin = none_study.memberships.get(role="admin").user
    [row] = client.get(base, headers=auth(admin)).json()["results"]
    assert (row["answer"], row["value"]) == ("none", 0.0)
    csv_text = body_text(client.get(base + "&format=csv", headers=auth(admin)))
    assert ",errors,none,0.0," in csv_text
    dictionary = tables.data_dictionary()
    assert '`none` (a span question\'s "No errors found"' in dictionary
    assert "the number of spans marked (0 for `none`)" in dictionary
