"""Start and stop real `celery worker` processes and a private `redis-server` for tests."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
# CI has Redis and redis-server; a developer machine without them skips those tests, CI never
# does: there a missing service fails them.
ON_CI = os.environ.get("CI", "").lower() in ("1", "true")


def start_worker(env: dict[str, str], log: Path, name: str) -> subprocess.Popen:
    """A worker process with `env` added to ours, writing to `log`; returns once it is ready.
    It runs in its own process group, so `kill_worker` takes it down as a crash would."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "evalapp",
        "worker",
        "--pool=solo",
        "--loglevel=info",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"{name}@%h",
    ]
    with log.open("a") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _wait_for_ready(process, log)
    return process


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def kill_worker(process: subprocess.Popen) -> None:
    """SIGKILL, as the OOM killer or a lost machine would: no cleanup, no acknowledgement."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _wait_for_ready(process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    start = log.stat().st_size if log.exists() else 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log.read_text()[start:]}")
        if " ready." in log.read_text()[start:]:
            return
        time.sleep(0.2)
    raise RuntimeError(f"celery worker not ready after {timeout}s:\n{log.read_text()[start:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private redis-server on a free port, so a test can take it away without disturbing
    anything else."""

    def __init__(self, directory: Path) -> None:
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
