"""The ratings in the long format (ratings.csv, the API's ratings, the statistics' rows): one
row per rating, read as plain values in chunks, for exports of any size in constant memory. On
PostgreSQL the paper bundle's ratings.csv is read as the database's sorted, packed numbers, its
lines laid out by NumPy, with the columns its ratings.sav and ratings.dta need beside them
(`study_ratings_csv_batches`)."""

import contextlib
import itertools
import json
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    CharField,
    ExpressionWrapper,
    Func,
    Q,
    QuerySet,
    TextField,
)
from django.db.models.functions import Cast

from annotation.core import columns, tables
from annotation.models import Item, ItemOutput, Question, Rating, Study
from annotation.selectors.adjudication_exports import reference_cells
from annotation.selectors.consent import study_rater_covariates
from annotation.selectors.studies import study_rater_pseudonyms

if TYPE_CHECKING:
    from annotation.core.stat_files import CodedRatings

RATINGS_COLUMNS = columns.RATINGS.names


def study_ratings_long(*, study: Study) -> list[dict]:
    """Every rating, one row each, in the long format agreement statistics start from."""
    return list(study_ratings_iter(study=study))


def study_ratings_query(*, study: Study) -> QuerySet[Rating]:
    """The study's ratings in the long format's order (item, question, rater)."""
    return Rating.objects.filter(assignment__study=study).order_by(*RATINGS_ORDER)


RATINGS_ORDER = ("assignment__item__token", "question__order", "assignment__rater_id", "pk")


def study_ratings_columns(*, study: Study) -> list[str]:
    """The long format's columns for this study: `arm` added in an assisted-reading study.
    (`study_ratings_export` adds the raters' background after them.)"""
    return columns.ratings_table(reading=study.is_reading).names


def study_ratings_iter(
    *,
    study: Study,
    ratings: QuerySet[Rating] | None = None,
    chunk_size: int = 5000,
) -> Iterator[dict]:
    """`study_ratings_long` a row at a time, for exports of any size in constant memory: plain
    values read in chunks, no model objects. `ratings` narrows it (a filter, or one page)."""
    names = study_ratings_columns(study=study)
    for row in study_ratings_rows(study=study, ratings=ratings, chunk_size=chunk_size):
        yield dict(zip(names, row, strict=True))


def study_ratings_export(
    *, study: Study, ratings: QuerySet[Rating] | None = None
) -> tuple[list[str], Iterator[dict]]:
    """The ratings CSV's columns and rows (`study_ratings_iter`), each row with its rater's
    background joined by pseudonym: the questions about raters read once for both."""
    extra, by_rater = study_rater_covariates(study=study)
    names = study_ratings_columns(study=study) + extra
    rows = study_ratings_iter(study=study, ratings=ratings)
    if not extra:
        return names, rows
    blank = dict.fromkeys(extra)
    return names, ({**row, **by_rater.get(row["rater"], blank)} for row in rows)


def study_ratings_rows(
    *, study: Study, ratings: QuerySet[Rating] | None = None, chunk_size: int = 5000
) -> Iterator[tuple]:
    """`study_ratings_iter`'s rows as tuples in `RATINGS_COLUMNS`' order, the same values. The
    database writes the moments as `tables.timestamp` does and says whether the item was
    submitted, and each JSON text (answers, orders shown) is read once however often it
    repeats: a million rows take seconds, where a moment parsed and formatted in Python took
    microseconds each. Each row carries its item and question's adjudicated reference (two
    empty cells where there is none); in an assisted-reading study it ends with its read's arm."""
    if ratings is None:
        ratings = Rating.objects.filter(assignment__study=study)
    pseudonyms = study_rater_pseudonyms(study=study)
    references = reference_cells(study=study)
    slots = {
        (item, output): slot
        for item, output, slot in ItemOutput.objects.filter(item__study=study).values_list(
            "item_id", "output_id", "slot"
        )
    }
    submitted = ExpressionWrapper(
        Q(assignment__submitted_at__isnull=False), output_field=BooleanField()
    )
    ratings = (
        ratings.annotate(
            answer_json=Cast("answer", TextField()),
            order_json=Cast("assignment__order", TextField()),
            first_saved=UtcSecond("created_at"),
            last_saved=UtcSecond("updated_at"),
            is_submitted=submitted,
        )
        .order_by(*RATINGS_ORDER)
        .values_list(
            "assignment__item__token",
            "assignment__item_id",
            "assignment__rater_id",
            "question__key",
            "answer_json",
            "value",
            "assignment__flipped",
            "order_json",
            "output_id",
            "assignment__kind",
            "first_saved",
            "last_saved",
            "revision_count",
            "is_submitted",
            "assignment__time_on_task_ms",
            "assignment__session",
            # The arm says what a read showed: its item may be an output it never showed.
            *(["assignment__arm__key"] if study.is_reading else []),
        )
    )
    answers, orders = _JsonTexts(_answer_text), _JsonTexts(lambda order: " ".join(map(str, order)))
    for row in ratings.iterator(chunk_size=chunk_size):
        token, item, rater, key, answer, value, flipped, order, output, kind, *rest = row
        first_saved, last_saved, revision_count, is_submitted, time_on_task_ms, session = rest[:6]
        yield (
            token,
            pseudonyms.get(rater, ""),
            key,
            answers(answer),
            value,
            flipped,
            orders(order),
            # Where the output a per-output answer is about sits in the item's canonical order.
            "" if output is None else slots[(item, output)],
            kind,
            first_saved,
            last_saved,
            revision_count,
            is_submitted,
            # 0: none recorded (answered through the API, or imported), not no time at all.
            time_on_task_ms / 1000 if time_on_task_ms else None,
            session,
            *references.get((item, key), NO_REFERENCE),
            *rest[6:],  # the arm, in an assisted-reading study
        )


NO_REFERENCE = (None, None)


class _JsonTexts:
    """A JSON text as a row writes it (`shape` of its value), each text read once: answers on
    a scale and orders shown repeat, so a million rows hold a few hundred texts. Free-text
    answers rarely repeat: past LIMIT texts it starts again, so memory stays flat."""

    LIMIT = 10_000

    def __init__(self, shape) -> None:
        self.shape, self.found = shape, {}

    def __call__(self, text: str):
        try:
            return self.found[text]
        except KeyError:
            if len(self.found) >= self.LIMIT:
                self.found.clear()
            shaped = self.found[text] = self.shape(json.loads(text))
            return shaped


class UtcSecond(Func):
    """A moment as `tables.timestamp` writes it (`columns.TIMESTAMP_FORMAT`: UTC to the second,
    with a literal Z), written by the database."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):
        template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # Django keeps SQLite's moments as UTC text, which datetime() reads and writes to the
        # second. Not strftime: its format's percent signs break Django's query logging (DEBUG,
        # or a test counting queries), which formats the SQL with its parameters.
        template = "replace(datetime(%(expressions)s), ' ', 'T') || 'Z'"
        return self.as_sql(compiler, connection, template=template, **extra)


def _answer_text(answer: object) -> object:
    if isinstance(answer, dict) and "text" in answer:
        # A correction: the corrected text itself, as data; its diff and distances are in
        # the bundle's corrections.csv, its word edit rate in the value column.
        return answer["text"]
    # Lists (multiple choice) and objects (omissions) as JSON, so a CSV cell holds them
    # unambiguously; an object's keys sorted, as PostgreSQL's jsonb keeps no order.
    if isinstance(answer, dict):
        return json.dumps(answer, sort_keys=True)
    return json.dumps(answer) if isinstance(answer, list) else answer


# --- ratings.csv from PostgreSQL's sorted numbers -------------------------------------------

CSV_BATCH = 10_000  # rows per fetch: some 100 bytes a row


@dataclass
class RatingsBatch:
    """Some rows of ratings.csv in order: their CSV lines (UTF-8), and the same rows' values for
    ratings.sav and ratings.dta as `stat_files.CodedRatings` (arrays, not a value per row)."""

    data: bytes
    coded: "CodedRatings"


def study_ratings_csv_batches(
    *, study: Study, answers_of: Iterable[int] = (), helper=None
) -> Iterator[RatingsBatch] | None:
    """ratings.csv's rows (without the header) as `tables.csv_cells` and `tables.csv_chunks`
    write `study_ratings_rows`' rows; None on another database. PostgreSQL joins and sorts the
    ratings and sends each one's numbers packed (`PACKED`) with its three texts (order shown,
    kind, answer); NumPy writes the lines (`core.csv_lines`), each distinct id, text and value
    written once by Python. `answers_of`: the questions whose answers the columns should carry.
    None for an assisted-reading study too: its rows carry the arm, which these lines do not
    (its reads are few: readers x cases x arms). `helper`: a second connection (psycopg's) in a
    transaction that reads the same snapshot as Django's: the second half of the items is then
    joined and sorted there while the first is here, on two cores."""
    if connection.vendor != "postgresql" or study.is_reading:
        return None
    return _csv_batches(study, list(answers_of), helper)


def _csv_batches(study: Study, answers_of: list[int], helper) -> Iterator[RatingsBatch]:
    pseudonyms = study_rater_pseudonyms(study=study)
    tokens = _Names(Item, "token", study.items.values_list("pk", "token"))
    keys = _Names(Question, "key", Question.objects.values_list("pk", "key").filter(study=study))
    questions = list(Question.objects.filter(study=study).values_list("pk", "key", "order"))
    pk_of = {key: pk for pk, key, _ in questions}
    references = {
        (item, pk_of[key]): found for (item, key), found in reference_cells(study=study).items()
    }
    # Each question's place, looked up: a join made PostgreSQL loop over the questions,
    # reading every rating once per question.
    params = {"study": study.pk, "places": json.dumps({str(pk): o for pk, _, o in questions})}
    shape = _Shapes(tokens, pseudonyms, keys, references, answers_of)
    parts = _parts(len(tokens), 1 if helper is None else 2)
    with transaction.atomic(), connection.cursor() as plain, contextlib.ExitStack() as stack:
        fetched = []
        for at, (first, last) in enumerate(parts):
            raw = plain.connection if at == 0 else helper
            # The whole sort in memory; no JIT compilation (seconds for a query run once).
            for setting in ("work_mem = '256MB'", "jit = off"):
                raw.execute(f"SET LOCAL {setting}")
            cursor = stack.enter_context(raw.cursor(name=f"bundle_ratings_csv_{at}"))
            cursor.itersize = CSV_BATCH
            # Binary results: the packed numbers as they are, not as hexadecimal text.
            cursor.execute(CSV_SQL, {**params, "first": first, "last": last}, binary=True)
            # Each part's thread starts fetching at once: the parts sort side by side.
            fetched.append(stack.enter_context(_Prefetched(cursor, CSV_BATCH)))
        for part in fetched:
            for rows in part:
                yield shape.batch(rows)


def _parts(items: int, parts: int) -> list[tuple[int, int]]:
    """The items' ranks (1 to `items`, in token order) in `parts` consecutive ranges of about
    equal size; the last open-ended, in case an item was added since they were counted."""
    bounds = [items * n // parts for n in range(parts + 1)]
    ranges = [(low + 1, high) for low, high in itertools.pairwise(bounds)]
    return [*ranges[:-1], (ranges[-1][0], 2**62)] if ranges else [(1, 2**62)]


class _Prefetched:
    """A cursor's batches, fetched by a thread of its own one ahead of the one being shaped:
    each part's query starts at once (its sort is done by the time its rows are wanted), and
    the next batch crosses the network while Python lays out this one. psycopg waits for the
    server without holding the GIL. An error of the fetch is raised where the batch would have
    been. Leaving the block early stops the thread before the cursor closes."""

    DONE = object()

    def __init__(self, cursor, size: int) -> None:
        self.cursor, self.size = cursor, size
        self.batches: queue.Queue = queue.Queue(maxsize=1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._fetch, name="ratings-csv-fetch", daemon=True)

    def __enter__(self) -> "_Prefetched":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        while self.thread.is_alive():  # free a put that waits for room, then let it end
            with contextlib.suppress(queue.Empty):
                self.batches.get(timeout=0.05)
        self.thread.join()

    def __iter__(self) -> Iterator[list[tuple]]:
        while (rows := self.batches.get()) is not self.DONE:
            if isinstance(rows, BaseException):
                raise rows
            yield rows

    def _fetch(self) -> None:
        try:
            while not self.stop.is_set():
                rows = self.cursor.fetchmany(self.size)
                self._put(rows or self.DONE)
                if not rows:
                    return
        except BaseException as error:  # raised in the reading thread, as if fetched there
            self._put(error)

    def _put(self, item) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(queue.Full):
                self.batches.put(item, timeout=0.05)
                return


class _Shapes:
    """A batch of the query's rows as `RatingsBatch`: the numbers unpacked by NumPy, each
    distinct id and text turned into its text and cell once, the lines laid out by NumPy."""

    def __init__(
        self, tokens: dict, pseudonyms: dict, keys: dict, references: dict, answers_of: list
    ) -> None:
        self.tokens, self.pseudonyms, self.keys = tokens, pseudonyms, keys
        self.references = references  # (answer, value) by (item id, question id)
        self.answers_of = answers_of
        self.answers = _JsonTexts(_answer_text)
        self.orders = _JsonTexts(lambda order: " ".join(map(str, order)))

    def batch(self, rows: list[tuple]) -> RatingsBatch:
        import numpy as np  # the worker's: the web process must not load it (issue 22)

        from annotation.core import csv_lines
        from annotation.core.stat_files import CodedRatings

        packed, orders, kinds, answers = (list(column) for column in zip(*rows, strict=True))
        if None in packed:  # a column NULL, which the schema rules out
            raise ValueError("ratings.csv: a rating's numbers did not pack")
        record = np.frombuffer(b"".join(packed), dtype=PACKED)
        items, item_at = np.unique(record["item"], return_inverse=True)
        raters, rater_at = np.unique(record["rater"], return_inverse=True)
        questions, question_at = np.unique(record["question"], return_inverse=True)
        kind_texts, kind_at = _in_order(kinds)
        order_texts, order_at = _in_order(orders)
        answer_texts, answer_code = _in_order(answers)
        shown = [self.orders(text) for text in order_texts]
        shaped = [self.answers(text) for text in answer_texts]
        item_ids, question_ids = items.tolist(), questions.tolist()
        rater_texts = [self.pseudonyms.get(pk, "") for pk in raters.tolist()]
        key_texts = [self.keys[pk] for pk in question_ids]
        values, missing = record["value"].astype(np.float64), record["no_value"] == 1
        # The columns beside the lines carry an answer where it is "na" or its question's
        # variable holds text.
        is_na = np.array([text == '"na"' for text in answer_texts] + [False], dtype=bool)
        answered = is_na[answer_code] | np.isin(record["question"], self.answers_of)
        answer_rows = np.flatnonzero(answered)
        ms = record["ms"].astype(np.int64)
        coded = CodedRatings(
            texts={
                "item": ([self.tokens[pk] for pk in item_ids], item_at),
                "rater": (rater_texts, rater_at),
                "kind": ([str(kind) for kind in kind_texts], kind_at),
                "shown": (shown, order_at),
            },
            question=(key_texts, question_at),
            slot=record["slot"],
            flipped=record["flipped"],
            submitted=record["submitted"],
            session=record["session"],
            seconds=np.where(ms == 0, np.nan, ms / 1000),
            values=np.where(missing, np.nan, values),
            value_missing=missing,
            answer_at=answer_rows,
            answers=[shaped[code] for code in answer_code[answer_rows].tolist()],
        )
        slot = record["slot"].astype(np.int64)
        column = csv_lines.Column
        line = [
            column(csv_lines.cells([self.tokens[pk] for pk in item_ids]), item_at),
            column(csv_lines.cells(rater_texts), rater_at),
            column(csv_lines.cells(key_texts), question_at),
            column(csv_lines.cells(shaped), answer_code),
            csv_lines.numbers(values, missing),
            csv_lines.flags(record["flipped"]),
            column(csv_lines.cells(shown), order_at),
            csv_lines.picked(np.where(slot < 0, -1, slot), lambda n: "" if n < 0 else str(n)),
            column(csv_lines.cells(kind_texts), kind_at),
            *csv_lines.moments(record["created"]),
            *csv_lines.moments(record["updated"]),
            csv_lines.picked(record["revisions"].astype(np.int64)),
            csv_lines.flags(record["submitted"]),
            *csv_lines.seconds(ms),
            csv_lines.picked(record["session"].astype(np.int64)),
            self._reference_cells(item_ids, item_at, questions.tolist(), question_at),
        ]
        return RatingsBatch(csv_lines.lines(line), coded)

    def _reference_cells(self, item_ids: list, item_at, question_ids: list, question_at):
        """The item and question's adjudicated reference, answer and value, and the line end;
        two empty cells where there is none."""
        import numpy as np

        from annotation.core import csv_lines

        if not self.references:
            return csv_lines.Column(np.array([b",\r\n"]), np.zeros(len(item_at), np.intp))
        pairs, at = np.unique(np.stack([item_at, question_at], axis=1), axis=0, return_inverse=True)
        written = []
        for item, question in pairs.tolist():
            found = self.references.get((item_ids[item], question_ids[question]), NO_REFERENCE)
            written.append(",".join(map(tables.csv_cell, found)) + "\r\n")
        return csv_lines.Column(np.array([t.encode() for t in written]), at.reshape(-1))


# Each rating's numbers as the query packs them: big-endian, fixed width. `created` and
# `updated` as PostgreSQL sends a timestamptz: microseconds since 2000-01-01 UTC.
PACKED = [
    ("item", ">i8"),
    ("rater", ">i8"),
    ("question", ">i8"),
    ("value", ">f8"),
    ("ms", ">i8"),
    ("created", ">i8"),
    ("updated", ">i8"),
    ("revisions", ">i4"),
    ("slot", ">i4"),
    ("session", ">i4"),
    ("flipped", "u1"),
    ("submitted", "u1"),
    ("no_value", "u1"),
]


def _in_order(values: list) -> tuple[list, object]:
    """Values (JSON texts, kinds) as their distinct values, in the order met, and each value's
    place among them."""
    import numpy as np

    found: dict = {}
    at = [found.setdefault(value, len(found)) for value in values]
    return list(found), np.array(at, dtype=np.intp)


class _Names(dict):
    """Texts by id (items' tokens, questions' keys), read as a whole; an id not among them
    (a row of another study's, should one be there) is read when met."""

    def __init__(self, model, field: str, pairs) -> None:
        super().__init__(pairs)
        self.model, self.field = model, field

    def __missing__(self, pk: int) -> str:
        found = self[pk] = self.model.objects.values_list(self.field, flat=True).get(pk=pk)
        return found


# `r` is a rating with its assignment's, item's and slot's columns, of the items ranked `first`
# to `last` (a part: `_parts`); the items ranked by token, so that a million rows sort on whole
# numbers in the order their tokens give. A question's place comes from a parameter.
CSV_SQL = """
SELECT
    int8send(r.item_id::int8) || int8send(r.rater_id::int8) || int8send(r.question_id::int8)
    || float8send(coalesce(r.value, 0)) || int8send(r.time_on_task_ms::int8)
    || timestamptz_send(r.created_at) || timestamptz_send(r.updated_at)
    || int4send(r.revision_count::int4) || int4send(coalesce(r.slot::int4, -1))
    || int4send(r.session::int4) || boolsend(r.flipped) || boolsend(r.submitted)
    || boolsend(r.value IS NULL) AS packed,
    r."order"::text, r.kind, r.answer::text
FROM (
    SELECT r.id, r.question_id, r.answer, r.value, r.created_at, r.updated_at, r.revision_count,
        a.item_id, a.rater_id, a.flipped, a."order", a.kind,
        a.submitted_at IS NOT NULL AS submitted, a.time_on_task_ms, a.session, io.slot, i.rank,
        (%(places)s::jsonb ->> r.question_id::text)::int AS place
    FROM annotation_rating r
    JOIN annotation_assignment a ON a.id = r.assignment_id
    JOIN (
        SELECT id, row_number() OVER (ORDER BY token) AS rank
        FROM annotation_item WHERE study_id = %(study)s
    ) i ON i.id = a.item_id
    LEFT JOIN annotation_itemoutput io ON io.item_id = a.item_id AND io.output_id = r.output_id
    WHERE a.study_id = %(study)s AND i.rank BETWEEN %(first)s AND %(last)s
) r
ORDER BY r.rank, r.place, r.rater_id, r.id
"""


def study_time_on_task_sorted(*, study: Study) -> tuple[dict[str, list[float]], int] | None:
    """`exports.study_time_on_task` (the same times, each rater's in ascending order) read by
    PostgreSQL as one array per rater, not a row per item; None on another database."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(TIME_ON_TASK_SQL, [study.pk])
        found = cursor.fetchall()
    pseudonyms = study_rater_pseudonyms(study=study)
    times: dict[str, list[float]] = {}
    unrecorded = 0
    for rater, recorded, none in found:
        unrecorded += none
        if recorded:
            times.setdefault(pseudonyms.get(rater, ""), []).extend(ms / 1000 for ms in recorded)
    return dict(sorted(times.items(), key=lambda kv: _pseudonym_order(kv[0]))), unrecorded


def _pseudonym_order(pseudonym: str) -> tuple[int, str]:
    """R1, R2... R10 in number order, then any other name: as exports orders them (which
    imports this module, so it cannot be imported from there)."""
    digits = pseudonym.removeprefix("R")
    return (int(digits), "") if digits.isdigit() else (10**9, pseudonym)


TIME_ON_TASK_SQL = """
SELECT rater_id,
    array_agg(time_on_task_ms ORDER BY time_on_task_ms) FILTER (WHERE time_on_task_ms <> 0),
    count(*) FILTER (WHERE time_on_task_ms = 0)
FROM annotation_assignment
WHERE study_id = %s AND kind = 'study' AND submitted_at IS NOT NULL
GROUP BY rater_id
"""
