"""PostgreSQL going away under a worker (issue 17): a recomputation whose claim meets the outage
is tried again and completes once the database is back. The worker has a PostgreSQL cluster of
its own, stopped and started by the test, and a private redis-server."""

import os
import subprocess
import sys
import time
import uuid

import psycopg
import pytest

from tests.support.worker import (
    ON_CI,
    ROOT,
    PostgresCluster,
    RedisServer,
    postgres_bin,
    start_worker,
    stop_worker,
)

pytestmark = pytest.mark.worker

# The delay between a submit and its recomputation: long enough to stop PostgreSQL before the
# worker claims it.
DELAY = 8


@pytest.fixture
def cluster():
    bindir = postgres_bin()
    if bindir is None and not ON_CI:
        pytest.skip("no PostgreSQL programs (initdb, pg_ctl) on this machine")
    cluster = PostgresCluster(bindir)
    cluster.create()
    yield cluster
    cluster.remove()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    if server.binary is None and not ON_CI:
        pytest.skip("no redis-server on this machine")
    server.start()
    yield server
    server.stop()


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _run_row(url: str, run_id: int) -> tuple[str, str]:
    with psycopg.connect(url.replace("postgres://", "postgresql://")) as db:
        return db.execute(
            "SELECT status, message FROM annotation_taskrun WHERE id = %s", (run_id,)
        ).fetchone()


def _wait_for_log(log, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"no {text!r} in the worker log after {timeout}s"
        time.sleep(0.2)


def test_a_recomputation_claimed_while_postgresql_is_down_completes_once_it_is_back(
    cluster, redis_server, tmp_path
):
    queue = f"pgfaults-{uuid.uuid4().hex[:8]}"
    env = {
        "DATABASE_URL": cluster.url,
        "CELERY_BROKER_URL": redis_server.url,
        "LLM_LIMITS_REDIS_URL": redis_server.url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "STATS_RECOMPUTE_DELAY_SECONDS": str(DELAY),
        "TASK_CLAIM_RETRY_SECONDS": "1",
        # No sweep: only the claim's own retry can bring this recomputation back.
        "TASK_RUN_SWEEP_SECONDS": "0",
    }
    _manage(env, "migrate", "--noinput", "-v0")
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, queue)
    try:
        # The raters' submits queue a recomputation DELAY seconds ahead, on the worker's queue.
        script = (
            "from tests.support.seed_study import rated_study_with_a_waiting_recomputation as f;"
            "print(f())"
        )
        run_id = int(_manage(env, "shell", "-c", script).split()[-1])
        cluster.stop()
        _wait_for_log(log, f"could not claim task run {run_id}", timeout=DELAY + 20)
        time.sleep(2)  # a few more tries while it is down
        assert worker.poll() is None
        cluster.start()

        deadline = time.monotonic() + 60
        while (row := _run_row(cluster.url, run_id))[0] in ("queued", "running"):
            assert time.monotonic() < deadline, f"run {run_id} still {row[0]} after 60s"
            time.sleep(0.5)
        assert row[0] == "succeeded", row[1]
        assert row[1].startswith("overall: alpha = ")
        assert worker.poll() is None
    finally:
        if worker.poll() is None:
            stop_worker(worker)
