"""The web app served from a process of its own, on the test database, so that a test can stop
it (as a crash or a restart would) and start it again on the same address."""

import os
import sys
from pathlib import Path

from tests.support.served import ServedProcess


class AppServer(ServedProcess):
    """`manage.py runserver --noreload` on a free port. DEBUG, so that it serves the static
    files itself; the rest of the environment is the test run's (SECRET_KEY included, so a
    session made by one server is valid on the other)."""

    name = "runserver"
    ready_path = "/healthz"

    def __init__(self, *, database_url: str, log: Path) -> None:
        super().__init__(log=log)
        self.env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "1", "SECURE_COOKIES": "0"}

    def command(self) -> list[str]:
        return [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"]

    def environment(self) -> dict[str, str]:
        return self.env
