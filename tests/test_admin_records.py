"""Records the app writes itself, readable in the Django admin and never editable there: the
notifications the worker sent and a checklist report's scope history. Deleting their study or
report in the admin still works."""

import pytest
from django.urls import reverse
from django.utils import timezone

from annotation.models import Notification
from checklists import services as checklist_services
from checklists.models import ChecklistDefinition, Report, ReportScopeChange
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = UserFactory(username="operator", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def notification(open_study, raters) -> Notification:
    return Notification.objects.create(
        study=open_study,
        recipient=raters[0],
        kind=Notification.Kind.STALLED,
        occasion="2026-01-01",
        status=Notification.Status.SENT,
        attempted_at=timezone.now(),
        sent_at=timezone.now(),
    )


@pytest.fixture
def scope_change(mi_claim, study_admin) -> ReportScopeChange:
    tripod = ChecklistDefinition.objects.get(slug="tripod-llm")
    report = checklist_services.report_create(
        lead=study_admin, definition=tripod, title="Scoped", scope={"design": ["E"], "task": ["QA"]}
    )
    return report.scope_changes.get()


def _admin_urls(obj) -> tuple[str, str, str]:
    name = f"admin:{obj._meta.app_label}_{obj._meta.model_name}"
    return (
        reverse(f"{name}_changelist"),
        reverse(f"{name}_change", args=[obj.pk]),
        reverse(f"{name}_add"),
    )


@pytest.mark.parametrize("record", ["notification", "scope_change"])
def test_staff_read_the_record_but_cannot_add_or_change_it(staff, record, request):
    obj = request.getfixturevalue(record)
    listing, change, add = _admin_urls(obj)
    assert staff.get(listing).status_code == 200
    page = staff.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()  # no form to save
    before = {f.name: getattr(obj, f.name) for f in obj._meta.fields}
    posted = staff.post(change, {"status": "failed", "scope": "{}", "error": "edited"})
    assert posted.status_code == 403
    obj.refresh_from_db()
    assert {f.name: getattr(obj, f.name) for f in obj._meta.fields} == before
    assert staff.get(add).status_code == 403


def test_the_records_do_not_stand_in_the_way_of_deleting_their_study_or_report(
    staff, notification, scope_change
):
    # An open study is kept by its protected data whatever this admin allows; what matters is
    # that its notifications are not one more reason.
    study_url = reverse("admin:annotation_study_delete", args=[notification.study.pk])
    assert "permission to delete" not in staff.get(study_url).content.decode()
    report = scope_change.report
    report_url = reverse("admin:checklists_report_delete", args=[report.pk])
    assert staff.post(report_url, {"post": "yes"}).status_code == 302
    assert not Report.objects.filter(pk=report.pk).exists()
    assert not ReportScopeChange.objects.exists()
