"""The cached-user backend refuses a wrong password once, and leaves every other kind of
sign-in (a provider's code, a ticket) to the backends listed after it."""

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.test import RequestFactory, override_settings


class TicketBackend:
    """Signs in whoever brings the ticket "ok": a stand-in for single sign-on."""

    def authenticate(self, request, ticket=None):
        return User.objects.get(username="ticketed") if ticket == "ok" else None

    def get_user(self, user_id):
        return User.objects.filter(pk=user_id).first()


BACKENDS = [
    "evalapp.auth_cache.CachedModelBackend",
    "django.contrib.auth.backends.ModelBackend",
    "tests.test_auth_cache.TicketBackend",
]


@pytest.fixture
def request_():
    return RequestFactory().post("/accounts/login/")


@pytest.mark.django_db
@override_settings(AUTHENTICATION_BACKENDS=BACKENDS)
def test_a_sign_in_without_a_password_reaches_the_backends_after_it(request_):
    user = User.objects.create_user("ticketed", password="a long passphrase 1")
    assert authenticate(request_, ticket="ok") == user
    assert authenticate(request_, ticket="no") is None


@pytest.mark.django_db
@override_settings(AUTHENTICATION_BACKENDS=BACKENDS)
def test_a_wrong_password_is_refused_and_a_right_one_signs_in(request_, monkeypatch):
    user = User.objects.create_user("ticketed", password="a long passphrase 1")
    checked = []
    original = User.check_password
    monkeypatch.setattr(
        User, "check_password", lambda self, raw: checked.append(raw) or original(self, raw)
    )
    assert authenticate(request_, username="ticketed", password="wrong") is None
    assert checked == ["wrong"]  # hashed once: the plain ModelBackend is never asked
    assert authenticate(request_, username="ticketed", password="a long passphrase 1") == user
