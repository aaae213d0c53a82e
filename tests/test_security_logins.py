"""Password and token guessing: each test is the attacker's requests and the refusal expected.

Logins are locked out by django-axes (per user name and per address); wrong API tokens are
counted per address in the cache; tokens are shown once, rotate, expire, and take `Bearer`.
"""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.factories import PASSWORD, UserFactory
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

LIMIT = 5
API = "/api/v1/studies/"


@pytest.fixture(autouse=True)
def _small_limits(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.API_TOKEN_FAILURE_LIMIT = LIMIT


@pytest.fixture
def victim(db):
    return UserFactory(username="victim")


def _log_in(client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def _guess(client, username: str, address: str = "203.0.113.7") -> None:
    for n in range(LIMIT):
        response = _log_in(client, username, f"guess-{n}", address)
        assert response.status_code in (200, 429)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_wrong_passwords_lock_the_account_and_then_the_right_one_is_refused(client, victim):
    for n in range(LIMIT - 1):
        assert _log_in(client, "victim", f"guess-{n}").status_code == 200  # the form again
    response = _log_in(client, "victim", "guess-last")
    assert response.status_code == 429

    response = _log_in(client, "victim", PASSWORD)

    assert response.status_code == 429
    assert "Too many attempts to log in" in response.content.decode()
    assert f"After {LIMIT} wrong passwords" in response.content.decode()
    assert not _signed_in(client)


def test_a_locked_account_is_refused_from_another_address_too(client, victim):
    _guess(client, "victim", address="203.0.113.7")

    response = _log_in(client, "victim", PASSWORD, address="198.51.100.9")

    assert response.status_code == 429
    assert not _signed_in(client)


def test_an_address_guessing_many_accounts_is_locked_out(client, db):
    for n in range(LIMIT):
        UserFactory(username=f"spray{n}")
        _log_in(client, f"spray{n}", "Winter2026!")
    UserFactory(username="bystander")

    response = _log_in(client, "bystander", PASSWORD)

    assert response.status_code == 429
    assert not _signed_in(client)


def test_logging_in_to_ones_own_account_does_not_clear_the_count(client, victim):
    UserFactory(username="attacker")
    for n in range(LIMIT - 1):
        _log_in(client, "victim", f"guess-{n}")
        assert _log_in(client, "attacker", PASSWORD).status_code == 302
        client.logout()

    response = _log_in(client, "victim", "guess-last")

    assert response.status_code == 429


def test_the_x_forwarded_for_a_client_sends_does_not_choose_its_address(client, victim, settings):
    settings.NUM_PROXIES = 1
    for n in range(LIMIT):
        client.post(
            reverse("login"),
            {"username": f"nobody{n}", "password": "x"},
            REMOTE_ADDR="10.0.0.2",  # the proxy
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.7",  # the proxy's own hop is last
        )
    assert AccessAttempt.objects.filter(ip_address="203.0.113.7").count() == LIMIT

    response = client.post(
        reverse("login"),
        {"username": "victim", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.7",
    )

    assert response.status_code == 429


@pytest.mark.parametrize("how", ["username", "ip"])
def test_staff_reset_unlocks(client, victim, how):
    _guess(client, "victim")
    assert _log_in(client, "victim", PASSWORD).status_code == 429

    if how == "username":
        call_command("axes_reset_username", "victim")
    else:
        call_command("axes_reset_ip", "203.0.113.7")
    response = _log_in(
        client, "victim", PASSWORD, address="203.0.113.7" if how == "ip" else "1.2.3.4"
    )

    assert response.status_code == 302
    assert _signed_in(client)


def test_staff_see_and_delete_attempts_in_the_admin(client, victim, db):
    _guess(client, "victim")
    staff = UserFactory(username="operator", is_staff=True, is_superuser=True)
    client.force_login(staff)
    attempt = AccessAttempt.objects.get(username="victim")

    listing = client.get(reverse("admin:axes_accessattempt_changelist"))
    client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})

    assert "victim" in listing.content.decode()
    assert not AccessAttempt.objects.filter(username="victim").exists()


def test_the_sign_in_dialog_fetch_gets_a_non_success_when_locked_out(client, victim):
    _guess(client, "victim")

    # What static/js/rater/session.js sends: a form POST by fetch, redirects not followed.
    response = client.post(
        reverse("login"),
        {"username": "victim", "password": PASSWORD, "next": "/rate/"},
        REMOTE_ADDR="203.0.113.7",
        HTTP_X_REQUESTED_WITH="fetch",
    )

    assert response.status_code == 429
    assert not _signed_in(client)


def _call(client, key: str, address: str, keyword: str = "Token"):
    return client.get(API, HTTP_AUTHORIZATION=f"{keyword} {key}", REMOTE_ADDR=address)


def test_guessed_api_tokens_get_429_after_the_limit(client, victim):
    valid = Token.objects.create(user=victim)
    for n in range(LIMIT):
        assert _call(client, f"{n:040x}", "203.0.113.7").status_code == 401

    refused = _call(client, "f" * 40, "203.0.113.7")
    even_the_right_one = _call(client, valid.key, "203.0.113.7")

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 900
    assert even_the_right_one.status_code == 429


def test_a_valid_token_still_works_from_another_address(client, victim):
    valid = Token.objects.create(user=victim)
    for n in range(LIMIT):
        _call(client, f"{n:040x}", "203.0.113.7")

    assert _call(client, valid.key, "198.51.100.9").status_code == 200


def test_bearer_is_accepted(client, victim):
    valid = Token.objects.create(user=victim)

    assert _call(client, valid.key, "198.51.100.9", keyword="Bearer").status_code == 200
    assert _call(client, "0" * 40, "198.51.100.9", keyword="Bearer").status_code == 401


def test_an_expired_token_is_refused(client, victim, settings):
    settings.API_TOKEN_MAX_AGE_DAYS = 30
    token = Token.objects.create(user=victim)
    Token.objects.filter(pk=token.pk).update(created=token.created - timedelta(days=31))

    response = _call(client, token.key, "198.51.100.9")

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_token_within_its_age_works(client, victim, settings):
    settings.API_TOKEN_MAX_AGE_DAYS = 30
    token = Token.objects.create(user=victim)
    Token.objects.filter(pk=token.pk).update(created=token.created - timedelta(days=29))

    assert _call(client, token.key, "198.51.100.9").status_code == 200


def test_the_token_page_is_not_stored_and_shows_the_full_token_only_once(client, victim):
    client.force_login(victim)

    created = client.post(reverse("api_token"))
    key = Token.objects.get(user=victim).key
    later = client.get(reverse("api_token"))

    for response in (created, later):
        assert "no-store" in response["Cache-Control"]
    assert key in created.content.decode()
    assert key not in later.content.decode()
    assert key[:6] in later.content.decode()


def test_rotation_needs_confirmation_and_ends_the_old_token(client, victim):
    old = Token.objects.create(user=victim).key
    client.force_login(victim)

    unconfirmed = client.post(reverse("api_token"))
    assert unconfirmed.status_code == 400
    assert Token.objects.get(user=victim).key == old

    rotated = client.post(reverse("api_token"), {"confirm": "1"})
    new = Token.objects.get(user=victim).key

    assert new != old
    assert new in rotated.content.decode()
    assert _call(client, old, "198.51.100.9").status_code == 401
    assert _call(client, new, "198.51.100.9").status_code == 200


def _in_browser(test):
    for mark in BROWSER_MARKS:
        test = mark(test)
    return test


@_in_browser
def test_the_rater_pages_sign_in_dialog_says_a_locked_out_login_did_not_sign_in(
    live_server, open_study, raters
):
    rater = raters[0]
    first = open_study.assignments.filter(rater=rater).order_by("position").first()
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{open_study.token}/{first.token}/")
        page.wait_for_load_state()
        other = page.context.new_page()
        other.goto("/rate/")
        other.click("button:has-text('Log out')")
        other.wait_for_url("**/accounts/login/**")
        for n in range(LIMIT):  # someone guessing the rater's password
            other.goto("/accounts/login/")
            other.fill("#id_username", rater.username)
            other.fill("#id_password", f"guess-{n}")
            other.click("button[type=submit]")
        other.wait_for_selector("text=Too many attempts to log in")
        other.close()

        page.check("#q-overall input[value='2']")
        page.wait_for_selector("#signed-out:not([hidden])")
        page.click("[data-sign-in]")
        page.fill("#sign-in-username", rater.username)
        page.fill("#sign-in-password", PASSWORD)
        page.click("#sign-in button[type=submit]")

        page.wait_for_selector("[data-sign-in-error]:has-text('did not sign you in')")
        assert "Saved" not in page.locator("#q-overall .status").inner_text()
    assert not first.ratings.exists()
