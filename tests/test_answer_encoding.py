"""Answers whose text cannot be written out as UTF-8 (a lone UTF-16 surrogate, which JSON can
spell) are refused with a 400 before anything is stored, for every kind of text answer."""

import pytest
from django.urls import reverse

from annotation import services
from annotation.core import rubric
from annotation.models import Question, Rating, Study
from tests.test_corrections import CORRECTION

pytestmark = pytest.mark.django_db

LONE_SURROGATE = '"fix\\ud800ed"'  # JSON text: the half of a pair, alone


@pytest.fixture
def correction_study(draft_study) -> Study:
    services.question_add(study=draft_study, draft=CORRECTION)
    services.study_open(study=draft_study)
    draft_study.refresh_from_db()
    return draft_study


def _answer(client, study, assignment, key):
    url = f"/api/v1/rate/{study.token}/items/{assignment.token}/answers/"
    body = f'{{"question": "{key}", "answer": {LONE_SURROGATE}}}'
    return client.post(url, body, content_type="application/json")


def _first_item(study, rater):
    return study.assignments.filter(rater=rater, kind="study").order_by("position").first()


def test_a_correction_with_a_lone_surrogate_is_refused_and_the_pages_still_open(
    client, correction_study, raters, study_admin
):
    assignment = _first_item(correction_study, raters[0])
    client.force_login(raters[0])
    refused = _answer(client, correction_study, assignment, CORRECTION.key)
    assert refused.status_code == 400
    assert "surrogate" in refused.json()["detail"]
    assert not Rating.objects.filter(assignment=assignment).exclude(answer="").exists()
    page = client.get(reverse("rater_item", args=[correction_study.token, assignment.token]))
    assert page.status_code == 200
    client.force_login(study_admin)
    corrections_page = client.get(reverse("study_corrections", args=[correction_study.token]))
    assert corrections_page.status_code == 200


def test_a_free_text_answer_with_a_lone_surrogate_is_refused(client, open_study, raters):
    # The rubric is fixed once a study opens: the free-text question is added directly.
    Question(study=open_study, key="note", prompt="Anything?", kind="text", level="").save()
    assignment = _first_item(open_study, raters[0])
    client.force_login(raters[0])
    refused = _answer(client, open_study, assignment, "note")
    assert refused.status_code == 400
    assert not Rating.objects.filter(assignment=assignment).exclude(answer="").exists()


def test_surrogates_are_refused_wherever_they_sit_in_an_answer():
    assert rubric.encodes_as_utf8({"text": ["ok", {"é": "✓ 😀"}], "n": 3})
    assert not rubric.encodes_as_utf8({"text": ["ok", {"k": "a\udfffb"}]})
    assert not rubric.encodes_as_utf8({"\ud800": "key"})
    spec = rubric.QuestionSpec(kind=rubric.TEXT)
    with pytest.raises(rubric.AnswerError, match="surrogate"):
        rubric.parse_answer(spec, "fix\ud800ed")
