"""The test OpenID Connect provider (tests/support/oidc_provider) in a process of its own, with
an RSA signing key made for this run, and evalapp registered as its client."""

import json
import os
import secrets
import sys
import urllib.request
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.served import ServedProcess
from tests.support.worker import ROOT

CLIENT_ID = "evalapp-test-client"


def rsa_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class OidcProvider(ServedProcess):
    """django-oauth-toolkit's provider on a free port; `redirect_base` is evalapp's address."""

    name = "the test provider"
    ready_path = "/o/.well-known/openid-configuration"

    def __init__(self, *, redirect_base: str, data_dir: Path) -> None:
        super().__init__(log=data_dir / "provider.log")
        self.client_secret = secrets.token_urlsafe(24)
        self.data_dir = data_dir
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "OIDC_TEST_DATA_DIR": str(data_dir),
            "OIDC_TEST_RSA_KEY": rsa_private_key_pem(),
            "OIDC_TEST_ISSUER": self.issuer,
            "OIDC_TEST_CLIENT_ID": CLIENT_ID,
            "OIDC_TEST_CLIENT_SECRET": self.client_secret,
            "OIDC_TEST_REDIRECT_URIS": f"{redirect_base}/oidc/callback/",
            "OIDC_TEST_POST_LOGOUT_URIS": f"{redirect_base}/accounts/login/",
        }

    @property
    def issuer(self) -> str:
        return f"{self.url}/o"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "tests.support.oidc_provider.serve", str(self.port)]

    def environment(self) -> dict[str, str]:
        return self.env

    def person(
        self,
        username: str,
        *,
        email: str,
        groups: tuple[str, ...] = (),
        email_verified: bool = True,
        password: str = "idp-password",
    ) -> str:
        """Make or change someone in the provider's directory; their `sub`."""
        body = {
            "username": username,
            "password": password,
            "email": email,
            "email_verified": email_verified,
            "groups": list(groups),
        }
        request = urllib.request.Request(
            f"{self.url}/control/person",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["sub"]
