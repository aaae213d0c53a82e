"""Assisted reading as its admins read it on the dashboard: the stored statistics per arm
(annotation.services.statistics.reading), and how many answers wait for the scorer."""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.http import Http404

from annotation.core.reading import allocation
from annotation.models import (
    AnswerScore,
    Assignment,
    Membership,
    Question,
    Rating,
    Result,
    Study,
)

ACCURACY, MCNEMAR, CHANGES, MRMC, TIME = (
    "reading_accuracy",
    "reading_mcnemar",
    "reading_helped_harmed",
    "reading_mrmc",
    "reading_seconds",
)


@dataclass(frozen=True)
class ArmRow:
    arm: str
    accuracy: float | None
    right: int
    reads: int
    pending: int
    median_seconds: float | None = None
    quartiles: tuple[float | None, float | None] = (None, None)


@dataclass(frozen=True)
class AssistedRow:
    """One assisting arm against the unassisted reads of the same readers and cases."""

    arm: str
    pairs: int
    helped: int
    harmed: int
    helped_rate: float | None
    helped_interval: list | None  # readers and cases resampled
    exact_p: float | None
    chi2_p: float | None


@dataclass(frozen=True)
class ReadingSummary:
    arms: list[ArmRow]
    assisted: list[AssistedRow]
    mrmc: dict | None  # readers and cases random: the difference, its CI and p
    undecided: int


def reading_summary(*, study: Study) -> ReadingSummary:
    results = {
        (r.statistic, r.source): r
        for r in Result.objects.filter(
            study=study, statistic__in=(ACCURACY, MCNEMAR, CHANGES, MRMC)
        )
    }
    arms = [
        ArmRow(source, r.value, r.detail.get("right", 0), r.n_ratings, r.detail.get("pending", 0))
        for (statistic, source), r in sorted(results.items())
        if statistic == ACCURACY
    ]
    assisted = [
        _assisted(arm, test, results.get((CHANGES, arm)))
        for (statistic, arm), test in sorted(results.items())
        if statistic == MCNEMAR
    ]
    mrmc = next((r for (statistic, _), r in results.items() if statistic == MRMC), None)
    undecided = AnswerScore.objects.filter(
        rating__assignment__study=study, outcome=AnswerScore.Outcome.UNDECIDED
    ).count()
    return ReadingSummary(arms, assisted, _mrmc_row(mrmc), undecided)


def _arm_row(arm: str, accuracy: Result, time: Result | None) -> ArmRow:
    detail = time.detail if time else {}
    return ArmRow(
        arm,
        accuracy.value,
        accuracy.detail.get("right", 0),
        accuracy.n_ratings,
        accuracy.detail.get("pending", 0),
        detail.get("median"),
        (detail.get("q1"), detail.get("q3")),
    )


def _assisted(arm: str, test: Result, changes: Result | None) -> AssistedRow:
    helped = next(
        (rate for rate in (changes.detail["rates"] if changes else []) if rate["name"] == "helped"),
        None,
    )
    interval = helped["intervals"][-1] if helped else None
    return AssistedRow(
        arm=arm,
        pairs=test.detail["n_pairs"],
        helped=test.detail["helped"],
        harmed=test.detail["harmed"],
        helped_rate=helped["value"] if helped else None,
        helped_interval=interval,
        exact_p=test.detail["exact_p"],
        chi2_p=test.detail["chi2_p"],
    )


def _mrmc_row(result: Result | None) -> dict | None:
    if result is None:
        return None
    analysis = result.detail["analyses"][0]
    difference = analysis["differences"][0] if analysis["differences"] else None
    return {"source": result.source, "question": analysis["question"], "difference": difference}


# --- the scorer's queue -------------------------------------------------------------------------


@dataclass(frozen=True)
class ScorerItem:
    """One answer as its scorer sees it: the case, what counts as right, and the answer;
    nothing of the reader, the arm, the session or the phase, and no other answer."""

    study_token: str
    study_title: str
    token: str
    case_input: str
    accepted: list[tuple[str, list[str]]]  # accepted answers and their synonyms
    answer_kind: str
    entries: list[str]  # a ranked list's entries; one entry for text or a choice
    decided: str  # "" while undecided, else the outcome the scorer (or the match) gave
    remaining: int  # undecided answers in the queue, this one included if undecided
    next_token: str | None


def scorer_study_get(*, user: AbstractBaseUser, token: str) -> Study:
    study = Study.objects.filter(token=token, scorers__user=user).first()
    if study is None or study.status not in (Study.Status.OPEN, Study.Status.LOCKED):
        raise Http404("No such study.")
    return study


def scorer_queue(*, study: Study, user: AbstractBaseUser) -> list[str]:
    """The tokens of the undecided answers of submitted reads, in this scorer's order
    (allocation.scorer_order): seeded by the study and the scorer, following neither reader,
    session nor arm."""
    tokens = AnswerScore.objects.filter(
        rating__assignment__study=study,
        rating__assignment__submitted_at__isnull=False,
        outcome=AnswerScore.Outcome.UNDECIDED,
    ).values_list("token", flat=True)
    return allocation.scorer_order(list(tokens), scorer=str(user.pk), seed=study.seed)


def scorer_score_get(*, study: Study, token: str) -> AnswerScore:
    score = (
        AnswerScore.objects.filter(token=token, rating__assignment__study=study)
        .select_related("rating__question", "rating__assignment__item__output__case")
        .first()
    )
    if score is None:
        raise Http404("No such answer.")
    return score


def scorer_item(*, study: Study, user: AbstractBaseUser, score: AnswerScore) -> ScorerItem:
    queue = scorer_queue(study=study, user=user)
    case = score.rating.assignment.item.output.case
    answer = score.rating.answer
    following = [t for t in queue if t != score.token]
    return ScorerItem(
        study_token=study.token,
        study_title=study.title,
        token=score.token,
        case_input=case.input_text,
        accepted=[(a["answer"], a.get("synonyms", [])) for a in case.accepted_answers],
        answer_kind=score.rating.question.answer_kind,
        entries=answer if isinstance(answer, list) else [str(answer)],
        decided="" if score.outcome == AnswerScore.Outcome.UNDECIDED else score.outcome,
        remaining=len(queue),
        next_token=following[0] if following else None,
    )


# --- the reads, for admins ----------------------------------------------------------------------


def study_reads(*, study: Study) -> list[dict]:
    """One row per read of an assisted-reading study, in readers' order: the reader's
    pseudonym, case, arm, session, phase, answer, its score, and the seconds on screen. The
    arm, not the item's output, says what the reader saw: an unassisted read's item is an
    output it never showed."""
    pseudonyms = dict(
        Membership.objects.filter(study=study, role=Membership.Role.RATER).values_list(
            "user_id", "pseudonym"
        )
    )
    answers = {
        rating.assignment_id: rating
        for rating in Rating.objects.filter(
            assignment__study=study, question__kind=Question.Kind.ANSWER
        ).select_related("score")
    }
    reads = (
        Assignment.objects.filter(study=study, arm__isnull=False)
        .select_related("arm", "item__output__case")
        .order_by("rater_id", "position")
    )
    return [_read_row(read, pseudonyms, answers.get(read.pk)) for read in reads]


def _read_row(read: Assignment, pseudonyms: dict, rating: Rating | None) -> dict:
    score = getattr(rating, "score", None) if rating else None
    return {
        "rater": pseudonyms.get(read.rater_id, ""),
        "case_id": read.item.output.case.external_id,
        "arm": read.arm.key,
        "arm_kind": read.arm.kind,
        "session": read.session,
        "phase": read.phase,
        "position": read.position,
        "answer": rating.answer if rating else None,
        "outcome": score.outcome if score else "",
        "scored_by": score.by if score else "",
        "rank": score.rank if score else None,
        "seconds": read.time_on_task_ms / 1000,
        "submitted_at": read.submitted_at,
        "locked_at": read.locked_at,
    }
