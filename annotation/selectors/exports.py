"""Rows for the exports: ratings (long), rating history, unblinding key, judge ratings; streamed in
chunks."""

import json
from collections.abc import Iterable, Iterator

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from annotation.models import (
    Item,
    ItemOutput,
    JudgeRating,
    Rating,
    RatingRevision,
    Study,
)
from annotation.selectors.studies import study_rater_pseudonyms

RATINGS_COLUMNS = [
    "item_token",
    "rater",
    "question",
    "answer",
    "value",
    "flipped",
    "shown_order",
    "output_slot",
    "kind",
    "first_saved_at",
    "last_saved_at",
    "revisions",
    "submitted",
]


def study_ratings_long(*, study: Study) -> list[dict]:
    """Every rating, one row each, in the long format agreement statistics start from."""
    return list(study_ratings_iter(study=study))


def study_ratings_query(*, study: Study) -> QuerySet[Rating]:
    """The study's ratings in the long format's order (item, question, rater)."""
    return Rating.objects.filter(assignment__study=study).order_by(*RATINGS_ORDER)


RATINGS_ORDER = ("assignment__item__token", "question__order", "assignment__rater_id", "pk")


EXPORT_CHUNK = 2000  # model objects an export holds at once


def study_ratings_iter(
    *, study: Study, ratings: QuerySet[Rating] | None = None, chunk_size: int = 5000
) -> Iterator[dict]:
    """`study_ratings_long` a row at a time, for exports of any size in constant memory: plain
    values read in chunks, no model objects. `ratings` narrows it (a filter, or one page)."""
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
    ratings = (
        ratings.annotate(revision_count=Coalesce(Subquery(revisions), 0))
        .order_by(*RATINGS_ORDER)
        .values_list(
            "assignment__item__token",
            "assignment__item_id",
            "assignment__rater_id",
            "question__key",
            "answer",
            "value",
            "assignment__flipped",
            "assignment__order",
            "output_id",
            "assignment__kind",
            "created_at",
            "updated_at",
            "revision_count",
            "assignment__submitted_at",
        )
    )
    for row in ratings.iterator(chunk_size=chunk_size):
        token, item, rater, key, answer, value, flipped, order, output, kind, *rest = row
        created, updated, revisions, submitted_at = rest
        yield {
            "item_token": token,
            "rater": pseudonyms.get(rater, ""),
            "question": key,
            "answer": _answer_text(answer),
            "value": value,
            "flipped": flipped,
            "shown_order": " ".join(map(str, order)),
            # Where the output a per-output answer is about sits in the item's canonical order.
            "output_slot": "" if output is None else slots[(item, output)],
            "kind": kind,
            "first_saved_at": created.isoformat(),
            "last_saved_at": updated.isoformat(),
            "revisions": revisions,
            "submitted": submitted_at is not None,
        }


def _slot_of(rating: Rating) -> int | str:
    """Where the output a per-output answer is about sits in the item's canonical order."""
    if rating.output_id is None:
        return ""
    slots = {m.output_id: m.slot for m in rating.assignment.item.members.all()}
    return slots[rating.output_id]


HISTORY_COLUMNS = [
    "item_token",
    "rater",
    "question",
    "output_slot",
    "saved_at",
    "old_answer",
    "new_answer",
]


def study_rating_history_query(*, study: Study) -> QuerySet[RatingRevision]:
    """Every change any rater made, oldest first per answer, each with the answer it replaced
    (`old_answer`, looked up by the database, so that any slice of it, a page, is complete)."""
    # The revision just before, by one index lookup per row: a window over the whole history
    # would be computed again for every page.
    earlier = Q(saved_at__lt=OuterRef("saved_at")) | Q(
        saved_at=OuterRef("saved_at"), pk__lt=OuterRef("pk")
    )
    replaced = Subquery(
        RatingRevision.objects.filter(earlier, rating=OuterRef("rating"))
        .order_by("-saved_at", "-pk")
        .values("answer")[:1]
    )
    return (
        RatingRevision.objects.filter(rating__assignment__study=study)
        .annotate(old_answer=replaced)
        .select_related("rating__question", "rating__assignment__item")
        .prefetch_related("rating__assignment__item__members")
        .order_by(
            "rating__assignment__item__token",
            "rating__question__order",
            "rating_id",
            "saved_at",
            "pk",
        )
    )


def rating_history_rows(study: Study, revisions: Iterable[RatingRevision]) -> Iterator[dict]:
    """Rows of the history from `study_rating_history_query` (or a page of it): who, when,
    old and new answer."""
    pseudonyms = study_rater_pseudonyms(study=study)
    for revision in revisions:
        rating = revision.rating
        yield {
            "item_token": rating.assignment.item.token,
            "rater": pseudonyms.get(rating.assignment.rater_id, ""),
            "question": rating.question.key,
            "output_slot": _slot_of(rating),
            "saved_at": revision.saved_at.isoformat(),
            "old_answer": _answer_text("" if revision.old_answer is None else revision.old_answer),
            "new_answer": _answer_text(revision.answer),
        }


def study_rating_history(*, study: Study) -> Iterator[dict]:
    """The whole history, read in chunks."""
    revisions = study_rating_history_query(study=study).iterator(chunk_size=EXPORT_CHUNK)
    return rating_history_rows(study, revisions)


def _answer_text(answer: object) -> object:
    # Lists (multiple choice) as JSON, so a CSV cell holds them unambiguously.
    return json.dumps(answer) if isinstance(answer, list) else answer


UNBLINDING_COLUMNS = ["item_token", "case_id", "source", "source_kind", "source_b", "sources"]


def study_unblinding_key_query(*, study: Study) -> QuerySet[Item]:
    return (
        study.items.select_related("output__case", "output__source", "output_b__source")
        .prefetch_related("members__output__source")
        .order_by("token")
    )


def unblinding_key_rows(items: Iterable[Item]) -> Iterator[dict]:
    """Which source wrote each item. For a pair, `source` and `source_b` in canonical order
    (a positive pairwise value favours `source`); which side each rater saw is in the ratings
    export's `flipped` column. `sources` lists every source the item shows in canonical order,
    so slot i of a set (the ratings export's `shown_order` and `output_slot`) is `sources[i]`."""
    for item in items:
        labels = [o.source.label for o in item.canonical_outputs()]
        yield {
            "item_token": item.token,
            "case_id": item.output.case.external_id,
            "source": item.output.source.label,
            "source_kind": item.output.source.kind,
            "source_b": item.output_b.source.label if item.output_b_id else "",
            "sources": json.dumps(labels),
        }


def study_unblinding_key(*, study: Study) -> Iterator[dict]:
    """The whole key, read in chunks."""
    items = study_unblinding_key_query(study=study).iterator(chunk_size=EXPORT_CHUNK)
    return unblinding_key_rows(items)


JUDGE_RATINGS_COLUMNS = [
    "item_token",
    "rater",
    "rater_kind",
    "model_version",
    "question",
    "answer",
    "value",
    "shown_order",
    "output_slot",
    "sample",
    "judged_at",
]


def study_judge_ratings_query(*, study: Study) -> QuerySet[JudgeRating]:
    return (
        JudgeRating.objects.filter(verdict__judge__study=study)
        .select_related("question", "verdict__judge", "verdict__item")
        .prefetch_related("verdict__item__members")
        .order_by(
            "verdict__item__token",
            "question__order",
            "verdict__judge__label",
            "verdict__variant",
            "verdict__sample",
            "output_id",
            "pk",
        )
    )


def judge_rating_rows(ratings: Iterable[JudgeRating]) -> Iterator[dict]:
    """Every judge's answers in the raters' long format: the judge's label as the rater, rater
    kind "llm", one row per answer, per order shown and per sample; `value` in canonical
    order, as for raters. Failed units have no rows (their records say why)."""
    for r in ratings:
        verdict = r.verdict
        slots = {m.output_id: m.slot for m in verdict.item.members.all()}
        yield {
            "item_token": verdict.item.token,
            "rater": verdict.judge.label,
            "rater_kind": "llm",
            "model_version": verdict.model_version,
            "question": r.question.key,
            "answer": _answer_text(r.answer),
            "value": r.value,
            "shown_order": " ".join(map(str, verdict.order)),
            "output_slot": "" if r.output_id is None else slots[r.output_id],
            "sample": verdict.sample,
            "judged_at": verdict.finished_at.isoformat(),
        }


def study_judge_ratings_long(*, study: Study) -> Iterator[dict]:
    """Every judge's answers, read in chunks."""
    ratings = study_judge_ratings_query(study=study).iterator(chunk_size=EXPORT_CHUNK)
    return judge_rating_rows(ratings)
