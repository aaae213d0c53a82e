"""Reading the audit trail: a study's admins on its page, in its CSV and JSON exports and the
API; staff for the whole log; raters, other studies' admins and outsiders kept out; the Django
admin and the API only ever reading."""

import csv
import io
import json
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token

from annotation import selectors, services
from annotation.core import audit
from annotation.models import AuditEvent
from annotation.views.audit import PAGE_SIZE
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def other_study(study_admin):
    other_admin = UserFactory(username="otheradmin")
    other_admin.groups.set(study_admin.groups.all())
    study = services.study_create(creator=other_admin, title="Other study", question_prompt="?")
    return study, other_admin


def _content(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_the_study_admin_reads_the_log_newest_first_with_old_and_new_values(
    client, study_admin, open_study
):
    services.study_analysis_update(study=open_study, p_adjustment="bonferroni", judge_epsilon=0.2)
    client.force_login(study_admin)
    dashboard = client.get(reverse("study_dashboard", args=[open_study.token])).text
    assert reverse("study_audit", args=[open_study.token]) in dashboard
    page = client.get(reverse("study_audit", args=[open_study.token])).text
    page = page.split('data-testid="audit-table"')[1]  # past the filters' list of actions
    assert page.index("settings.changed") < page.index("study.opened") < page.index("study.created")
    assert "<del" in page
    assert "holm" in page
    assert "bonferroni" in page


def test_the_log_filters_by_action_and_by_user(client, study_admin, open_study):
    client.force_login(study_admin)
    url = reverse("study_audit", args=[open_study.token])
    page = client.get(url, {"action": "rater.added"}).text
    assert page.count('data-testid="audit-row"') == 3  # rater1..3
    assert "study.created" not in page.split('data-testid="audit-table"')[1]
    by_admin = client.get(url, {"user": "studyadmin"}).text
    assert (
        by_admin.count('data-testid="audit-row"')
        == AuditEvent.objects.filter(study_id=open_study.pk, actor_username="studyadmin").count()
    )


def test_the_log_comes_a_page_at_a_time(client, study_admin, draft_study):
    for number in range(PAGE_SIZE + 5):
        services.audit_record(action="test.filler", study=draft_study, details={"n": number})
    client.force_login(study_admin)
    url = reverse("study_audit", args=[draft_study.token])
    first = client.get(url).text
    assert first.count('data-testid="audit-row"') == PAGE_SIZE
    assert "Page 1 of 2" in first
    second = client.get(url, {"page": 2}).text
    total = AuditEvent.objects.filter(study_id=draft_study.pk).count()
    assert second.count('data-testid="audit-row"') == total - PAGE_SIZE


def test_csv_and_json_exports_hold_every_field_and_are_themselves_recorded(
    client, study_admin, open_study
):
    client.force_login(study_admin)
    response = client.get(reverse("study_audit_export", args=[open_study.token, "csv"]))
    assert response["Content-Disposition"].endswith(f'audit-{open_study.token}.csv"')
    rows = list(csv.DictReader(io.StringIO(_content(response))))
    assert rows[0]["action"] == "audit.exported"  # newest first: the export's own entry
    assert {row["action"] for row in rows} >= {"study.created", "study.opened", "rater.added"}
    assert set(rows[0]) == set(audit.CHAINED_FIELDS) | {"hash"}

    response = client.get(reverse("study_audit_export", args=[open_study.token, "json"]))
    entries = json.loads(_content(response))
    assert entries[0]["action"] == "audit.exported"
    assert entries[0]["details"] == {"format": "json"}
    # An auditor recomputes each hash from the export alone (this study's entries are not
    # consecutive in the whole chain, so the links are checked by verify_audit, not here).
    for entry in entries:
        assert audit.entry_hash(entry) == entry["hash"]


def test_an_unknown_export_format_is_404(client, study_admin, open_study):
    client.force_login(study_admin)
    response = client.get(reverse("study_audit_export", args=[open_study.token, "xml"]))
    assert response.status_code == 404


def test_raters_get_403_and_never_see_a_link_to_the_log(client, rater, open_study):
    client.force_login(rater)
    assert client.get(reverse("study_audit", args=[open_study.token])).status_code == 403
    export = reverse("study_audit_export", args=[open_study.token, "csv"])
    assert client.get(export).status_code == 403
    assert client.get(f"/api/v1/studies/{open_study.token}/audit/").status_code == 403
    assert client.get("/api/v1/audit/").status_code == 403
    assert client.get(reverse("audit_log")).status_code == 403
    home = client.get(reverse("rater_home")).text
    item = client.get(reverse("rater_resume", args=[open_study.token]), follow=True).text
    assert "audit" not in home.lower()
    assert "audit" not in item.lower()


def test_another_studys_admin_sees_none_of_this_studys_entries(client, open_study, other_study):
    study, other_admin = other_study
    client.force_login(other_admin)
    assert client.get(reverse("study_audit", args=[open_study.token])).status_code == 404
    own = client.get(reverse("study_audit", args=[study.token])).text
    assert "Summaries of patient questions" not in own
    assert "rater.added" not in own
    response = client.get(f"/api/v1/studies/{study.token}/audit/")
    assert {entry["study_id"] for entry in response.json()["results"]} == {study.pk}
    assert client.get(f"/api/v1/studies/{open_study.token}/audit/").status_code == 404
    assert client.get(reverse("audit_log")).status_code == 403  # not staff


def test_staff_read_and_export_the_whole_log(client, open_study, other_study):
    staff = UserFactory(username="auditor", is_staff=True)
    client.force_login(staff)
    page = client.get(reverse("audit_log")).text
    assert "Summaries of patient questions" in page
    assert "Other study" in page
    rows = list(
        csv.DictReader(io.StringIO(_content(client.get(reverse("audit_log_export", args=["csv"])))))
    )
    assert {row["study_title"] for row in rows} >= {"Summaries of patient questions", "Other study"}
    api = client.get("/api/v1/audit/", {"action": "study.created"}).json()
    assert api["count"] == 2
    assert {entry["study_title"] for entry in api["results"]} == {
        "Summaries of patient questions",
        "Other study",
    }


def test_the_user_filter_reads_distinct_names_and_asks_for_one_past_the_cap(
    client, open_study, monkeypatch
):
    staff = UserFactory(username="auditor", is_staff=True)
    for name in ("ann", "bob", "cyd"):
        person = UserFactory(username=name)
        for _ in range(3):
            services.audit_record(action="test.seen", user=person)
    client.force_login(staff)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("audit_log")).text
    [names_query] = [
        q["sql"]
        for q in queries.captured_queries
        if '"actor_username"' in q["sql"] and "DISTINCT" in q["sql"] and "LIMIT" in q["sql"]
    ]
    assert names_query.count("actor_username") >= 1
    assert page.count('<option value="bob"') == 1
    monkeypatch.setattr(selectors.audit, "FILTER_NAMES_MAX", 2)
    page = client.get(reverse("audit_log"), {"user": "bob"}).text
    assert '<option value="bob"' not in page
    assert 'name="user" value="bob"' in page  # a name to type, kept as filtered
    assert "test.seen" in page


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_api_only_reads(client, study_admin, open_study, method):
    staff = UserFactory(username="auditor", is_staff=True)
    before = list(AuditEvent.objects.order_by("seq").values_list("seq", "hash"))
    for user, url in [
        (study_admin, f"/api/v1/studies/{open_study.token}/audit/"),
        (staff, "/api/v1/audit/"),
    ]:
        token = Token.objects.get_or_create(user=user)[0]
        headers = {"Authorization": f"Token {token.key}"}
        for target, status in ((url, 405), (f"{url}1/", 404)):  # a list, and no detail URL
            response = getattr(client, method)(
                target, "{}", content_type="application/json", headers=headers
            )
            assert response.status_code == status, (target, response.status_code)
        assert getattr(client, method)(url, headers=headers).status_code == 405
        assert client.get(f"{url}1/", headers=headers).status_code == 404
    after = list(AuditEvent.objects.order_by("seq").values_list("seq", "hash"))
    assert after[: len(before)] == before


def test_the_api_lists_a_page_at_a_time_newest_first(client, study_admin, open_study):
    client.force_login(study_admin)
    body = client.get(f"/api/v1/studies/{open_study.token}/audit/").json()
    assert set(body) >= {"count", "next", "previous", "results"}
    seqs = [entry["seq"] for entry in body["results"]]
    assert seqs == sorted(seqs, reverse=True)
    assert body["results"][-1]["action"] == "study.created" or body["next"]


def test_the_django_admin_shows_the_log_read_only_even_to_a_superuser(client):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    event = services.audit_record(action="test.one", details={"n": 1})
    client.force_login(superuser)
    change = reverse("admin:annotation_auditevent_change", args=[event.pk])
    assert client.get(change).status_code == 200  # to read
    assert client.post(change, {"action": "test.changed"}).status_code == 403
    assert client.get(reverse("admin:annotation_auditevent_add")).status_code == 403
    delete = reverse("admin:annotation_auditevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    listing = reverse("admin:annotation_auditevent_changelist")
    response = client.post(
        listing, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )
    assert response.status_code in (200, 302, 403)
    event_now = AuditEvent.objects.get(pk=event.pk)
    assert (event_now.action, event_now.hash) == ("test.one", event.hash)


def test_the_recipe_in_the_docs_verifies_the_whole_exported_chain(client, open_study):
    """docs/audit.md's Python, run as written on the staff JSON export: every hash recomputed
    and every link followed, with nothing from evalapp."""
    text = (ROOT / "docs" / "audit.md").read_text()
    recipe = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(recipe, namespace)  # noqa: S102 - our own documentation, checked here
    client.force_login(UserFactory(username="auditor", is_staff=True))
    entries = json.loads(_content(client.get(reverse("audit_log_export", args=["json"]))))
    chain = sorted(entries, key=lambda entry: entry["seq"])
    assert [entry["seq"] for entry in chain] == list(range(1, len(chain) + 1))
    previous = "0" * 64
    for entry in chain:
        assert namespace["entry_hash"](entry) == entry["hash"]
        assert entry["prev_hash"] == previous
        previous = entry["hash"]
