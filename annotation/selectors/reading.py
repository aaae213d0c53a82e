"""Assisted reading as its admins read it on the dashboard: the stored statistics per arm
(annotation.services.statistics.reading), and how many answers wait for the scorer."""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils.translation import pgettext

from annotation.core.reading import allocation
from annotation.core.reading.judge import JUDGED_ANSWER_KINDS, AnswerToJudge
from annotation.models import (
    AnswerScore,
    Assignment,
    Judge,
    JudgeScore,
    Membership,
    Question,
    Rating,
    Result,
    Scorer,
    Study,
)

ACCURACY, MCNEMAR, CHANGES, MRMC, TIME, TOP_J = (
    "reading_accuracy",
    "reading_mcnemar",
    "reading_helped_harmed",
    "reading_mrmc",
    "reading_seconds",
    "reading_top_j",
)
# An LLM judge as a scorer: its agreement with the clinician scorer, and with the exact match
# on the matched answers it scored as a sample (Result.judge names the judge).
JUDGE_SCORER, JUDGE_MATCH = "reading_judge_vs_scorer", "reading_judge_vs_match"


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
    helped_interval: dict | None  # readers and cases resampled
    exact_p: float | None  # the primary McNemar p-value
    chi2_p: float | None  # the chi-square's, with continuity correction: for comparison
    harmed_rate: float | None = None
    harmed_interval: dict | None = None


@dataclass(frozen=True)
class JudgeAgreementRow:
    """An LLM judge's decisions against a reference's (the clinician scorer's, or the exact
    match's on the sample of matched answers), as `scorers.scorer_agreement` stored them."""

    judge: str
    reference: str  # "clinician scorer" or "exact match"
    both_right: int
    reference_only_right: int
    judge_only_right: int
    both_wrong: int
    only_one_scored: int
    agreement: float | None
    kappa: dict
    sensitivity: float | None
    specificity: float | None


@dataclass(frozen=True)
class ReadingSummary:
    arms: list[ArmRow]
    assisted: list[AssistedRow]
    mrmc: dict | None  # readers and cases random: the difference, its CI and p
    undecided: int
    # Ranked answers: per arm, top-j accuracy for each reported j (dicts as stored).
    tops: list[tuple[str, list[dict]]] = ()
    # Judges that scored answers (their labels), and their agreement rows where any answer
    # was scored by both (none: the dashboard says so).
    judges: list[str] = ()
    judge_agreement: list[JudgeAgreementRow] = ()

    @property
    def judges_without_clinician(self) -> list[str]:
        """Judges with no answer the clinician scorer decided too (whether or not their
        agreement with the exact match is there)."""
        compared = {
            r.judge for r in self.judge_agreement if r.reference == REFERENCES[JUDGE_SCORER]
        }
        return [judge for judge in self.judges if judge not in compared]


REFERENCES = {JUDGE_SCORER: "clinician scorer", JUDGE_MATCH: "exact match (sampled answers)"}


def reading_summary(*, study: Study) -> ReadingSummary:
    results = {
        (r.statistic, r.source): r
        for r in Result.objects.filter(
            study=study, judge="", statistic__in=(ACCURACY, MCNEMAR, CHANGES, MRMC, TIME, TOP_J)
        )
    }
    arms = [
        _arm_row(source, r, results.get((TIME, source)))
        for (statistic, source), r in sorted(results.items())
        if statistic == ACCURACY
    ]
    tops = [
        (source, r.detail["tops"])
        for (statistic, source), r in sorted(results.items())
        if statistic == TOP_J
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
    judges = sorted(
        set(
            JudgeScore.objects.filter(
                judge__study=study, outcome=JudgeScore.Outcome.OK
            ).values_list("judge__label", flat=True)
        )
    )
    agreement = [
        _agreement_row(r)
        for r in Result.objects.filter(
            study=study, statistic__in=(JUDGE_SCORER, JUDGE_MATCH)
        ).order_by("judge", "-statistic")
    ]
    return ReadingSummary(arms, assisted, _mrmc_row(mrmc), undecided, tops, judges, agreement)


def _agreement_row(result: Result) -> JudgeAgreementRow:
    d = result.detail
    return JudgeAgreementRow(
        judge=result.judge,
        reference=REFERENCES[result.statistic],
        both_right=d["both_right"],
        reference_only_right=d["reference_only_right"],
        judge_only_right=d["judge_only_right"],
        both_wrong=d["both_wrong"],
        only_one_scored=d["only_one_scored"],
        agreement=d["agreement"],
        kappa=d["kappa"],
        sensitivity=d["sensitivity"],
        specificity=d["specificity"],
    )


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
    rates = {rate["name"]: rate for rate in (changes.detail["rates"] if changes else [])}
    helped, harmed = rates.get("helped"), rates.get("harmed")
    return AssistedRow(
        arm=arm,
        pairs=test.detail["n_pairs"],
        helped=test.detail["helped"],
        harmed=test.detail["harmed"],
        helped_rate=helped["value"] if helped else None,
        # The last interval is the one over readers and cases (readers like these).
        helped_interval=helped["intervals"][-1] if helped else None,
        exact_p=test.detail["exact_p"],
        chi2_p=test.detail["chi2_p"],
        harmed_rate=harmed["value"] if harmed else None,
        harmed_interval=harmed["intervals"][-1] if harmed else None,
    )


def _mrmc_row(result: Result | None) -> dict | None:
    if result is None:
        return None
    analysis = result.detail["analyses"][0]
    difference = analysis["differences"][0] if analysis["differences"] else None
    return {
        "source": result.source,
        "question": analysis["question"],
        "difference": difference,
        "gain": _gain(difference),
    }


def _gain(difference: dict | None) -> dict | None:
    """The stored difference (the analysis's order, unassisted first) turned round into
    assisted minus unassisted, so that a gain from assistance is positive."""
    if difference is None:
        return None
    sign = -1 if difference["first"] == allocation.UNASSISTED else 1
    assisted = difference["second"] if sign == -1 else difference["first"]
    ci = difference["ci"]
    return {
        "arm": assisted,
        "estimate": sign * difference["estimate"],
        "ci": None if ci is None else sorted((sign * ci[0], sign * ci[1])),
        "p": difference["p"],
    }


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
    study_lang: str = "en"  # the study's content (title, case, answer) is in this language


# The statuses in which a study's answers are scored (answer_score_decide's rule).
SCORED = (Study.Status.OPEN, Study.Status.LOCKED)


@dataclass(frozen=True)
class ScorerStudy:
    """A study the user scores, as their home page lists it: no arm, source or reader."""

    token: str
    title: str
    waiting: int  # undecided answers of submitted reads: the scorer's queue
    locked: bool
    language: str = "en"  # the study's own language: its title is marked with it


def scorer_studies(*, user: AbstractBaseUser) -> list[ScorerStudy]:
    """The open or locked studies `user` is a scorer of, each with how many answers wait for a
    decision (scorer_queue's answers): one query."""
    undecided = Q(
        assignments__ratings__score__outcome=AnswerScore.Outcome.UNDECIDED,
        assignments__submitted_at__isnull=False,
    )
    studies = (
        Study.objects.filter(scorers__user=user, status__in=SCORED)
        .exclude(memberships__user=user)  # a scorer who reads or administers it is not blind
        .annotate(waiting=Count("assignments__ratings__score", filter=undecided))
        .order_by("title")
    )
    return [
        ScorerStudy(s.token, s.title, s.waiting, s.status == Study.Status.LOCKED, s.language)
        for s in studies
    ]


def scorer_study_get(*, user: AbstractBaseUser, token: str) -> Study:
    study = Study.objects.filter(token=token, scorers__user=user).first()
    if study is not None and study.memberships.filter(user=user).exists():
        # A scorer who became a reader or an admin is no longer blind to reader and arm.
        study = None
    if study is None or study.status not in SCORED:
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
        study_lang=study.language,
        token=score.token,
        case_input=case.input_text,
        accepted=[(a["answer"], a.get("synonyms", [])) for a in case.accepted_answers],
        answer_kind=score.rating.question.answer_kind,
        entries=answer if isinstance(answer, list) else [str(answer)],
        decided=_decided_text(score.outcome),
        remaining=len(queue),
        next_token=following[0] if following else None,
    )


def _decided_text(outcome: str) -> str:
    """How the scorer's page says what was decided so far, in their language; "" if nothing."""
    if outcome == AnswerScore.Outcome.UNDECIDED:
        return ""
    if outcome == AnswerScore.Outcome.RIGHT:
        return pgettext("a scored answer", "right")
    return pgettext("a scored answer", "wrong")


# --- the LLM judge as a scorer ----------------------------------------------------------------


@dataclass(frozen=True)
class JudgedAnswer:
    """One answer for the judge: the score it belongs to (never shown), the answer as it is
    now, and what the judge is shown (`shown`: the case, accepted answers, the answer only)."""

    score_id: int
    answer: object
    sampled: bool
    shown: AnswerToJudge


def judge_answers_refusal(study: Study) -> str:
    """Why the study's answers cannot go to a judge, or ""."""
    if not study.is_reading:
        return "A judge scores the answers of assisted-reading studies only."
    question = study.questions.filter(kind=Question.Kind.ANSWER).first()
    if question is None or question.answer_kind not in JUDGED_ANSWER_KINDS:
        return "Exact match decides every choice and number answer: nothing is left to a judge."
    return ""


def judge_answers_missing(*, judge: Judge, decided_sample: int = 0) -> list[JudgedAnswer]:
    """The answers of submitted reads the judge has no parsed decision on for their current
    wording (failed ones too): every answer exact match left undecided (whether or not a
    clinician has decided it since), and `decided_sample` of those the match decided, a sample
    seeded by the study and the judge, with any matched answer an earlier sample held whose
    call failed. In an order seeded the same way (`scorer_order`), which
    follows neither reader, session nor arm."""
    study = judge.study
    scores = AnswerScore.objects.filter(
        rating__assignment__study=study,
        rating__assignment__arm__isnull=False,
        rating__assignment__submitted_at__isnull=False,
        rating__question__kind=Question.Kind.ANSWER,
    ).select_related("rating__question", "rating__assignment__item__output__case")
    undecided = [
        s
        for s in scores
        if s.outcome == AnswerScore.Outcome.UNDECIDED or s.by != AnswerScore.By.MATCH
    ]
    matched = sorted(
        (
            s
            for s in scores
            if s.outcome != AnswerScore.Outcome.UNDECIDED and s.by == AnswerScore.By.MATCH
        ),
        key=lambda s: _sample_key(study.seed, judge.pk, s.token),
    )
    # A sampled answer whose call failed is tried again whatever this run's sample: it was
    # asked for once, and a sample measured only on the replies that parsed would be biased.
    failed = set(
        JudgeScore.objects.filter(
            judge=judge, sampled=True, outcome=JudgeScore.Outcome.FAILED
        ).values_list("score_id", flat=True)
    )
    sample = [s for n, s in enumerate(matched) if n < decided_sample or s.pk in failed]
    sampled = {s.pk for s in sample}
    done = dict(
        JudgeScore.objects.filter(judge=judge, outcome=JudgeScore.Outcome.OK).values_list(
            "score_id", "answer"
        )
    )
    wanted = {
        s.token: s
        for s in [*undecided, *sample]
        if s.pk not in done or done[s.pk] != s.rating.answer
    }
    order = allocation.scorer_order(list(wanted), scorer=f"judge-{judge.pk}", seed=study.seed)
    return [_judged(wanted[token], wanted[token].pk in sampled) for token in order]


def _sample_key(seed: int, judge_id: int, token: str) -> str:
    return hashlib.sha256(f"{seed}:{judge_id}:{token}".encode()).hexdigest()


def _judged(score: AnswerScore, sampled: bool) -> JudgedAnswer:
    case = score.rating.assignment.item.output.case
    answer = score.rating.answer
    shown = AnswerToJudge(
        case_input=case.input_text,
        accepted=tuple(
            (entry["answer"], tuple(entry.get("synonyms", ()))) for entry in case.accepted_answers
        ),
        kind=score.rating.question.answer_kind,
        entries=tuple(answer) if isinstance(answer, list) else (str(answer),),
    )
    return JudgedAnswer(score.pk, answer, sampled, shown)


# --- the reads, for admins ----------------------------------------------------------------------


def study_reads(*, study: Study) -> QuerySet[Assignment]:
    """The reads of an assisted-reading study in a stable order (each reader's reads in
    their order), for paging; `read_rows` turns a page of them into rows."""
    return (
        Assignment.objects.filter(study=study, arm__isnull=False)
        .select_related("arm", "item__output__case")
        .order_by("rater_id", "position", "pk")
    )


def read_rows(*, study: Study, reads: Iterable[Assignment]) -> list[dict]:
    """One row per read: the reader's pseudonym, case, arm, session, phase, answer, its
    score, and the seconds on screen. The arm, not the item's output, says what the reader
    saw: an unassisted read's item is an output it never showed."""
    reads = list(reads)
    pseudonyms = dict(
        Membership.objects.filter(study=study, role=Membership.Role.RATER).values_list(
            "user_id", "pseudonym"
        )
    )
    answers = {
        rating.assignment_id: rating
        for rating in Rating.objects.filter(
            assignment__in=[read.pk for read in reads], question__kind=Question.Kind.ANSWER
        ).select_related("score")
    }
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
        # An undecided answer is stored as the match's; nobody decided it yet.
        "scored_by": score.by if score and score.outcome != AnswerScore.Outcome.UNDECIDED else "",
        "rank": score.rank if score else None,
        "seconds": read.time_on_task_ms / 1000,
        "submitted_at": read.submitted_at,
        "locked_at": read.locked_at,
    }


# --- the scorers, for admins --------------------------------------------------------------------


def study_scorers(*, study: Study) -> list[dict]:
    """The study's scorers by user name, each with how many answers they decided (decisions
    stay when a scorer is removed)."""
    decided = dict(
        AnswerScore.objects.filter(rating__assignment__study=study, by=AnswerScore.By.SCORER)
        .values("scorer")
        .annotate(n=Count("pk"))
        .values_list("scorer", "n")
    )
    scorers = Scorer.objects.filter(study=study).select_related("user").order_by("user__username")
    return [
        {"username": s.user.get_username(), "decided": decided.get(s.user_id, 0)} for s in scorers
    ]
