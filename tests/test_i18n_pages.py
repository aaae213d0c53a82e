"""German and Spanish users see the account pages in their language: chosen by the browser's
Accept-Language, by the switcher (a cookie), or by their stored choice on any browser; an
unknown language falls back to English; dates follow the language."""

import datetime
import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotation import services
from annotation.models import Invitation, Membership, UserPreference
from tests.conftest import study_drafted
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = {
    "en": ("Log in", "User name", "Password"),
    "de": ("Anmelden", "Benutzername", "Passwort"),
    "es": ("Iniciar sesión", "Nombre de usuario", "Contraseña"),
}


def html_lang(text: str) -> str:
    return re.search(r'<html lang="([^"]+)"', text).group(1)


@pytest.mark.parametrize("language", ["de", "es"])
def test_login_page_follows_accept_language(language):
    page = Client(HTTP_ACCEPT_LANGUAGE=f"{language}-{language.upper()},{language};q=0.9").get(
        reverse("login")
    )
    assert html_lang(page.text) == language
    heading, user_label, password_label = LOGIN[language]
    assert f"<h1>{heading}</h1>" in page.text
    assert f'<label for="id_username">{user_label}</label>' in page.text
    assert f'<label for="id_password">{password_label}</label>' in page.text
    assert "Log in" not in page.text


@pytest.mark.parametrize("header", ["fr-FR,fr;q=0.9", "xx", ""])
def test_a_language_not_offered_falls_back_to_english(header, client):
    page = Client(HTTP_ACCEPT_LANGUAGE=header).get(reverse("login"))
    assert html_lang(page.text) == "en"
    assert "<h1>Log in</h1>" in page.text
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    assert html_lang(client.get(reverse("login")).text) == "en"


def test_the_switcher_is_on_every_page_with_each_language_named_in_itself(client, rater):
    for url in (reverse("login"), reverse("rater_home"), reverse("api_token")):
        if url != reverse("login"):
            client.force_login(rater)
        page = client.get(url).text
        assert 'action="/i18n/setlang/"' in page
        assert '<label for="language-select">Language</label>' in page
        for code, name in (("en", "English"), ("de", "Deutsch"), ("es", "Español")):
            assert re.search(rf'<option value="{code}" lang="{code}"[^>]*>{name}</option>', page)


def test_switching_sets_the_cookie_and_goes_back():
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(reverse("set_language"), {"language": "es", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert response.url == "/accounts/login/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    assert "<h1>Iniciar sesión</h1>" in client.get(reverse("login")).text
    # The cookie wins over the browser's Accept-Language.
    assert html_lang(client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="de").text) == "es"


def test_switching_to_an_unknown_language_changes_nothing(client):
    client.post(reverse("set_language"), {"language": "de", "next": "/"})
    response = client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    assert response.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"


def test_switching_to_another_site_is_refused_as_next(client):
    response = client.post(
        reverse("set_language"), {"language": "de", "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response.url == "/"


def test_a_signed_in_users_choice_is_stored_and_applied_on_another_browser(rater):
    first = Client()
    first.force_login(rater)
    first.post(reverse("set_language"), {"language": "de", "next": "/rate/"})
    assert UserPreference.objects.get(user=rater).language == "de"
    # Another browser, whose own language is Spanish: signing in brings the stored German.
    second = Client(HTTP_ACCEPT_LANGUAGE="es")
    assert html_lang(second.get(reverse("login")).text) == "es"
    response = second.post(reverse("login"), {"username": rater.username, "password": PASSWORD})
    assert response.status_code == 302
    assert second.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    page = second.get(reverse("api_token")).text
    assert html_lang(page) == "de"
    assert "<h1>API-Token</h1>" in page


def test_a_language_chosen_before_signing_in_is_kept_for_the_user(rater):
    browser = Client()
    browser.post(reverse("set_language"), {"language": "es", "next": "/"})
    browser.post(reverse("login"), {"username": rater.username, "password": PASSWORD})
    assert UserPreference.objects.get(user=rater).language == "es"


def test_a_failed_sign_in_applies_no_stored_language(rater):
    UserPreference.objects.create(user=rater, language="de")
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.post(reverse("login"), {"username": rater.username, "password": "wrong"})
    assert settings.LANGUAGE_COOKIE_NAME not in browser.cookies


def test_the_locked_out_page_in_german(client, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _attempt in range(3):
        response = client.post(
            reverse("login"),
            {"username": "nobody", "password": "wrong"},
            HTTP_ACCEPT_LANGUAGE="de",
        )
    assert response.status_code == 429
    assert "Zu viele Anmeldeversuche" in response.text
    assert "Nach 2 falschen Passwörtern" in response.text


@pytest.fixture
def invitation(study_admin, raters) -> Invitation:
    study = study_drafted(study_admin, raters)
    return Invitation.objects.create(
        study=study, email="new.doctor@example.org", created_by=study_admin
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("de", ["Oder ein Konto erstellen", "Konto erstellen und beitreten", "Melden Sie sich an"]),
        ("es", ["O cree una cuenta", "Crear cuenta e incorporarse", "Inicie sesión"]),
    ],
)
def test_invitation_page_in_the_users_language(client, invitation, language, expected):
    page = client.get(reverse("invitation", args=[invitation.token]), HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200
    for text in expected:
        assert text in page.text
    assert "Or create an account" not in page.text


def test_joining_by_invitation_in_spanish(client, invitation):
    url = reverse("invitation", args=[invitation.token])
    data = {"username": "nuevo", "password1": "a-long-pass-9x", "password2": "a-long-pass-9x"}
    response = client.post(url, data, HTTP_ACCEPT_LANGUAGE="es", follow=True)
    assert f"Es evaluador del estudio «{invitation.study.title}»." in response.text
    user = get_user_model().objects.get(username="nuevo")
    assert Membership.objects.filter(study=invitation.study, user=user).exists()


def test_a_refused_invitation_says_why_in_german(client, invitation):
    invitation.revoked_at = timezone.now()
    invitation.save()
    page = client.get(reverse("invitation", args=[invitation.token]), HTTP_ACCEPT_LANGUAGE="de")
    assert "Diese Einladung wurde vom Administrator der Studie zurückgezogen." in page.text


@pytest.fixture
def consent_study(study_admin, raters):
    study = study_drafted(study_admin, raters)
    services.study_consent_set(study=study, text="Ich willige ein.")
    services.rater_question_add_template(study=study, name="years")
    services.study_language_set(study=study, language="de")
    services.study_open(study=study)
    study.refresh_from_db()
    return study


@pytest.mark.parametrize(
    ("language", "heading", "accept"),
    [
        ("de", "Einwilligung zur Teilnahme", "Zustimmen und fortfahren"),
        ("es", "Consentimiento para participar", "Aceptar y continuar"),
    ],
)
def test_consent_page_in_the_raters_language(
    rater_client, consent_study, language, heading, accept
):
    page = rater_client.get(
        reverse("rater_consent", args=[consent_study.token]), HTTP_ACCEPT_LANGUAGE=language
    )
    assert f"<h1>{heading}</h1>" in page.text
    assert accept in page.text
    # The statement is the study's own text, marked with the study's language (German here),
    # whatever the interface's language.
    assert 'id="consent-text" tabindex="0" lang="de"' in page.text


def test_consent_refusal_and_background_errors_in_spanish(rater_client, consent_study):
    url = reverse("rater_consent", args=[consent_study.token])
    page = rater_client.post(url, {"version": "1"}, HTTP_ACCEPT_LANGUAGE="es", follow=True)
    assert "Marque la casilla para aceptar la declaración o abandone el estudio." in page.text
    rater_client.post(url, {"version": "1", "accept": "1"})
    background = reverse("rater_background", args=[consent_study.token])
    page = rater_client.post(background, {"years": ""}, HTTP_ACCEPT_LANGUAGE="es")
    assert "se requiere una respuesta." in page.text
    assert "<h1>Sobre usted</h1>" in page.text


@pytest.mark.parametrize(
    ("language", "accepted"),
    [("de", "06.12.2026 14:30"), ("es", "06/12/2026 14:30"), ("en", "6 Dec 2026, 14:30")],
)
def test_consent_date_in_the_locale(rater_client, rater, consent_study, language, accepted):
    when = datetime.datetime(2026, 12, 6, 14, 30, tzinfo=datetime.UTC)
    Membership.objects.filter(study=consent_study, user=rater).update(
        consent_version=1, consent_accepted_at=when
    )
    page = rater_client.get(
        reverse("rater_my_consent", args=[consent_study.token]), HTTP_ACCEPT_LANGUAGE=language
    )
    assert f"{accepted} UTC" in page.text


def test_api_token_page_counts_days_in_german(client, rater, settings):
    settings.API_TOKEN_MAX_AGE_DAYS = 1
    client.force_login(rater)
    page = client.get(reverse("api_token"), HTTP_ACCEPT_LANGUAGE="de").text
    assert "Tokens werden 1 Tag nach ihrer Erstellung ungültig." in page
    settings.API_TOKEN_MAX_AGE_DAYS = 90
    page = client.get(reverse("api_token"), HTTP_ACCEPT_LANGUAGE="de").text
    assert "Tokens werden 90 Tage nach ihrer Erstellung ungültig." in page


def test_new_user_without_choice_keeps_the_browsers_language():
    user = UserFactory(username="nochoice")
    browser = Client(HTTP_ACCEPT_LANGUAGE="es")
    browser.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert not UserPreference.objects.filter(user=user).exists()
    assert html_lang(browser.get(reverse("api_token")).text) == "es"


def test_the_api_stays_english_for_a_german_browser(client, study_admin):
    client.force_login(study_admin)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    response = client.post(
        "/api/v1/studies/", {}, content_type="application/json", HTTP_ACCEPT_LANGUAGE="de"
    )
    assert response.status_code == 400
    assert response.json()["title"] == ["This field is required."]
    assert response["Content-Language"] == "en"
