"""A modular checklist's scope: chosen by the lead, it decides which items a report shows, counts,
submits, compares and exports; answers outside it are kept, and every change is recorded."""

import csv
import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from checklists import selectors, services
from checklists.models import ChecklistDefinition, Report, Response
from tests.support.checklists import answer, answer_all
from tests.test_api import auth

pytestmark = pytest.mark.django_db

EVALUATION_QA = {"design": ["E"], "task": ["QA"]}
# Left out for an evaluation (E) of question answering (QA): 6b and 11 (M, D), 14c, 14d and 15
# (H), 6e (C, OF) and 10 (SS). 49 - 7 = 42.
LEFT_OUT = ["6b", "6e", "10", "11", "14c", "14d", "15"]


@pytest.fixture
def tripod(mi_claim) -> ChecklistDefinition:
    return ChecklistDefinition.objects.get(slug="tripod-llm")


@pytest.fixture
def report(tripod, study_admin):
    return services.report_create(lead=study_admin, definition=tripod, title="LLM QA paper")


def own(report):
    return selectors.own_assessment(report=report, user=report.lead)


def codes(items) -> list[str]:
    return [item.code for item in items]


def test_until_a_scope_is_chosen_every_item_shows(report):
    assert report.needs_scope
    sheet = selectors.assessment_sheet(assessment=own(report))
    assert (sheet.answered, sheet.total) == (0, 49)


def test_the_scope_keeps_only_the_items_that_apply_and_counts_them(report):
    services.report_set_scope(report=report, user=report.lead, scope=EVALUATION_QA)
    report.refresh_from_db()
    applicable = codes(selectors.applicable_items(report=report))
    assert len(applicable) == 42
    assert [code for code in LEFT_OUT if code in applicable] == []
    assert "7a" in applicable  # tagged QA among other tasks
    sheet = selectors.assessment_sheet(assessment=own(report))
    assert sheet.total == 42
    assert [s.code for s in sheet.sections if s.code in ("10", "11", "15")] == []
    section_6 = next(s for s in sheet.sections if s.code == "6")
    assert [row.item.code for row in section_6.rows] == ["6a", "6c", "6d"]


def test_the_scope_is_stored_in_the_modules_order_and_recorded(report):
    services.report_set_scope(
        report=report, user=report.lead, scope={"task": ["QA", "C"], "design": ["H", "E"]}
    )
    services.report_set_scope(report=report, user=report.lead, scope=EVALUATION_QA)
    services.report_set_scope(report=report, user=report.lead, scope=EVALUATION_QA)  # no change
    report.refresh_from_db()
    assert report.scope == EVALUATION_QA
    history = list(report.scope_changes.values_list("scope", "changed_by__username"))
    assert history == [
        ({"design": ["E", "H"], "task": ["C", "QA"]}, "studyadmin"),
        (EVALUATION_QA, "studyadmin"),
    ]


@pytest.mark.parametrize(
    ("scope", "field", "message"),
    [
        ({"design": ["E"]}, "task", "LLM task: choose at least one."),
        ({"design": ["Z"], "task": ["QA"]}, "design", "Research design: no option 'Z'"),
        ({"design": ["E"], "task": ["QA"], "colour": ["red"]}, "colour", "No such module"),
    ],
)
def test_a_bad_scope_is_refused_naming_the_module(report, scope, field, message):
    with pytest.raises(ValidationError) as caught:
        services.report_set_scope(report=report, user=report.lead, scope=scope)
    assert message in caught.value.message_dict[field][0]
    report.refresh_from_db()
    assert report.scope == {}
    assert not report.scope_changes.exists()


def test_only_the_lead_scopes_and_only_a_modular_checklist(report, mi_claim, assessors):
    with pytest.raises(ValidationError, match="Only the report's lead"):
        services.report_set_scope(report=report, user=assessors[0], scope=EVALUATION_QA)
    plain = services.report_create(lead=report.lead, definition=mi_claim, title="Plain")
    with pytest.raises(ValidationError, match="MI-CLAIM-GEN has no modules"):
        services.report_set_scope(report=plain, user=plain.lead, scope=EVALUATION_QA)


def test_answers_that_stop_applying_are_kept_set_aside_and_come_back(report):
    answer(own(report), "6b", "yes", location="Methods 2")
    answer(own(report), "1", "yes")
    services.report_set_scope(report=report, user=report.lead, scope=EVALUATION_QA)
    report.refresh_from_db()
    assessment = own(report)
    assert Response.objects.get(assessment=assessment, item__code="6b").answer == "yes"
    assert selectors.set_aside_codes(assessment=assessment) == ["6b"]
    sheet = selectors.assessment_sheet(assessment=assessment)
    assert (sheet.answered, sheet.total) == (1, 42)
    with pytest.raises(ValidationError, match="Item 6b does not apply"):
        answer(assessment, "6b", "no")
    services.report_set_scope(
        report=report, user=report.lead, scope={"design": ["D", "E"], "task": ["QA"]}
    )
    report.refresh_from_db()
    assert selectors.set_aside_codes(assessment=own(report)) == []
    assert selectors.assessment_sheet(assessment=own(report)).answered == 2


def test_submitting_needs_only_the_applicable_items_and_then_fixes_the_scope(report):
    services.report_set_scope(report=report, user=report.lead, scope=EVALUATION_QA)
    report.refresh_from_db()
    answer_all(own(report))
    submitted = services.assessment_submit(assessment=own(report))
    assert submitted.is_submitted
    assert submitted.responses.count() == 42
    with pytest.raises(ValidationError, match="can no longer change"):
        services.report_set_scope(
            report=report, user=report.lead, scope={"design": ["H"], "task": ["QA"]}
        )


def test_the_consensus_compares_only_the_applicable_items(report, assessors, client):
    services.report_set_scope(report=report, user=report.lead, scope=EVALUATION_QA)
    report.refresh_from_db()
    for user in assessors:
        assessment = services.report_add_assessor(report=report, user=user)
        answer_all(assessment)
        services.assessment_submit(assessment=assessment)
    view = selectors.consensus_view(report=report)
    assert len(view.rows) == 42
    assert view.n_unanimous_unrecorded == 42
    client.force_login(assessors[0])
    page = client.get(reverse("report_consensus", args=[report.token])).content.decode()
    assert "Scope: Research design: E: LLM evaluation; LLM task: QA" in page
    assert "Only the 42 items that apply are compared." in page


def test_exports_list_the_applicable_items_and_say_the_scope(report, client):
    services.report_set_scope(report=report, user=report.lead, scope=EVALUATION_QA)
    report.refresh_from_db()
    answer(own(report), "1", "yes")
    client.force_login(report.lead)
    body = json.loads(client.get(reverse("report_export", args=[report.token, "json"])).content)
    assert (body["report"]["items_answered"], body["report"]["items_total"]) == (1, 42)
    assert body["report"]["scope"] == (
        "Research design: E: LLM evaluation; LLM task: QA: Long-form question answering"
    )
    assert "6b" not in [row["code"] for row in body["items"]]
    markdown = client.get(reverse("report_export", args=[report.token, "md"])).content.decode()
    assert "- Items answered: 1 of 42" in markdown
    assert "- Scope: Research design: E: LLM evaluation; LLM task: QA" in markdown
    printed = client.get(reverse("report_export", args=[report.token, "html"])).content.decode()
    assert "1 of 42" in printed
    csv_text = client.get(reverse("report_export", args=[report.token, "csv"])).content.decode()
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert len(rows) == 42
    assert {row["scope"] for row in rows} == {body["report"]["scope"]}


def test_a_modular_report_without_a_scope_says_so_in_its_exports(report, client):
    client.force_login(report.lead)
    body = json.loads(client.get(reverse("report_export", args=[report.token, "json"])).content)
    assert body["report"]["scope"] == "not chosen: every item is shown"
    assert body["report"]["items_total"] == 49
    csv_text = client.get(reverse("report_export", args=[report.token, "csv"])).content.decode()
    scopes = {row["scope"] for row in csv.DictReader(io.StringIO(csv_text))}
    assert scopes == {"not chosen: every item is shown"}


def test_the_scope_form_sets_the_scope_and_the_page_counts_it(report, client):
    client.force_login(report.lead)
    page = client.get(reverse("report_detail", args=[report.token])).content.decode()
    assert "0 of 49 answered" in page
    assert 'data-testid="scope-needed"' in page
    response = client.post(
        reverse("report_scope", args=[report.token]), {"design": ["E"], "task": ["QA"]}
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.scope == EVALUATION_QA
    page = client.get(reverse("report_detail", args=[report.token])).content.decode()
    assert "0 of 42 answered" in page
    assert "Scope saved: 42 items apply." in page
    assert "<strong>Research design:</strong> E: LLM evaluation" in page


def test_the_scope_form_names_a_missing_module_and_changes_nothing(report, client):
    client.force_login(report.lead)
    client.post(reverse("report_scope", args=[report.token]), {"design": ["E"]})
    page = client.get(reverse("report_detail", args=[report.token])).content.decode()
    assert "LLM task: choose at least one." in page
    report.refresh_from_db()
    assert report.scope == {}


def test_an_assessor_cannot_post_a_scope(report, client, assessors):
    services.report_add_assessor(report=report, user=assessors[0])
    client.force_login(assessors[0])
    url = reverse("report_scope", args=[report.token])
    assert client.post(url, {"design": ["E"], "task": ["QA"]}).status_code == 403
    page = client.get(reverse("report_detail", args=[report.token])).content.decode()
    assert "The report's lead chooses the scope." in page
    assert 'action="/reports/' + report.token + '/scope/"' not in page


def test_a_checklist_without_modules_shows_no_scope(mi_claim, study_admin, client):
    plain = services.report_create(lead=study_admin, definition=mi_claim, title="Plain")
    client.force_login(study_admin)
    page = client.get(reverse("report_detail", args=[plain.token])).content.decode()
    assert "Scope of this report" not in page
    assert "0 of 23 answered" in page


def test_the_api_sets_the_scope_and_reports_the_applicable_count(report, client, assessors):
    url = reverse("api_report_scope", args=[report.token])
    headers = auth(report.lead)
    before = client.get(reverse("api_report", args=[report.token]), headers=headers).json()
    assert (before["scope"], before["items_applicable"]) == ({}, 49)
    bad = client.put(
        url, {"scope": {"design": ["E"]}}, content_type="application/json", headers=headers
    )
    assert bad.status_code == 400
    assert bad.json() == {"task": ["LLM task: choose at least one."]}
    ok = client.put(url, {"scope": EVALUATION_QA}, content_type="application/json", headers=headers)
    assert ok.status_code == 200
    assert (ok.json()["scope"], ok.json()["items_applicable"]) == (EVALUATION_QA, 42)
    rows = client.get(
        reverse("api_assessment_responses", args=[report.token, own(report).token]),
        headers=headers,
    ).json()["responses"]
    assert len(rows) == 42
    saved = client.put(
        reverse("api_response_save", args=[report.token, "6b"]),
        {"answer": "yes"},
        content_type="application/json",
        headers=headers,
    )
    assert saved.status_code == 400
    assert saved.json()["detail"] == "Item 6b does not apply to this report's scope."
    services.report_add_assessor(report=report, user=assessors[0])
    refused = client.put(
        url, {"scope": EVALUATION_QA}, content_type="application/json", headers=auth(assessors[0])
    )
    assert refused.status_code == 403


def test_the_api_sets_the_scope_when_it_creates_the_report(tripod, mi_claim, client, study_admin):
    url, headers = reverse("api_reports"), auth(study_admin)
    body = {"checklist": "tripod-llm", "title": "Scoped at once", "scope": EVALUATION_QA}
    made = client.post(url, body, content_type="application/json", headers=headers)
    assert made.status_code == 201
    assert (made.json()["scope"], made.json()["items_applicable"]) == (EVALUATION_QA, 42)
    report = Report.objects.get(token=made.json()["token"])
    [change] = report.scope_changes.all()
    assert (change.scope, change.changed_by) == (EVALUATION_QA, study_admin)
    # Left out or {}: chosen later, as before.
    for later in ({}, None):
        body = {"checklist": "tripod-llm", "title": f"Later {later}", "scope": later}
        made = client.post(url, body, content_type="application/json", headers=headers)
        assert (made.status_code, made.json()["scope"], made.json()["items_applicable"]) == (
            201,
            {},
            49,
        )


@pytest.mark.parametrize(
    ("checklist", "scope", "message"),
    [
        ("tripod-llm", {"design": ["E"]}, "LLM task: choose at least one."),
        ("tripod-llm", {"design": ["E"], "task": ["QA"], "x": ["1"]}, "No such module"),
        ("tripod-llm", {"design": ["Z"], "task": ["QA"]}, "no option 'Z'"),
        ("mi-claim-gen", EVALUATION_QA, "MI-CLAIM-GEN has no modules"),
    ],
)
def test_a_bad_scope_at_creation_names_the_field_and_makes_no_report(
    tripod, client, study_admin, checklist, scope, message
):
    body = {"checklist": checklist, "title": "Refused", "scope": scope}
    refused = client.post(
        reverse("api_reports"), body, content_type="application/json", headers=auth(study_admin)
    )
    assert refused.status_code == 400
    [said] = refused.json()["scope"]
    assert message in said
    assert not Report.objects.filter(title="Refused").exists()


def test_the_api_gives_a_definitions_modules_and_tags(report, client):
    body = client.get(
        reverse("api_checklist", args=["tripod-llm"]), headers=auth(report.lead)
    ).json()
    assert [m["key"] for m in body["modules"]] == ["design", "task"]
    items = {i["code"]: i for s in body["sections"] for i in s["items"]}
    assert items["6e"]["applies_to"] == {"task": ["C", "OF"]}
    assert items["1"]["applies_to"] == {}


def test_saving_an_item_the_scope_left_out_redraws_the_page_with_the_refusal(report, client):
    services.report_set_scope(report=report, user=report.lead, scope=EVALUATION_QA)
    client.force_login(report.lead)
    url = reverse("response_save", args=[report.token, "6b"])
    response = client.post(url, {"answer": "yes"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Refresh"] == "true"
    evidence = reverse("response_use_evidence", args=[report.token, "6b"])
    assert client.post(evidence, headers={"HX-Request": "true"})["HX-Refresh"] == "true"
    page = client.get(reverse("report_detail", args=[report.token])).content.decode()
    assert "Item 6b does not apply to this report&#x27;s scope." in page
    assert not Response.objects.filter(item__code="6b").exists()
