"""The authentication backends single sign-on adds: the OpenID Connect one, and the rule that
with LOCAL_PASSWORDS=0 a password signs in a superuser only (break glass, at /admin/)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from annotation.sso.attempts import OidcAttempt
from evalapp.auth_cache import CachedModelBackend


class OidcBackend(ModelBackend):
    """Signs in with the authorisation code of a callback, and nothing else: a password sign-in
    passes it by. A failure raises SsoFailed (never returns None), so the callback view sends
    `user_login_failed` once, with credentials that say what happened.

    Django makes every listed backend for each password sign-in and each permission check: the
    exchange with the provider (annotation.sso.oidc, with mozilla-django-oidc, requests and
    PyJWT) is imported at a callback only, not in every web process (issue 22)."""

    def authenticate(self, request, oidc_attempt: OidcAttempt | None = None, **kwargs):
        if oidc_attempt is None or request is None:
            return None
        from annotation.sso.oidc import OidcSignIn

        return OidcSignIn().authenticate(request, oidc_attempt)

    def get_user(self, user_id):
        # The signed-in user from the shared cache, as for a password sign-in.
        return CachedModelBackend().get_user(user_id)


class LocalPasswordsBackend(CachedModelBackend):
    """Listed before the password backend: with LOCAL_PASSWORDS=0 a password is refused for
    every account but a superuser's (who signs in at /admin/, the break-glass way in when the
    provider is down). Refused means PermissionDenied: django-axes counts it as a failure."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if settings.LOCAL_PASSWORDS or username is None or password is None:
            return None
        users = get_user_model()._default_manager
        user = users.filter(**{users.model.USERNAME_FIELD: username}).first()
        if user is not None and user.is_superuser:
            return None  # the next backend checks the password
        # As long as a checked password takes, so the answer's time tells nothing.
        users.model().set_password(password)
        raise PermissionDenied


def axes_skips_sso(request, credentials: dict | None) -> bool:
    """django-axes neither stops nor counts single sign-ons: its lockout is about guessing
    passwords here, the provider guards its own sign-in, and a misconfigured provider must not
    lock out a hospital's shared address from password sign-in."""
    credentials = credentials or {}
    return "oidc_attempt" in credentials or credentials.get("method") == "oidc"
