"""The issue's study at scale: 20 raters x 50,000 outputs, 1,000,000 submitted ratings, on
PostgreSQL (DATABASE_URL; evalapp_bench_scale on localhost by default), and how long the
admin's heavy pages and jobs take on it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/evalapp_bench make bench-scale
    .venv/bin/python bench/scale.py build --cases 2500 --raters 20   # 100,000 ratings, no timing
    .venv/bin/python bench/scale.py run --study TOKEN --only open    # time a study built before

`build` makes the study through the app's services where they are cheap (study, question,
import of the cases, raters, opening) and writes only the bulk rows with COPY: every rating, its
revision and each assignment's submission. `--fast-open` writes the items and assignments with
COPY too, from the same seeded manifest `study_open` would store (only their random tokens
differ). Everything is seeded: the same sizes and seed give the same study.

`run` (the default) builds, then times each figure beside a reference measured in the same run
on the same database, since timings on a shared machine only mean something side by side:
the dashboard against a count(*) of the study's ratings; the statistics recomputation and the
paper bundle, each run by its Celery task's code in a child process (whose peak RSS is the
worker's), against reading the rows as plain tuples; and study_open of a second draft of the
same size against COPY-ing as many assignment rows into a temporary table. Each `run` leaves
that second study behind.
"""

import argparse
import datetime
import itertools
import json
import logging
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalapp.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("SECURE_COOKIES", "0")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/evalapp_bench_scale")
# The import file of a large study is larger than a web upload may be by default.
os.environ.setdefault("IMPORT_MAX_DATA_BYTES", str(2 * 1024**3))
os.environ.setdefault("IMPORT_MAX_ROWS", str(10_000_000))
# The jobs timed here run in this script's child processes: no worker elsewhere may take them.
os.environ["CELERY_BROKER_URL"] = "filesystem://"
os.environ["CELERY_BROKER_DIR"] = str(ROOT / "var" / "bench-scale-broker")

import django  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402


def database_create_missing(url: str) -> None:
    """Create the benchmark's database on a fresh machine; one already there is kept, since
    `run --study` times a study built by an earlier `build`."""
    if not url.startswith(("postgres://", "postgresql://")):
        return  # main() says why this benchmark needs PostgreSQL
    name = urlsplit(url).path.lstrip("/")
    admin = urlsplit(url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if found is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


database_create_missing(os.environ["DATABASE_URL"])
django.setup()
# Quiet: the figures are what this prints (the login and the broker otherwise log each time).
logging.disable(logging.WARNING)

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from annotation import services, tasks  # noqa: E402
from annotation.core import design  # noqa: E402
from annotation.models import (  # noqa: E402
    TOKEN_ALPHABET,
    Assignment,
    Item,
    Membership,
    Question,
    Rating,
    RatingRevision,
    Result,
    Study,
    TaskRun,
)
from annotation.services.task_runs import Progress  # noqa: E402

DAYS = 30


@dataclass(frozen=True)
class Size:
    cases: int
    sources: int
    raters: int
    seed: int

    @property
    def ratings(self) -> int:
        return self.cases * self.sources * self.raters


def tokens(rng: random.Random, n: int) -> list[str]:
    """n tokens as studies.new_tokens makes them, but from a seeded generator."""
    table = bytes(ord(TOKEN_ALPHABET[b % 62]) if b < 248 else 0 for b in range(256))
    text = b""
    while len(text) < 16 * n:
        text += rng.randbytes(17 * n).translate(table, bytes(range(248, 256)))
    return [text[i : i + 16].decode() for i in range(0, 16 * n, 16)]


# --- the study, through the services -----------------------------------------------------------


def users(size: Size):
    """The admin and the raters, made once and reused by every study of the database."""
    model = get_user_model()
    admin, _ = model.objects.get_or_create(username="scale-admin", defaults={"is_staff": True})
    raters = [
        model.objects.get_or_create(username=f"scale-rater-{n}")[0]
        for n in range(1, size.raters + 1)
    ]
    return admin, raters


def import_file(size: Size) -> bytes:
    rng = random.Random(size.seed)
    words = ["patient", "dose", "review", "follow", "symptoms", "advise", "risk", "history"]
    lines = []
    for case in range(size.cases):
        question = " ".join(rng.choices(words, k=20))
        for source in range(size.sources):
            row = {"case_id": f"c{case:07d}", "input": question, "source": f"model-{source}"}
            lines.append(json.dumps({**row, "output": " ".join(rng.choices(words, k=40))}))
    return ("\n".join(lines) + "\n").encode()


def draft_build(size: Size, title: str) -> Study:
    """A draft study with its cases, outputs and raters: everything but the opening."""
    admin, raters = users(size)
    study = services.study_create(
        creator=admin,
        title=title,
        raters_per_item=size.raters,
        question_prompt="Overall, how good is this answer?",
        seed=size.seed,
    )
    services.study_import_file(study=study, filename="scale.jsonl", content=import_file(size))
    services.study_add_raters(study=study, users=raters)
    return study


def study_open_fast(study: Study) -> int:
    """What study_open stores for an absolute study without quality control, written with COPY:
    one item per output, and the same seeded manifest (only the random tokens differ)."""
    # Seeded by the study too: two studies of one seed in one database need other tokens.
    rng = random.Random(f"{study.seed}\x1f{study.pk}\x1ftokens")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT o.id, c.external_id, s.label FROM annotation_output o "
            "JOIN annotation_case c ON c.id = o.case_id "
            "JOIN annotation_source s ON s.id = o.source_id "
            "WHERE c.study_id = %s AND o.sample = 0",
            [study.pk],
        )
        outputs = cursor.fetchall()
        columns = ("study_id", "output_id", "token")
        _copy_into(cursor, Item._meta.db_table, columns, _item_rows(study, outputs, rng))
        cursor.execute("SELECT output_id, id FROM annotation_item WHERE study_id = %s", [study.pk])
        item_of = dict(cursor.fetchall())
    keys = {f"{case}\x1f{label}": item_of[pk] for pk, case, label in outputs}
    users = dict(
        study.memberships.filter(role=Membership.Role.RATER).values_list("pseudonym", "user_id")
    )
    manifest = design.assign(
        items=[design.DesignItem(key) for key in keys],
        raters=list(users),
        k=study.raters_per_item,
        seed=study.seed,
    )
    names = iter(tokens(rng, len(manifest.placements)))
    work = Work(study.seed)
    rows = _assignment_rows(study, manifest, keys, users, names, work)
    with connection.cursor() as cursor:
        _copy_into(cursor, Assignment._meta.db_table, ASSIGNMENT_COLUMNS, rows)
    Study.objects.filter(pk=study.pk).update(
        status=Study.Status.OPEN, opened_at=timezone.now(), manifest_hash=manifest.digest
    )
    return len(manifest.placements)


ASSIGNMENT_COLUMNS = ("study_id", "item_id", "rater_id", "position", "kind", "flipped", "order")
ASSIGNMENT_COLUMNS += ("token", "first_opened_at", "submitted_at", "time_on_task_ms")


def _assignment_rows(study: Study, manifest, keys, users, names, work: "Work"):
    """Each placement as an assignment row, submitted when `Work` says: raters by pseudonym,
    each one's placements by position, as the manifest lists them."""
    for _, placements in itertools.groupby(manifest.placements, key=lambda p: p.rater):
        placements = list(placements)
        for p, times in zip(placements, work.times_of(len(placements)), strict=True):
            row = (study.pk, keys[p.item], users[p.rater], p.position, p.kind, False, "[]")
            yield (*row, next(names), *times)


def _item_rows(study: Study, outputs, rng: random.Random):
    names = tokens(rng, len(outputs))
    return ((study.pk, pk, token) for (pk, _, _), token in zip(outputs, names, strict=True))


def _copy_into(cursor, table: str, columns: tuple[str, ...], rows) -> None:
    quoted = ", ".join(f'"{c}"' for c in columns)
    with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# --- the raters' work, with COPY ---------------------------------------------------------------


class Work:
    """Seeded answers and timings: each case has a quality, each source and rater a bias; a
    rater works through their order over the last DAYS days, about 45 s an item. Answers and
    times draw from generators of their own, so that writing the times with the assignments
    (--fast-open) or afterwards gives the same."""

    def __init__(self, seed: int) -> None:
        self.answers = random.Random(f"{seed}\x1fanswers")
        self.clock = random.Random(f"{seed}\x1ftimes")
        self.case_quality: dict[str, float] = {}
        self.now = timezone.now()

    def rater_bias(self) -> float:
        return self.answers.gauss(0, 0.4)

    def answer(self, case: str, source: int, bias: float) -> int:
        if case not in self.case_quality:
            self.case_quality[case] = self.answers.gauss(0, 0.8)
        latent = 3 + self.case_quality[case] + 0.3 * source + bias + self.answers.gauss(0, 0.7)
        return min(5, max(1, round(latent)))

    def times_of(self, n: int) -> list[tuple[datetime.datetime, datetime.datetime, int]]:
        """(first opened, submitted, time on task in ms) of a rater's n items by position."""
        return [self._times(position, n) for position in range(1, n + 1)]

    def _times(self, position: int, n: int) -> tuple[datetime.datetime, datetime.datetime, int]:
        spent = int(min(600_000, max(3_000, self.clock.lognormvariate(math.log(45_000), 0.6))))
        share = (position - 1 + self.clock.random()) / n
        submitted = self.now - datetime.timedelta(days=DAYS * (1 - share))
        return submitted - datetime.timedelta(milliseconds=spent), submitted, spent


def ratings_fill(study: Study, *, submitted: bool) -> int:
    """One answer to the study's question on every assignment, with its revision; and each
    assignment's submission unless `submitted` already."""
    question = Question.objects.get(study=study, key="overall")
    work = Work(study.seed)
    items = _item_sources(study)
    raters = sorted(study.memberships.filter(role=Membership.Role.RATER), key=lambda m: m.pseudonym)
    done = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE scale_submitted (id bigint, opened timestamptz, "
            "submitted timestamptz, spent integer) ON COMMIT DROP"
        )
        for membership in raters:
            cursor.execute(
                "SELECT id, item_id, position, submitted_at FROM annotation_assignment "
                "WHERE study_id = %s AND rater_id = %s ORDER BY position",
                [study.pk, membership.user_id],
            )
            done += _rater_work(cursor, question, work, items, cursor.fetchall(), submitted)
        if not submitted:
            cursor.execute(
                "UPDATE annotation_assignment a SET first_opened_at = s.opened, "
                "submitted_at = s.submitted, time_on_task_ms = s.spent "
                "FROM scale_submitted s WHERE a.id = s.id"
            )
    _revisions_insert(study)
    return done


def _item_sources(study: Study) -> dict[int, tuple[str, int]]:
    """Each item's case id and source number (model-3: 3)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.id, c.external_id, s.label FROM annotation_item i "
            "JOIN annotation_output o ON o.id = i.output_id "
            "JOIN annotation_case c ON c.id = o.case_id "
            "JOIN annotation_source s ON s.id = o.source_id WHERE i.study_id = %s",
            [study.pk],
        )
        return {pk: (case, int(label.rsplit("-", 1)[1])) for pk, case, label in cursor}


def _rater_work(cursor, question: Question, work: Work, items, mine, submitted: bool) -> int:
    """COPY one rater's ratings, saved when the item was submitted; and, unless `submitted`,
    the submissions into the temporary table."""
    bias = work.rater_bias()
    times = work.times_of(len(mine))
    ratings = []
    for (pk, item, _, at), (opened, due, _) in zip(mine, times, strict=True):
        answer = work.answer(*items[item], bias)
        ratings.append((pk, question.pk, str(answer), float(answer), opened, at or due, 1))
    columns = ("assignment_id", "question_id", "answer", "value", "created_at", "updated_at")
    columns += ("revision_count",)  # the one revision `_revisions_insert` appends
    _copy_into(cursor, Rating._meta.db_table, columns, ratings)
    if not submitted:
        rows = ((pk, *when) for (pk, *_), when in zip(mine, times, strict=True))
        _copy_into(cursor, "scale_submitted", ("id", "opened", "submitted", "spent"), rows)
    return len(ratings)


def _revisions_insert(study: Study) -> None:
    """Each rating's one revision, as rating_save appends it: the answer, when it was saved."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RatingRevision._meta.db_table} (rating_id, answer, value, saved_at) "
            "SELECT r.id, r.answer, r.value, r.updated_at FROM annotation_rating r "
            "JOIN annotation_assignment a ON a.id = r.assignment_id WHERE a.study_id = %s",
            [study.pk],
        )


def build(size: Size, *, fast_open: bool) -> tuple[Study, dict[str, float]]:
    """The study, open, every rating submitted; with how long each step took."""
    steps = {}
    started = time.perf_counter()
    study = draft_build(size, f"scale {size.ratings:,} ratings")
    steps["study, import, raters"] = time.perf_counter() - started
    started = time.perf_counter()
    if fast_open:
        study_open_fast(study)
    else:
        services.study_open(study=study)
    steps["open" + (" (fast, COPY)" if fast_open else "")] = time.perf_counter() - started
    started = time.perf_counter()
    ratings_fill(study, submitted=fast_open)
    steps["ratings, revisions, submissions (COPY)"] = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    study.refresh_from_db()
    return study, steps


def counts(study: Study) -> dict[str, int]:
    ratings = Rating.objects.filter(assignment__study=study)
    return {
        "outputs": Item.objects.filter(study=study).count(),
        "raters": study.memberships.filter(role=Membership.Role.RATER).count(),
        "assignments": study.assignments.count(),
        "submitted": study.assignments.exclude(submitted_at=None).count(),
        "ratings": ratings.count(),
        "revisions": RatingRevision.objects.filter(rating__assignment__study=study).count(),
    }


# --- timings, each beside its reference ---------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    name: str
    seconds: float
    reference: str
    reference_seconds: float
    target: str
    met: bool
    note: str = ""

    def line(self) -> str:
        ratio = self.seconds / self.reference_seconds if self.reference_seconds else math.inf
        verdict = "met" if self.met else "MISSED"
        return (
            f"{self.name:<10} {self.seconds:8.2f} s  {self.reference:<34} "
            f"{self.reference_seconds:7.2f} s  {ratio:6.1f}x  {self.target:<28} {verdict}"
            + (f"  ({self.note})" if self.note else "")
        )


def median_seconds(work, times: int) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        work()
        spent.append(time.perf_counter() - started)
    return statistics.median(spent)


def time_dashboard(study: Study) -> Figure:
    """The study admin's dashboard, median of 5 after a warm-up, against a count(*) of the
    study's ratings."""
    # The page names its static files from the manifest, as in production: on a fresh clone
    # there is none until they are collected, as a deploy does.
    call_command("collectstatic", interactive=False, verbosity=0)
    client = Client(SERVER_NAME="localhost")
    client.force_login(study.created_by)
    url = reverse("study_dashboard", args=[study.token])

    def get() -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code}")

    get()
    queries = []
    with connection.execute_wrapper(
        lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)
    ):
        get()
    ours = median_seconds(get, 5)

    def count() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM annotation_rating r JOIN annotation_assignment a "
                "ON a.id = r.assignment_id WHERE a.study_id = %s",
                [study.pk],
            )
            cursor.fetchone()

    floor = median_seconds(count, 5)
    met = ours < 0.5 and ours <= 2 * floor
    note = f"{len(queries)} queries"
    return Figure("dashboard", ours, "count(*) of its ratings", floor, "< 0.5 s, <= 2x", met, note)


def read_rows(study: Study) -> None:
    """What the statistics read, as plain tuples: each submitted study answer with its rater,
    question, case and source."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.rater_id, r.question_id, o.case_id, o.source_id, r.value "
            "FROM annotation_rating r JOIN annotation_assignment a ON a.id = r.assignment_id "
            "JOIN annotation_item i ON i.id = a.item_id "
            "JOIN annotation_output o ON o.id = i.output_id "
            "WHERE a.study_id = %s AND a.kind = 'study' AND a.submitted_at IS NOT NULL",
            [study.pk],
        )
        cursor.fetchall()


def time_job(study: Study, kind: str, name: str, limit: float) -> Figure:
    """A worker's job (a TaskRun as the services record it, run by its Celery task's code) in a
    child process, whose peak RSS is the job's; against reading the rows as tuples. The child
    runs the job twice, as a worker does over its life: first in a fresh process, then again in
    the same, warm, one (its modules imported, PostgreSQL's caches as the first left them),
    which is what the reference, a median of warm reads, is compared with. A recomputation is
    timed as a first one each time: the study's stored statistics go first, or it would keep
    them all (their inputs unchanged), computing none."""
    child = subprocess.run(
        [sys.executable, __file__, "job", kind, study.token], capture_output=True, text=True
    )
    if child.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{child.stderr[-3000:]}")
    done = json.loads(child.stdout.strip().splitlines()[-1])
    floor = median_seconds(lambda: read_rows(study), 3)
    rss, warm, fresh = done["maxrss_mb"], done["warm"], done["fresh"]
    met = warm["seconds"] < limit and warm["seconds"] <= 5 * floor and rss < 500
    target = f"< {limit:.0f} s, <= 5x, RSS < 500 MB"
    # The worker's own CPU (every thread), which other work on a shared machine slows less
    # than the wall clock; and the same job in a fresh process, imports and cold caches
    # included, as a worker's first job after it starts.
    note = (
        f"worker peak RSS {warm['peak_mb']:.0f} MB, CPU {warm['cpu']:.1f} s; in a fresh worker "
        f"{fresh['seconds']:.2f} s, CPU {fresh['cpu']:.1f} s, peak {fresh['peak_mb']:.0f} MB, "
        f"{fresh['after_mb']:.0f} MB after it"
    )
    return Figure(name, warm["seconds"], "rows read as tuples", floor, target, met, note)


def job(kind: str, token: str) -> None:
    """In the child: run the job of this kind on the study twice, as the worker's task does,
    and say how long each took and the process's peak memory."""
    tasks.worker_memory_setup()  # as the worker's start does
    study = Study.objects.get(token=token)
    task = {
        TaskRun.Kind.COMPUTE_AGREEMENT: tasks.compute_agreement,
        TaskRun.Kind.EXPORT_BUNDLE: tasks.export_bundle,
    }[kind]
    timed = {}
    for turn in ("fresh", "warm"):
        if kind == TaskRun.Kind.COMPUTE_AGREEMENT:
            Result.objects.filter(study=study).delete()
        run = services.task_run_create(study=study, kind=kind, user=study.created_by)
        started, cpu = time.perf_counter(), time.process_time()
        task(run.pk)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        run.refresh_from_db()
        if run.status != TaskRun.Status.SUCCEEDED:
            raise RuntimeError(f"{kind}: {run.status} {run.message}")
        timed[turn] = {"seconds": seconds, "cpu": cpu, "peak_mb": peak_rss_mb()}
        timed[turn]["after_mb"] = rss_mb()
        peak_rss_reset()
    print(json.dumps({**timed, "maxrss_mb": max(t["peak_mb"] for t in timed.values())}))


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def peak_rss_reset() -> None:
    """Start this process's peak RSS (VmHWM) again from its RSS now (Linux 4.0 and later), so
    that each run's peak is its own."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


def peak_rss_mb() -> float:
    """This process's peak RSS since its exec (VmHWM). Not getrusage's ru_maxrss: Linux carries
    that over an exec from the process it replaced, here the bench's own, far larger, parent."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_open(size: Size) -> Figure:
    """Opening a draft of the same size as a worker opens it (study_open_run): until the study
    is open to its raters, with every rater's order stored, and then until each rater's
    assignments are written; against COPY-ing as many assignment-shaped rows into a temporary
    table without indexes."""
    study = draft_build(size, f"scale open {size.ratings:,}")
    backend = backend_seconds()
    started, cpu = time.perf_counter(), time.process_time()
    created = services.study_open(study=study, defer=True)
    ours, cpu = time.perf_counter() - started, time.process_time() - cpu
    note = f"open to raters; CPU: Python {cpu:.1f} s"
    if backend is not None:
        note += f", PostgreSQL backend {backend_seconds() - backend:.1f} s"
    raters = study.pending_assignments.count()
    written = time.perf_counter()
    services.pending_assignments_write_all(study, Progress())
    rest = time.perf_counter() - written
    note += (
        f"; then every rater's assignments written in {rest:.1f} s "
        f"({rest / max(raters, 1):.2f} s a rater, {raters} raters), all by {ours + rest:.1f} s"
    )
    floor = copy_reference(study, created)
    name = f"COPY {created:,} rows, temp table"
    return Figure("open", ours, name, floor, "< 15 s", ours < 15, note)


def backend_seconds() -> float | None:
    """CPU seconds this connection's PostgreSQL backend has used, when it runs on this machine:
    on a busy machine, CPU time says more than the wall clock about an idle one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def copy_reference(study: Study, n: int) -> float:
    rng = random.Random(study.seed)
    names = tokens(rng, n)
    rows = [
        (i, study.pk, 1 + i % 50_000, 1 + i % 20, i, "study", False, "[]", token, 0)
        for i, token in enumerate(names, start=1)
    ]
    columns = ("id", "study_id", "item_id", "rater_id", "position", "kind", "flipped", "order")
    columns += ("token", "time_on_task_ms")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE scale_assignment"
            " (LIKE annotation_assignment INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        started = time.perf_counter()
        _copy_into(cursor, "scale_assignment", columns, rows)
        return time.perf_counter() - started


TIMINGS = ("recompute", "bundle", "dashboard", "open")


def run(study: Study, size: Size, only: list[str]) -> list[Figure]:
    """The figures, in the order the issue lists them. The worker's jobs go first, so the
    dashboard reads what they store, as it would in use."""
    timings = {
        "recompute": lambda: time_job(study, TaskRun.Kind.COMPUTE_AGREEMENT, "recompute", 15),
        "bundle": lambda: time_job(study, TaskRun.Kind.EXPORT_BUNDLE, "bundle", 20),
        "dashboard": lambda: time_dashboard(study),
        "open": lambda: time_open(size),
    }
    figures = {}
    for name in TIMINGS:  # in the order that lets the dashboard read what the jobs stored
        if name in only:
            figures[name] = timings[name]()
            print(figures[name].line(), flush=True)
    return [figures[name] for name in ("dashboard", "recompute", "bundle", "open") if name in only]


# --- command line ------------------------------------------------------------------------------


def main() -> None:
    args = parser().parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/scale.py writes with COPY: set DATABASE_URL to a PostgreSQL database.")
    if args.command == "job":
        job(args.kind, args.token)
        return
    size = Size(cases=args.cases, sources=args.sources, raters=args.raters, seed=args.seed)
    call_command("migrate", verbosity=0)
    print(
        f"{connection.settings_dict['NAME']}: {size.cases:,} cases x {size.sources} sources x "
        f"{size.raters} raters = {size.ratings:,} ratings",
        flush=True,
    )
    if args.study:
        study = Study.objects.get(token=args.study)
    else:
        study, steps = build(size, fast_open=args.fast_open)
        for step, seconds in steps.items():
            print(f"  {step:<42} {seconds:7.1f} s", flush=True)
    print(f"study token: {study.token}")
    print(", ".join(f"{name} {n:,}" for name, n in counts(study).items()), flush=True)
    if args.command == "build":
        return
    print("Each beside its reference, measured in the same run on the same database:")
    figures = run(study, size, args.only or list(TIMINGS))
    print(f"\n{'':<10} {'ours':>10}  {'reference (same run)':<34} {'':>9}  {'ratio':>7}  target")
    for figure in figures:
        print(figure.line())


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command")
    build_ = commands.add_parser("build", help="make the study and print its token")
    run_ = commands.add_parser("run", help="build (or take --study), then time (the default)")
    for command in (parser, build_, run_):
        _size_options(command)
    run_.add_argument("--study", help="time this study (its token) instead of building one")
    run_.add_argument("--only", action="append", choices=TIMINGS, help="time only these")
    job_ = commands.add_parser("job", help=argparse.SUPPRESS)
    job_.add_argument("kind")
    job_.add_argument("token")
    parser.set_defaults(command="run", study=None, only=None)
    return parser


def _size_options(parser: argparse.ArgumentParser) -> None:
    default = argparse.SUPPRESS if parser.prog.endswith(("build", "run")) else None
    parser.add_argument("--cases", type=int, default=default or 25_000)
    parser.add_argument("--sources", type=int, default=default or 2)
    parser.add_argument("--raters", type=int, default=default or 20, help="each rates every output")
    parser.add_argument("--seed", type=int, default=default or 22)
    parser.add_argument(
        "--fast-open",
        action="store_true",
        default=default or False,
        help="write the items and assignments with COPY instead of study_open",
    )


if __name__ == "__main__":
    main()
