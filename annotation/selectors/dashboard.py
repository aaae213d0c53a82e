"""The study dashboard: pace towards the target, items short of their raters, stalled raters, data
quality.

Live figures (the pace, stalled raters) come from `study_assignment_counts`, one aggregate whose
rows are raters x kinds. Whole-study figures that read every assignment or rating (progress by
source, items short of k, data quality) are computed here but stored by the statistics
recomputation (`services.statistics.study_figures`); the dashboard reads them back with
`study_dashboard_figures`, so opening it costs the same at a hundred ratings or a million."""

from bisect import bisect_left
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db.models import BooleanField, Case, Count, Value, When
from django.utils import timezone

from annotation.core import pace
from annotation.models import (
    Arm,
    Assignment,
    ItemOutput,
    Membership,
    Question,
    Rating,
    Study,
    StudyFigures,
)
from annotation.models import Case as StudyCase
from annotation.selectors.studies import (
    PACE_DAYS,
    AssignmentCounts,
    pseudonym_order,
    study_assignment_counts,
)


@dataclass
class StudyPace:
    """Is the study on track: the work done, by day, when it will be done, and who has
    stalled. Training is not the study's work and is left out."""

    done: int
    total: int
    days: list[tuple[object, int]]  # (date, submits), the last two weeks
    max_per_day: int
    eta_days: float | None
    stalled: list[str]  # pseudonyms


def study_pace(
    *, study: Study, now: datetime | None = None, counts: AssignmentCounts | None = None
) -> StudyPace:
    now = now or timezone.now()
    counts = counts or study_assignment_counts(study=study, now=now)
    work = {key: row for key, row in counts.by_rater_kind.items() if key[1] != "training"}
    done = sum(row.done for row in work.values())
    total = sum(row.total for row in work.values())
    per_day = [sum(row.per_day[n] for row in work.values()) for n in range(PACE_DAYS)]
    dates = [counts.today - timedelta(days=PACE_DAYS - 1 - n) for n in range(PACE_DAYS)]
    # The same days and counts `pace` works from when given every submit's date.
    submits = [day for day, n in zip(dates, per_day, strict=True) for _ in range(n)]
    return StudyPace(
        done=done,
        total=total,
        days=list(zip(dates, per_day, strict=True)),
        max_per_day=max(per_day, default=0),
        eta_days=pace.eta_days(total - done, submits, today=counts.today),
        stalled=_stalled_raters(study, now, work),
    )


def _stalled_raters(study: Study, now: datetime, work: dict) -> list[str]:
    """Raters with items left and no submit for STALL_DAYS (or none since the study opened
    that long ago)."""
    if study.status != Study.Status.OPEN or study.opened_at is None:
        return []
    since = now - timedelta(days=pace.STALL_DAYS)
    left: dict[int, int] = defaultdict(int)
    last: dict[int, datetime] = {}
    for (rater, _), row in work.items():
        left[rater] += row.total - row.done
        if row.last is not None and (rater not in last or row.last > last[rater]):
            last[rater] = row.last
    stalled = [rater for rater in left if left[rater] and last.get(rater, study.opened_at) < since]
    if not stalled:
        return []
    names = dict(study.memberships.filter(user_id__in=stalled).values_list("user_id", "pseudonym"))
    return sorted((names[rater] for rater in stalled), key=pseudonym_order)


def study_progress_by_source(*, study: Study) -> list[tuple[str, int, int]]:
    """(source, or a pair, or every source of a set; submitted; assigned) over the study's
    items, in one grouped query; in an assisted-reading study by arm (`_progress_by_arm`)."""
    if study.is_reading:
        return _progress_by_arm(study)
    sets = ItemOutput.objects.filter(item__study=study).values("item_id")
    rows = (
        study.assignments.filter(kind=Assignment.Kind.STUDY)
        .order_by()
        .annotate(
            is_set=Case(
                When(item_id__in=sets, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .values("item__output__source__label", "item__output_b__source__label", "is_set")
        .annotate(total=Count("*"), done=Count("submitted_at"))
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


def _progress_by_arm(study: Study) -> list[tuple[str, int, int]]:
    """Reads by arm, unassisted first: every read's item is an output of its case, shown or
    not, so counting by the item's source would put unassisted and tool reads under a source
    whose output they never showed."""
    rows = (
        study.assignments.filter(kind=Assignment.Kind.STUDY)
        .order_by()
        .values("arm__key", "arm__kind", "arm__source__label")
        .annotate(total=Count("*"), done=Count("submitted_at"))
    )
    lines = sorted(rows, key=lambda row: (row["arm__kind"] != Arm.Kind.UNASSISTED, row["arm__key"]))
    return [(_arm_line(row), row["done"], row["total"]) for row in lines]


def _arm_line(row: dict) -> str:
    if row["arm__kind"] == Arm.Kind.UNASSISTED:
        return "unassisted"
    if row["arm__kind"] == Arm.Kind.SOURCE:
        return f"{row['arm__key']}: {row['arm__source__label']}'s output shown"
    return f"{row['arm__key']}: a tool"


def study_items_short_of_k(*, study: Study) -> int:
    """Study items with fewer submitted ratings than planned: the study's items less those
    with k submitted study assignments (grouped by item alone, with no join per assignment).
    In an assisted-reading study, where every reader reads every case in each of its arms,
    the reads not yet submitted."""
    if study.is_reading:
        return study.assignments.filter(kind=Assignment.Kind.STUDY, submitted_at=None).count()
    studied = study.items.filter(output__case__role=StudyCase.Role.STUDY)
    full = (
        study.assignments.filter(kind=Assignment.Kind.STUDY, submitted_at__isnull=False)
        .order_by()
        .values("item_id")
        .annotate(n=Count("*"))
        .filter(n__gte=study.raters_per_item)
        .values("item_id")
    )
    return studied.exclude(pk__in=full).count()


@dataclass
class RaterQuality:
    pseudonym: str
    items: int  # submitted items with a time on task
    median_seconds: float | None
    fast: int  # items faster than the study's threshold
    straight_lining: float | None  # share of the rater's modal scale answer


def study_data_quality(*, study: Study) -> tuple[float, list[RaterQuality]]:
    """Per rater: time per item, implausibly fast items (`pace.fast_threshold`), and
    straight-lining on scale questions; with the study's threshold in seconds. Reads every
    submitted item's time: the dashboard shows it as stored with the statistics."""
    # Sorted by the database, so each rater's times come in order: medians and fast items
    # need no sort of a million numbers in Python (the study's median merges sorted runs).
    timed = (
        study.assignments.filter(
            kind=Assignment.Kind.STUDY, submitted_at__isnull=False, time_on_task_ms__gt=0
        )
        .order_by("rater_id", "time_on_task_ms")
        .values_list("rater_id", "time_on_task_ms")
    )
    seconds: dict[int, list[float]] = defaultdict(list)
    for rater, ms in timed.iterator(chunk_size=50_000):
        seconds[rater].append(ms / 1000)
    threshold = pace.fast_threshold([s for mine in seconds.values() for s in mine])
    # Straight-lining needs only how often each rater gave each answer: counted in SQL.
    answers: dict[int, dict[float, int]] = defaultdict(dict)
    for rater, value, n in (
        Rating.objects.filter(
            assignment__study=study,
            assignment__kind=Assignment.Kind.STUDY,
            question__kind=Question.Kind.LIKERT,
            value__isnull=False,
        )
        .order_by()
        .values_list("assignment__rater_id", "value")
        .annotate(n=Count("*"))
    ):
        answers[rater][value] = n
    memberships = study.memberships.filter(role=Membership.Role.RATER)
    rows = [
        RaterQuality(
            pseudonym=m.pseudonym,
            items=len(seconds[m.user_id]),
            median_seconds=pace.median_or_none(seconds[m.user_id]),
            fast=bisect_left(seconds[m.user_id], threshold),  # those under it, as sorted
            straight_lining=_straight_lining(answers[m.user_id]),
        )
        for m in memberships
    ]
    return threshold, sorted(rows, key=lambda row: pseudonym_order(row.pseudonym))


def _straight_lining(counts: dict[float, int]) -> float | None:
    """`pace.straight_lining` from each answer's count rather than every answer."""
    n = sum(counts.values())
    if n < pace.STRAIGHT_LINE_MIN_ANSWERS:
        return None
    return max(counts.values()) / n


@dataclass
class DashboardFigures:
    """The stored whole-study figures, as of `computed_at`."""

    computed_at: datetime
    by_source: list[tuple[str, int, int]]  # (source or pair, done, total)
    short_of_k: int  # study items with fewer submitted ratings than planned
    fast_threshold: float
    quality: list[RaterQuality]


def study_dashboard_figures_compute(*, study: Study) -> dict:
    """What the statistics recomputation stores (JSON) for `study_dashboard_figures`."""
    threshold, quality = study_data_quality(study=study)
    return {
        "by_source": study_progress_by_source(study=study),
        "short_of_k": study_items_short_of_k(study=study),
        "fast_threshold": threshold,
        "quality": [asdict(row) for row in quality],
    }


def study_dashboard_figures(*, study: Study) -> DashboardFigures | None:
    """The figures as the last recomputation stored them; None before the first one. A study
    whose statistics were frozen before figures were stored (no recomputation will come) has
    them computed here, from its final ratings."""
    stored = StudyFigures.objects.filter(study=study).first()
    if stored is not None:
        figures = _figures_read(stored.data, stored.computed_at)
        if figures is not None:
            return figures
    if study.statistics_frozen_reason():
        return _figures_read(study_dashboard_figures_compute(study=study), timezone.now())
    return None


def _figures_read(data: dict, computed_at: datetime) -> DashboardFigures | None:
    """Stored figures as the dashboard shows them; None for figures stored in a shape this
    version no longer reads (they are stored again, in the current one, by the next
    recomputation: until then the card says none yet)."""
    try:
        return DashboardFigures(
            computed_at=computed_at,
            by_source=[tuple(row) for row in data["by_source"]],
            short_of_k=data["short_of_k"],
            fast_threshold=data["fast_threshold"],
            quality=[RaterQuality(**row) for row in data["quality"]],
        )
    except (KeyError, TypeError):
        return None
