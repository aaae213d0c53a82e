"""Answers on the background and post-study forms kept on a bad day: the owner note names the
rater, the study and the form; a form posted with a stale CSRF token (the rater signed in again
in another tab) keeps the answers and goes back to the form instead of Django's bare 403; any
other refused form gets a page that says what happened; answers kept for someone else are
dropped when another user signs in."""

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from annotation import services
from annotation.views.consent import OWNER_SALT
from tests.factories import PASSWORD
from tests.test_consent import consent_study, membership  # noqa: F401

pytestmark = pytest.mark.django_db

KEY = "rater-answers-kept:{token}:{phase}"
ANSWERS = {"specialty": "surgery", "years": "3"}


def note(user, token, phase="background") -> str:
    return signing.dumps([user.pk, token, phase], salt=OWNER_SALT)


def accepted(study, user):
    services.rater_consent_accept(membership=membership(study, user), version=1)


def strict_client(user=None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def test_the_owner_note_holds_only_for_its_study_and_form(consent_study, rater, client):  # noqa: F811
    token = consent_study.token
    url = reverse("rater_background", args=[token])
    for wrong in (
        note(rater, token, "post_study"),  # the post-study form's note
        note(rater, "another-study"),
        signing.dumps(rater.pk, salt=OWNER_SALT),  # the old note, naming the rater only
    ):
        response = client.post(url, {"owner": wrong, **ANSWERS})
        assert response.url.startswith(reverse("login"))
        assert KEY.format(token=token, phase="background") not in client.session
    client.post(url, {"owner": note(rater, token), **ANSWERS})
    assert KEY.format(token=token, phase="background") in client.session


def test_a_stale_csrf_token_keeps_the_answers_and_the_form_shows_them(consent_study, rater):  # noqa: F811
    accepted(consent_study, rater)
    client = strict_client(rater)
    url = reverse("rater_background", args=[consent_study.token])
    response = client.post(url, {"owner": note(rater, consent_study.token), **ANSWERS})
    assert (response.status_code, response.url) == (302, url)
    assert membership(consent_study, rater).background == {}  # kept, never saved

    page = client.get(url)
    text = page.content.decode()
    assert "This form had expired" in text
    assert page.context["questions"][0][1] == "surgery"
    assert dict((q.key, v) for q, v in page.context["questions"])["years"] == "3"
    # Once: the next visit shows the form empty again.
    again = client.get(url)
    assert dict((q.key, v) for q, v in again.context["questions"])["years"] is None


def test_a_stale_csrf_token_signed_out_goes_to_the_sign_in_page_with_the_answers_kept(
    consent_study,  # noqa: F811
    rater,
):
    client = strict_client()
    url = reverse("rater_post_study", args=[consent_study.token])
    response = client.post(url, {"owner": note(rater, consent_study.token, "post_study")})
    assert response.url.startswith(reverse("login"))
    assert KEY.format(token=consent_study.token, phase="post_study") in client.session
    login = client.get(response.url)
    assert "You were signed out before your answers were saved" in login.content.decode()


def test_a_stale_csrf_token_with_another_users_note_is_refused_and_nothing_kept(
    consent_study,  # noqa: F811
    raters,
):
    client = strict_client(raters[1])
    url = reverse("rater_background", args=[consent_study.token])
    response = client.post(url, {"owner": note(raters[0], consent_study.token), **ANSWERS})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
    assert not [k for k in client.session.keys() if k.startswith("rater-answers-kept:")]  # noqa: SIM118


def test_any_other_refused_form_gets_a_page_without_inline_style_and_scripts_a_short_403(
    study_admin,
):
    client = strict_client(study_admin)
    page = client.post(reverse("study_create"), {"title": "A study"})
    assert page.status_code == 403
    body = page.content.decode()
    assert "This form has expired" in body
    assert "<style" not in body
    assert "style=" not in body
    script = client.post(
        reverse("study_create"), {"title": "A study"}, headers={"HX-Request": "true"}
    )
    assert script.status_code == 403
    assert script.json() == {"detail": "CSRF verification failed."}


def test_the_page_is_translated(study_admin):
    client = strict_client(study_admin)
    page = client.post(reverse("study_create"), {}, headers={"Accept-Language": "de"})
    assert page.status_code == 403
    assert "This form has expired" not in page.content.decode()


def test_signing_in_drops_answers_kept_for_someone_else(consent_study, raters, client):  # noqa: F811
    first, second = raters[0], raters[1]
    url = reverse("rater_background", args=[consent_study.token])
    client.post(url, {"owner": note(first, consent_study.token), **ANSWERS})
    key = KEY.format(token=consent_study.token, phase="background")
    assert key in client.session
    client.post(reverse("login"), {"username": second.username, "password": PASSWORD})
    assert "_auth_user_id" in client.session
    assert key not in client.session
