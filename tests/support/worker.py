"""Start and stop real `celery worker` processes, and a private `redis-server` and PostgreSQL
cluster, for tests."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
# CI has Redis and redis-server; a developer machine without them skips those tests, CI never
# does: there a missing service fails them.
ON_CI = os.environ.get("CI", "").lower() in ("1", "true")


def start_worker(
    env: dict[str, str], log: Path, name: str, extra_args: tuple[str, ...] = ()
) -> subprocess.Popen:
    """A worker process with `env` added to ours, writing to `log`; returns once it is ready.
    It runs in its own process group, so `kill_worker` takes it down as a crash would.
    `extra_args` go on its command line (e.g. `-B` for an embedded beat)."""
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
        *extra_args,
    ]
    with log.open("a") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            # The fake endpoint listens on loopback, which a worker refuses unless named; the
            # tests' keyless sources and judges call it, so it is a keyless host too (checked
            # again at each call, as the tests' own settings allow when saving).
            env={
                **os.environ,
                "LLM_PRIVATE_HOSTS_ALLOWED": "127.0.0.1",
                "LLM_KEYLESS_HOSTS": "127.0.0.1",
                **env,
            },
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


def worker_settle(app, name: str, queue: str, timeout: float = 60) -> bool:
    """Drop what waits in `queue`, cancel what the worker `name` holds for later (a retry
    with a countdown), and wait until it runs nothing; True once it is idle. A job a finished
    test left behind must not run into the next test's data or into its truncation, which on
    PostgreSQL can deadlock with the job's reads."""
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)
    inspect = app.control.inspect(destination=[name], timeout=1.0, limit=1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # A solo-pool worker answers only between jobs, so no answer means it is busy.
        active, reserved, scheduled = inspect.active(), inspect.reserved(), inspect.scheduled()
        if active is None or reserved is None or scheduled is None:
            continue
        later = [entry["request"]["id"] for entry in scheduled.get(name, [])]
        if later:
            app.control.revoke(later, destination=[name])
        if not active.get(name) and not reserved.get(name):
            return True
    return False


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


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's programs (initdb, pg_ctl), if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts[-3])
    return found[-1].parent if found else None


class PostgresCluster:
    """A private PostgreSQL cluster on a free port, so a test can stop and start it without
    disturbing the machine's server. As root, it runs as the `postgres` user (PostgreSQL
    refuses to run as root)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="evalapp-pg-"))
        self.data = self.directory / "data"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.directory, user="postgres")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/evalapp"

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as, *command], check=True, capture_output=True, timeout=120)

    def create(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        self.start()
        self._run(
            str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", "postgres", "evalapp",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.directory / "server.log"), "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
