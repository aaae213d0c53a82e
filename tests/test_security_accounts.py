"""Accounts and invitations: each test is what a curious study admin, a user probing names or a
holder of someone else's link does, and what they get.

A study admin adds raters by e-mail (always an invitation, whoever the address belongs to) or
from people already in their own studies; nobody joins before accepting. An invitation works
only for the account with the invited address, once, for INVITATION_MAX_AGE_DAYS. A report's
lead names an assessor by user name and gets the same answer whether or not the name exists.
"""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from annotation import services
from annotation.models import Invitation, Membership
from checklists import services as checklist_services
from tests.factories import UserFactory
from tests.support.checklists import answer

pytestmark = pytest.mark.django_db

KNOWN = "known.doctor@example.org"
UNKNOWN = "nobody.here@example.org"


@pytest.fixture
def known_account(db):
    """An account elsewhere on the site: in none of the admin's studies."""
    return UserFactory(username="known-doctor", email=KNOWN)


def second_study(admin):
    return services.study_create(
        creator=admin, title="Twin", raters_per_item=2, question_prompt="Q?", seed=1234
    )


def without_csrf(page: str) -> str:
    """A page minus its CSRF tokens, which differ on every response."""
    page = re.sub(r'name="csrfmiddlewaretoken" value="\w+"', "", page)
    return re.sub(r'"X-CSRFToken": "\w+"', "", page)


def raters_card(page: str, study) -> str:
    """The dashboard's raters card as the admin sees it, minus what differs between any two
    requests or studies (CSRF tokens, the study's token)."""
    card = re.search(r'<section class="card[^"]*" id="raters">.*?</section>', page, re.S).group(0)
    return without_csrf(card).replace(study.token, "STUDY")


def invite(client, study, address: str):
    url = reverse("study_invite", args=[study.token])
    return client.post(url, {"emails": address}, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_an_admin_cannot_tell_an_address_with_an_account_from_one_without(
    client, study_admin, known_account
):
    client.force_login(study_admin)
    studies = second_study(study_admin), second_study(study_admin)
    addresses = KNOWN, UNKNOWN
    answers = [invite(client, s, a) for s, a in zip(studies, addresses, strict=True)]

    assert messages_of(answers[0]) == messages_of(answers[1])
    assert messages_of(answers[0]) == [
        "Invited 1 address: each gets a link by e-mail and appears under Raters once its "
        "owner joins."
    ]
    # Each invitation's own number (in its Revoke address) is a row id, the same kind for both.
    cards = [
        re.sub(r"invitations/\d+/", "invitations/N/", raters_card(answer.text, study)).replace(
            address, "ADDRESS"
        )
        for answer, study, address in zip(answers, studies, addresses, strict=True)
    ]
    assert cards[0] == cards[1]
    assert "known-doctor" not in answers[0].text
    # The account has not joined: its owner has a link like anyone else's.
    assert not Membership.objects.filter(user=known_account).exists()
    assert [m.to for m in mail.outbox] == [[KNOWN], [UNKNOWN]]


def test_the_add_raters_list_shows_no_account_outside_the_admins_studies(
    client, study_admin, draft_study, outsider
):
    colleague = UserFactory(username="colleague-from-another-study")
    other = second_study(study_admin)
    services.study_add_raters(study=other, users=[colleague])
    client.force_login(study_admin)

    page = client.get(reverse("study_dashboard", args=[draft_study.token])).text

    assert "colleague-from-another-study" in page  # known to this admin already
    assert "outsider" not in page
    assert "rater1" not in raters_card(page, draft_study).split("</table>")[1]  # already in


def test_an_admin_forging_a_pick_cannot_tell_an_account_from_no_account(
    client, study_admin, draft_study, outsider
):
    client.force_login(study_admin)
    url = reverse("study_add_raters", args=[draft_study.token])
    missing = get_user_model().objects.order_by("pk").last().pk + 100

    answers = [client.post(url, {"users": [pk]}, follow=True) for pk in (outsider.pk, missing)]

    assert messages_of(answers[0]) == messages_of(answers[1])
    assert messages_of(answers[0]) == [
        "Choose among the people listed: anyone else is invited by e-mail."
    ]
    assert not Membership.objects.filter(user=outsider).exists()


@pytest.fixture
def link(client, study_admin, draft_study):
    """The link e-mailed to KNOWN, whose owner has an account."""
    client.force_login(study_admin)
    invite(client, draft_study, KNOWN)
    client.logout()
    return re.search(r"http://testserver(/invite/\w+/)", mail.outbox[-1].body).group(1)


def test_another_account_holding_the_link_cannot_accept_it(
    client, link, draft_study, known_account
):
    intruder = UserFactory(username="intruder", email="intruder@example.org")
    client.force_login(intruder)

    page = client.get(link)
    response = client.post(link)

    for seen in (page, response):
        assert "This invitation was sent to another e-mail address" in seen.text
        assert KNOWN not in seen.text  # the link holder learns nothing of the address
        assert "Join as a rater" not in seen.text
    assert response.status_code == 403
    assert not Membership.objects.filter(user=intruder).exists()
    assert Invitation.objects.get(email=KNOWN).accepted_at is None
    # The account with the address (any case) still can.
    known_account.email = KNOWN.upper()
    known_account.save()
    client.force_login(known_account)
    client.post(link)
    assert Membership.objects.filter(user=known_account, role="rater").exists()


def test_an_account_without_an_address_cannot_accept_any_invitation(client, link):
    client.force_login(UserFactory(username="no-address", email=""))
    assert client.post(link).status_code == 403
    assert not Membership.objects.filter(user__username="no-address").exists()


def test_an_expired_link_is_refused(client, link, known_account, settings):
    settings.INVITATION_MAX_AGE_DAYS = 14
    Invitation.objects.update(created_at=timezone.now() - timedelta(days=14, seconds=1))
    expired = "This invitation has expired: links work for 14 days."

    client.force_login(known_account)
    assert expired in client.get(link).text
    response = client.post(link)
    assert response.status_code == 403
    assert expired in response.text
    assert not Membership.objects.filter(user=known_account).exists()

    client.logout()
    signup = {"username": "late", "password1": "a-long-pass-9x", "password2": "a-long-pass-9x"}
    response = client.post(link, signup)
    assert response.status_code == 400
    assert expired in response.text
    assert not get_user_model().objects.filter(username="late").exists()


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
    ],
)
def test_invitations_are_not_sent_through_a_log_or_file_in_production(
    client, study_admin, draft_study, backend, tmp_path, capsys
):
    client.force_login(study_admin)
    with override_settings(DEBUG=False, EMAIL_BACKEND=backend, EMAIL_FILE_PATH=tmp_path):
        response = invite(client, draft_study, KNOWN)

    [message] = messages_of(response)
    assert message.startswith("Invitations are not sent: this server's e-mail backend")
    assert "No invitation was created." in message
    assert not Invitation.objects.exists()
    assert "/invite/" not in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


def test_a_developer_with_debug_on_still_sees_invitations_on_the_console(
    client, study_admin, draft_study, capsys
):
    client.force_login(study_admin)
    backend = "django.core.mail.backends.console.EmailBackend"
    with override_settings(DEBUG=True, EMAIL_BACKEND=backend):
        invite(client, draft_study, KNOWN)
    assert Invitation.objects.count() == 1
    assert "/invite/" in capsys.readouterr().out


# --- checklists: "Invite assessor" ---------------------------------------------------------


@pytest.fixture
def probed_report(mi_claim):
    """Any user leads a report of their own (and answers it too, as by default)."""
    prober = UserFactory(username="prober")
    return checklist_services.report_create(lead=prober, definition=mi_claim, title="Probe")


def name_assessor(client, report, name: str):
    """The lead names an assessor; what comes back, on the page and from the API."""
    url = reverse("report_add_assessor", args=[report.token])
    response = client.post(url, {"username": name}, follow=True)
    detail = client.get(reverse("api_report", args=[report.token])).json()
    consensus = client.get(reverse("report_consensus", args=[report.token]))
    return response, detail, consensus


def test_a_user_probing_assessor_names_gets_the_same_answer_for_each(
    client, probed_report, outsider
):
    client.force_login(probed_report.lead)
    known = name_assessor(client, probed_report, "outsider")
    unknown = name_assessor(client, probed_report, "no-such-person")

    for seen, name in ((known, "outsider"), (unknown, "no-such-person")):
        page, detail, consensus = seen
        assert page.status_code == 200
        assert messages_of(page) == [
            f"If an account is called '{name}', it can now appraise this report: it is listed "
            "under Assessors once its owner starts answering."
        ]
        assert [row["assessor"] for row in detail["assessments"]] == ["prober"]
        assert "outsider" not in consensus.text
    pages = [
        without_csrf(seen[0].text).replace(name, "NAME")
        for seen, name in ((known, "outsider"), (unknown, "no-such-person"))
    ]
    assert pages[0] == pages[1]
    assert without_csrf(known[2].text) == without_csrf(unknown[2].text)


def test_a_named_assessor_appraises_and_is_listed_once_they_start(client, probed_report, outsider):
    client.force_login(probed_report.lead)
    name_assessor(client, probed_report, "outsider")
    assessment = probed_report.assessments.get(assessor=outsider)
    client.force_login(outsider)
    assert client.get(reverse("report_detail", args=[probed_report.token])).status_code == 200
    answer(assessment, "1.1", "yes")

    client.force_login(probed_report.lead)
    page = client.get(reverse("report_detail", args=[probed_report.token])).text
    assert "outsider" in page
    detail = client.get(reverse("api_report", args=[probed_report.token])).json()
    assert [row["assessor"] for row in detail["assessments"]] == ["prober", "outsider"]
