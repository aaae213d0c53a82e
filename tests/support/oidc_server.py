"""The test OpenID Connect provider (tests/support/oidc_provider) in a process of its own, with
an RSA signing key made for this run, and evalapp registered as its client."""

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.worker import ROOT, free_port

CLIENT_ID = "evalapp-test-client"


def rsa_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class OidcProvider:
    """django-oauth-toolkit's provider on a free port; `redirect_base` is evalapp's address."""

    def __init__(self, *, redirect_base: str, data_dir: Path) -> None:
        self.port = free_port()
        self.client_secret = secrets.token_urlsafe(24)
        self.data_dir = data_dir
        self.log = data_dir / "provider.log"
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
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.url}/o"

    def start(self) -> None:
        command = [sys.executable, "-m", "tests.support.oidc_provider.serve", str(self.port)]
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self._wait_until_serving()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

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

    def _wait_until_serving(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        discovery = f"{self.issuer}/.well-known/openid-configuration"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the test provider exited early:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(discovery, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"the test provider is not serving after {timeout}s")
