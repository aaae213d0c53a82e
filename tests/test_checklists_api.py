"""REST endpoints for checklist definitions, reports, responses and exports."""

import pytest
from django.urls import reverse

from tests.support.checklists import answer_all
from tests.test_api import auth

pytestmark = pytest.mark.django_db


def test_definitions_are_listed_with_their_revisions(client, mi_claim, outsider):
    body = client.get(reverse("api_checklists"), headers=auth(outsider)).json()["results"]
    assert {(d["slug"], d["revision"], d["current"]) for d in body} == {
        ("chart", 1, True),
        ("elevate-genai", 1, True),
        ("mi-claim-gen", 1, True),
        ("tripod-llm", 1, True),
    }
    mi = next(d for d in body if d["slug"] == "mi-claim-gen")
    assert (mi["n_items"], mi["version"]) == (23, "2024-06")


def test_a_definition_comes_whole(client, mi_claim, outsider):
    url = reverse("api_checklist", args=["mi-claim-gen"])
    body = client.get(url, headers=auth(outsider)).json()
    assert [s["code"] for s in body["sections"]] == ["1", "2", "3-4", "5", "6"]
    item = body["sections"][0]["items"][0]
    assert item["choices"] == [
        {"value": "yes", "label": "Yes"},
        {"value": "no", "label": "No"},
        {"value": "na", "label": "Not applicable"},
    ]
    assert client.get(url + "?revision=2", headers=auth(outsider)).status_code == 404
    assert client.get(url + "?revision=x", headers=auth(outsider)).status_code == 400
    missing = reverse("api_checklist", args=["no-such-checklist"])
    assert client.get(missing, headers=auth(outsider)).status_code == 404


def test_anonymous_calls_are_refused(client, mi_claim):
    assert client.get(reverse("api_checklists")).status_code == 401
    assert client.get(reverse("api_reports")).status_code == 401


def test_fill_submit_and_export_a_report_over_the_api(client, mi_claim, open_study, study_admin):
    headers = auth(study_admin)
    created = client.post(
        reverse("api_reports"),
        {"checklist": "mi-claim-gen", "title": "API paper", "study": open_study.token},
        content_type="application/json",
        headers=headers,
    )
    assert created.status_code == 201, created.content
    report = created.json()
    assert report["study"] == open_study.token
    assert report["checklist"] == {
        "slug": "mi-claim-gen",
        "revision": 1,
        "title": "MI-CLAIM-GEN",
        "version": "2024-06",
    }
    token = report["token"]
    save = reverse("api_response_save", args=[token, "1.5"])
    ok = client.put(
        save,
        {"answer": ["unstructured"], "location": "Methods"},
        content_type="application/json",
        headers=headers,
    )
    assert ok.status_code == 200
    assert (ok.json()["answer"], ok.json()["location"]) == (["unstructured"], "Methods")
    bad = client.put(
        save, {"answer": "unstructured"}, content_type="application/json", headers=headers
    )
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("Item 1.5 takes a list of any of:")
    cleared = client.patch(save, {"answer": None}, content_type="application/json", headers=headers)
    assert (cleared.json()["answer"], cleared.json()["location"]) == (None, "Methods")

    submit = reverse("api_report_submit", args=[token])
    refused = client.post(submit, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("23 items still need an answer")
    from checklists.models import Report

    answer_all(Report.objects.get(token=token).assessments.get())
    submitted = client.post(submit, headers=headers)
    assert submitted.status_code == 200
    assert submitted.json()["submitted_at"]

    export = client.get(reverse("api_report_export", args=[token, "md"]), headers=headers)
    assert export["Content-Type"] == "text/markdown; charset=utf-8"
    assert export.content.decode().startswith("# MI-CLAIM-GEN checklist: API paper")
    own = report["your_assessment"]
    rows = client.get(
        reverse("api_assessment_responses", args=[token, own]), headers=headers
    ).json()["responses"]
    assert len(rows) == 23
    assert rows[0]["item"] == "1.1"


def test_a_report_can_link_only_a_study_you_administer(client, mi_claim, open_study, outsider):
    response = client.post(
        reverse("api_reports"),
        {"checklist": "mi-claim-gen", "title": "X", "study": open_study.token},
        content_type="application/json",
        headers=auth(outsider),
    )
    assert response.status_code == 400
    assert response.json() == {"study": ["No study of yours has this token."]}


def test_someone_who_does_not_answer_cannot_save(client, appraisal):
    url = reverse("api_response_save", args=[appraisal.token, "1.1"])
    response = client.put(
        url, {"answer": "yes"}, content_type="application/json", headers=auth(appraisal.lead)
    )
    assert response.status_code == 404
