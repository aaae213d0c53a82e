"""Single sign-on in headless Chromium against a real OpenID Connect provider (django-oauth-
toolkit in a process of its own): signing in maps the claims, the admin claim decides who may
create studies at every sign-in, signing out ends both sessions, an invitation is accepted
through the provider, and a forged answer gets a page saying so."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from playwright.sync_api import expect

from annotation.models import ExternalIdentity, Invitation, Study
from tests.factories import UserFactory
from tests.support.browser import BROWSER_MARKS, browser_page

pytestmark = BROWSER_MARKS

ADMINS = "evalapp-admins"


def sso_sign_in(page, username: str, *, start: str = "/") -> None:
    """From `start`, through the provider's own sign-in page, back to evalapp."""
    page.goto(start)
    page.click("#sso-sign-in")
    expect(page.get_by_role("heading", name="Contoso Health sign-in")).to_be_visible()
    page.fill("#idp-username", username)
    page.fill("#idp-password", "idp-password")
    page.get_by_role("button", name="Sign in to Contoso").click()


def sign_out(page, live_server) -> None:
    """evalapp's sign-out, then the provider's, back on evalapp's sign-in page."""
    page.locator("form[action='/accounts/logout/'] button").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")


def csrf_token(page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")


class Signals:
    """The sign-in signals the audit trail listens to, as the live server sends them."""

    def __init__(self) -> None:
        self.logged_in: list[str] = []
        self.failed: list[dict] = []

    def __enter__(self):
        user_logged_in.connect(self._in, dispatch_uid="test-sso-in")
        user_login_failed.connect(self._failed, dispatch_uid="test-sso-failed")
        return self

    def __exit__(self, *exc) -> None:
        user_logged_in.disconnect(dispatch_uid="test-sso-in")
        user_login_failed.disconnect(dispatch_uid="test-sso-failed")

    def _in(self, sender, request, user, **kwargs) -> None:
        self.logged_in.append(user.get_username())

    def _failed(self, sender, credentials, request=None, **kwargs) -> None:
        self.failed.append(credentials)


def test_admin_signs_in_through_the_provider_creates_a_study_and_signs_out(
    live_server, sso_settings, oidc_provider
):
    subject = oidc_provider.person("dr.ada", email="ada@contoso.example", groups=(ADMINS, "x"))
    with Signals() as signals, browser_page(live_server.url) as page:
        answers = []
        page.on("request", lambda r: answers.append(r.url) if "/oidc/callback/" in r.url else None)
        page.goto("/")
        expect(page.locator("#sso-sign-in")).to_have_text("Sign in with Contoso Health")
        sso_sign_in(page, "dr.ada")
        # Home for a study admin is their list of studies, with the form for a new one.
        expect(page).to_have_url(f"{live_server.url}/studies/")
        # The provider's answer sent again (from the history, say) is refused: its state was
        # used. The sign-in it made stands.
        assert len(answers) == 1
        response = page.goto(answers[0])
        assert response.status == 400
        expect(page.get_by_role("alert")).to_contain_text("or it was already used")
        page.goto("/studies/")
        page.get_by_label("Title").fill("Discharge letters, SSO")
        page.get_by_role("button", name="Create study").click()
        expect(page.get_by_role("heading", name="Discharge letters, SSO")).to_be_visible()

        sign_out(page, live_server)
        page.goto("/rate/")
        expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/rate/$"))
        # Signed out at the provider too: a new sign-in asks for the password again, and comes
        # back to the page asked for (not the admin's home).
        sso_sign_in(page, "dr.ada", start="/rate/")
        expect(page).to_have_url(f"{live_server.url}/rate/")
    user = get_user_model().objects.get(username="dr.ada")
    assert user.email == "ada@contoso.example"
    assert user.groups.filter(name="Study admins").exists()
    assert not user.has_usable_password()
    identity = ExternalIdentity.objects.get(user=user)
    assert (identity.issuer, identity.subject) == (oidc_provider.issuer, subject)
    assert Study.objects.filter(title="Discharge letters, SSO", created_by=user).exists()
    assert signals.logged_in == ["dr.ada", "dr.ada"]
    assert [failure["reason"] for failure in signals.failed] == ["unknown state"]


def test_the_admin_claim_decides_study_creation_at_every_sign_in(
    live_server, sso_settings, oidc_provider
):
    oidc_provider.person("nurse.bo", email="bo@contoso.example", groups=())
    oidc_provider.person("dr.cy", email="cy@contoso.example", groups=(ADMINS,))
    with browser_page(live_server.url) as page:
        sso_sign_in(page, "nurse.bo")
        expect(page).to_have_url(f"{live_server.url}/rate/")
        expect(page.get_by_role("link", name="Studies")).to_have_count(0)
        token = csrf_token(page)
        refused = page.request.post(
            "/studies/new/", form={"title": "Not mine"}, headers={"X-CSRFToken": token}
        )
        assert refused.status == 403
        refused = page.request.post(
            "/api/v1/studies/",
            data={"title": "Not mine", "question_prompt": "Good?"},
            headers={"X-CSRFToken": token},
        )
        assert refused.status == 403, refused.text()
        sign_out(page, live_server)

        sso_sign_in(page, "dr.cy")
        expect(page).to_have_url(f"{live_server.url}/studies/")
        sign_out(page, live_server)
        # Taken out of the admins' group at the provider: no longer a study admin at the next
        # sign-in.
        oidc_provider.person("dr.cy", email="cy@contoso.example", groups=())
        sso_sign_in(page, "dr.cy")
        expect(page).to_have_url(f"{live_server.url}/rate/")
        refused = page.request.post(
            "/studies/new/",
            form={"title": "Not any more"},
            headers={"X-CSRFToken": csrf_token(page)},
        )
        assert refused.status == 403
    assert not Study.objects.filter(title__in=["Not mine", "Not any more"]).exists()
    assert not get_user_model().objects.get(username="dr.cy").has_perm("annotation.add_study")


def test_an_invitation_is_accepted_by_signing_in_through_the_provider(
    live_server, sso_settings, oidc_provider, draft_study, study_admin
):
    invitation = Invitation.objects.create(
        study=draft_study, email="Dee@Contoso.example", created_by=study_admin
    )
    oidc_provider.person("dee", email="dee@contoso.example")
    with browser_page(live_server.url) as page:
        page.goto(f"/invite/{invitation.token}/")
        expect(page.locator("#sso-sign-in")).to_have_text("Sign in with Contoso Health and join")
        sso_sign_in(page, "dee", start=f"/invite/{invitation.token}/")
        expect(page).to_have_url(f"{live_server.url}/rate/")
        expect(page.get_by_text(f"You are a rater of “{draft_study.title}”.")).to_be_visible()
    dee = get_user_model().objects.get(username="dee")
    assert draft_study.memberships.filter(user=dee).exists()
    invitation.refresh_from_db()
    assert invitation.accepted_by == dee


def test_an_invitation_for_another_address_is_refused_after_signing_in(
    live_server, sso_settings, oidc_provider, draft_study, study_admin
):
    invitation = Invitation.objects.create(
        study=draft_study, email="someone.else@contoso.example", created_by=study_admin
    )
    oidc_provider.person("eve", email="eve@contoso.example")
    with browser_page(live_server.url) as page:
        sso_sign_in(page, "eve", start=f"/invite/{invitation.token}/")
        expect(page.get_by_role("alert")).to_contain_text("sent to another e-mail address")
    assert not draft_study.memberships.filter(user__username="eve").exists()


def test_an_address_too_long_to_store_signs_in_without_one(
    live_server, sso_settings, oidc_provider
):
    # Verified by the provider, but longer than evalapp's e-mail field (254): PostgreSQL would
    # refuse to store it.
    oidc_provider.person("dr.long", email="d" * 250 + "@contoso.example")
    with browser_page(live_server.url) as page:
        sso_sign_in(page, "dr.long")
        expect(page).to_have_url(f"{live_server.url}/rate/")
    assert get_user_model().objects.get(username="dr.long").email == ""
    # Signed in again after the address was shortened at the provider: it is taken now.
    oidc_provider.person("dr.long", email="long@contoso.example")
    with browser_page(live_server.url) as page:
        sso_sign_in(page, "dr.long")
        expect(page).to_have_url(f"{live_server.url}/rate/")
    assert get_user_model().objects.get(username="dr.long").email == "long@contoso.example"


def test_without_local_passwords_the_sign_in_page_has_only_the_provider(
    live_server, sso_settings, oidc_provider, draft_study, study_admin
):
    sso_settings.LOCAL_PASSWORDS = False
    invitation = Invitation.objects.create(
        study=draft_study, email="fay@contoso.example", created_by=study_admin
    )
    with browser_page(live_server.url) as page:
        page.goto("/")
        expect(page.locator("#sso-sign-in")).to_be_visible()
        expect(page.locator("#id_password")).to_have_count(0)
        page.goto(f"/invite/{invitation.token}/")
        expect(page.locator("#sso-sign-in")).to_be_visible()
        expect(page.get_by_role("button", name="Create account and join")).to_have_count(0)


def test_a_forged_answer_gets_a_page_saying_so_and_counts_as_a_failed_sign_in(
    live_server, sso_settings
):
    with Signals() as signals, browser_page(live_server.url) as page:
        response = page.goto("/oidc/callback/?code=stolen&state=forged")
        assert response.status == 400
        expect(page.get_by_role("alert")).to_contain_text(
            "does not belong to a sign-in started in this browser"
        )
        # A link with an error and a text of someone's choosing: not an answer to a sign-in
        # started here, so none of its text is shown.
        response = page.goto(
            "/oidc/callback/?state=forged&error=access_denied"
            "&error_description=Your+account+is+locked.+Call+0900+123+456"
        )
        assert response.status == 400
        expect(page.get_by_role("alert")).to_contain_text(
            "does not belong to a sign-in started in this browser"
        )
        expect(page.get_by_text("0900")).to_have_count(0)
        expect(page.get_by_text("access_denied")).to_have_count(0)
    assert [failure["reason"] for failure in signals.failed] == ["unknown state"] * 2
    assert all(failure["method"] == "oidc" for failure in signals.failed)
    assert not any("stolen" in str(failure) for failure in signals.failed)


def test_a_provider_address_does_not_open_an_administrator_account(
    live_server, sso_settings, oidc_provider
):
    UserFactory(username="root", email="it@contoso.example", is_staff=True, is_superuser=True)
    subject = oidc_provider.person("mallory", email="it@contoso.example", email_verified=True)
    with Signals() as signals, browser_page(live_server.url) as page:
        sso_sign_in(page, "mallory")
        expect(
            page.get_by_role("heading", name="Single sign-on did not sign you in")
        ).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("An administrator account")
        page.goto("/studies/")
        expect(page).to_have_url(re.compile(r"/accounts/login/"))
    assert signals.logged_in == []
    assert [(f["method"], f["username"], f["subject"]) for f in signals.failed] == [
        ("oidc", "mallory", subject)
    ]
    assert not ExternalIdentity.objects.exists()
    assert not get_user_model().objects.filter(username="mallory").exists()


@pytest.mark.parametrize(
    ("setting", "value", "said", "internal", "logged"),
    [
        (
            "OIDC_USERNAME_CLAIM",
            "upn",
            "Single Sign-on ist auf dieser Website nicht richtig eingerichtet",
            "upn",
            "The provider sent no 'upn' claim, which gives the username (OIDC_USERNAME_CLAIM)",
        ),
        (
            "OIDC_RP_SIGN_ALGO",
            "HS256",
            "Die Antwort des Anmeldedienstes konnte nicht überprüft werden",
            "RS256",
            "does not match the client's OIDC_RP_SIGN_ALGO",
        ),
    ],
)
def test_a_provider_set_up_wrongly_is_said_plainly_and_its_detail_only_recorded(
    live_server, sso_settings, oidc_provider, setting, value, said, internal, logged
):
    """The provider's real answers, with one setting wrong: the page (in German) says what the
    person can do, and only the failed sign-in's reason names the claim or the algorithm."""
    setattr(sso_settings, setting, value)
    oidc_provider.person("nurse.lee", email="lee@contoso.example")
    with Signals() as signals, browser_page(live_server.url, locale="de-DE") as page:
        sso_sign_in(page, "nurse.lee")
        expect(
            page.get_by_role("heading", name="Die Anmeldung per Single Sign-on ist fehlgeschlagen")
        ).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text(said)
        main = page.locator("main").inner_text()
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", main)
        for word in (internal, setting, "Error", "("):
            assert word not in main, word
    assert signals.logged_in == []
    [failure] = signals.failed
    assert logged in failure["reason"]
