"""Single sign-on helpers for the tests without a browser: a person as the claims make them, and
a sign-in started by the test client (the `sso_on` fixture, in conftest, sets up a provider)."""

from urllib.parse import parse_qs, urlsplit

from annotation.core.sso import SsoClaims

ISSUER = "https://login.contoso.example/tenant/v2.0"


def person(subject="sub-1", username="alice", email="", is_admin=None) -> SsoClaims:
    return SsoClaims(subject=subject, username=username, email=email, is_admin=is_admin)


def sign_in_started(client) -> str:
    """The state of a sign-in this client started."""
    response = client.get("/oidc/authenticate/")
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]
