"""Accounts and API tokens in the audit trail, wherever they change: the Django admin's user and
token pages, a shell, single sign-on. Each change once, with old and new values, never a secret."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_login_failed
from django.test import RequestFactory
from rest_framework.authtoken.models import Token

from annotation import services
from annotation.core import audit
from annotation.models import AuditEvent
from tests.factories import UserFactory
from tests.support.sso import ISSUER, person
from tests.test_sso import signed_in_through_the_provider

pytestmark = pytest.mark.django_db

ADDRESS = "198.51.100.9"


def _entries(action: str, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("seq"))


@pytest.fixture
def operator(client):
    user = UserFactory(username="operator", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_the_admin_making_someone_staff_and_a_study_admin_is_recorded_once(client, operator):
    person_ = UserFactory(username="dana")
    group = services.study_admins_group_ensure()
    page = client.get(f"/admin/auth/user/{person_.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name in form.fields
        if (value := form[name].value()) not in (None, False) and name != "password"
    }
    data.update(
        is_staff="on",
        groups=[group.pk],
        last_login_0="",
        last_login_1="",
        date_joined_0="2026-01-01",
        date_joined_1="00:00:00",
    )
    response = client.post(f"/admin/auth/user/{person_.pk}/change/", data, REMOTE_ADDR=ADDRESS)
    assert response.status_code == 302, response.context["adminform"].form.errors
    changes = _entries("account.role_changed", object_id=str(person_.pk))
    assert [entry.details for entry in changes] == [
        {"username": "dana", "is_staff": {"old": False, "new": True}},
        {"username": "dana", "groups": {"added": ["Study admins"]}},
    ]
    assert {(e.actor_username, e.address, e.via) for e in changes} == {("operator", ADDRESS, "web")}


def test_flags_and_groups_changed_in_a_shell_are_recorded_only_when_they_change():
    person_ = UserFactory(username="eve")
    [created] = _entries("account.created")
    assert created.details == {
        "username": "eve",
        "is_staff": False,
        "is_superuser": False,
        "is_active": True,
    }
    person_.is_superuser, person_.is_active = True, False
    person_.save()
    person_.save()  # nothing changed: nothing recorded
    person_.save(update_fields=["last_login"])  # a sign-in's save is not even compared
    [flags] = _entries("account.role_changed")
    assert flags.details == {
        "username": "eve",
        "is_superuser": {"old": False, "new": True},
        "is_active": {"old": True, "new": False},
    }
    group = Group.objects.create(name="Reviewers")
    group.user_set.add(person_)  # from the group's side
    person_.groups.add(group)  # already in it
    person_.groups.remove(Group.objects.create(name="Never joined"))
    person_.groups.clear()
    rights = [entry.details for entry in _entries("account.role_changed")[1:]]
    assert rights == [
        {"username": "eve", "groups": {"added": ["Reviewers"]}},
        {"username": "eve", "groups": {"removed": ["Reviewers"]}},
    ]


def test_tokens_made_or_deleted_anywhere_are_recorded_by_their_owner_never_the_key(
    client, operator
):
    owner = UserFactory(username="frank")
    response = client.post("/admin/authtoken/tokenproxy/add/", {"user": owner.pk})
    assert response.status_code == 302
    key = Token.objects.get(user=owner).key
    [made] = _entries("api_token.created")
    assert (made.object_type, made.object_id, made.details) == (
        "user",
        str(owner.pk),
        {"username": "frank"},
    )
    assert made.actor_username == "operator"
    response = client.post(f"/admin/authtoken/tokenproxy/{owner.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    [deleted] = _entries("api_token.deleted")
    assert deleted.details == {"username": "frank"}
    Token.objects.create(user=owner)  # a shell
    assert len(_entries("api_token.created")) == 2
    everything = str(list(AuditEvent.objects.values_list("object_id", "details")))
    assert key not in everything


def test_a_rotation_is_one_entry_not_a_deletion_and_a_creation():
    owner = UserFactory(username="gina")
    services.api_token_rotate(user=owner)
    services.api_token_rotate(user=owner)
    actions = [e.action for e in AuditEvent.objects.order_by("seq") if e.action.startswith("api")]
    assert actions == ["api_token.created", "api_token.rotated"]


def test_single_sign_on_records_the_account_and_the_claims_rights_once_each(settings):
    settings.OIDC_ADMIN_CLAIM, settings.OIDC_ADMIN_VALUES = "groups", ["admins"]
    with audit.acting_as(audit.Acting(via="web", address=ADDRESS)):
        user = services.sso_user_sign_in(issuer=ISSUER, claims=person(is_admin=True))
        services.sso_user_sign_in(issuer=ISSUER, claims=person(is_admin=True))  # no change
        services.sso_user_sign_in(issuer=ISSUER, claims=person(is_admin=False))
        services.sso_user_sign_in(issuer=ISSUER, claims=person(is_admin=False))  # no change
    [created] = _entries("account.created")
    assert created.details["username"] == user.username == "alice"
    assert created.actor_username == f"single sign-on ({ISSUER})"
    assert created.address == ADDRESS
    rights = _entries("account.role_changed")
    assert [e.details["groups"] for e in rights] == [
        {"added": ["Study admins"]},
        {"removed": ["Study admins"]},
    ]
    assert {e.actor_username for e in rights} == {f"single sign-on ({ISSUER})"}


def test_a_failed_single_sign_on_keeps_how_and_why_but_no_secret(client, sso_on):
    client.get("/oidc/callback/", {"code": "c0de-value", "state": "never-issued"})
    [failed] = _entries("account.sign_in_failed")
    assert failed.details == {"method": "oidc", "reason": "unknown state"}
    assert "c0de-value" not in str(failed.details)


def test_a_failed_sign_in_keeps_issuer_and_subject_and_drops_anything_secret():
    credentials = {
        "method": "oidc",
        "issuer": ISSUER,
        "username": "alice",
        "subject": "sub-9",
        "reason": "deactivated",
        "password": "hunter2",
        "code": "c0de",
        "id_token": "ey.token",
        "client_secret": "s3cret",
    }
    request = RequestFactory().get("/oidc/callback/", REMOTE_ADDR=ADDRESS)
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    [failed] = _entries("account.sign_in_failed")
    assert failed.actor_username == "alice"
    assert failed.details == {
        "method": "oidc",
        "issuer": ISSUER,
        "subject": "sub-9",
        "reason": "deactivated",
    }


def test_signing_in_and_out_through_the_provider_is_recorded(client, sso_on):
    erin = UserFactory(username="erin")
    signed_in_through_the_provider(client, erin)  # the login() the callback ends with
    client.post("/accounts/logout/", REMOTE_ADDR=ADDRESS)
    assert _entries("account.signed_in", actor_id=erin.pk)
    [out] = _entries("account.signed_out", actor_id=erin.pk)
    assert out.address == ADDRESS


def test_what_a_group_grants_is_recorded_when_it_changes_from_either_side():
    """A group's permissions change every member's rights at once: each real change is an
    entry naming the group and the permissions, whichever side it was made from."""
    group = Group.objects.create(name="Reviewers")
    add_study = Permission.objects.get(codename="add_study", content_type__app_label="annotation")
    view_user = Permission.objects.get(codename="view_user", content_type__app_label="auth")
    group.permissions.add(add_study)
    group.permissions.add(add_study)  # already granted: nothing recorded
    view_user.group_set.add(group)  # from the permission's side
    group.permissions.remove(add_study)
    group.permissions.clear()
    group.name = "Senior reviewers"
    group.save()
    group.save()  # nothing changed
    group.user_set.add(UserFactory(username="hana"))
    group.delete()
    entries = [
        (e.action, e.object_type, e.details)
        for e in AuditEvent.objects.filter(action__startswith="group.").order_by("seq")
    ]
    assert entries == [
        ("group.created", "group", {"group": "Reviewers"}),
        (
            "group.permissions_changed",
            "group",
            {"group": "Reviewers", "permissions": {"added": ["annotation.add_study"]}},
        ),
        (
            "group.permissions_changed",
            "group",
            {"group": "Reviewers", "permissions": {"added": ["auth.view_user"]}},
        ),
        (
            "group.permissions_changed",
            "group",
            {"group": "Reviewers", "permissions": {"removed": ["annotation.add_study"]}},
        ),
        (
            "group.permissions_changed",
            "group",
            {"group": "Reviewers", "permissions": {"removed": ["auth.view_user"]}},
        ),
        (
            "group.renamed",
            "group",
            {"group": "Senior reviewers", "name": {"old": "Reviewers", "new": "Senior reviewers"}},
        ),
        ("group.deleted", "group", {"group": "Senior reviewers", "members": ["hana"]}),
    ]


def test_the_study_admins_group_the_app_makes_is_not_recorded_but_restoring_its_right_is():
    Group.objects.filter(name="Study admins").delete()
    before = AuditEvent.objects.count()  # the deletion's entry
    group = services.study_admins_group_ensure()  # as at migrate: the app's own setup
    assert AuditEvent.objects.count() == before
    group.permissions.clear()  # someone takes the right away
    services.study_admins_group_ensure()  # the next migrate gives it back
    changes = [
        e.details["permissions"]
        for e in AuditEvent.objects.filter(action="group.permissions_changed").order_by("seq")
    ]
    assert changes == [{"removed": ["annotation.add_study"]}, {"added": ["annotation.add_study"]}]


def test_a_group_changed_in_the_django_admin_is_recorded_with_who_did_it(client, operator):
    response = client.post(
        "/admin/auth/group/add/",
        {"name": "Auditors", "permissions": [Permission.objects.get(codename="view_user").pk]},
        REMOTE_ADDR=ADDRESS,
    )
    assert response.status_code == 302
    made = list(AuditEvent.objects.filter(action__startswith="group.").order_by("seq"))
    assert [e.action for e in made] == ["group.created", "group.permissions_changed"]
    assert {(e.actor_username, e.address, e.via) for e in made} == {("operator", ADDRESS, "web")}
