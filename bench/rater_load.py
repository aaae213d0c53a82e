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
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalapp.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECURE_COOKIES", "0")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from annotation.models import Assignment, Rating, RatingRevision, Study  # noqa: E402
from bench import serving  # noqa: E402
from bench.serving import Rater, hammer, p, process_tree, rss_mb  # noqa: E402

TITLE = "load benchmark (100,000 ratings)"
RATERS, CASES, SOURCES, K = 50, 5_000, 4, 5  # 20,000 outputs x 5 raters = 100,000 ratings
PORT = 8765


def study_with_ratings() -> Study:
    existing = Study.objects.filter(title=TITLE, status=Study.Status.OPEN).first()
    if existing:
        return existing
    study = serving.study_build(
        title=TITLE,
        cases=CASES,
        sources=SOURCES,
        raters_per_item=K,
        usernames=[f"bench-rater{i}" for i in range(RATERS)],
    )
    question = study.questions.get()
    rng = random.Random(0)
    ratings = [
        Rating(assignment_id=pk, question=question, answer=v, value=float(v), revision_count=1)
        for pk in Assignment.objects.filter(study=study).values_list("pk", flat=True)
        for v in [rng.randint(1, 5)]
    ]
    Rating.objects.bulk_create(ratings, batch_size=5000)
    RatingRevision.objects.bulk_create(
        (RatingRevision(rating=r, answer=r.answer, value=r.value) for r in ratings),
        batch_size=5000,
    )
    return study


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
    with serving.servers_running(
        port=PORT, workers=4, worker_args=["--pool=solo", "--loglevel=warning"]
    ) as running:
        raters = [Rater(f"bench-rater{i}", study, running.base) for i in range(RATERS)]

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

        memory = rss_mb(process_tree(running.web.pid)) + rss_mb(process_tree(running.worker.pid))
        print(f"resident memory, web + worker: {memory:6.0f} MB | target < 500 MB")


if __name__ == "__main__":
    main()
