"""How fast and in how much memory the ratings export runs: 100,000 ratings timed, 1,000,000
for peak memory, through the same code as the download and the paper bundle.

    make bench-export                  # SQLite under var/ (the embedded default)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/evalapp_bench make bench-export
    .venv/bin/python bench/export_speed.py --ratings 1000000   # the memory target

Reference, measured in the same run on the same database: reading the same rows as plain
tuples (`values_list`) with nothing else, the floor any export pays. The issue's targets:
100,000 ratings in at most 3 s (Label Studio takes about 4 s for 4,000 annotations here), and
peak memory under 200 MB for 1,000,000. Memory is the peak RSS of a fresh process that does the
export alone.
"""

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalapp.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench-export.sqlite3'}")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from annotation import selectors  # noqa: E402
from annotation.core import tables  # noqa: E402
from annotation.models import Assignment, Item, Membership, Rating, Study  # noqa: E402
from tests.factories import UserFactory  # noqa: E402

RATERS = 20
TARGET_SECONDS, TARGET_MB = 3.0, 200
LABEL_STUDIO_S_PER_4000 = 4.0


def build(n_ratings: int) -> Study:
    """A study with `n_ratings` submitted ratings: n/20 outputs, each rated by 20 raters."""
    from annotation import services  # the export process needs none of it: keep it small

    call_command("migrate", verbosity=0)
    admin = UserFactory(username="bench-admin")  # earlier runs' studies stay; this one is new
    study = services.study_create(
        creator=admin, title=f"Export bench {n_ratings}", question_prompt="How good?", seed=1
    )
    n_cases = n_ratings // RATERS
    rows = ["case_id,input,source,output"] + [
        f"c{i},Question {i},Model,Answer {i}" for i in range(n_cases)
    ]
    services.study_import_file(study=study, filename="b.csv", content="\n".join(rows).encode())
    raters = [UserFactory(username=f"bench-rater-{study.pk}-{r}") for r in range(RATERS)]
    Membership.objects.bulk_create(
        Membership(study=study, user=u, role="rater", pseudonym=f"R{r + 1}")
        for r, u in enumerate(raters)
    )
    outputs = list(study.sources.get().outputs.order_by("pk"))
    Item.objects.bulk_create((Item(study=study, output=o) for o in outputs), batch_size=5000)
    items = list(study.items.order_by("pk"))
    question = study.questions.get()
    now = timezone.now()
    for r, rater in enumerate(raters):
        Assignment.objects.bulk_create(
            (
                Assignment(study=study, item=item, rater=rater, position=p + 1, submitted_at=now)
                for p, item in enumerate(items)
            ),
            batch_size=5000,
        )
        assignments = Assignment.objects.filter(study=study, rater=rater).values_list(
            "pk", flat=True
        )
        Rating.objects.bulk_create(
            (
                Rating(
                    assignment_id=a,
                    question=question,
                    answer=(a + r) % 5 + 1,
                    value=(a + r) % 5 + 1,
                )
                for a in assignments.iterator(chunk_size=5000)
            ),
            batch_size=5000,
        )
    # Fresh planner statistics, as autovacuum would have made by the time anyone exports: on
    # PostgreSQL a cursor planned from a bulk load's stale estimates runs ten times slower.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return study


class Sink:
    """Counts what is written and keeps none of it."""

    size = 0

    def write(self, text: str) -> None:
        self.size += len(text)


def export(study: Study) -> tuple[float, int]:
    sink = Sink()
    start = time.perf_counter()
    for chunk in tables.csv_chunks(
        selectors.study_ratings_iter(study=study), selectors.RATINGS_COLUMNS
    ):
        sink.write(chunk)
    return time.perf_counter() - start, sink.size


def plain_read(study: Study) -> float:
    start = time.perf_counter()
    for _ in (
        Rating.objects.filter(assignment__study=study)
        .values_list(
            "assignment__item__token", "assignment__rater_id", "question__key", "answer", "value"
        )
        .iterator(chunk_size=5000)
    ):
        pass
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM): unlike ru_maxrss, not inherited from the
    parent that started it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_alone(token: str) -> None:
    """In a fresh process: the export, then its peak RSS and the RSS before it, in MB."""
    study = Study.objects.get(token=token)
    before_mb = peak_rss_mb()
    seconds, size = export(study)
    peak_mb = peak_rss_mb()
    print(f"{seconds:.3f} {size} {peak_mb:.1f} {before_mb:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ratings", type=int, default=100_000)
    parser.add_argument("--export-only", metavar="TOKEN")
    args = parser.parse_args()
    if args.export_only:
        export_alone(args.export_only)
        return
    started = time.perf_counter()
    study = build(args.ratings)
    print(
        f"built {Rating.objects.filter(assignment__study=study).count():,} ratings "
        f"in {time.perf_counter() - started:.0f} s"
    )
    read = plain_read(study)
    alone = subprocess.run(
        [sys.executable, __file__, "--export-only", study.token],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    ).stdout.split()
    seconds, size, peak, before = float(alone[0]), int(alone[1]), float(alone[2]), float(alone[3])
    per_4000 = seconds / args.ratings * 4000
    print(
        f"export {args.ratings:,} ratings: {seconds:.2f} s ({size / 1e6:.1f} MB of CSV), "
        f"peak RSS {peak:.0f} MB ({before:.0f} MB before the export began)"
    )
    print(
        f"  reference, the same rows read as plain tuples: {read:.2f} s; "
        f"export / read = {seconds / read:.1f}x"
    )
    print(f"  per 4,000 ratings: {per_4000:.3f} s (Label Studio ~{LABEL_STUDIO_S_PER_4000:.0f} s)")
    if args.ratings <= 100_000:
        print(f"  target: 100,000 ratings in at most {TARGET_SECONDS:.0f} s")
    else:
        print(f"  target: peak memory under {TARGET_MB} MB")


if __name__ == "__main__":
    main()
