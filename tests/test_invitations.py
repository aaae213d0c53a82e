"""Inviting raters by a single-use link sent by e-mail."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from annotation.models import Invitation, Membership
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(client, study_admin, draft_study):
    client.force_login(study_admin)
    client.post(
        reverse("study_invite", args=[draft_study.token]),
        {"emails": "a.clinician@example.org, b.clinician@example.org"},
    )
    client.logout()
    return mail.outbox


def link_in(message) -> str:
    return re.search(r"http://testserver(/invite/\w+/)", message.body).group(1)


def test_each_address_gets_its_own_link(sent, draft_study):
    assert [m.to for m in sent] == [["a.clinician@example.org"], ["b.clinician@example.org"]]
    assert draft_study.title in sent[0].subject
    assert link_in(sent[0]) != link_in(sent[1])
    assert Invitation.objects.filter(study=draft_study).count() == 2


def test_a_logged_in_user_joins_as_a_rater_once(client, sent, draft_study):
    user = UserFactory(username="clinician")
    client.force_login(user)
    url = link_in(sent[0])
    assert "Join this study as a rater" in client.get(url).text
    client.post(url)
    membership = Membership.objects.get(study=draft_study, user=user)
    assert (membership.role, membership.pseudonym) == ("rater", "R4")
    other = UserFactory(username="someone-else")
    client.force_login(other)
    response = client.post(url, follow=True)
    assert "This invitation has already been used." in response.text
    assert not Membership.objects.filter(study=draft_study, user=other).exists()


def test_someone_without_an_account_creates_one_and_joins(client, sent, draft_study):
    url = link_in(sent[1])
    page = client.get(url).text
    assert "Create account and join" in page
    client.post(
        url, {"username": "newdoc", "password1": "a-long-pass-9x", "password2": "a-long-pass-9x"}
    )
    user = get_user_model().objects.get(username="newdoc")
    assert user.email == "b.clinician@example.org"
    assert Membership.objects.filter(study=draft_study, user=user, role="rater").exists()


def test_a_study_admin_cannot_join_their_own_study_as_rater(client, sent, study_admin, draft_study):
    client.force_login(study_admin)
    response = client.post(link_in(sent[0]), follow=True)
    assert "A study&#x27;s admins cannot also rate it." in response.text
    assert Invitation.objects.filter(accepted_at__isnull=False).count() == 0


def test_bad_links_and_addresses_are_refused(client, study_admin, draft_study):
    assert client.get(reverse("invitation", args=["nope"])).status_code == 404
    client.force_login(study_admin)
    response = client.post(
        reverse("study_invite", args=[draft_study.token]), {"emails": "not-an-address"}, follow=True
    )
    assert "&#x27;not-an-address&#x27; is not an e-mail address." in response.text
    assert not mail.outbox


def test_only_the_studys_admins_invite(client, raters, draft_study):
    client.force_login(raters[0])
    url = reverse("study_invite", args=[draft_study.token])
    assert client.post(url, {"emails": "x@example.org"}).status_code == 404
    assert not mail.outbox


@pytest.mark.parametrize("state", ["used", "locked"])
def test_a_dead_link_creates_no_account(client, sent, draft_study, state):
    url = link_in(sent[0])
    if state == "used":
        client.force_login(UserFactory(username="first"))
        client.post(url)
        client.logout()
    else:
        from annotation.models import Study

        Study.objects.filter(pk=draft_study.pk).update(status="locked")
    users_before = get_user_model().objects.count()
    response = client.post(
        url, {"username": "late", "password1": "a-long-pass-9x", "password2": "a-long-pass-9x"}
    )
    assert response.status_code == 400
    assert "already been used" in response.text or "no longer takes raters" in response.text
    assert get_user_model().objects.count() == users_before
    assert "_auth_user_id" not in client.session
