"""What a single sign-on provider says about a person, read from its claims: plain data in, plain
data out, so the rules can be checked without a provider or a database.

The rules (docs/deployment.md, "Single sign-on"): the account is found by the provider's `sub`,
never by a name or an address; the username comes from one configured claim and is fixed at the
first sign-in; the e-mail address is taken only when the provider vouches for it; admin rights
follow one configured claim at every sign-in."""

import re
from dataclasses import dataclass

# What Django's default username validator accepts, and its length.
USERNAME_ALLOWED = re.compile(r"[^\w.@+-]")
USERNAME_MAX_LENGTH = 150
# The length of Django's user e-mail field (RFC 5321's longest address): a longer claim is taken
# as no address at all, not cut short into someone else's.
EMAIL_MAX_LENGTH = 254

# The error codes a provider may send back to the redirect URI: OAuth 2.0 (RFC 6749, section
# 4.1.2.1) and OpenID Connect Core 1.0 (section 3.1.2.6). Anything else in `?error=` is text
# someone put in a link, and is not shown.
PROVIDER_ERROR_CODES = frozenset(
    {
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "interaction_required",
        "login_required",
        "account_selection_required",
        "consent_required",
        "invalid_request_uri",
        "invalid_request_object",
        "request_not_supported",
        "request_uri_not_supported",
        "registration_not_supported",
    }
)


class ClaimsRefused(Exception):
    """The provider's claims cannot sign anyone in; the message names the claim."""


@dataclass(frozen=True)
class SsoClaims:
    subject: str
    username: str
    email: str  # "" when absent, or not vouched for
    is_admin: bool | None  # None: admin rights are not managed by the provider


@dataclass(frozen=True)
class ClaimRules:
    username_claim: str = "preferred_username"
    email_claim: str = "email"
    admin_claim: str = ""
    admin_values: tuple[str, ...] = ()
    trust_unverified_email: bool = False


def claims_read(claims: dict, rules: ClaimRules) -> SsoClaims:
    """The person in `claims`, or ClaimsRefused naming what is missing."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise ClaimsRefused("The provider sent no subject identifier (the 'sub' claim).")
    return SsoClaims(
        subject=subject,
        username=username_from(claims, rules.username_claim),
        email=email_from(claims, rules),
        is_admin=admin_from(claims, rules),
    )


def username_from(claims: dict, claim: str) -> str:
    """The claim's value made into a valid username: characters Django refuses become "_"."""
    raw = claims.get(claim)
    if not isinstance(raw, str) or not raw.strip():
        raise ClaimsRefused(
            f"The provider sent no {claim!r} claim, which gives the username "
            "(OIDC_USERNAME_CLAIM). Ask for it in the scopes, or name another claim."
        )
    return USERNAME_ALLOWED.sub("_", raw.strip())[:USERNAME_MAX_LENGTH]


def email_from(claims: dict, rules: ClaimRules) -> str:
    """The address, when the provider says it checked it (`email_verified` true, or without that
    claim Entra ID's `xms_edov` true) or the operator trusts every address the provider sends;
    otherwise "" (also for one too long to store)."""
    raw = claims.get(rules.email_claim)
    if not isinstance(raw, str) or "@" not in raw or len(raw.strip()) > EMAIL_MAX_LENGTH:
        return ""
    verified = claims.get("email_verified")
    if verified is None:
        # Microsoft Entra ID sends no email_verified; its optional claim xms_edov says the
        # address's domain is one the user's own tenant has proved it owns.
        verified = claims.get("xms_edov")
    # Some providers send the JSON boolean as a string.
    if verified is True or (isinstance(verified, str) and verified.lower() == "true"):
        return raw.strip()
    return raw.strip() if rules.trust_unverified_email else ""


def admin_from(claims: dict, rules: ClaimRules) -> bool | None:
    """Whether the claim holds one of the admin values; None when no admin claim is configured.
    A claim may be a list (groups, roles), or one string, which may hold several values
    separated by spaces or commas."""
    if not rules.admin_claim:
        return None
    raw = claim_value(claims, rules.admin_claim)
    if isinstance(raw, str):
        values = {part for part in re.split(r"[\s,]+", raw) if part}
    elif isinstance(raw, list | tuple):
        values = {str(part) for part in raw}
    else:
        values = set()
    return bool(values & set(rules.admin_values))


def claim_value(claims: dict, name: str) -> object:
    """The claim `name`; a dotted name not found as it is reads nested objects, as Keycloak's
    realm roles in `realm_access.roles`."""
    if name in claims:
        return claims[name]
    value: object = claims
    for part in name.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def provider_error_code(raw: str) -> str:
    """`raw` when it is a standard error code, otherwise "" (shown as a generic failure)."""
    return raw if raw in PROVIDER_ERROR_CODES else ""


def username_free(base: str, taken: "set[str]") -> str:
    """`base`, or `base-2`, `base-3`... the first not in `taken` (compared case-insensitively, as
    two usernames differing only in case confuse people)."""
    lowered = {name.casefold() for name in taken}
    if base.casefold() not in lowered:
        return base
    number = 2
    while True:
        suffix = f"-{number}"
        candidate = base[: USERNAME_MAX_LENGTH - len(suffix)] + suffix
        if candidate.casefold() not in lowered:
            return candidate
        number += 1
