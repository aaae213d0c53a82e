"""The web app served from a process of its own, on the test database, so that a test can stop
it (as a crash or a restart would) and start it again on the same address."""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.worker import ROOT, free_port


class AppServer:
    """`manage.py runserver --noreload` on a free port. DEBUG, so that it serves the static
    files itself; the rest of the environment is the test run's (SECRET_KEY included, so a
    session made by one server is valid on the other)."""

    def __init__(self, *, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "1", "SECURE_COOKIES": "0"}
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            sys.executable,
            "manage.py",
            "runserver",
            "--noreload",
            f"127.0.0.1:{self.port}",
        ]
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

    def _wait_until_serving(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"runserver exited early:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"runserver not serving after {timeout}s:\n{self.log.read_text()}")
