"""The OpenID Connect provider this site signs people in with, from the settings: its endpoints
named one by one, or read from its discovery document (`<issuer>/.well-known/openid-
configuration`) at the first sign-in, never at start-up, and kept for an hour."""

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext

from annotation.core.sso import ClaimRules

DISCOVERY_PATH = "/.well-known/openid-configuration"
DISCOVERY_SECONDS = 3600
_discovered: dict[str, tuple[float, dict]] = {}
_discovery_lock = threading.Lock()


class ProviderUnavailable(Exception):
    """The provider's configuration could not be read. The message says what to check, for the
    operator's log only: it names addresses, ports and settings. `unreachable` tells a provider
    that did not answer (try again later) from one that answered with something unusable, or a
    configuration that names none (the site is not set up correctly)."""

    def __init__(self, detail: str, *, unreachable: bool = False):
        super().__init__(detail)
        self.unreachable = unreachable


@dataclass(frozen=True)
class ProviderConfig:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str  # "" when the provider has none: the ID token's claims are used
    jwks_endpoint: str


def sso_enabled() -> bool:
    """Single sign-on is on once a client id is set."""
    return bool(settings.OIDC_RP_CLIENT_ID)


def provider_name() -> str:
    return settings.OIDC_PROVIDER_NAME or gettext("single sign-on")


def claim_rules() -> ClaimRules:
    return ClaimRules(
        username_claim=settings.OIDC_USERNAME_CLAIM,
        email_claim=settings.OIDC_EMAIL_CLAIM,
        admin_claim=settings.OIDC_ADMIN_CLAIM,
        admin_values=tuple(settings.OIDC_ADMIN_VALUES),
        trust_unverified_email=settings.OIDC_TRUST_UNVERIFIED_EMAIL,
    )


def provider_config() -> ProviderConfig:
    """The endpoints a sign-in needs: each one set in the settings wins over the discovery
    document, which is read only when one of the required ones is not set."""
    explicit = {
        "authorization_endpoint": settings.OIDC_OP_AUTHORIZATION_ENDPOINT,
        "token_endpoint": settings.OIDC_OP_TOKEN_ENDPOINT,
        "userinfo_endpoint": settings.OIDC_OP_USER_ENDPOINT,
        "jwks_uri": settings.OIDC_OP_JWKS_ENDPOINT,
    }
    required = ("authorization_endpoint", "token_endpoint", "jwks_uri")
    issuer = settings.OIDC_ISSUER.rstrip("/")
    document: dict = {}
    if issuer and not all(explicit[name] for name in required):
        document = _discovery(issuer)
    merged = {name: explicit[name] or document.get(name) or "" for name in explicit}
    missing = [name for name in required if not merged[name]]
    if missing:
        raise ProviderUnavailable(
            f"The provider's {', '.join(missing)} is not known: set OIDC_ISSUER (whose discovery "
            "document names it) or the OIDC_OP_* endpoints."
        )
    return ProviderConfig(
        issuer=issuer,
        authorization_endpoint=merged["authorization_endpoint"],
        token_endpoint=merged["token_endpoint"],
        userinfo_endpoint=merged["userinfo_endpoint"],
        jwks_endpoint=merged["jwks_uri"],
    )


def provider_logout_endpoint() -> str:
    """Where the provider ends its own session: OIDC_OP_LOGOUT_ENDPOINT, or the discovery
    document's end_session_endpoint (read only now, at a sign-out); "" when it has none.
    ProviderUnavailable when the document cannot be read."""
    if settings.OIDC_OP_LOGOUT_ENDPOINT:
        return settings.OIDC_OP_LOGOUT_ENDPOINT
    issuer = settings.OIDC_ISSUER.rstrip("/")
    if not issuer:
        return ""
    return str(_discovery(issuer).get("end_session_endpoint") or "")


def _discovery(issuer: str) -> dict:
    with _discovery_lock:
        kept = _discovered.get(issuer)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1]
        document = _discovery_read(issuer)
        _discovered[issuer] = (time.monotonic() + DISCOVERY_SECONDS, document)
        return document


def _discovery_read(issuer: str) -> dict:
    # requests (some 6 MB a process) at the first sign-in that reads the document: the checks
    # that import this module run in every web process (issue 22).
    import requests

    url = issuer + DISCOVERY_PATH
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(
            f"The provider's discovery document {url} could not be read ({exc.__class__.__name__}"
            f"{': ' + str(exc) if str(exc) else ''}). Check OIDC_ISSUER and that this server "
            "can reach the provider.",
            unreachable=_unreachable(exc),
        ) from None
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"{url} is not an OpenID Connect discovery document.")
    # The document must be the issuer's own (OpenID Connect Discovery 1.0, section 4.3).
    if str(document.get("issuer", "")).rstrip("/") != issuer:
        raise ProviderUnavailable(
            f"{url} names the issuer {document.get('issuer')!r}, not OIDC_ISSUER={issuer!r}: "
            "set OIDC_ISSUER to exactly the issuer the provider names."
        )
    return document


def _unreachable(exc: Exception) -> bool:
    """No answer, or the provider's own failure (5xx): it may well work later. A 4xx or a
    document that is not JSON is an address that names no provider: it will not."""
    import requests  # loaded already: `_discovery_read` raised it

    if isinstance(exc, ValueError):  # requests' JSONDecodeError is a RequestException too
        return False
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code >= 500
    return isinstance(exc, requests.RequestException)


def discovery_forget() -> None:
    """Read the discovery document again at the next sign-in (tests; a changed provider)."""
    with _discovery_lock:
        _discovered.clear()
