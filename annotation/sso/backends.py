"""The authentication backends single sign-on adds: the OpenID Connect one (mozilla-django-oidc,
with the account found by the provider's subject identifier), and the rule that with
LOCAL_PASSWORDS=0 a password signs in a superuser only (break glass, at /admin/)."""

from dataclasses import dataclass

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, SuspiciousOperation, ValidationError
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext_lazy
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from annotation import services
from annotation.core.sso import ClaimsRefused, claims_read
from annotation.sso.provider import (
    ProviderConfig,
    ProviderUnavailable,
    claim_rules,
    provider_config,
)
from evalapp.auth_cache import CachedModelBackend


@dataclass(frozen=True)
class OidcAttempt:
    """What the sign-in's start kept for its callback. Passed to `authenticate` as one object,
    so that nothing of it is spelled out in a failure signal's credentials."""

    nonce: str | None
    code_verifier: str | None


# What a person is told when single sign-on fails for a reason that is not theirs: one fixed
# sentence per kind of failure, saying what they can do. The detail (addresses, ports, settings,
# a library's words) is the operator's: it goes to the server log and the audit entry's reason.
PROVIDER_UNREACHABLE = gettext_lazy(
    "The sign-in service could not be reached. Try again in a few minutes; if it keeps "
    "happening, tell your IT department."
)
NOT_SET_UP = gettext_lazy(
    "Single sign-on is not set up correctly on this site, so it could not sign you in. Please "
    "tell your IT department."
)
NOT_VERIFIED = gettext_lazy(
    "The sign-in service's answer could not be verified, so you were not signed in. Start again "
    "from the sign-in page; if it happens again, tell your IT department."
)
NOT_ACCEPTED = gettext_lazy(
    "The sign-in service did not accept this sign-in. Start again from the sign-in page; if it "
    "happens again, tell your IT department."
)


def provider_unavailable_message(exc: ProviderUnavailable) -> Promise:
    """The sentence for a person when the provider's configuration could not be read."""
    return PROVIDER_UNREACHABLE if exc.unreachable else NOT_SET_UP


class SsoFailed(Exception):
    """A single sign-on that signs no one in: `message` is for the person, `status` the page's,
    `reason` (when set) the detail for the log and the audit trail, never shown."""

    def __init__(
        self,
        message: str | Promise,
        *,
        status: int = 403,
        reason: str = "",
        username: str = "",
        subject: str = "",
    ):
        super().__init__(message)
        self.message, self.status, self.reason = message, status, reason
        self.username, self.subject = username, subject


class OidcBackend(OIDCAuthenticationBackend):
    """Signs in with the authorisation code of a callback, and nothing else: a password sign-in
    passes it by. A failure raises SsoFailed (never returns None), so the callback view sends
    `user_login_failed` once, with credentials that say what happened."""

    def __init__(self, *args, **kwargs):
        # Nothing is read here: Django makes every backend for each password sign-in too, and
        # the provider's endpoints may need its discovery document (provider_config).
        self.UserModel = get_user_model()

    def authenticate(self, request, oidc_attempt: OidcAttempt | None = None, **kwargs):
        if oidc_attempt is None or request is None:
            return None
        try:
            self.configure(provider_config())
        except ProviderUnavailable as exc:
            raise SsoFailed(
                provider_unavailable_message(exc), status=503, reason=str(exc)
            ) from None
        try:
            user = super().authenticate(
                request, nonce=oidc_attempt.nonce, code_verifier=oidc_attempt.code_verifier
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise SsoFailed(PROVIDER_UNREACHABLE, status=502, reason=_said(exc)) from None
        except requests.RequestException as exc:
            # Most often the token endpoint refusing the code (used, forged, or expired).
            raise SsoFailed(NOT_ACCEPTED, status=502, reason=_said(exc)) from None
        except (SuspiciousOperation, jwt.InvalidTokenError, KeyError, ValueError) as exc:
            reason = f"the answer could not be verified: {_said(exc)}"
            raise SsoFailed(NOT_VERIFIED, status=400, reason=reason) from None
        if user is None:
            raise SsoFailed(
                gettext_lazy("The provider's answer signed no one in. Try again."), status=400
            )
        return user

    def configure(self, config: ProviderConfig) -> None:
        self.config = config
        self.OIDC_OP_TOKEN_ENDPOINT = config.token_endpoint
        self.OIDC_OP_USER_ENDPOINT = config.userinfo_endpoint
        self.OIDC_OP_JWKS_ENDPOINT = config.jwks_endpoint
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        # A shared secret (HS256) is the client secret; a public key is read from the JWKS.
        self.OIDC_RP_IDP_SIGN_KEY = None

    def verify_token(self, token, **kwargs):
        """The library checks the signature, expiry and nonce; this also checks that the token
        was issued for this site by this provider, which it leaves out."""
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("the ID token was issued for another client")
        if self.config.issuer and str(payload.get("iss", "")).rstrip("/") != self.config.issuer:
            raise SuspiciousOperation("the ID token was issued by another provider")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        claims = dict(payload)
        if self.config.userinfo_endpoint:
            userinfo = self.get_userinfo(access_token, id_token, payload)
            # The same person, or the answer is not to be trusted (OpenID Connect Core 5.3.2).
            # Not SuspiciousOperation, which the library turns into a silent None here.
            if userinfo.get("sub") != payload.get("sub"):
                reason = "the user info is about another sub than the ID token"
                raise SsoFailed(NOT_VERIFIED, status=400, reason=reason)
            claims.update(userinfo)
        issuer = self.config.issuer or str(payload.get("iss", ""))
        try:
            person = claims_read(claims, claim_rules())
            return services.sso_user_sign_in(issuer=issuer, claims=person)
        except ClaimsRefused as exc:
            # A claim the provider does not send: the operator's to fix (docs/single-sign-on.md).
            subject = str(claims.get("sub", ""))
            raise SsoFailed(NOT_SET_UP, reason=str(exc), subject=subject) from None
        except ValidationError as exc:
            # Joined when shown (or recorded), in the language of the moment.
            refusal = exc  # `exc` itself is gone after this block
            message = lazy(lambda: " ".join(refusal.messages), str)()
            raise SsoFailed(message, username=person.username, subject=person.subject) from None

    def get_user(self, user_id):
        # The signed-in user from the shared cache, as for a password sign-in.
        return CachedModelBackend().get_user(user_id)


def _said(exc: Exception) -> str:
    """The exception's class and words, for the log: a library's message may be empty."""
    words = str(exc)
    return f"{exc.__class__.__name__}: {words}"[:500] if words else exc.__class__.__name__


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
