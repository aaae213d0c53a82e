"""What the HTTP benchmarks share: a study built for them, gunicorn and a Celery worker started
against the database the settings name, raters logged in over real HTTP, and the memory of a
process tree. Import it after `django.setup()`: the benchmark chose the database first.
"""

import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from annotation import services
from annotation.models import Assignment, Rating, Study

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password"


def study_build(
    *, title: str, cases: int, sources: int, raters_per_item: int, usernames: list[str]
) -> Study:
    """An open study of `cases` x `sources` outputs, each rated by `raters_per_item` of the
    named raters, through the same services as the pages; one short Likert question."""
    admin, _ = get_user_model().objects.get_or_create(username="bench-admin")
    study = services.study_create(
        creator=admin,
        title=title,
        question_prompt="Overall?",
        raters_per_item=raters_per_item,
        seed=1,
    )
    lines = ["case_id,input,source,output"]
    lines += [
        f"c{c},Question {c},model-{s},An answer of about a hundred characters for case {c}."
        for c in range(cases)
        for s in range(sources)
    ]
    services.study_import_file(study=study, filename="b.csv", content="\n".join(lines).encode())
    digest = make_password(PASSWORD)  # one hash for all: hashing each password is slow
    users = [get_user_model().objects.create(username=name, password=digest) for name in usernames]
    services.study_add_raters(study=study, users=users)
    services.study_open(study=study)
    return study


@dataclass
class Servers:
    """The running web server and worker; their process ids for CPU and memory."""

    web: subprocess.Popen
    worker: subprocess.Popen
    base: str


@contextmanager
def servers_running(
    *,
    port: int,
    workers: int,
    worker_args: list[str],
    env: dict[str, str] | None = None,
    web_env: dict[str, str] | None = None,
    worker_env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[Servers]:
    """gunicorn (sync workers, as the image runs it) and a Celery worker, stopped on exit.
    With `log`, gunicorn's output goes to that file (appended) rather than to the terminal;
    the worker's is discarded either way."""
    output = log.open("a") if log else None
    base_env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1,localhost", **(env or {})}
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "evalapp.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**base_env, **(web_env or {})},
        stdout=output,
        stderr=output,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "evalapp", "worker", *worker_args],
        cwd=ROOT,
        env={**base_env, **(worker_env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/healthz", web)
        yield Servers(web=web, worker=worker, base=base)
    finally:
        web.terminate()
        worker.terminate()
        web.wait()
        worker.wait()
        if output:
            output.close()


def _wait_until_up(url: str, web: subprocess.Popen, seconds: float = 180) -> None:
    """Until the server answers: a loaded machine can take a minute to import the app."""
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up and web.poll() is None:
        try:
            requests.get(url, timeout=10)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {url} (exit code {web.poll()})")


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (gunicorn's workers, Celery's pool)."""
    found = [pid]
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            kids = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for kid in kids:
            found += process_tree(int(kid))
    return found


def memory_mb(pids: list[int], *, field: str = "VmRSS", source: str = "status") -> float:
    """Sum of one kB field over processes: VmRSS from status, or Pss from smaps_rollup (each
    shared page split among the processes that map it, so a sum over a tree is not inflated by
    what the workers share with their master)."""
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/{source}").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        for line in text.splitlines():
            if line.startswith(f"{field}:"):
                total += int(line.split()[1])
    return total / 1024


def rss_mb(pids: list[int]) -> float:
    return memory_mb(pids)


def pss_mb(pids: list[int]) -> float:
    return memory_mb(pids, field="Pss", source="smaps_rollup")


class Rater:
    """One rater's browser: logged in, posting answers as the item page's htmx forms do."""

    def __init__(self, username: str, study: Study, base: str):
        self.base = base
        self.study = study
        self.http = requests.Session()
        self.http.get(f"{base}/accounts/login/")
        token = self.http.cookies["csrftoken"]
        self.http.post(
            f"{base}/accounts/login/",
            data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        )
        assert "sessionid" in self.http.cookies, f"could not log in as {username}"
        self.csrf = self.http.cookies["csrftoken"]
        self.headers = {"X-CSRFToken": self.csrf, "HX-Request": "true"}
        # Each save changes the stored answer (a first answer, or an update and a revision), as
        # a rater's does: posting what is already stored would be a no-op, and repeated runs
        # would post the same answers again.
        current = dict(
            Rating.objects.filter(
                assignment__study=study, assignment__rater__username=username
            ).values_list("assignment__token", "answer")
        )
        tokens = Assignment.objects.filter(study=study, rater__username=username).values_list(
            "token", flat=True
        )
        self.answers = {f"{base}/rate/{study.token}/{t}/": current.get(t, 0) for t in tokens}
        self.urls = sorted(self.answers)
        self.turn = 0
        self.rng = random.Random(username)

    def post_answer(self, url: str) -> requests.Response:
        """What the page's question form posts through htmx: its fields (with the CSRF token),
        the time on task, and htmx's own headers."""
        answer = int(self.answers[url]) % 5 + 1
        self.answers[url] = answer
        response = self.http.post(
            url,
            data={
                "csrfmiddlewaretoken": self.csrf,
                "question": "overall",
                "answer": str(answer),
                "elapsed_ms": str(self.rng.randint(2_000, 20_000)),
            },
            headers={**self.headers, "HX-Current-URL": url, "HX-Trigger": "q-overall"},
        )
        assert response.status_code == 200, response.text[:200]
        assert "Saved" in response.text, response.text[:200]
        return response

    def save(self) -> float:
        url = self.urls[self.turn % len(self.urls)]
        self.turn += 1
        started = time.perf_counter()
        self.post_answer(url)
        return time.perf_counter() - started

    def open_next(self) -> float:
        url = self.urls[self.turn % len(self.urls)]
        self.turn += 1
        started = time.perf_counter()
        assert self.http.get(url).status_code == 200
        return time.perf_counter() - started

    def healthz(self) -> float:
        started = time.perf_counter()
        assert self.http.get(f"{self.base}/healthz").status_code == 200
        return time.perf_counter() - started


def hammer(
    clients: list[Rater],
    action: str | Callable[[Rater], float],
    seconds: float,
    pause: tuple[float, float] | None = None,
) -> list[float]:
    """Every client repeats `action` until `seconds` pass; the latency of each request."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run(client: Rater) -> None:
        rng = random.Random(id(client))
        act = getattr(client, action) if isinstance(action, str) else lambda: action(client)
        if pause:
            # Raters working independently are spread over the pause, not lined up at t=0: a
            # simultaneous first request from every client is a burst the scenario never has.
            time.sleep(rng.uniform(0, pause[1]))
        while time.monotonic() < stop:
            took = act()
            with lock:
                latencies.append(took)
            if pause:
                time.sleep(rng.uniform(*pause))

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def p(values: list[float], q: int) -> float:
    """The q-th percentile of latencies in seconds, in milliseconds."""
    if len(values) < 2:
        return values[0] * 1000
    return statistics.quantiles(values, n=100)[q - 1] * 1000
