"""The Django admin's writes in the audit trail: deletions (one, or a selection) recorded after
the cascade with what the row was, and the inline forms of a study (its questions and members)
added, changed and deleted."""

import pytest
from django.contrib import admin
from django.db.models.signals import post_delete
from django.forms import MultiWidget

from annotation.core import audit
from annotation.models import AuditEvent, Case, Membership, Study
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ADDRESS = "198.51.100.8"


@pytest.fixture
def operator(client):
    user = UserFactory(username="operator", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def _deleted() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="admin.deleted").order_by("seq"))


def test_deleting_a_case_in_the_admin_is_recorded_after_the_cascade(client, operator, draft_study):
    case = draft_study.cases.order_by("pk").first()
    case_id, name = case.pk, str(case)
    entries_when_the_case_went: list[int] = []

    def count(sender, instance, **kwargs) -> None:
        if instance.pk == case_id:
            entries_when_the_case_went.append(len(_deleted()))

    post_delete.connect(count, sender=Case, dispatch_uid="test-audit-order")
    try:
        response = client.post(
            f"/admin/annotation/case/{case_id}/delete/", {"post": "yes"}, REMOTE_ADDR=ADDRESS
        )
    finally:
        post_delete.disconnect(sender=Case, dispatch_uid="test-audit-order")
    assert response.status_code == 302
    assert not Case.objects.filter(pk=case_id).exists()
    assert entries_when_the_case_went == [0]  # the entry came after the delete, not before
    [event] = _deleted()
    assert (event.object_type, event.object_id) == ("case", str(case_id))
    assert (event.study_id, event.study_title) == (draft_study.pk, draft_study.title)
    assert event.details == {"object": name}
    assert (event.actor_username, event.address, event.via) == ("operator", ADDRESS, "web")


def test_deleting_a_selection_in_the_admin_records_each_row(client, operator, draft_study):
    cases = list(draft_study.cases.order_by("pk")[:2])
    response = client.post(
        "/admin/annotation/case/",
        {"action": "delete_selected", "_selected_action": [c.pk for c in cases], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Case.objects.filter(pk__in=[c.pk for c in cases]).exists()
    assert [(e.object_id, e.details["object"]) for e in _deleted()] == [
        (str(c.pk), str(c)) for c in cases
    ]
    assert {e.study_id for e in _deleted()} == {draft_study.pk}


def test_deleting_a_study_in_the_admin_is_recorded_once_under_its_id(client, operator, draft_study):
    study_id = draft_study.pk
    client.post(f"/admin/annotation/study/{study_id}/delete/", {"post": "yes"})
    assert not Study.objects.filter(pk=study_id).exists()
    [event] = AuditEvent.objects.filter(action="study.deleted")
    assert (event.study_id, event.actor_username) == (study_id, "operator")


def _inline_formset(request, study: Study, model, data: dict):
    page = admin.site._registry[Study]
    for formset, inline in page.get_formsets_with_inlines(request, study):
        if inline.model is model:
            return formset(data, instance=study, prefix=formset.get_default_prefix())
    raise AssertionError(f"no inline for {model}")


def _posted(formset) -> dict:
    """What the admin's page posts for an unchanged formset."""
    data = {f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()}
    for form in formset.forms:
        for field in form:
            value, widget = field.value(), field.field.widget
            if isinstance(widget, MultiWidget):
                for number, part in enumerate(widget.decompress(value)):
                    data[f"{field.html_name}_{number}"] = part
            elif value is True:
                data[field.html_name] = "on"
            elif value is not None and value is not False:
                data[field.html_name] = value
    return data


def test_the_study_pages_inline_members_record_changes_and_deletions(rf, draft_study):
    staff = UserFactory(username="operator", is_staff=True, is_superuser=True)
    request = rf.post("/admin/")
    request.user = staff
    members = list(Membership.objects.filter(study=draft_study).order_by("pk"))
    data = _posted(_inline_formset(request, draft_study, Membership, None))
    prefix = "memberships"
    changed, deleted = members[0], members[1]
    data[f"{prefix}-0-pseudonym"] = "Renamed"
    data[f"{prefix}-1-DELETE"] = "on"
    formset = _inline_formset(request, draft_study, Membership, data)
    assert formset.is_valid(), formset.errors
    page = admin.site._registry[Study]
    with audit.acting_as(audit.Acting(via="web", address=ADDRESS, user=lambda: staff)):
        page.save_formset(request, None, formset, change=True)
    assert not Membership.objects.filter(pk=deleted.pk).exists()
    changes = {
        event.object_id: event.details
        for event in AuditEvent.objects.filter(action="admin.changed", object_type="membership")
    }
    # (The admin's form also rewrites joined_at without its microseconds, which it records.)
    assert changes[str(changed.pk)]["pseudonym"] == {"old": changed.pseudonym, "new": "Renamed"}
    assert str(deleted.pk) not in changes
    [gone] = _deleted()
    assert (gone.object_type, gone.object_id) == ("membership", str(deleted.pk))
    assert gone.study_id == draft_study.pk
    assert (gone.actor_username, gone.address) == ("operator", ADDRESS)
