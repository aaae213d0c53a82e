"""What a person reads when single sign-on fails, signs out, or is offered: a fixed, translated
sentence per kind of failure with the time to quote to IT, never an address, a port, a setting
or a library's words (those go to the server log and the audit entry's reason); a sign-out the
provider could not hear about says so; the language switcher leads to a page that answers a
GET; the sign-in page puts the provider's button first. Through the real provider:
test_browser_sso.py."""

import re
from html import unescape

import jwt
import pytest
import requests
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from annotation.models import AuditEvent
from tests.factories import UserFactory
from tests.support.sso import ISSUER, sign_in_started

pytestmark = pytest.mark.django_db

CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens

# What must never reach the page: where the provider is, the library's and Python's words,
# and the settings an operator would change.
INTERNALS = ("127.0.0.1", ":9", "Errno", "ConnectionError", "HTTPConnection", "well-known", "OIDC_")

UNREACHABLE = {
    "en": "The sign-in service could not be reached. Try again in a few minutes",
    "de": "Der Anmeldedienst ist nicht erreichbar. Versuchen Sie es in einigen Minuten erneut",
    "es": "No se pudo contactar con el servicio de inicio de sesión. Inténtelo de nuevo",
}
NOT_SET_UP = {
    "en": "Single sign-on is not set up correctly on this site",
    "de": "Single Sign-on ist auf dieser Website nicht richtig eingerichtet",
    "es": "El inicio de sesión único no está bien configurado en este sitio",
}
HEADING = {
    "en": "Single sign-on did not sign you in",
    "de": "Die Anmeldung per Single Sign-on ist fehlgeschlagen",
    "es": "No se pudo iniciar sesión con el inicio de sesión único",
}
TIME_SAID = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")


def shown(response) -> str:
    """The page's main content as read, without the header (whose switcher names languages)."""
    page = unescape(response.content.decode())
    return page[page.index("<main") :]


def sign_in_failures() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="account.sign_in_failed").order_by("seq"))


@pytest.mark.parametrize("language", ["en", "de", "es"])
def test_an_unreachable_provider_is_said_plainly_and_the_detail_is_only_logged(
    client, sso_on, caplog, language
):
    sso_on.OIDC_OP_AUTHORIZATION_ENDPOINT, sso_on.OIDC_ISSUER = "", CLOSED
    response = client.get("/oidc/authenticate/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 503
    page = shown(response)
    assert f"<h1>{HEADING[language]}</h1>" in page
    assert UNREACHABLE[language] in page
    assert TIME_SAID.search(page)
    for internal in INTERNALS:
        assert internal not in page, internal
    # The operator reads where and why, in the log and in the audit entry.
    detail = f"{CLOSED}/.well-known/openid-configuration could not be read (ConnectionError"
    assert detail in caplog.text
    assert "OIDC_ISSUER" in caplog.text
    [failed] = sign_in_failures()
    assert detail in failed.details["reason"]
    assert failed.details["method"] == "oidc"


def test_a_discovery_address_that_names_no_provider_is_not_set_up_correctly(
    client, sso_on, monkeypatch
):
    sso_on.OIDC_OP_AUTHORIZATION_ENDPOINT, sso_on.OIDC_ISSUER = "", "https://idp.example/typo"

    def get(url, timeout):
        answer = requests.Response()
        answer.status_code, answer.url = 404, url
        return answer

    monkeypatch.setattr(requests, "get", get)  # as provider reads it
    response = client.get("/oidc/authenticate/", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 503
    assert NOT_SET_UP["de"] in shown(response)
    assert "idp.example" not in shown(response)
    assert "404 Client Error" in sign_in_failures()[0].details["reason"]


@pytest.mark.parametrize(
    ("answer", "said", "internal", "logged"),
    [
        (
            SuspiciousOperation(
                "The provider algorithm 'RS256' does not match the client's OIDC_RP_SIGN_ALGO."
            ),
            "Die Antwort des Anmeldedienstes konnte nicht überprüft werden",
            "RS256",
            "the answer could not be verified: SuspiciousOperation: The provider algorithm",
        ),
        (
            requests.HTTPError("400 Client Error: Bad Request for url: https://idp.example/token"),
            "Der Anmeldedienst hat diese Anmeldung nicht angenommen",
            "HTTPError",
            "HTTPError: 400 Client Error: Bad Request for url: https://idp.example/token",
        ),
        (
            requests.ConnectionError("[Errno 111] Connection refused"),
            "Der Anmeldedienst ist nicht erreichbar",
            "Errno",
            "ConnectionError: [Errno 111] Connection refused",
        ),
    ],
)
def test_the_callbacks_failures_show_a_translated_sentence_and_log_the_library_words(
    client, sso_on, monkeypatch, caplog, answer, said, internal, logged
):
    def authenticate(backend, request, **kwargs):
        raise answer

    monkeypatch.setattr(OIDCAuthenticationBackend, "authenticate", authenticate)
    state = sign_in_started(client)
    response = client.get(
        "/oidc/callback/", {"state": state, "code": "c"}, HTTP_ACCEPT_LANGUAGE="de"
    )
    page = shown(response)
    assert said in page
    assert internal not in page
    assert "idp.example" not in page
    assert TIME_SAID.search(page)
    assert logged in caplog.text
    assert logged in sign_in_failures()[0].details["reason"]


def test_a_claim_the_provider_does_not_send_is_the_operators_not_the_persons(
    client, sso_on, monkeypatch
):
    sso_on.OIDC_USERNAME_CLAIM = "upn"

    def authenticate(backend, request, **kwargs):
        # What the library does with a verified ID token: the claims decide the account.
        return backend.get_or_create_user("at", "it", {"sub": "sub-9", "name": "Kim"})

    monkeypatch.setattr(OIDCAuthenticationBackend, "authenticate", authenticate)
    state = sign_in_started(client)
    response = client.get(
        "/oidc/callback/", {"state": state, "code": "c"}, HTTP_ACCEPT_LANGUAGE="es"
    )
    assert response.status_code == 403
    page = shown(response)
    assert NOT_SET_UP["es"] in page
    assert "upn" not in page
    assert "OIDC_USERNAME_CLAIM" not in page
    [failed] = sign_in_failures()
    assert "The provider sent no 'upn' claim" in failed.details["reason"]
    assert failed.details["subject"] == "sub-9"


def test_a_refusal_that_is_the_persons_business_is_still_shown_translated(
    client, sso_on, monkeypatch
):
    user = UserFactory(username="kim", is_active=False)
    user.external_identities.create(issuer=ISSUER, subject="sub-9")

    def authenticate(backend, request, **kwargs):
        claims = {"iss": ISSUER, "sub": "sub-9", "preferred_username": "kim"}
        return backend.get_or_create_user("at", "it", claims)

    monkeypatch.setattr(OIDCAuthenticationBackend, "authenticate", authenticate)
    state = sign_in_started(client)
    response = client.get(
        "/oidc/callback/", {"state": state, "code": "c"}, HTTP_ACCEPT_LANGUAGE="de"
    )
    assert response.status_code == 403
    assert "Ihr evalapp-Konto ist deaktiviert" in shown(response)


# Signing out when the provider cannot be reached


def signed_in_through_the_provider(client, user) -> None:
    client.force_login(user, backend="annotation.sso.backends.OidcBackend")
    session = client.session
    session["oidc_id_token"] = "the.id.token"
    session.save()


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "Contoso Health could not be reached to end your session there"),
        ("de", "Contoso Health war nicht erreichbar, um Ihre Sitzung dort zu beenden"),
        ("es", "No se pudo contactar con Contoso Health para cerrar allí su sesión"),
    ],
)
def test_a_sign_out_the_provider_cannot_hear_says_its_session_may_live_on(
    client, sso_on, caplog, language, said
):
    sso_on.OIDC_ISSUER, sso_on.OIDC_OP_LOGOUT_ENDPOINT = CLOSED, ""
    sso_on.OIDC_PROVIDER_NAME = "Contoso Health"
    signed_in_through_the_provider(client, UserFactory(username="hal"))
    response = client.post("/accounts/logout/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    page = shown(response)
    assert said in page
    assert "data-provider-unreached" in page
    assert 'http-equiv="refresh"' not in response.content.decode()
    for internal in INTERNALS:
        assert internal not in page, internal
    assert f"{CLOSED}/.well-known/openid-configuration could not be read" in caplog.text


def test_a_sign_out_without_a_provider_session_to_end_still_goes_to_the_sign_in_page(
    client, sso_on
):
    sso_on.OIDC_ISSUER, sso_on.OIDC_OP_LOGOUT_ENDPOINT = CLOSED, ""
    client.force_login(UserFactory(username="ida"))  # a password sign-in: nothing to end
    response = client.post("/accounts/logout/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/")


# The language switcher on pages that answer a sign-out's POST


def switcher_next(response) -> str:
    return re.search(r'name="next" value="([^"]*)"', response.content.decode()).group(1)


@pytest.mark.parametrize("provider_reached", [True, False])
def test_switching_language_on_the_signed_out_page_lands_on_the_sign_in_page(
    client, sso_on, provider_reached
):
    if not provider_reached:
        sso_on.OIDC_ISSUER, sso_on.OIDC_OP_LOGOUT_ENDPOINT = CLOSED, ""
    signed_in_through_the_provider(client, UserFactory(username="joy"))
    response = client.post("/accounts/logout/")
    assert response.status_code == 200
    assert switcher_next(response) == "/accounts/login/"
    switched = client.post("/i18n/setlang/", {"language": "de", "next": switcher_next(response)})
    landed = client.get(switched["Location"])
    assert landed.status_code == 200
    assert '<html lang="de"' in landed.content.decode()


# The sign-in page with single sign-on


def test_with_single_sign_on_the_keyboard_reaches_the_providers_button_first(client, sso_on):
    page = client.get("/accounts/login/").content.decode()
    assert 'id="sso-sign-in"' in page
    assert "autofocus" not in page
    # The password form's button is the secondary one.
    assert re.search(r'<button type="submit">[^<]*Log in</button>', page)
    assert 'class="button primary" id="sso-sign-in"' in page


def test_without_single_sign_on_the_user_name_has_the_focus_and_log_in_is_primary(client, settings):
    settings.OIDC_RP_CLIENT_ID = ""
    page = client.get("/accounts/login/").content.decode()
    assert 'id="id_username" autocomplete="username" autofocus required' in page
    assert re.search(r'<button type="submit" class="primary">[^<]*Log in</button>', page)


def test_a_discovery_address_answering_html_is_not_set_up_correctly(client, sso_on, monkeypatch):
    # A 200 answer that is not JSON (a portal's or proxy's HTML page): provider.py's docstring
    # of _unreachable says "a document that is not JSON ... will not [work later]".
    sso_on.OIDC_OP_AUTHORIZATION_ENDPOINT, sso_on.OIDC_ISSUER = "", "https://idp.example/typo"

    def get(url, timeout):
        answer = requests.Response()
        answer.status_code, answer.url, answer._content = 200, url, b"<html>Welcome</html>"
        return answer

    monkeypatch.setattr(requests, "get", get)  # as provider reads it
    response = client.get("/oidc/authenticate/")
    page = shown(response)
    assert UNREACHABLE["en"] not in page
    assert NOT_SET_UP["en"] in page


def test_a_jwks_key_pyjwt_cannot_use_shows_the_failure_page(client, sso_on, monkeypatch):
    def authenticate(backend, request, **kwargs):
        raise jwt.PyJWKError("Unable to find an algorithm for key")

    monkeypatch.setattr(OIDCAuthenticationBackend, "authenticate", authenticate)
    state = sign_in_started(client)
    client.raise_request_exception = False
    response = client.get("/oidc/callback/", {"state": state, "code": "c"})
    assert response.status_code != 500
    assert AuditEvent.objects.filter(action="account.sign_in_failed").exists()
