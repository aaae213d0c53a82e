"""What a reference answer may leave out: ticking no box answers a multiple-choice question,
an optional question may be left blank (it then has no reference), a required one may not; on
the page and through the API."""

import pytest

from annotation import services
from annotation.core import rubric
from annotation.selectors import adjudication as selectors
from tests import adjudication_support
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ERRORS = rubric.QuestionDraft(
    key="errors",
    prompt="Which errors does the summary make?",
    kind=rubric.MULTIPLE_CHOICE,
    level="",
    required=False,
    scale=(
        {"value": "omission", "label": "Omission"},
        {"value": "fabrication", "label": "Fabrication"},
    ),
)
CONFIDENT = rubric.QuestionDraft(
    key="confident", prompt="Are you confident?", kind=rubric.YES_NO, level="", required=False
)


@pytest.fixture
def study(study_admin, raters, monkeypatch):
    drafted = adjudication_support.study_drafted

    def with_optional_questions(admin, raters):
        study = drafted(admin, raters)
        services.question_add(study=study, draft=ERRORS)
        services.question_add(study=study, draft=CONFIDENT)
        return study

    monkeypatch.setattr(adjudication_support, "study_drafted", with_optional_questions)
    study = adjudication_support.rated_study(study_admin, raters)
    services.adjudication_select(study=study, by=study_admin, mode="all")
    return study


@pytest.fixture
def senior(client, study):
    user = UserFactory(username="senior")
    services.adjudicator_add(study=study, user=user)
    client.force_login(user)
    return user


def test_no_box_ticked_and_an_optional_blank_are_recorded_through_the_api(client, study, senior):
    assert {"errors", "confident"} <= {q.key for q in selectors.reference_questions(study=study)}
    adjudication = study.adjudications.first()
    url = f"/api/v1/adjudicate/{study.token}/items/{adjudication.token}/reference/"
    answers = {"overall": 3, "harm": "none", "errors": [], "confident": None}
    response = client.post(
        url, {"answers": answers, "reason": "No errors."}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    adjudication.refresh_from_db()
    assert adjudication.answers == {"overall": 3, "harm": "none", "errors": []}
    assert adjudication.values == {"overall": 3.0, "harm": 0.0, "errors": None}
    rows = {r["question"]: r for r in selectors.adjudication_rows(study=study)}
    assert rows["errors"]["reference_answer"] == []
    assert "confident" not in rows


def test_no_box_ticked_and_an_optional_blank_are_recorded_on_the_page(client, study, senior):
    adjudication = study.adjudications.first()
    url = f"/adjudicate/{study.token}/{adjudication.token}/"
    response = client.post(url, {"overall": "3", "harm": "none", "reason": "No errors."})
    assert response.status_code == 302
    adjudication.refresh_from_db()
    assert adjudication.answers == {"overall": 3, "harm": "none", "errors": []}


def test_a_required_question_left_blank_is_still_refused(client, study, senior):
    adjudication = study.adjudications.first()
    url = f"/adjudicate/{study.token}/{adjudication.token}/"
    response = client.post(url, {"overall": "3", "reason": "No errors."})
    assert response.status_code == 400
    assert "harm: Give the reference answer" in response.content.decode()
    api = f"/api/v1/adjudicate/{study.token}/items/{adjudication.token}/reference/"
    body = {"answers": {"overall": 3, "harm": "", "errors": []}, "reason": "x"}
    refused = client.post(api, body, content_type="application/json")
    assert refused.status_code == 400
    assert "harm" in refused.json()
    adjudication.refresh_from_db()
    assert not adjudication.decided
