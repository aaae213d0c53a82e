"""Single sign-on's messages are marked for translation: with a pseudo-translation swapped in,
the pages and refusals come out in it (no catalogue needed)."""

import pytest
import requests
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.utils import translation
from django.utils.html import escape
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from annotation import services
from annotation.sso import provider
from annotation.sso.attempts import SsoFailed
from annotation.sso.backends import OidcBackend
from annotation.sso.oidc import OidcSignIn
from tests.factories import UserFactory
from tests.support.sso import ISSUER, person, sign_in_started

pytestmark = pytest.mark.django_db


@pytest.fixture
def pseudo_translated(monkeypatch):
    """Every string marked for translation comes out as [[...]]; one that is not marked comes
    out as it is written."""
    real = translation._trans.gettext
    monkeypatch.setattr(translation._trans, "gettext", lambda message: f"[[{real(message)}]]")


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (requests.ConnectionError(), "[[The sign-in service could not be reached."),
        (requests.HTTPError(), "[[The sign-in service did not accept this sign-in."),
        (SuspiciousOperation("bad nonce"), "[[The sign-in service's answer could not be verified,"),
        (None, "[[The provider's answer signed no one in."),
    ],
)
def test_the_callbacks_failures_are_translated(
    client, sso_on, pseudo_translated, monkeypatch, answer, shown
):
    def authenticate(backend, request, **kwargs):
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(OIDCAuthenticationBackend, "authenticate", authenticate)
    response = client.get("/oidc/callback/", {"state": sign_in_started(client), "code": "c"})
    assert escape(shown) in response.content.decode()
    assert "[[If you tell your IT department, give them the time" in response.content.decode()


def test_the_callbacks_own_messages_are_translated(client, sso_on, pseudo_translated, monkeypatch):
    response = client.get("/oidc/callback/", {"state": "forged", "code": "c"})
    assert "[[This sign-in answer does not belong" in response.content.decode()
    response = client.get(
        "/oidc/callback/", {"state": sign_in_started(client), "error": "access_denied"}
    )
    assert "[[[[single sign-on]] did not sign you in (access_denied)." in response.content.decode()
    response = client.get("/oidc/callback/", {"state": sign_in_started(client), "error": "?"})
    assert "[[[[single sign-on]] did not sign you in. Try" in response.content.decode()
    # No backend takes the answer.
    monkeypatch.setattr(OidcBackend, "authenticate", lambda *args, **kwargs: None)
    response = client.get("/oidc/callback/", {"state": sign_in_started(client), "code": "c"})
    assert "[[Single sign-on is not set up on this site.]]" in response.content.decode()


def test_a_refused_account_is_explained_in_translation(pseudo_translated, draft_study):
    user = services.sso_user_sign_in(issuer=ISSUER, claims=person())
    user.is_active = False
    user.save()
    backend = OidcSignIn()
    backend.configure(provider.ProviderConfig(ISSUER, "https://a", "https://t", "", "https://j"))
    with pytest.raises(SsoFailed) as refused:
        backend.get_or_create_user("at", "it", {"sub": "sub-1", "preferred_username": "alice"})
    assert str(refused.value.message).startswith("[[Your evalapp account is deactivated.")
    refusals = [
        (person(subject="s2", email="root@contoso.example"), "[[An administrator account"),
        (person(subject="s3", email="two@contoso.example"), "[[More than one evalapp account"),
        (person(subject="s4", email="alice@contoso.example"), "[[The evalapp account with"),
    ]
    UserFactory(username="root", email="root@contoso.example", is_superuser=True)
    UserFactory(username="two.a", email="two@contoso.example")
    UserFactory(username="two.b", email="two@contoso.example")
    user.email, user.is_active = "alice@contoso.example", True
    user.save()
    for claims, said in refusals:
        with pytest.raises(ValidationError) as refused:
            services.sso_user_sign_in(issuer=ISSUER, claims=claims)
        assert refused.value.messages[0].startswith(said)


def test_the_user_info_about_someone_else_is_refused_in_translation(pseudo_translated, monkeypatch):
    backend = OidcSignIn()
    backend.configure(
        provider.ProviderConfig(ISSUER, "https://a", "https://t", "https://u", "https://j")
    )
    monkeypatch.setattr(backend, "get_userinfo", lambda *args: {"sub": "someone-else"})
    with pytest.raises(SsoFailed) as refused:
        backend.get_or_create_user("at", "it", {"sub": "sub-1", "preferred_username": "alice"})
    assert str(refused.value.message).startswith("[[The sign-in service's answer could not be")
    assert refused.value.reason == "the user info is about another sub than the ID token"


def test_a_password_account_refused_on_an_invitation_is_translated(
    client, settings, draft_study, study_admin, pseudo_translated
):
    settings.LOCAL_PASSWORDS = False
    invitation = draft_study.invitations.create(email="new@contoso.example", created_by=study_admin)
    response = client.post(f"/invite/{invitation.token}/", {"username": "newbie"})
    assert response.status_code == 403
    assert response.context["form"].non_field_errors() == [
        "[[Accounts with a password cannot be created on this site.]]"
    ]
