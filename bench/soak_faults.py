"""Soak under faults (issue 17): 8 raters' clients save and submit answers over real HTTP while
the services fail under them, and then every acknowledged answer is looked for in the database.

    make bench-soak          # about 5 minutes; SOAK_SECONDS=<n> shortens the calm phases

Everything runs on instances of its own, started here and removed at the end, so that stopping
them disturbs nothing else: a PostgreSQL cluster (initdb/pg_ctl from /usr/lib/postgresql, run as
the `postgres` user when started as root) and a redis-server, each on a free port; gunicorn
(3 sync workers) and one Celery worker (prefork, 2 processes, restarted if it dies, as run-dev
and docker-compose do) with the default lease, sweep and visibility settings; a local
OpenAI-compatible fake for the model endpoint.

Phases, the clients working through all of them:
  calm; Redis stopped for 30 s (broker and limits) while the worker holds a recomputation's
  countdown; PostgreSQL restarted five times (fast shutdown, about a second each) and then down
  for 5 s; the worker killed (SIGKILL) two seconds into a 300-case fetch; then the clients stop
  and the background work is given two minutes to catch up.

Prints, for saves and submits: attempted, acknowledged (the server said saved / moved on),
stored (an acknowledged answer found in the rating history, counted per item and answer; a
submitted item found submitted), duplicated (history rows beyond what was sent); then the fetch
(outputs, calls made twice) and whether the statistics caught up with every submitted answer.
"""

import collections
import functools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.worker import PostgresCluster, RedisServer, free_port, postgres_bin  # noqa: E402

CALM = float(os.environ.get("SOAK_SECONDS", "20"))
CLIENTS, CASES, FETCH_CASES = 8, 100, 300
PASSWORD = "soak-password"

cluster = PostgresCluster(postgres_bin())
redis_dir = Path(cluster.directory) / "redis"
redis_dir.mkdir()
redis = RedisServer(redis_dir)
PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}"
os.environ.update(
    DJANGO_SETTINGS_MODULE="evalapp.settings",
    SECRET_KEY="soak-only",
    DEBUG="0",
    SECURE_COOKIES="0",
    ALLOWED_HOSTS="127.0.0.1,localhost",
    DATABASE_URL=cluster.url,
    CELERY_BROKER_URL=redis.url,
    LLM_LIMITS_REDIS_URL=redis.url,
    # The fake endpoint listens on loopback, which DEBUG=0 refuses unless named.
    LLM_PRIVATE_HOSTS_ALLOWED="127.0.0.1",
    # ...and a study admin's keyless endpoint only on hosts the operator lists.
    LLM_KEYLESS_HOSTS="127.0.0.1",
    CELERY_TASK_DEFAULT_QUEUE="soak",
    EVALAPP_EXPORT_DIR=str(Path(cluster.directory) / "exports"),
)

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Max  # noqa: E402

from annotation import services  # noqa: E402
from annotation.models import (  # noqa: E402
    Assignment,
    Generation,
    Output,
    RatingRevision,
    Study,
    TaskRun,
)
from tests.support.fake_llm import Delay, FakeLLMServer  # noqa: E402


def studies() -> tuple[Study, Study]:
    """An open study with a rater per client, and a draft one whose outputs a worker fetches."""
    admin = get_user_model().objects.create(username="soak-admin")
    study = services.study_create(
        creator=admin, title="soak", question_prompt="Overall?", raters_per_item=2, seed=1
    )
    rows = ["case_id,input,source,output"]
    rows += [f"c{c},Question {c},model,An answer for case {c}." for c in range(CASES)]
    services.study_import_file(study=study, filename="s.csv", content="\n".join(rows).encode())
    digest = make_password(PASSWORD)
    users = [
        get_user_model().objects.create(username=f"soak-rater{i}", password=digest)
        for i in range(CLIENTS)
    ]
    services.study_add_raters(study=study, users=users)
    services.study_open(study=study)
    draft = services.study_create(creator=admin, title="soak fetch", question_prompt="Overall?")
    rows = ["case_id,input"] + [f"f{c},Question {c}" for c in range(FETCH_CASES)]
    services.study_import_file(study=draft, filename="f.csv", content="\n".join(rows).encode())
    return study, draft


class Client:
    """One rater: saves a changed answer to one of their items, or submits one they answered."""

    def __init__(self, study: Study, number: int) -> None:
        self.http = requests.Session()
        username = f"soak-rater{number}"
        self.http.get(f"{BASE}/accounts/login/", timeout=10)
        self.http.post(
            f"{BASE}/accounts/login/",
            data={
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.http.cookies["csrftoken"],
            },
            timeout=10,
        )
        assert "sessionid" in self.http.cookies, f"could not log in as {username}"
        self.csrf = self.http.cookies["csrftoken"]
        self.question = study.questions.get().key
        tokens = Assignment.objects.filter(study=study, rater__username=username)
        self.urls = [
            f"{BASE}/rate/{study.token}/{t}/" for t in tokens.values_list("token", flat=True)
        ]
        self.last: dict[str, int] = {}
        self.answered: set[str] = set()
        self.rng = random.Random(number)
        # Per item, in the order sent: (answer, acknowledged, what came back).
        self.saves: dict[str, list[tuple[int, bool, str]]] = collections.defaultdict(list)
        self.submits: list[tuple[str, bool]] = []

    def act(self) -> None:
        url = self.rng.choice(self.urls)
        if url in self.answered and self.rng.random() < 0.15:
            self.submit(url)
        else:
            self.save(url)

    def save(self, url: str) -> None:
        # Every answer differs from the one sent before it, so each one stored is a new row.
        answer = self.last.get(url, 0) % 5 + 1
        self.last[url] = answer
        token = url.rsplit("/", 2)[-2]
        try:
            response = self.http.post(
                url,
                data={
                    "csrfmiddlewaretoken": self.csrf,
                    "question": self.question,
                    "answer": str(answer),
                    "elapsed_ms": "3000",
                },
                headers={"X-CSRFToken": self.csrf, "HX-Request": "true"},
                timeout=15,
            )
        except requests.RequestException as exc:
            self.saves[token].append((answer, False, type(exc).__name__))
            return
        # Stored, by the header the page itself trusts (never a bare 200).
        acked = response.status_code == 200 and "X-Answer-Saved" in response.headers
        self.saves[token].append((answer, acked, str(response.status_code)))
        if acked:
            self.answered.add(url)

    def submit(self, url: str) -> None:
        token = url.rsplit("/", 2)[-2]
        try:
            response = self.http.post(
                f"{url}submit/",
                data={"csrfmiddlewaretoken": self.csrf, "elapsed_ms": "1000"},
                timeout=15,
                allow_redirects=False,
            )
        except requests.RequestException:
            self.submits.append((token, False))
            return
        # Submitted: the server moves on, to another item or the list; refused: back to this one.
        moved_on = response.status_code == 302 and (
            urlsplit(response.headers["Location"]).path != urlsplit(url).path
        )
        self.submits.append((token, moved_on))


def work(clients: list[Client], stop: threading.Event) -> list[threading.Thread]:
    def run(client: Client) -> None:
        while not stop.is_set():
            client.act()
            time.sleep(client.rng.uniform(0.05, 0.3))

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    return threads


class SupervisedWorker:
    """A Celery worker started again whenever it dies, as run-dev's loop does."""

    def __init__(self, log: Path) -> None:
        self.log, self.process, self.restarts = log, None, 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self.thread.start()
        while self.process is None:
            time.sleep(0.1)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            with self.log.open("a") as out:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "evalapp", "worker",
                     "--concurrency=2", "--loglevel=info"],
                    cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            self.process.wait()
            if not self.stopping.is_set():
                self.restarts += 1
                time.sleep(2)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)

    def stop(self) -> None:
        self.stopping.set()
        self.process.terminate()
        self.thread.join(timeout=30)


def phase(name: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {name}", flush=True)


def faults(worker: SupervisedWorker, draft: Study, fake: FakeLLMServer) -> Study:
    phase(f"calm, {CALM:.0f} s")
    time.sleep(CALM)
    phase("Redis stopped for 30 s")
    redis.stop()
    time.sleep(30)
    redis.start()
    time.sleep(CALM)
    phase("PostgreSQL restarted five times, then down for 5 s")
    for _ in range(5):
        cluster.stop()
        cluster.start()
        time.sleep(3)
    cluster.stop()
    time.sleep(5)
    cluster.start()
    connection.close()
    time.sleep(CALM)
    phase("the worker killed two seconds into a fetch")
    source = services.source_create(
        study=draft, label="Echo", base_url=fake.base_url, model_name="echo", max_concurrency=4
    )
    services.task_run_create(study=draft, kind=TaskRun.Kind.FETCH_OUTPUTS, user=None, source=source)
    time.sleep(2)
    worker.kill()
    time.sleep(max(CALM, 60))
    return source


def settle(study: Study, source, seconds: float = 120) -> tuple[TaskRun | None, bool]:
    """Wait for the fetch to finish and for a recomputation started after the last submit."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        fetch = TaskRun.objects.filter(source=source).order_by("-created_at").first()
        last_submit = Assignment.objects.filter(study=study).aggregate(Max("submitted_at"))
        caught_up = TaskRun.objects.filter(
            study=study,
            kind=TaskRun.Kind.COMPUTE_AGREEMENT,
            status=TaskRun.Status.SUCCEEDED,
            started_at__gt=last_submit["submitted_at__max"],
        ).exists()
        busy = TaskRun.objects.filter(status__in=["queued", "running"]).exists()
        if fetch and fetch.is_finished and caught_up and not busy:
            return fetch, True
        time.sleep(1)
    return fetch, caught_up


def check_saves(sent: list[tuple[int, bool, str]], stored: list[int]) -> tuple[int, int]:
    """Match one item's saves, in the order sent, to its rating history: each save made the
    next row, or was a no-op (the answer already stored), or was not stored (allowed only when
    it was not acknowledged). The matching that explains the most is taken. Returns (acknowledged
    saves not stored, rows that no save explains)."""

    @functools.cache
    def best(i: int, row: int, current: int | None) -> int:
        if i == len(sent):
            return len(stored) - row
        answer, acked, _outcome = sent[i]
        options = [best(i + 1, row, current) + acked]  # not stored
        if answer == current:
            options.append(best(i + 1, row, current))
        if row < len(stored) and stored[row] == answer:
            options.append(best(i + 1, row + 1, answer))
        return min(options)

    unexplained = best(0, 0, None)
    extra = 0 if unexplained == 0 else _rows_unexplained(sent, stored)
    return unexplained - extra, extra


def _rows_unexplained(sent, stored) -> int:
    """How many history rows no save accounts for (a save stored twice would show here)."""
    counts = collections.Counter(stored)
    for answer, _acked, _outcome in sent:
        counts[answer] -= 1
    return sum(n for n in counts.values() if n > 0)


def report(clients: list[Client], study: Study, source, fetch, caught_up, fake, worker) -> None:
    history = collections.defaultdict(list)
    rows = RatingRevision.objects.filter(rating__assignment__study=study).order_by("pk")
    for token, answer in rows.values_list("rating__assignment__token", "answer"):
        history[token].append(int(answer))
    attempted = acked = kept = lost = extra = 0
    for client in clients:
        for token, sent in client.saves.items():
            attempted += len(sent)
            acked += sum(1 for _a, ok, _o in sent if ok)
            item_lost, item_extra = check_saves(sent, history[token])
            item_acked = sum(1 for _a, ok, _o in sent if ok)
            kept, lost, extra = kept + item_acked - item_lost, lost + item_lost, extra + item_extra
            if item_lost or item_extra:
                print(f"item {token}: sent {sent}, stored {history[token]}")
    print(f"\n{'':8} {'attempted':>10} {'acknowledged':>13} {'stored':>8} {'duplicated':>11}")
    print(f"{'saves':8} {attempted:>10} {acked:>13} {kept:>8} {extra:>11}")
    submits = [event for client in clients for event in client.submits]
    acked_tokens = [token for token, ok in submits if ok]
    submitted = set(
        Assignment.objects.filter(study=study, submitted_at__isnull=False).values_list(
            "token", flat=True
        )
    )
    found = sum(1 for token in acked_tokens if token in submitted)
    # A submit is idempotent (a timestamp on the item), so it cannot be stored twice.
    print(f"{'submits':8} {len(submits):>10} {len(acked_tokens):>13} {found:>8} {'-':>11}")
    outputs = Output.objects.filter(source=source)
    calls = Generation.objects.filter(source=source).count()
    print(
        f"\nfetch: {fetch.status if fetch else 'never started'}, {outputs.count()} outputs for "
        f"{FETCH_CASES} cases ({outputs.values('case').distinct().count()} distinct), "
        f"{calls} calls recorded, {len(fake.requests) - FETCH_CASES} made twice (in flight at "
        f"the kill)"
    )
    print(
        f"statistics recomputed after the last of {len(submitted)} submitted items: "
        f"{'yes' if caught_up else 'NO'}; worker restarts: {worker.restarts}; "
        f"task runs failed: {TaskRun.objects.filter(status='failed').count()}"
    )
    for kind, message in TaskRun.objects.filter(status="failed").values_list("kind", "message"):
        print(f"  failed {kind}: {message}")
    if lost or extra:
        print("LOST OR DUPLICATED ANSWERS: see the items above")


def main() -> None:
    postgres = postgres_bin()
    if postgres is None:
        sys.exit("needs PostgreSQL's programs (initdb, pg_ctl) under /usr/lib/postgresql")
    cluster.create()
    redis.start()
    logs = Path(cluster.directory)
    web = worker = None
    try:
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        study, draft = studies()
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "evalapp.wsgi:application", "--bind",
             f"127.0.0.1:{PORT}", "--workers", "3", "--log-level", "warning"],
            cwd=ROOT, stdout=(logs / "web.log").open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        worker = SupervisedWorker(logs / "worker.log")
        worker.start()
        for _ in range(100):
            try:
                requests.get(f"{BASE}/healthz", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        print(
            f"{CLIENTS} clients on {os.cpu_count()} cores; PostgreSQL {postgres.parts[-2]} and "
            f"Redis of its own; gunicorn 3 workers; Celery prefork 2; logs in {logs}"
        )
        with FakeLLMServer() as fake:
            fake.set_default(Delay(0.1))
            clients = [Client(study, n) for n in range(CLIENTS)]
            stop = threading.Event()
            threads = work(clients, stop)
            source = faults(worker, draft, fake)
            stop.set()
            for thread in threads:
                thread.join()
            phase("clients stopped; waiting for the background work to catch up")
            fetch, caught_up = settle(study, source)
            report(clients, study, source, fetch, caught_up, fake, worker)
    finally:
        if worker is not None:
            worker.stop()
        if web is not None:
            web.terminate()
            web.wait()
        connection.close()
        redis.stop()
        cluster.remove()


if __name__ == "__main__":
    main()
