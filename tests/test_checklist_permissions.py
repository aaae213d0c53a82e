"""Independent appraisal: nobody reads another assessor's unsubmitted answers, by page or API."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from checklists import services
from tests.support.checklists import answer, answer_all
from tests.test_api import auth

pytestmark = pytest.mark.django_db

SECRET_NOTE = "assessor-one-private-note"


@pytest.fixture
def first_answers(appraisal):
    """Assessor 1 has answered everything (with a recognisable note) but not submitted."""
    first = appraisal.assessments.get(assessor__username="assessor1")
    answer_all(first)
    answer(first, "1.1", "no", notes=SECRET_NOTE)
    return first


def pages(report, first) -> list[str]:
    token = report.token
    return [
        reverse("report_detail", args=[token]),
        reverse("report_consensus", args=[token]),
        *(reverse("report_export", args=[token, fmt]) for fmt in ("md", "csv", "json", "html")),
        reverse("report_export", args=[token, "md"]) + f"?of={first.token}",
        reverse("report_export", args=[token, "md"]) + "?of=consensus",
    ]


def api_calls(report, first) -> list[str]:
    token = report.token
    return [
        reverse("api_report", args=[token]),
        reverse("api_assessment_responses", args=[token, first.token]),
        reverse("api_report_export", args=[token, "json"]) + f"?of={first.token}",
        reverse("api_reports"),
    ]


def test_another_assessor_cannot_read_unsubmitted_answers(
    client, appraisal, first_answers, assessors
):
    client.force_login(assessors[1])
    for url in pages(appraisal, first_answers):
        response = client.get(url)
        assert SECRET_NOTE not in response.content.decode(), url
        assert response.status_code in (200, 403, 404), url
    assert client.get(reverse("report_consensus", args=[appraisal.token])).status_code == 403
    of_first = reverse("report_export", args=[appraisal.token, "md"]) + f"?of={first_answers.token}"
    assert client.get(of_first).status_code == 404
    client.logout()
    headers = auth(assessors[1])
    for url in api_calls(appraisal, first_answers):
        response = client.get(url, headers=headers)
        assert SECRET_NOTE not in response.content.decode(), url
    url = reverse("api_assessment_responses", args=[appraisal.token, first_answers.token])
    assert client.get(url, headers=headers).status_code == 404


def test_the_lead_cannot_read_an_unsubmitted_appraisal_either(client, appraisal, first_answers):
    lead = appraisal.lead
    client.force_login(lead)
    for url in pages(appraisal, first_answers):
        assert SECRET_NOTE not in client.get(url).content.decode(), url
    url = reverse("api_assessment_responses", args=[appraisal.token, first_answers.token])
    assert client.get(url, headers=auth(lead)).status_code == 404


def test_an_outsider_gets_404_for_everything(client, appraisal, first_answers, outsider):
    client.force_login(outsider)
    for url in pages(appraisal, first_answers):
        assert client.get(url).status_code == 404, url
    headers = auth(outsider)
    for url in api_calls(appraisal, first_answers)[:3]:
        assert client.get(url, headers=headers).status_code == 404, url
    assert client.get(reverse("api_reports"), headers=headers).json()["results"] == []


def test_a_still_appraising_assessor_cannot_read_a_submitted_one(
    client, appraisal, first_answers, assessors
):
    services.assessment_submit(assessment=first_answers)
    client.force_login(assessors[1])
    assert client.get(reverse("report_consensus", args=[appraisal.token])).status_code == 403
    url = reverse("api_assessment_responses", args=[appraisal.token, first_answers.token])
    assert client.get(url, headers=auth(assessors[1])).status_code == 404


def test_once_both_have_submitted_each_reads_the_other(client, appraisal, first_answers, assessors):
    services.assessment_submit(assessment=first_answers)
    second = appraisal.assessments.get(assessor=assessors[1])
    answer_all(second)
    services.assessment_submit(assessment=second)
    client.force_login(assessors[1])
    page = client.get(reverse("report_consensus", args=[appraisal.token]))
    assert page.status_code == 200
    assert "assessor1" in page.content.decode()
    url = reverse("api_assessment_responses", args=[appraisal.token, first_answers.token])
    body = client.get(url, headers=auth(assessors[1])).json()
    notes = {row["item"]: row["notes"] for row in body["responses"]}
    assert notes["1.1"] == SECRET_NOTE


def test_only_the_lead_adds_assessors_and_records_the_consensus(client, appraisal, assessors):
    client.force_login(assessors[0])
    url = reverse("report_add_assessor", args=[appraisal.token])
    assert client.post(url, {"username": "assessor2"}).status_code == 403
    url = reverse("consensus_save", args=[appraisal.token, "1.1"])
    assert client.post(url, {"answer": "yes"}).status_code == 403
    url = reverse("consensus_accept_unanimous", args=[appraisal.token])
    assert client.post(url).status_code == 403
    assert not appraisal.assessments.filter(kind="consensus").exists()


def test_an_assessor_who_later_rates_in_the_linked_study_loses_the_report(
    client, draft_study, study_admin, mi_claim
):
    from annotation import services as study_services
    from tests.factories import UserFactory

    report = services.report_create(
        lead=study_admin, definition=mi_claim, title="Paper", study=draft_study
    )
    colleague = UserFactory(username="colleague")
    services.report_add_assessor(report=report, user=colleague)
    client.force_login(colleague)
    assert client.get(reverse("report_detail", args=[report.token])).status_code == 200
    study_services.study_add_raters(study=draft_study, users=[colleague])
    assert client.get(reverse("report_detail", args=[report.token])).status_code == 404
    assert (
        client.get(reverse("api_report", args=[report.token]), headers=auth(colleague)).status_code
        == 404
    )


@pytest.fixture
def lead_assessing(appraisal, assessors):
    """The lead joins as an assessor before anyone has submitted; assessor 1 then submits."""
    services.report_add_assessor(report=appraisal, user=appraisal.lead)
    first = appraisal.assessments.get(assessor=assessors[0])
    answer_all(first)
    services.assessment_submit(assessment=first)
    return appraisal


def test_a_lead_still_appraising_cannot_touch_the_consensus(client, lead_assessing):
    client.force_login(lead_assessing.lead)
    url = reverse("consensus_save", args=[lead_assessing.token, "1.1"])
    assert client.post(url, {"answer": "yes"}).status_code == 403
    url = reverse("consensus_accept_unanimous", args=[lead_assessing.token])
    assert client.post(url).status_code == 403
    assert client.get(reverse("report_consensus", args=[lead_assessing.token])).status_code == 403
    assert not lead_assessing.assessments.filter(kind="consensus").exists()


def test_the_lead_cannot_join_as_assessor_after_reading_submitted_answers(appraisal, assessors):
    first = appraisal.assessments.get(assessor=assessors[0])
    answer_all(first)
    services.assessment_submit(assessment=first)
    with pytest.raises(ValidationError, match="only before anyone has submitted"):
        services.report_add_assessor(report=appraisal, user=appraisal.lead)
    assert not appraisal.assessments.filter(assessor=appraisal.lead).exists()


def test_an_assessor_still_appraising_exports_their_own_answers_not_the_consensus(
    client, appraisal, assessors
):
    first, second = (appraisal.assessments.get(assessor=user) for user in assessors)
    answer_all(first)
    services.assessment_submit(assessment=first)
    consensus = services.consensus_assessment(report=appraisal)
    services.response_save(
        assessment=consensus,
        item=appraisal.definition.items.get(code="1.1"),
        user=appraisal.lead,
        answer="na",
    )
    answer(second, "1.2", "no", notes="my own draft")
    client.force_login(assessors[1])
    markdown = client.get(reverse("report_export", args=[appraisal.token, "md"])).content.decode()
    assert "my own draft" in markdown
    assert "- Answered by: assessor2" in markdown
    url = reverse("report_export", args=[appraisal.token, "md"]) + "?of=consensus"
    assert client.get(url).status_code == 404
