"""Span marking: errors marked in the output's text, with a category and a severity."""

import pytest
from django.urls import reverse

from annotation.core import rubric
from annotation.models import Question, Rating

CATEGORIES = [
    {"value": "factual", "label": "Factual error"},
    {"value": "omission", "label": "Omission"},
]
SPEC = rubric.QuestionSpec(rubric.SPAN, tuple(CATEGORIES), maximum=40.0)


def test_spans_are_checked_sorted_and_counted():
    spans = [
        {"start": 10, "end": 20, "category": "omission", "severity": "major"},
        {"start": 0, "end": 5, "category": "factual", "severity": "minor"},
    ]
    answer = rubric.parse_answer(SPEC, spans)
    assert [s["start"] for s in answer] == [0, 10]
    assert rubric.numeric_code(SPEC, answer) == 2.0
    assert rubric.parse_answer(SPEC, "") == []


@pytest.mark.parametrize(
    ("span", "message"),
    [
        ({"start": 5, "end": 41, "category": "factual", "severity": "minor"}, "within the text"),
        ({"start": 5, "end": 5, "category": "factual", "severity": "minor"}, "within the text"),
        ({"start": 0, "end": 3, "category": "style", "severity": "minor"}, "error category"),
        ({"start": 0, "end": 3, "category": "factual", "severity": "fatal"}, "severity"),
        ({"start": 0, "end": 3}, "needs start, end"),
    ],
)
def test_spans_that_do_not_fit_are_refused(span, message):
    with pytest.raises(rubric.AnswerError, match=message):
        rubric.parse_answer(SPEC, [span])


@pytest.fixture
def span_study(open_study):
    Question.objects.create(
        study=open_study,
        key="errors",
        prompt="Mark any errors",
        kind="span",
        level="ratio",
        scale=CATEGORIES,
        required=False,
        order=4,
    )
    return open_study


@pytest.mark.django_db
def test_a_span_outside_the_output_is_refused_by_the_server(client, span_study, raters):
    assignment = span_study.assignments.filter(rater=raters[0]).first()
    length = len(assignment.item.output.text)
    client.force_login(raters[0])
    url = reverse("rater_item", args=[span_study.token, assignment.token])
    import json

    bad = [{"start": 0, "end": length + 1, "category": "factual", "severity": "minor"}]
    response = client.post(
        url, {"question": "errors", "answer": json.dumps(bad)}, headers={"HX-Request": "true"}
    )
    assert f"A span must lie within the text (0 to {length} characters)." in response.text
    assert not Rating.objects.exists()
