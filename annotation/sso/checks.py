"""`manage.py check` (and every start) says when single sign-on is half configured, without
asking the provider anything."""

from django.conf import settings
from django.core import checks

from annotation.sso.provider import sso_enabled

HINT = "See docs/deployment.md, 'Single sign-on (OpenID Connect)'."


def sso_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if not sso_enabled():
        return _passwords_only()
    problems = []
    if not settings.OIDC_RP_CLIENT_SECRET:
        problems.append("OIDC_RP_CLIENT_SECRET is not set: the provider will refuse the client.")
    endpoints = ("AUTHORIZATION", "TOKEN", "JWKS")
    missing = [f"OIDC_OP_{name}_ENDPOINT" for name in endpoints if not _endpoint(name)]
    if not settings.OIDC_ISSUER and missing:
        verb = "is" if len(missing) == 1 else "are"
        problems.append(
            f"OIDC_ISSUER is not set, and {', '.join(missing)} {verb} not set either: the "
            "provider's endpoints are unknown."
        )
    if bool(settings.OIDC_ADMIN_CLAIM) != bool(settings.OIDC_ADMIN_VALUES):
        problems.append(
            "OIDC_ADMIN_CLAIM and OIDC_ADMIN_VALUES go together: set both (the claim, and the "
            "values in it that make a study admin) or neither."
        )
    if settings.OIDC_RP_SIGN_ALGO not in ("RS256", "RS384", "RS512", "ES256", "ES384", "HS256"):
        problems.append(f"OIDC_RP_SIGN_ALGO={settings.OIDC_RP_SIGN_ALGO!r} is not supported.")
    return [
        checks.Error(
            f"Single sign-on is half configured (OIDC_RP_CLIENT_ID is set): {problem}",
            hint=HINT,
            id="annotation.E101",
        )
        for problem in problems
    ]


def _endpoint(name: str) -> str:
    return getattr(settings, f"OIDC_OP_{name}_ENDPOINT")


def _passwords_only() -> list[checks.CheckMessage]:
    if settings.LOCAL_PASSWORDS:
        return []
    return [
        checks.Warning(
            "LOCAL_PASSWORDS=0 without single sign-on (OIDC_RP_CLIENT_ID is not set): only "
            "superusers can sign in, at /admin/.",
            hint=HINT,
            id="annotation.W102",
        )
    ]
