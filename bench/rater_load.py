"""The rater workspace under load, against a production-style server: gunicorn on PostgreSQL,
a study holding 100,000 ratings, raters saving answers over real HTTP on loopback.

    createdb -h 127.0.0.1 -U postgres evalapp_bench   # once
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/evalapp_bench make bench-load

Prints, each beside a reference measured in the same run (`/healthz`, one database query
through the same server: the floor any request pays):
  - 8 clients saving back to back: saves/s and p95 (targets: >= 120/s, p95 < 100 ms);
  - one client opening the next item: p50 (target < 10 ms);
  - 50 raters pausing 1-3 s between actions: p95 (target < 50 ms);
  - resident memory of the web server and a Celery worker together (target < 500 MB).
"""

import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalapp.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECURE_COOKIES", "0")

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from annotation import services  # noqa: E402
from annotation.models import Assignment, Rating, RatingRevision, Study  # noqa: E402

TITLE = "load benchmark (100,000 ratings)"
PASSWORD = "bench-password"
RATERS, CASES, SOURCES, K = 50, 5_000, 4, 5  # 20,000 outputs x 5 raters = 100,000 ratings
PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"


def study_with_ratings() -> Study:
    existing = Study.objects.filter(title=TITLE, status=Study.Status.OPEN).first()
    if existing:
        return existing
    admin, _ = get_user_model().objects.get_or_create(username="bench-admin")
    study = services.study_create(
        creator=admin, title=TITLE, question_prompt="Overall?", raters_per_item=K, seed=1
    )
    lines = ["case_id,input,source,output"]
    lines += [
        f"c{c},Question {c},model-{s},An answer of about a hundred characters for case {c}."
        for c in range(CASES)
        for s in range(SOURCES)
    ]
    services.study_import_file(study=study, filename="b.csv", content="\n".join(lines).encode())
    digest = make_password(PASSWORD)  # one hash for all: setting 50 passwords is slow
    users = [
        get_user_model().objects.create(username=f"bench-rater{i}", password=digest)
        for i in range(RATERS)
    ]
    services.study_add_raters(study=study, users=users)
    services.study_open(study=study)
    question = study.questions.get()
    rng = random.Random(0)
    ratings = [
        Rating(assignment_id=pk, question=question, answer=v, value=float(v))
        for pk in Assignment.objects.filter(study=study).values_list("pk", flat=True)
        for v in [rng.randint(1, 5)]
    ]
    Rating.objects.bulk_create(ratings, batch_size=5000)
    RatingRevision.objects.bulk_create(
        (RatingRevision(rating=r, answer=r.answer, value=r.value) for r in ratings),
        batch_size=5000,
    )
    return study


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def children(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids = (task / "children").read_text().split()
        for kid in kids:
            found += children(int(kid))
    return found


class Rater:
    def __init__(self, username: str, study: Study):
        self.http = requests.Session()
        self.http.get(f"{BASE}/accounts/login/")
        token = self.http.cookies["csrftoken"]
        self.http.post(
            f"{BASE}/accounts/login/",
            data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        )
        assert "sessionid" in self.http.cookies, f"could not log in as {username}"
        self.csrf = self.http.cookies["csrftoken"]
        self.headers = {"X-CSRFToken": self.csrf, "HX-Request": "true"}
        # Each save changes the stored answer (an update and a revision), as a rater's does:
        # posting what is already stored would be a no-op, and repeated runs would post the
        # same answers again.
        current = Rating.objects.filter(
            assignment__study=study, assignment__rater__username=username
        ).values_list("assignment__token", "answer")
        self.answers = {f"{BASE}/rate/{study.token}/{t}/": answer for t, answer in current}
        self.urls = sorted(self.answers)
        self.turn = 0
        self.rng = random.Random(username)

    def save(self) -> float:
        url = self.urls[self.turn % len(self.urls)]
        self.turn += 1
        answer = int(self.answers[url]) % 5 + 1
        self.answers[url] = answer
        started = time.perf_counter()
        # What the page's htmx form posts: its fields (with the CSRF token) and time on task.
        response = self.http.post(
            url,
            data={
                "csrfmiddlewaretoken": self.csrf,
                "question": "overall",
                "answer": str(answer),
                "elapsed_ms": str(self.rng.randint(2_000, 20_000)),
            },
            headers=self.headers,
        )
        assert response.status_code == 200, response.text[:200]
        assert "Saved" in response.text, response.text[:200]
        return time.perf_counter() - started

    def open_next(self) -> float:
        url = self.urls[self.turn % len(self.urls)]
        self.turn += 1
        started = time.perf_counter()
        assert self.http.get(url).status_code == 200
        return time.perf_counter() - started

    def healthz(self) -> float:
        started = time.perf_counter()
        assert self.http.get(f"{BASE}/healthz").status_code == 200
        return time.perf_counter() - started


def hammer(clients: list[Rater], action: str, seconds: float, pause=None) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run(client: Rater) -> None:
        rng = random.Random(id(client))
        if pause:
            # Raters working independently are spread over the pause, not lined up at t=0: a
            # simultaneous first request from every client is a burst the scenario never has.
            time.sleep(rng.uniform(0, pause[1]))
        while time.monotonic() < stop:
            took = getattr(client, action)()
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


def p(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] * 1000
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def main() -> None:
    if connection.vendor != "postgresql":
        sys.exit("Run this against PostgreSQL: set DATABASE_URL (see the docstring).")
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # as a production deploy does
    study = study_with_ratings()
    print(
        f"study: {Rating.objects.filter(assignment__study=study).count():,} ratings, "
        f"{RATERS} raters; gunicorn, 4 sync workers, on {os.cpu_count()} cores"
    )
    env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "evalapp.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "evalapp",
            "worker",
            "--pool=solo",
            "--loglevel=warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                requests.get(f"{BASE}/healthz", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        raters = [Rater(f"bench-rater{i}", study) for i in range(RATERS)]

        ref = hammer(raters[:8], "healthz", 5)
        saves = hammer(raters[:8], "save", 10)
        print(
            f"8 clients, saves back to back: {len(saves) / 10:6.0f} saves/s, p95 "
            f"{p(saves, 95):5.1f} ms | /healthz same load: {len(ref) / 5:6.0f} req/s, p95 "
            f"{p(ref, 95):5.1f} ms | target >= 120/s, p95 < 100 ms"
        )

        # Opening the next item is a first visit, which records when it was opened: make each
        # run's visits first visits again rather than re-visits of the previous run's items.
        Assignment.objects.filter(study=study, rater__username="bench-rater8").update(
            first_opened_at=None
        )
        single_ref = [raters[8].healthz() for _ in range(200)]
        opens = [raters[8].open_next() for _ in range(200)]
        print(
            f"1 client, open next item:      p50 {p(opens, 50):5.1f} ms | /healthz p50 "
            f"{p(single_ref, 50):5.1f} ms | target p50 < 10 ms"
        )

        mixed = hammer(raters, "save", 30, pause=(1.0, 3.0))
        calm_ref = hammer(raters, "healthz", 10, pause=(1.0, 3.0))
        print(
            f"50 raters, 1-3 s pauses:       p95 {p(mixed, 95):5.1f} ms over {len(mixed)} saves"
            f" | /healthz p95 {p(calm_ref, 95):5.1f} ms | target p95 < 50 ms"
        )

        memory = rss_mb(children(web.pid)) + rss_mb(children(worker.pid))
        print(f"resident memory, web + worker: {memory:6.0f} MB | target < 500 MB")
    finally:
        web.terminate()
        worker.terminate()
        web.wait()
        worker.wait()


if __name__ == "__main__":
    main()
