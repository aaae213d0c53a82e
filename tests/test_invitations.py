"""Inviting raters by a single-use link sent by e-mail."""

import re
import socket
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from annotation import services
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
    user = UserFactory(username="clinician", email="A.Clinician@example.org")
    client.force_login(user)
    url = link_in(sent[0])
    assert "Join this study as a rater" in client.get(url).text
    client.post(url)
    membership = Membership.objects.get(study=draft_study, user=user)
    assert (membership.role, membership.pseudonym) == ("rater", "R4")
    assert "You joined this study with this invitation." in client.get(url).text
    other = UserFactory(username="someone-else", email="a.clinician@example.org")
    client.force_login(other)
    response = client.post(url)
    assert response.status_code == 403
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
    study_admin.email = "a.clinician@example.org"
    study_admin.save()
    client.force_login(study_admin)
    response = client.post(link_in(sent[0]))
    assert response.status_code == 403
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
        client.force_login(UserFactory(username="first", email="a.clinician@example.org"))
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


def test_a_new_account_is_refused_when_one_has_the_invited_address(client, sent, draft_study):
    UserFactory(username="already", email="B.Clinician@example.org")
    response = client.post(
        link_in(sent[1]),
        {"username": "twin", "password1": "a-long-pass-9x", "password2": "a-long-pass-9x"},
    )
    assert response.status_code == 400
    assert "An account with the invited e-mail address already exists" in response.text
    assert not get_user_model().objects.filter(username="twin").exists()
    assert not Membership.objects.filter(study=draft_study, role="rater", user__username="already")


def test_the_dashboard_lists_invitations_pending_joined_and_expired(
    client, sent, study_admin, draft_study, settings
):
    settings.INVITATION_MAX_AGE_DAYS = 14
    _, second = Invitation.objects.filter(study=draft_study).order_by("email")
    Invitation.objects.filter(pk=second.pk).update(created_at=timezone.now() - timedelta(days=15))
    client.force_login(UserFactory(username="clinician", email="a.clinician@example.org"))
    client.post(link_in(sent[0]))
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[draft_study.token])).text
    assert 'a.clinician@example.org · <span class="badge succeeded">joined as clinician' in page
    expired = (second.created_at - timedelta(days=1)).date().isoformat()
    assert f"expired {expired}" in page


def test_a_pending_invitation_says_until_when(client, sent, study_admin, draft_study, settings):
    settings.INVITATION_MAX_AGE_DAYS = 3
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[draft_study.token])).text
    until = (Invitation.objects.first().created_at + timedelta(days=3)).date().isoformat()
    assert page.count(f"pending, until {until}") == 2


def test_an_unreachable_mail_server_creates_no_invitation(client, study_admin, draft_study):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client.force_login(study_admin)
    smtp = "django.core.mail.backends.smtp.EmailBackend"
    with override_settings(EMAIL_BACKEND=smtp, EMAIL_HOST="127.0.0.1", EMAIL_PORT=port):
        response = client.post(
            reverse("study_invite", args=[draft_study.token]),
            {"emails": "a@example.org, b@example.org"},
            follow=True,
        )
    assert response.status_code == 200
    assert "The e-mail server could not be reached or refused the message" in response.text
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    ("language", "subject", "words"),
    [
        ("de", "Sie sind eingeladen, für", "lädt Sie ein"),
        ("es", "Está invitado a valorar para", "le invita a valorar"),
    ],
)
def test_the_invitation_is_written_in_the_studys_language(
    client, study_admin, draft_study, language, subject, words
):
    """The invited clinician may have no account, so no language of their own: the study's.
    The admin's own page stays in theirs."""
    draft_study.language = language
    draft_study.save(update_fields=["language"])
    client.force_login(study_admin)
    client.post(
        reverse("study_invite", args=[draft_study.token]), {"emails": "c.clinician@example.org"}
    )
    [message] = mail.outbox
    assert message.subject.startswith(subject)
    assert draft_study.title in message.subject
    assert words in message.body
    assert "invites you" not in message.body
    assert re.search(r"http://testserver/invite/\w+/", message.body)


def test_an_invitee_to_a_study_whose_raters_are_being_written_is_told_to_come_back(
    client, sent, draft_study
):
    # A worker opened the study and still has its raters' assignments to write: joining would
    # redesign their orders, so it waits, and the invitee is not told the admin's reasons.
    services.study_open(study=draft_study, defer=True)
    user = UserFactory(username="clinician", email="a.clinician@example.org")
    client.force_login(user)
    response = client.post(link_in(sent[0]), follow=True)
    assert "The study is being prepared for its raters." in response.text
    assert "Write the remaining assignments" not in response.text
    assert not Membership.objects.filter(study=draft_study, user=user).exists()
    assert Invitation.objects.filter(accepted_at__isnull=False).count() == 0
