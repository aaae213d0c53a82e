"""The study dashboard: pace towards the target, items short of their raters, stalled raters, data
quality."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from annotation.core import pace
from annotation.models import (
    Assignment,
    Case,
    ItemOutput,
    Membership,
    Question,
    Rating,
    Study,
)
from annotation.selectors.studies import pseudonym_order


@dataclass
class StudyPace:
    """Is the study on track: the work done, by day and by source, when it will be done, and
    who has stalled."""

    done: int
    total: int
    days: list[tuple[object, int]]  # (date, submits), the last two weeks
    max_per_day: int
    eta_days: float | None
    by_source: list[tuple[str, int, int]]  # (source or pair, done, total)
    short_of_k: int  # study items with fewer submitted ratings than planned
    stalled: list[str]  # pseudonyms


def study_pace(*, study: Study, now=None) -> StudyPace:
    now = now or timezone.now()
    today = now.date()
    work = study.assignments.exclude(kind=Assignment.Kind.TRAINING)
    submitted = list(work.filter(submitted_at__isnull=False).values_list("submitted_at", flat=True))
    days = [moment.date() for moment in submitted]
    total = work.count()
    by_day = pace.per_day(days, today=today)
    return StudyPace(
        done=len(submitted),
        total=total,
        days=by_day,
        max_per_day=max((n for _, n in by_day), default=0),
        eta_days=pace.eta_days(total - len(submitted), days, today=today),
        by_source=_progress_by_source(study),
        short_of_k=_items_short_of_k(study),
        stalled=_stalled_raters(study, now),
    )


def _progress_by_source(study: Study) -> list[tuple[str, int, int]]:
    rows = (
        study.assignments.filter(kind=Assignment.Kind.STUDY)
        .annotate(is_set=Exists(ItemOutput.objects.filter(item=OuterRef("item"))))
        .values("item__output__source__label", "item__output_b__source__label", "is_set")
        .annotate(total=Count("pk"), done=Count("pk", filter=Q(submitted_at__isnull=False)))
    )
    found: dict[str, list[int]] = {}
    for row in rows:
        if row["is_set"]:
            label = "every source (shown together)"
        elif row["item__output_b__source__label"]:
            label = (
                f"{row['item__output__source__label']} vs {row['item__output_b__source__label']}"
            )
        else:
            label = row["item__output__source__label"]
        counts = found.setdefault(label, [0, 0])
        counts[0] += row["done"]
        counts[1] += row["total"]
    return [(label, done, total) for label, (done, total) in sorted(found.items())]


def _items_short_of_k(study: Study) -> int:
    done = Count(
        "assignments",
        filter=Q(assignments__submitted_at__isnull=False, assignments__kind=Assignment.Kind.STUDY),
    )
    studied = study.items.filter(output__case__role=Case.Role.STUDY)
    return studied.annotate(done=done).filter(done__lt=study.raters_per_item).count()


def _stalled_raters(study: Study, now) -> list[str]:
    """Raters with items left and no submit for STALL_DAYS (or none since the study opened
    that long ago)."""
    if study.status != Study.Status.OPEN or study.opened_at is None:
        return []
    since = now - timedelta(days=pace.STALL_DAYS)
    rows = (
        study.assignments.exclude(kind=Assignment.Kind.TRAINING)
        .values("rater_id")
        .annotate(
            left=Count("pk", filter=Q(submitted_at__isnull=True)),
            last=Max("submitted_at"),
        )
    )
    names = dict(study.memberships.values_list("user_id", "pseudonym"))
    stalled = [
        names[row["rater_id"]]
        for row in rows
        if row["left"] and (row["last"] or study.opened_at) < since
    ]
    return sorted(stalled, key=pseudonym_order)


@dataclass
class RaterQuality:
    pseudonym: str
    items: int  # submitted items with a time on task
    median_seconds: float | None
    fast: int  # items faster than the study's threshold
    straight_lining: float | None  # share of the rater's modal scale answer


def study_data_quality(*, study: Study) -> tuple[float, list[RaterQuality]]:
    """Per rater: time per item, implausibly fast items (`pace.fast_threshold`), and
    straight-lining on scale questions; with the study's threshold in seconds."""
    timed = list(
        study.assignments.filter(
            kind=Assignment.Kind.STUDY, submitted_at__isnull=False, time_on_task_ms__gt=0
        ).values_list("rater_id", "time_on_task_ms")
    )
    threshold = pace.fast_threshold([ms / 1000 for _, ms in timed])
    seconds: dict[int, list[float]] = defaultdict(list)
    for rater, ms in timed:
        seconds[rater].append(ms / 1000)
    scale_answers: dict[int, list[float]] = defaultdict(list)
    for rater, value in Rating.objects.filter(
        assignment__study=study,
        assignment__kind=Assignment.Kind.STUDY,
        question__kind=Question.Kind.LIKERT,
        value__isnull=False,
    ).values_list("assignment__rater_id", "value"):
        scale_answers[rater].append(value)
    memberships = study.memberships.filter(role=Membership.Role.RATER)
    rows = [
        RaterQuality(
            pseudonym=m.pseudonym,
            items=len(seconds[m.user_id]),
            median_seconds=pace.median_or_none(seconds[m.user_id]),
            fast=sum(s < threshold for s in seconds[m.user_id]),
            straight_lining=pace.straight_lining(scale_answers[m.user_id]),
        )
        for m in memberships
    ]
    return threshold, sorted(rows, key=lambda row: pseudonym_order(row.pseudonym))
