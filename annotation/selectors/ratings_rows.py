"""The ratings in the long format (ratings.csv, the API's ratings, the statistics' rows): one
row per rating, read as plain values in chunks, for exports of any size in constant memory."""

import json
from collections.abc import Iterator

from django.db.models import (
    BooleanField,
    CharField,
    Count,
    ExpressionWrapper,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
)
from django.db.models.functions import Cast, Coalesce

from annotation.core import columns
from annotation.models import ItemOutput, Rating, RatingRevision, Study
from annotation.selectors.studies import study_rater_pseudonyms

RATINGS_COLUMNS = columns.RATINGS.names


def study_ratings_long(*, study: Study) -> list[dict]:
    """Every rating, one row each, in the long format agreement statistics start from."""
    return list(study_ratings_iter(study=study))


def study_ratings_query(*, study: Study) -> QuerySet[Rating]:
    """The study's ratings in the long format's order (item, question, rater)."""
    return Rating.objects.filter(assignment__study=study).order_by(*RATINGS_ORDER)


RATINGS_ORDER = ("assignment__item__token", "question__order", "assignment__rater_id", "pk")


def study_ratings_iter(
    *, study: Study, ratings: QuerySet[Rating] | None = None, chunk_size: int = 5000
) -> Iterator[dict]:
    """`study_ratings_long` a row at a time, for exports of any size in constant memory: plain
    values read in chunks, no model objects. `ratings` narrows it (a filter, or one page)."""
    for row in study_ratings_rows(study=study, ratings=ratings, chunk_size=chunk_size):
        yield dict(zip(RATINGS_COLUMNS, row, strict=True))


def study_ratings_rows(
    *, study: Study, ratings: QuerySet[Rating] | None = None, chunk_size: int = 5000
) -> Iterator[tuple]:
    """`study_ratings_iter`'s rows as tuples in `RATINGS_COLUMNS`' order, the same values. The
    database writes the moments as `tables.timestamp` does and says whether the item was
    submitted, and each JSON text (answers, orders shown) is read once however often it
    repeats: a million rows take seconds, where a moment parsed and formatted in Python took
    microseconds each."""
    if ratings is None:
        ratings = Rating.objects.filter(assignment__study=study)
    pseudonyms = study_rater_pseudonyms(study=study)
    slots = {
        (item, output): slot
        for item, output, slot in ItemOutput.objects.filter(item__study=study).values_list(
            "item_id", "output_id", "slot"
        )
    }
    # A count per row through the revisions' index: a join with GROUP BY over every column
    # (JSON ones included) made PostgreSQL sort the whole export, 70x the plain read.
    revisions = (
        RatingRevision.objects.filter(rating=OuterRef("pk"))
        .order_by()
        .values("rating")
        .annotate(n=Count("pk"))
        .values("n")
    )
    submitted = ExpressionWrapper(
        Q(assignment__submitted_at__isnull=False), output_field=BooleanField()
    )
    ratings = (
        ratings.annotate(
            revision_count=Coalesce(Subquery(revisions), 0),
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
        )
    )
    answers, orders = _JsonTexts(_answer_text), _JsonTexts(lambda order: " ".join(map(str, order)))
    for row in ratings.iterator(chunk_size=chunk_size):
        token, item, rater, key, answer, value, flipped, order, output, kind, *rest = row
        first_saved, last_saved, revision_count, is_submitted, time_on_task_ms = rest
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
        )


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
        # Django keeps SQLite's moments as UTC text, which strftime reads.
        template = "strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', %(expressions)s)"
        return self.as_sql(compiler, connection, template=template, **extra)


def _answer_text(answer: object) -> object:
    # Lists (multiple choice) as JSON, so a CSV cell holds them unambiguously.
    return json.dumps(answer) if isinstance(answer, list) else answer
