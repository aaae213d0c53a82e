"""AI-assisted reading (docs/assisted-reading.md): setting a study up (its answer question and
arms), opening it into reads (core.reading.allocation), locking the unassisted answer, and
scoring every answer against the case's accepted answers (core.reading.scoring)."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from annotation.core import rubric
from annotation.core.reading import allocation, scoring
from annotation.models import (
    AnswerScore,
    Arm,
    Assignment,
    Case,
    Item,
    Membership,
    Output,
    Question,
    Rating,
    RatingRevision,
    Scorer,
    Source,
    Study,
)
from annotation.models.reading import case_expected
from annotation.services.audit import audit_record
from annotation.services.task_runs import statistics_recompute_soon, study_for_change

ANSWER_KEY = "answer"


class AnswerLocked(ValidationError):
    """A save of a locked answer (sequential: the unassisted answer; crossover: any submitted
    read): refused (409), the locked answer kept."""


@transaction.atomic
def reading_study_create(
    *,
    creator: AbstractBaseUser,
    title: str,
    layout: str,
    answer_kind: str,
    prompt: str,
    choices: list[dict] | None = None,
    k: int | None = None,
    instructions: str = "",
    seed: int | None = None,
    washout_days: int | None = None,
) -> Study:
    """An assisted-reading study with its answer question and its unassisted arm; the
    assisting arms come with `arm_add`. A crossover study needs its washout (whole days, 0 or
    more), which the session gate applies between a reader's sessions."""
    problems = allocation.layout_problems(layout=layout, washout_days=washout_days)
    if problems:
        raise ValidationError(problems)
    study = Study(
        title=title,
        instructions=instructions,
        reading_layout=layout,
        washout_days=washout_days or 0,
        raters_per_item=1,
        created_by=creator,
    )
    if seed is not None:
        study.seed = seed
    study.full_clean()
    study.save()
    Membership.objects.create(study=study, user=creator, role=Membership.Role.ADMIN)
    question = Question(
        study=study,
        key=ANSWER_KEY,
        prompt=prompt,
        kind=Question.Kind.ANSWER,
        answer_kind=answer_kind,
        k=k,
        scale=choices or [],
        level="",
    )
    question.full_clean()
    question.save()
    _arm_save(Arm(study=study, key=allocation.UNASSISTED, kind=Arm.Kind.UNASSISTED))
    audit_record(
        action="study.created",
        study=study,
        target=study,
        details={
            "settings": {"title": title, "instructions": instructions, "layout": layout},
            "question": {"key": question.key, "kind": question.kind, "prompt": prompt},
        },
        user=creator,
    )
    return study


@transaction.atomic
def arm_add(
    *,
    study: Study,
    key: str,
    kind: str,
    source: Source | None = None,
    description: str = "",
    named: bool = False,
) -> Arm:
    """An assisting arm of a draft assisted-reading study: a source's output beside the case,
    or a tool the description tells readers to use."""
    study = study_for_change(study.pk)
    if not study.is_reading:
        raise ValidationError("Arms belong to assisted-reading studies.")
    if study.status != Study.Status.DRAFT:
        raise ValidationError("Arms can only change while the study is a draft.")
    if source is not None and source.study_id != study.pk:
        raise ValidationError({"source": "The source belongs to another study."})
    if kind == Arm.Kind.UNASSISTED:
        raise ValidationError({"kind": "The unassisted arm comes with the study."})
    arm = Arm(study=study, key=key, kind=kind, source=source, description=description, named=named)
    _arm_save(arm)
    details = {
        "key": key,
        "kind": kind,
        "source": source.label if source is not None else None,
        "description": description,
        "named": named,
    }
    audit_record(action="arm.added", study=study, target=arm, details=details)
    return arm


def _arm_save(arm: Arm) -> Arm:
    if Arm.objects.filter(study=arm.study, key=arm.key).exists():
        raise ValidationError({"key": f"The study already has an arm {arm.key!r}."})
    arm.full_clean()
    arm.save()
    return arm


def answer_question(study: Study) -> Question:
    question = study.questions.filter(kind=Question.Kind.ANSWER).first()
    if question is None:
        raise ValidationError("An assisted-reading study needs its answer question.")
    return question


# --- opening ------------------------------------------------------------------------------------


def reading_open(*, study: Study) -> int:
    """Open a draft assisted-reading study (its row locked by the caller) into reads, seeded by
    the study, the allocation's digest stored as the manifest hash. Sequential: every reader
    reads every case unassisted, locks the answer, then reads it again with one assisting arm.
    Crossover: every reader reads every case once in every arm, one arm per session
    (`Assignment.session`); when a later session opens is the sessions' gate's business."""
    question = answer_question(study)
    arms = {arm.key: arm for arm in study.arms.select_related("source")}
    if len(arms) < 2:
        raise ValidationError("Add at least one assisting arm (a source or a tool).")
    readers = {
        m.pseudonym: m.user
        for m in study.memberships.filter(role=Membership.Role.RATER).select_related("user")
    }
    if not readers:
        raise ValidationError("The study has no readers yet.")
    cases = _cases_checked(study, question)
    items = _items(study, cases, arms)
    manifest = allocation.allocate(
        layout=study.reading_layout,
        readers=list(readers),
        cases=list(cases),
        arms=list(arms),
        seed=study.seed,
    )
    # An assisting arm each reader meets a case in: its item serves the case-alone reads.
    partner = {
        (r.reader, r.case): r.arm for r in manifest.readings if r.arm != allocation.UNASSISTED
    }
    Assignment.objects.bulk_create(
        _assignment(study, reading, arms, items, readers, partner) for reading in manifest.readings
    )
    study.manifest_hash = manifest.digest
    study.status = Study.Status.OPEN
    study.opened_at = timezone.now()
    study.training_items = 0
    study.save(update_fields=["status", "opened_at", "manifest_hash", "training_items"])
    return len(manifest.readings)


def _cases_checked(study: Study, question: Question) -> dict[str, Case]:
    """The study's cases by external id, each with an expected answer that fits the question."""
    cases = {case.external_id: case for case in study.cases.all()}
    if not cases:
        raise ValidationError("The study has no cases to read.")
    problems = []
    for external_id, case in cases.items():
        if case.role != Case.Role.STUDY:
            problems.append(
                f"Case {external_id!r}: an assisted-reading study has no training or "
                "attention-check cases."
            )
            continue
        try:
            case_expected(question, case)
        except scoring.ScoringError as exc:
            problems.append(f"Case {external_id!r}, {exc.field}: {exc}")
    if problems:
        raise ValidationError(problems[:20])
    return cases


def _items(study: Study, cases: dict[str, Case], arms: dict[str, Arm]) -> dict[tuple, Item]:
    """One item per output a read needs, by (case id, source id); (case id, None) is the
    item an unassisted or tool read points at without showing it: the case's first output by
    source label (items are outputs everywhere else in the app)."""
    outputs = Output.objects.filter(case__study=study, sample=0).select_related("case", "source")
    by_case: dict[str, list[Output]] = {}
    for output in outputs.order_by("source__label"):
        by_case.setdefault(output.case.external_id, []).append(output)
    needed = [arm.source for arm in arms.values() if arm.kind == Arm.Kind.SOURCE]
    items, problems = {}, []
    for external_id in cases:
        shown = {o.source_id: o for o in by_case.get(external_id, [])}
        missing = [source.label for source in needed if source.pk not in shown]
        if missing or not shown:
            what = ", ".join(missing) or "any source"
            problems.append(f"Case {external_id!r} has no output of {what}.")
            continue
        for output in shown.values():
            items[(external_id, output.source_id)] = Item(study=study, output=output)
        items[(external_id, None)] = items[(external_id, by_case[external_id][0].source_id)]
    if problems:
        raise ValidationError(problems[:20])
    Item.objects.bulk_create({id(item): item for item in items.values()}.values())
    return items


def _assignment(study, reading, arms, items, readers, partner) -> Assignment:
    arm = arms[reading.arm]
    # A source arm's read shows its own source's output. The case alone (unassisted, a tool)
    # points at the item of an assisting arm the reader meets on the case: the view object
    # never shows it.
    if arm.kind == Arm.Kind.SOURCE:
        source_id = arm.source_id
    else:
        source_id = arms[partner[(reading.reader, reading.case)]].source_id
    return Assignment(
        study=study,
        item=items[(reading.case, source_id)],
        rater=readers[reading.reader],
        position=reading.position,
        session=reading.session,
        phase=reading.phase,
        arm=arm,
        kind=Assignment.Kind.STUDY,
    )


# --- the rater's flow -----------------------------------------------------------------------------


def check_answer_open(assignment: Assignment) -> None:
    """Refuse a save the sequential flow does not allow: to an unassisted answer once locked
    (AnswerLocked), or to the assisted read before the unassisted answer locked."""
    if assignment.arm_id is None:
        return
    if assignment.locked_at is not None and _is_crossover(assignment):
        raise AnswerLocked(
            gettext(
                "Your answer to this case was submitted and is locked: it can no longer change."
            )
        )
    if assignment.locked_at is not None:
        raise AnswerLocked(
            gettext(
                "Your unassisted answer is locked: it can no longer change. Change your answer "
                "in the assisted read that follows."
            )
        )
    if (
        assignment.phase == allocation.ASSISTED_PHASE
        and _unassisted_of(assignment).locked_at is None
    ):
        raise ValidationError(gettext("First lock your unassisted answer to this case."))


def _unassisted_of(assignment: Assignment) -> Assignment:
    """The same reader's unassisted read of the same case: just before it in their order."""
    return Assignment.objects.get(
        study_id=assignment.study_id,
        rater_id=assignment.rater_id,
        position=assignment.position - 1,
        phase=allocation.UNASSISTED_PHASE,
    )


def _is_crossover(assignment: Assignment) -> bool:
    return assignment.study.reading_layout == Study.ReadingLayout.CROSSOVER


def reading_after_submit(*, assignment: Assignment) -> None:
    """After a submit, a read locks. A crossover read locks as it is (its case comes back in
    another arm in a later session: the answer given here must stay as given). In the
    sequential layout the unassisted read locks, and its answer becomes the assisted read's
    first answer (the reader keeps or changes it there), stored with its revision and score.
    Conditional on locked_at, so a second submit changes nothing."""
    if assignment.arm_id is None:
        return
    if _is_crossover(assignment):
        Assignment.objects.filter(pk=assignment.pk, locked_at=None).update(locked_at=timezone.now())
        return
    if assignment.phase != allocation.UNASSISTED_PHASE:
        return
    following = Assignment.objects.filter(
        study_id=assignment.study_id,
        rater_id=assignment.rater_id,
        position=assignment.position + 1,
        phase=allocation.ASSISTED_PHASE,
    ).first()
    if following is None:
        return
    locked = Assignment.objects.filter(pk=assignment.pk, locked_at=None).update(
        locked_at=timezone.now()
    )
    if not locked:
        return
    for rating in assignment.ratings.select_related("question"):
        copied, created = Rating.objects.get_or_create(
            assignment=following,
            question=rating.question,
            output=None,
            defaults={"answer": rating.answer, "value": rating.value, "revision_count": 1},
        )
        if created:
            RatingRevision.objects.create(rating=copied, answer=copied.answer, value=copied.value)
            answer_score_update(rating=copied, question=rating.question, assignment=following)


def check_submit_open(assignment: Assignment) -> None:
    """The assisted read is submitted only after the unassisted one locked."""
    assisted = assignment.arm_id is not None and assignment.phase == allocation.ASSISTED_PHASE
    if assisted and _unassisted_of(assignment).locked_at is None:
        raise ValidationError(gettext("First lock your unassisted answer to this case."))


# --- scoring ------------------------------------------------------------------------------------


def answer_score_update(*, rating: Rating, question: Question, assignment: Assignment) -> None:
    """Score an answer to the answer question against its case (scoring.score), replacing
    the score of the answer before it; an emptied answer has no score."""
    if question.kind != Question.Kind.ANSWER:
        return
    if rubric.is_empty(rating.answer):
        AnswerScore.objects.filter(rating_id=rating.pk).delete()
        return
    expected = case_expected(question, assignment.item.output.case)
    score = scoring.score(rating.answer, expected)
    AnswerScore.objects.update_or_create(
        rating_id=rating.pk,
        defaults={
            "outcome": score.outcome,
            "by": score.by,
            "matched": score.matched or "",
            "rank": score.rank,
            "length": score.length,
            "scorer": None,
        },
    )


# --- the scorer ---------------------------------------------------------------------------------


@transaction.atomic
def scorer_add(*, study: Study, user: AbstractBaseUser) -> Scorer:
    """Make `user` a scorer of an assisted-reading study: someone who is neither a reader
    (they would score their own answers) nor an admin (who knows the arms)."""
    study = study_for_change(study.pk)
    if not study.is_reading:
        raise ValidationError("Scorers belong to assisted-reading studies.")
    if study.memberships.filter(user=user).exists():
        raise ValidationError(
            f"{user} is a reader or an admin of the study: a scorer must be blind to both."
        )
    scorer, created = Scorer.objects.get_or_create(study=study, user=user)
    if created:
        audit_record(
            action="scorer.added", study=study, target=scorer, details={"user": user.get_username()}
        )
    return scorer


@transaction.atomic
def scorer_remove(*, study: Study, user: AbstractBaseUser) -> None:
    """`user` no longer scores the study; the decisions they made stand (each AnswerScore
    keeps its scorer)."""
    removed, _ = Scorer.objects.filter(study=study, user=user).delete()
    if not removed:
        raise Scorer.DoesNotExist(f"{user} does not score this study.")
    audit_record(action="scorer.removed", study=study, details={"user": user.get_username()})


@transaction.atomic
def answer_score_decide(
    *, score: AnswerScore, scorer: AbstractBaseUser, right: bool | None, rank: int | None
) -> AnswerScore:
    """A scorer's decision on an answer (scoring.decide): right or wrong, or for a ranked
    list the rank of its first right entry (None: none is). It stands until the answer
    changes; the statistics are recomputed soon after."""
    score = (
        AnswerScore.objects.select_for_update()
        .select_related("rating__assignment")
        .get(pk=score.pk)
    )
    study = score.rating.assignment.study
    if study.status not in (Study.Status.OPEN, Study.Status.LOCKED):
        raise ValidationError(gettext("Answers are scored while the study is open or locked."))
    current = scoring.Score(
        score.outcome, score.by, score.matched or None, score.rank, score.length, _k_of(score)
    )
    try:
        decided = scoring.decide(current, scoring.Decision(right=right, rank=rank))
    except scoring.ScoringError as exc:
        raise ValidationError({exc.field: str(exc)}) from None
    score.outcome, score.by, score.rank = decided.outcome, decided.by, decided.rank
    score.matched, score.scorer = decided.matched or "", scorer
    score.save(update_fields=["outcome", "by", "rank", "matched", "scorer", "scored_at"])
    statistics_recompute_soon(study=study)
    return score


def _k_of(score: AnswerScore) -> int | None:
    question = score.rating.question
    return question.k if question.answer_kind == rubric.RANKED_ANSWER else None
