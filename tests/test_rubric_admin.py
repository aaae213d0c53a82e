"""Study admins build the rubric: questions of every kind, built-in templates, draft only."""

import pytest
from django.urls import reverse

from annotation import services
from annotation.models import Question

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, study_admin):
    client.force_login(study_admin)
    return client


def add(client, study, **fields):
    data = {"required": "on", **fields}
    return client.post(reverse("study_question_add", args=[study.token]), data)


def test_the_builtin_templates_load_and_validate():
    templates = services.rubric_templates()
    assert set(templates) >= {"medpalm", "medflamingo", "harm"}
    medpalm = templates["medpalm"]
    assert len(medpalm.questions) == 12
    extent = next(q for q in medpalm.questions if q.key == "harm_extent")
    assert (extent.kind, extent.level) == ("single_choice", "ordinal")
    assert [p["value"] for p in extent.scale] == ["none", "moderate_or_mild", "death_or_severe"]
    flamingo = templates["medflamingo"].questions[0]
    assert [p["value"] for p in flamingo.scale] == list(range(11))
    assert flamingo.level == "interval"


def test_a_template_adds_its_questions_to_a_draft(admin_client, draft_study):
    url = reverse("study_question_template", args=[draft_study.token])
    admin_client.post(url, {"template": "medpalm"})
    keys = list(draft_study.questions.values_list("key", flat=True))
    assert keys[0] == "overall"
    assert len(keys) == 13
    again = admin_client.post(url, {"template": "harm"}, follow=True)
    assert "already has a question &#x27;harm_extent&#x27;" in again.text
    assert draft_study.questions.count() == 13  # all or nothing


def test_questions_of_each_kind_are_added_from_the_form(admin_client, draft_study):
    add(
        admin_client,
        draft_study,
        key="consensus",
        prompt="Agrees with consensus?",
        kind="single_choice",
        level="nominal",
        options="Aligned\nOpposed\nno_consensus = No consensus",
        allow_na="on",
    )
    add(
        admin_client,
        draft_study,
        key="usefulness",
        prompt="Usefulness 0-10",
        kind="number",
        level="interval",
        minimum="0",
        maximum="10",
    )
    add(admin_client, draft_study, key="comment", prompt="Comments", kind="text", level="")
    consensus = Question.objects.get(study=draft_study, key="consensus")
    assert consensus.scale == [
        {"value": "aligned", "label": "Aligned"},
        {"value": "opposed", "label": "Opposed"},
        {"value": "no_consensus", "label": "No consensus"},
    ]
    assert consensus.allow_na
    number = Question.objects.get(study=draft_study, key="usefulness")
    assert (number.minimum, number.maximum, number.level) == (0, 10, "interval")
    assert Question.objects.get(study=draft_study, key="comment").level == ""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "text", "level": "ordinal"}, "analysed as: none"),
        ({"kind": "likert", "level": "ordinal", "options": "1 = Low\nhigh = High"}, "whole number"),
        ({"kind": "single_choice", "level": "nominal", "options": "Only one"}, "two choices"),
        ({"kind": "number", "level": "interval", "minimum": "5", "maximum": "1"}, "below"),
    ],
)
def test_a_question_that_cannot_work_is_refused_with_a_reason(
    admin_client, draft_study, fields, message
):
    response = add(admin_client, draft_study, key="bad", prompt="Bad", **fields)
    assert response.status_code == 400
    assert message in response.text
    assert not draft_study.questions.filter(key="bad").exists()


def test_a_refused_question_is_said_at_the_top_and_its_form_is_open(admin_client, draft_study):
    response = add(admin_client, draft_study, key="errs", prompt="Errors?", kind="span", level="")
    assert response.status_code == 400
    page = response.text
    top = page.index('<ul class="messages">')
    assert (
        page.index(
            "The question was not added: A span question needs at least two error categories."
        )
        > top
    )
    assert page.index("The question was not added") < page.index('id="add-question"')
    assert '<details id="add-question" open>' in page
    # Coming back to the dashboard afterwards, the form is folded again and nothing is repeated.
    again = admin_client.get(reverse("study_dashboard", args=[draft_study.token])).text
    assert '<details id="add-question">' in again
    assert "The question was not added" not in again


def test_the_rubric_is_fixed_once_the_study_is_open(admin_client, open_study):
    response = add(admin_client, open_study, key="late", prompt="Late", kind="yes_no", level="")
    assert response.status_code == 302
    assert not open_study.questions.filter(key="late").exists()
    url = reverse("study_question_remove", args=[open_study.token, "overall"])
    admin_client.post(url)
    assert open_study.questions.filter(key="overall").exists()


def test_raters_and_outsiders_cannot_change_the_rubric(client, raters, outsider, draft_study):
    for user in (raters[0], outsider):
        client.force_login(user)
        response = add(client, draft_study, key="x", prompt="X", kind="yes_no", level="nominal")
        assert response.status_code == 404
    assert draft_study.questions.count() == 1
