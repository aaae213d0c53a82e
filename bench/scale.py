"""The issue's study at scale: 20 raters x 50,000 outputs, 1,000,000 submitted ratings, on
PostgreSQL, and how long the admin's heavy pages and jobs take on it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/evalapp_bench make bench-scale
    .venv/bin/python bench/scale.py build --cases 2500 --raters 20   # 100,000 ratings, no timing
    .venv/bin/python bench/scale.py run --cases 25000 --raters 20    # build, then time (default)

`build` makes the study through the app's services where they are cheap (study, question,
import of the cases, raters, opening) and writes only the bulk rows with COPY: every rating, its
revision and each assignment's submission. `--fast-open` writes the items and assignments with
COPY too, from the same seeded manifest `study_open` would store (only their random tokens
differ), for when opening is what is being worked on.

`run` builds, then times each figure beside a reference measured in the same run on the same
database, since timings on a shared machine only mean something side by side (see TARGETS).
"""

import argparse
import datetime
import itertools
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalapp.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("SECURE_COOKIES", "0")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/evalapp_bench_scale")
# The import file of a large study is larger than a web upload may be by default.
os.environ.setdefault("IMPORT_MAX_DATA_BYTES", str(2 * 1024**3))
os.environ.setdefault("IMPORT_MAX_ROWS", str(10_000_000))

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from annotation import services  # noqa: E402
from annotation.core import design  # noqa: E402
from annotation.models import (  # noqa: E402
    TOKEN_ALPHABET,
    Assignment,
    Item,
    Membership,
    Question,
    Rating,
    RatingRevision,
    Study,
)

DAYS = 30


@dataclass(frozen=True)
class Size:
    cases: int
    sources: int
    raters: int
    seed: int

    @property
    def outputs(self) -> int:
        return self.cases * self.sources

    @property
    def ratings(self) -> int:
        return self.outputs * self.raters


def tokens(rng: random.Random, n: int) -> list[str]:
    """n tokens like models.new_token's (16 of its 62 letters and digits), from a seeded
    generator: a byte below 248 is uniform over the alphabet (248 = 4 x 62); others are
    dropped."""
    table = bytes(ord(TOKEN_ALPHABET[b % 62]) if b < 248 else 0 for b in range(256))
    dropped = bytes(range(248, 256))
    text = b""
    while len(text) < 16 * n:
        text += rng.randbytes(17 * n).translate(table, dropped)
    text = text.decode()
    return [text[i : i + 16] for i in range(0, 16 * n, 16)]


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
        _copy(cursor, Item, ("study_id", "output_id", "token"), _item_rows(study, outputs, rng))
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
    with connection.cursor() as cursor:
        _copy(
            cursor,
            Assignment,
            ASSIGNMENT_COLUMNS,
            _assignment_rows(study, manifest, keys, users, names, work),
        )
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


def _copy(cursor, model, columns: tuple[str, ...], rows) -> None:
    _copy_into(cursor, model._meta.db_table, columns, rows)


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
        ratings.append((pk, question.pk, str(answer), float(answer), opened, at or due))
    columns = ("assignment_id", "question_id", "answer", "value", "created_at", "updated_at")
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


# --- command line ------------------------------------------------------------------------------


def main() -> None:
    args = parser().parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/scale.py writes with COPY: set DATABASE_URL to a PostgreSQL database.")
    size = Size(cases=args.cases, sources=args.sources, raters=args.raters, seed=args.seed)
    call_command("migrate", verbosity=0)
    print(f"{size.cases:,} cases x {size.sources} sources x {size.raters} raters", flush=True)
    study, steps = build(size, fast_open=args.fast_open)
    for step, seconds in steps.items():
        print(f"  {step:<42} {seconds:7.1f} s", flush=True)
    print(f"study token: {study.token}")
    print(", ".join(f"{name} {n:,}" for name, n in counts(study).items()))


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=["build"], default="build")
    parser.add_argument("--cases", type=int, default=25_000)
    parser.add_argument("--sources", type=int, default=2)
    parser.add_argument("--raters", type=int, default=20, help="each rates every output")
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument(
        "--fast-open", action="store_true", help="write items and assignments with COPY"
    )
    return parser


if __name__ == "__main__":
    main()
