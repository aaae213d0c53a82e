"""A server a test starts in a child process: on a free port of 127.0.0.1, its output in a log
file, waited for until one of its URLs answers 200, and stopped (terminated, killed if it
lingers) so that a test can also stop it as a crash would and start it again on the same port."""

import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.worker import ROOT, free_port


class ServedProcess:
    """Subclasses say what to run (`command`), in which environment (`environment`), and which
    path answers 200 once it serves (`ready_path`)."""

    name = "the server"
    ready_path = "/"
    ready_timeout = 30.0
    stop_timeout = 10.0
    poll_every = 0.1
    # A process group of its own, so that a signal sent to the test run's group (a Ctrl-C)
    # reaches the test first; `stop` stops the server's main process only.
    new_session = False

    def __init__(self, *, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> None:
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.environment(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=self.new_session,
            )
        self._wait_until_serving()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}{self.ready_path}", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(self.poll_every)
        raise RuntimeError(
            f"{self.name} not serving after {self.ready_timeout}s:\n{self._log_tail()}"
        )
