"""A single sign-on's exchange with the OpenID Connect provider (mozilla-django-oidc, with the
account found by the provider's subject identifier).

Imported by annotation.sso.backends at a callback only: mozilla-django-oidc's backend brings
requests, PyJWT and cryptography, some 15 MB in every web process that would load it, and
Django loads every listed backend for each password sign-in and permission check (issue 22;
tests/test_web_imports.py)."""

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from annotation import services
from annotation.core.sso import ClaimsRefused, claims_read
from annotation.sso.attempts import (
    NOT_ACCEPTED,
    NOT_SET_UP,
    NOT_VERIFIED,
    PROVIDER_UNREACHABLE,
    OidcAttempt,
    SsoFailed,
    provider_unavailable_message,
)
from annotation.sso.provider import (
    ProviderConfig,
    ProviderUnavailable,
    claim_rules,
    provider_config,
)


class OidcSignIn(OIDCAuthenticationBackend):
    """One sign-in with the authorisation code of a callback, for annotation.sso.backends'
    OidcBackend: the provider's configuration, the code exchanged for tokens, the ID token
    verified, the account found or made. A failure raises SsoFailed (never returns None)."""

    def __init__(self, *args, **kwargs):
        # Not the library's, which reads the provider's endpoints from the settings: they may
        # need its discovery document, read at `authenticate` (provider_config).
        self.UserModel = get_user_model()

    def authenticate(self, request, oidc_attempt: OidcAttempt, **kwargs):
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
        except (
            SuspiciousOperation,
            jwt.PyJWTError,  # an ID token or signing key the library cannot use, too
            KeyError,
            ValueError,
            TypeError,
            AttributeError,  # a token answer that is not a JSON object
        ) as exc:
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


def _said(exc: Exception) -> str:
    """The exception's class and words, for the log: a library's message may be empty."""
    words = str(exc)
    return f"{exc.__class__.__name__}: {words}"[:500] if words else exc.__class__.__name__
