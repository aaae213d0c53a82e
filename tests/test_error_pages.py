"""The CSRF-failure and 500 pages as a person meets them: the language switcher never leads to
an address that answers only a POST (HTTP 405); a stale "Log out" says the person is still
signed in and offers a Log out that works; the 500 page gives the time and a reference to quote
to IT, the same reference in the server log beside the exception."""

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse

import evalapp.views
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STALE = "x" * 32  # a token of the right length that the cookie does not match


def switcher_next(page: str) -> str:
    return re.search(r'name="next" value="([^"]*)"', page).group(1)


def csrf_client(user) -> Client:
    """A browser signed in as `user`, holding a CSRF cookie, whose forms are checked."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("api_token"))  # any page with a form sets the cookie
    assert "csrftoken" in client.cookies
    return client


# The language switcher on pages answering a POST


def test_switching_language_on_a_csrf_failure_lands_on_a_page_that_answers(
    study_admin, draft_study
):
    client = csrf_client(study_admin)
    posted_to = reverse("study_analysis", args=[draft_study.token])
    assert client.get(posted_to).status_code == 405  # why the switcher must not go back there
    response = client.post(posted_to, {"csrfmiddlewaretoken": STALE})
    assert response.status_code == 403
    assert "data-csrf-failure" in response.content.decode()
    token = client.cookies["csrftoken"].value
    switched = client.post(
        "/i18n/setlang/",
        {"language": "es", "next": switcher_next(response.content.decode())},
        HTTP_X_CSRFTOKEN=token,
        follow=True,
    )
    assert switched.status_code == 200
    assert '<html lang="es"' in switched.content.decode()


@pytest.mark.parametrize(("method", "expected"), [("get", "/studies/x/?page=2"), ("post", "/")])
def test_by_default_the_switcher_goes_back_only_to_a_page_that_was_got(method, expected):
    request = getattr(RequestFactory(), method)("/studies/x/?page=2")
    request.user = AnonymousUser()
    assert switcher_next(render_to_string("base.html", request=request)) == expected


def test_switching_language_after_a_wrong_password_comes_back_to_the_sign_in_page(client):
    UserFactory(username="lee")
    response = client.post(
        reverse("login"), {"username": "lee", "password": "wrong", "next": "/studies/"}
    )
    assert response.status_code == 200
    target = switcher_next(response.content.decode())
    assert target == "/accounts/login/?next=%2Fstudies%2F"
    assert client.get(target).status_code == 200


# A "Log out" from a tab older than the last sign-in


@pytest.mark.parametrize(
    ("language", "heading"),
    [("en", "You are still signed in"), ("de", "Sie sind noch angemeldet"), ("es", "Su sesión")],
)
def test_a_stale_log_out_says_still_signed_in_and_offers_one_that_works(language, heading):
    user = UserFactory(username="nurse.kim")
    client = csrf_client(user)
    client.cookies["django_language"] = language
    response = client.post(reverse("logout"), {"csrfmiddlewaretoken": STALE})
    page = response.content.decode()
    assert response.status_code == 403
    assert heading in page
    assert "data-still-signed-in" in page
    assert "not saved" not in page
    # Not signed out by a request without a valid token: a page elsewhere could send it.
    assert client.session["_auth_user_id"] == str(user.pk)
    # The page's own Log out (beside the header's) carries a token that works.
    form = re.search(
        r'<section[^>]*data-still-signed-in.*?<form method="post" action="/accounts/logout/">'
        r'<input type="hidden" name="csrfmiddlewaretoken" value="(\w+)">',
        page,
        re.S,
    )
    assert form is not None
    response = client.post(reverse("logout"), {"csrfmiddlewaretoken": form.group(1)})
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_stale_log_out_after_signing_out_elsewhere_says_signed_out():
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("login"))
    response = client.post(reverse("logout"), {"csrfmiddlewaretoken": STALE})
    page = response.content.decode()
    assert response.status_code == 403
    assert "You are signed out" in page
    assert "not saved" not in page


# The 500 page


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "tell your IT department the time"),
        ("de", "nennen Sie Ihrer IT-Abteilung die Uhrzeit"),
        ("es", "indique a su departamento de informática la hora"),
    ],
)
def test_the_500_page_gives_the_time_and_a_reference_the_log_has_with_the_exception(
    monkeypatch, caplog, language, words
):
    class Broken:
        def cursor(self):
            raise ConnectionRefusedError("database at db:5432 refused")

    monkeypatch.setattr(evalapp.views, "connection", Broken())
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE=language)
    response = client.get(reverse("healthz"))
    page = response.content.decode()
    assert response.status_code == 500
    assert f'<html lang="{language}">' in page
    assert words in page
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page)
    reference = re.search(r"<strong>([0-9a-f]{8})</strong>", page).group(1)
    assert "db:5432" not in page
    logged = [r.getMessage() for r in caplog.records if reference in r.getMessage()]
    assert len(logged) == 1
    assert "ConnectionRefusedError('database at db:5432 refused')" in logged[0]
    assert "/static/" not in page


def test_the_500_page_reads_no_database(django_assert_num_queries):
    request = RequestFactory().get("/")
    with django_assert_num_queries(0):
        response = evalapp.views.server_error(request)
    assert response.status_code == 500
    assert "UTC" in response.content.decode()


def test_the_500_log_line_escapes_the_path(rf, caplog):
    import evalapp.views

    request = rf.get("/x")
    request.path = "/x\nServer error deadbeef at 2026-01-01 00:00:00 UTC on GET /forged: None"
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        evalapp.views.server_error(request)
    lines = [r.getMessage() for r in caplog.records if r.name == "evalapp.views"]
    assert "\n" not in lines[0]
