"""Study administration: the studies a user may manage, raters' progress and pseudonyms,
candidates, sources and task runs."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from annotation.core import rubric
from annotation.models import (
    Assignment,
    Case,
    Generation,
    Membership,
    Output,
    PendingAssignments,
    Rating,
    Source,
    Study,
    TaskRun,
)
from annotation.selectors.sessions import SessionProgress, study_session_progress
from annotation.selectors.task_runs import task_runs_live


def admin_studies(*, user: AbstractBaseUser) -> QuerySet[Study]:
    return Study.objects.filter(
        memberships__user=user, memberships__role=Membership.Role.ADMIN
    ).distinct()


def admin_study_get(*, user: AbstractBaseUser, token: str) -> Study:
    study = admin_studies(user=user).filter(token=token).first()
    if study is None:
        raise Http404("No such study.")
    return study


@dataclass(frozen=True)
class RaterProgress:
    pseudonym: str
    username: str
    done: int  # the study's items (and hidden checks and repeats, which look the same)
    total: int
    training_done: int = 0
    training_total: int = 0
    training_correct: int = 0  # submitted training items answered as expected
    training_scored: int = 0  # submitted training items that have expected answers
    checks_passed: int = 0  # submitted attention checks answered as expected
    checks_done: int = 0
    checks_total: int = 0
    repeats_done: int = 0
    repeats_total: int = 0
    retests_done: int = 0  # re-reads after the washout (session 2)
    retests_total: int = 0
    sessions: tuple[SessionProgress, ...] = ()  # when the rater has more than one


PACE_DAYS = 14  # submits per day are shown for the last two weeks


@dataclass(frozen=True)
class KindCounts:
    """One rater's assignments of one kind: how many, how many submitted, the last submit, and
    the submits on each of the last PACE_DAYS days (oldest first; UTC days, as before)."""

    total: int
    done: int
    last: datetime | None
    per_day: tuple[int, ...]


@dataclass(frozen=True)
class AssignmentCounts:
    """Every live count the dashboard shows, from one grouped query over the assignments."""

    today: date
    by_rater_kind: dict[tuple[int, str], KindCounts]

    def get(self, rater_id: int, kind: str) -> KindCounts | None:
        return self.by_rater_kind.get((rater_id, kind))


def study_assignment_counts(*, study: Study, now: datetime | None = None) -> AssignmentCounts:
    """Per rater and kind of assignment: total, submitted, last submit and submits per day over
    the last two weeks, in ONE aggregate whose rows are raters x kinds, whatever the number of
    items or ratings (the pace, stalled raters and progress by rater all read it)."""
    today = (now or timezone.now()).astimezone(UTC).date()
    midnight = datetime.combine(today, time(), tzinfo=UTC)
    starts = [midnight - timedelta(days=PACE_DAYS - 1 - n) for n in range(PACE_DAYS + 1)]
    # Submits since each day began (one comparison a row each, cheaper than a range per day);
    # a day's submits are the difference of two.
    since = {
        f"since{n}": Count("submitted_at", filter=Q(submitted_at__gte=start))
        for n, start in enumerate(starts)
    }
    rows = (
        study.assignments.order_by()
        .values("rater_id", "kind")
        .annotate(total=Count("*"), done=Count("submitted_at"), last=Max("submitted_at"), **since)
    )
    return AssignmentCounts(
        today=today,
        by_rater_kind={
            (row["rater_id"], row["kind"]): KindCounts(
                total=row["total"],
                done=row["done"],
                last=row["last"],
                per_day=tuple(row[f"since{n}"] - row[f"since{n + 1}"] for n in range(PACE_DAYS)),
            )
            for row in rows
        },
    )


def study_progress_by_rater(
    *, study: Study, counts: AssignmentCounts | None = None
) -> list[RaterProgress]:
    """Each rater's progress, with their quality control: training done and answered as
    expected, attention checks passed, hidden repeats and re-reads done, and each reading
    session when there are several. `counts` (study_assignment_counts)
    when the caller has them already."""
    memberships = study.memberships.filter(role=Membership.Role.RATER).select_related("user")
    counts = counts or study_assignment_counts(study=study)
    submitted = {kind for (_, kind), row in counts.by_rater_kind.items() if row.done}
    # Only kinds with submitted items can have any answered as expected: no query otherwise.
    checks = _as_expected(study, Assignment.Kind.ATTENTION) if "attention" in submitted else {}
    training = _as_expected(study, Assignment.Kind.TRAINING) if "training" in submitted else {}

    def count(user_id: int, kinds: list[str], what: str) -> int:
        return sum(getattr(counts.get(user_id, kind), what, 0) for kind in kinds)

    hidden = [
        Assignment.Kind.STUDY,
        Assignment.Kind.ATTENTION,
        Assignment.Kind.REPEAT,
        Assignment.Kind.RETEST,
    ]
    # Only a study with a washout, or a crossover (whose washout may be 0 days), has later
    # sessions: no query otherwise.
    later = study.washout_days or study.reading_layout == Study.ReadingLayout.CROSSOVER
    sessions = study_session_progress(study=study) if later else {}
    return [
        RaterProgress(
            m.pseudonym,
            m.user.get_username(),
            done=count(m.user_id, hidden, "done"),
            total=count(m.user_id, hidden, "total"),
            training_done=count(m.user_id, [Assignment.Kind.TRAINING], "done"),
            training_total=count(m.user_id, [Assignment.Kind.TRAINING], "total"),
            training_correct=training.get(m.user_id, (0, 0))[0],
            training_scored=training.get(m.user_id, (0, 0))[1],
            checks_passed=checks.get(m.user_id, (0, 0))[0],
            checks_done=count(m.user_id, [Assignment.Kind.ATTENTION], "done"),
            checks_total=count(m.user_id, [Assignment.Kind.ATTENTION], "total"),
            repeats_done=count(m.user_id, [Assignment.Kind.REPEAT], "done"),
            repeats_total=count(m.user_id, [Assignment.Kind.REPEAT], "total"),
            retests_done=count(m.user_id, [Assignment.Kind.RETEST], "done"),
            retests_total=count(m.user_id, [Assignment.Kind.RETEST], "total"),
            sessions=tuple(sessions.get(m.user_id, ())),
        )
        for m in sorted(memberships, key=lambda m: pseudonym_order(m.pseudonym))
    ]


def pseudonym_order(pseudonym: str) -> tuple:
    """R2 before R10, and imported names (reader2, reader10) in the same natural order."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", pseudonym))


def study_rater_pseudonyms(*, study: Study) -> dict[int, str]:
    """Each rater's pseudonym by user id: the names exports, comments and statistics give
    raters."""
    raters = study.memberships.filter(role=Membership.Role.RATER)
    return dict(raters.values_list("user_id", "pseudonym"))


def _as_expected(study: Study, kind: str) -> dict[int, tuple[int, int]]:
    """Per rater, of their submitted items of this kind (training, attention checks) whose case
    has expected answers: (how many have every expected answer, how many there are)."""
    submitted = study.assignments.filter(kind=kind, submitted_at__isnull=False).select_related(
        "item__output__case"
    )
    scored = [a for a in submitted if a.item.output.case.expected]
    if not scored:
        return {}
    questions = {q.key: q for q in study.questions.all()}
    ratings = Rating.objects.filter(assignment__in=submitted, output__isnull=True)
    answers = {(r.assignment_id, r.question_id): (r.answer, r.value) for r in ratings}

    def met(assignment: Assignment, key: str, accepted: list) -> bool:
        question = questions.get(key)
        given = answers.get((assignment.pk, question.pk)) if question else None
        return given is not None and rubric.matches_expected(question.spec, *given, accepted)

    counts: dict[int, tuple[int, int]] = {}
    for assignment in scored:
        expected = assignment.item.output.case.expected
        ok = all(met(assignment, key, accepted) for key, accepted in expected.items())
        right, total = counts.get(assignment.rater_id, (0, 0))
        counts[assignment.rater_id] = (right + ok, total + 1)
    return counts


def study_rater_candidates(*, study: Study, admin: AbstractBaseUser) -> QuerySet:
    """Who `admin` may add to the study directly: active people already in a study they
    administer (raters or admins), not yet in this one (its admins cannot also rate it). Anyone
    else is invited by e-mail, so the list never shows who else has an account here."""
    known = Membership.objects.filter(study__in=admin_studies(user=admin)).values("user_id")
    return (
        get_user_model()
        .objects.filter(is_active=True, pk__in=known)
        .exclude(pk__in=study.memberships.values("user_id"))
        .order_by("username")
    )


def study_raters_pending(*, study: Study) -> frozenset[str]:
    """The pseudonyms of the raters whose assignments a worker's opening left to be written
    (PendingAssignments): none once its job has written them, or the raters came for them."""
    if study.status != Study.Status.OPEN:  # pending only ever after an opening, before a lock
        return frozenset()
    raters = PendingAssignments.objects.filter(study=study).values("rater_id")
    found = study.memberships.filter(user_id__in=raters).values_list("pseudonym", flat=True)
    return frozenset(found)


def study_task_runs(*, study: Study, limit: int = 5) -> list[TaskRun]:
    return list(study.task_runs.select_related("source", "judge")[:limit])


def study_opening_alive(*, study: Study) -> bool:
    """Whether a worker's opening of the study (or its writing of the raters' assignments)
    waits or runs, heard from in time: one whose worker died is not, and gives way to a new
    one. Asked of the database, not of the latest runs listed: later jobs push it out."""
    return task_runs_live().filter(study=study, kind=TaskRun.Kind.OPEN).exists()


def study_case_counts(*, study: Study) -> tuple[int, int]:
    """(the study's cases, its quality-control cases), in one query."""
    on_study = Q(role=Case.Role.STUDY)
    counts = study.cases.aggregate(
        study=Count("pk", filter=on_study), quality=Count("pk", filter=~on_study)
    )
    return counts["study"], counts["quality"]


def study_sources_overview(*, study: Study, n_cases: int | None = None) -> list[Source]:
    """Each source with its outputs counted: on the study's cases (first samples, further
    samples), on quality-control cases, and the calls to its endpoint that failed; and how many
    units a fetch still has to do (`missing`). `n_cases`: the study's cases, if counted."""
    # Outputs counted in one grouped pass, failed calls apart: joining both in one aggregate
    # would multiply every source's outputs by its calls before counting them distinct.
    on_study = Q(case__role=Case.Role.STUDY)
    counted = {
        row["source_id"]: row
        for row in Output.objects.filter(source__study=study)
        .order_by()
        .values("source_id")
        .annotate(
            n_study_outputs=Count("pk", filter=on_study & Q(sample=0)),
            n_more_samples=Count("pk", filter=on_study & Q(sample__gt=0)),
            n_quality_outputs=Count("pk", filter=~on_study),
        )
    }
    failed = Generation.objects.filter(source=OuterRef("pk"), outcome=Generation.Outcome.FAILED)
    failed = failed.order_by().values("source").annotate(n=Count("*")).values("n")
    sources = list(study.sources.annotate(n_failed=Coalesce(Subquery(failed), 0)).order_by("label"))
    if n_cases is None:
        n_cases = study.cases.filter(role=Case.Role.STUDY).count()
    for source in sources:
        row = counted.get(source.pk, {})
        for name in ("n_study_outputs", "n_more_samples", "n_quality_outputs"):
            setattr(source, name, row.get(name, 0))
        expected = n_cases * source.samples_per_case
        source.missing = expected - source.n_study_outputs - source.n_more_samples
        source.failed_units = _failed_units(source) if source.n_failed else []
    return sources


def _failed_units(source: Source) -> list[Generation]:
    """The latest failed call of each unit (case, sample) that still has no output: what a
    retry would do, with the reason each one failed."""
    stored = set(source.outputs.values_list("case_id", "sample"))
    latest: dict[tuple[int, int], Generation] = {}
    failed = source.generations.filter(outcome=Generation.Outcome.FAILED).select_related("case")
    for generation in failed.only(
        "case__external_id", "sample", "http_status", "error", "finished_at"
    ).order_by("pk"):
        unit = (generation.case_id, generation.sample)
        if unit not in stored:
            latest[unit] = generation
    return list(latest.values())
