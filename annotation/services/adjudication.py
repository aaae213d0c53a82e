"""Adjudication to a reference standard (docs/adjudication.md): naming adjudicators, choosing
the items they adjudicate (by a disagreement rule, a seeded sample, or all decided items), and
recording each item's reference answers with a reason and their history."""

import logging
from functools import partial

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from annotation.core import adjudication as core
from annotation.core import disagreement, rubric
from annotation.core.stats.names import VERSUS_REFERENCE
from annotation.models import (
    Adjudication,
    AdjudicationRevision,
    AdjudicationSelection,
    Adjudicator,
    Assignment,
    Item,
    Membership,
    Question,
    Study,
)
from annotation.selectors import adjudication as selectors
from annotation.services.adaptive import adaptive_sweep
from annotation.services.answer_errors import answer_error_text
from annotation.services.audit import audit_record
from annotation.services.task_runs import statistics_recompute_soon, study_for_change
from evalapp import task_queue

logger = logging.getLogger(__name__)

SELECTABLE = (Study.Status.OPEN, Study.Status.LOCKED)
REASON_MAX = 5000


# --- adjudicators -------------------------------------------------------------------------------


@transaction.atomic
def adjudicator_add(*, study: Study, user: AbstractBaseUser) -> Adjudicator:
    """Make `user` an adjudicator of the study: not an admin (who knows the sources), and not
    someone who rated every item already chosen (there would be nothing to offer them)."""
    study = study_for_change(study.pk)
    if study.is_reading:
        raise ValidationError("Adjudication is for rating studies, not assisted reading.")
    if study.memberships.filter(user=user, role=Membership.Role.ADMIN).exists():
        raise ValidationError(
            f"{user} is an admin of the study: an adjudicator must be blind to the sources."
        )
    existing = Adjudicator.objects.filter(study=study, user=user).first()
    if existing is not None:
        return existing
    chosen = study.adjudications.values("item")
    if chosen.exists() and not chosen.exclude(item__assignments__rater=user).exists():
        raise ValidationError(
            f"{user} rated every item chosen for adjudication so far: an adjudicator never "
            "adjudicates an item they rated. Choose another clinician, or add them once "
            "items they did not rate are chosen."
        )
    number = study.adjudicators.count() + 1
    while study.adjudicators.filter(label=f"A{number}").exists():
        number += 1
    adjudicator = Adjudicator.objects.create(study=study, user=user, label=f"A{number}")
    audit_record(
        action="adjudicator.added",
        study=study,
        target=adjudicator,
        details={"adjudicator": adjudicator.label, "user": user.get_username()},
    )
    return adjudicator


@transaction.atomic
def adjudicator_remove(*, study: Study, user: AbstractBaseUser) -> None:
    """`user` no longer adjudicates; a reference they recorded stands, so an adjudicator with
    decisions is kept (PROTECT) and the admin is told so."""
    adjudicator = Adjudicator.objects.filter(study=study, user=user).first()
    if adjudicator is None:
        raise ValidationError(f"{user} does not adjudicate this study.")
    if (
        adjudicator.decisions.exists()
        or AdjudicationRevision.objects.filter(adjudicator=adjudicator).exists()
    ):
        raise ValidationError(f"{user} recorded references: their decisions stand.")
    audit_record(
        action="adjudicator.removed",
        study=study,
        target=adjudicator,
        details={"adjudicator": adjudicator.label, "user": user.get_username()},
    )
    adjudicator.delete()


# --- choosing items -----------------------------------------------------------------------------


@transaction.atomic
def adjudication_select(
    *,
    study: Study,
    by: AbstractBaseUser,
    mode: str,
    rule: dict | None = None,
    sample_size: int | None = None,
    sample_fraction: float | None = None,
) -> AdjudicationSelection:
    """Choose decided items for adjudication and record the run. Idempotent per item: an item
    already chosen keeps its first selection and whatever was recorded for it."""
    study = study_for_change(study.pk)
    if study.status not in SELECTABLE:
        raise ValidationError(
            "Items are chosen for adjudication while the study is open or locked."
        )
    if study.is_reading:
        raise ValidationError("Adjudication is for rating studies, not assisted reading.")
    if mode not in AdjudicationSelection.Mode.values:
        raise ValidationError(
            f"mode: choose one of {', '.join(AdjudicationSelection.Mode.values)}."
        )
    if not selectors.reference_questions(study=study):
        raise ValidationError(
            "The study has no question about the whole item with a numeric code or a choice: "
            "there is nothing a reference answer could be recorded for."
        )
    # Decisions whose task was lost are taken first: an item may still get extra raters.
    adaptive_sweep(study=study)
    decided = list(selectors.decided_items(study=study).values_list("pk", "token"))
    taken = set(study.adjudications.values_list("item_id", flat=True))
    candidates = [(pk, token) for pk, token in decided if pk not in taken]
    selection = AdjudicationSelection(study=study, mode=mode, created_by=by, eligible=len(decided))
    chosen = _chosen(study, selection, candidates, rule, sample_size, sample_fraction)
    selection.chosen = len(chosen)
    selection.save()
    _adjudications_create(study, selection, chosen)
    details = {
        "mode": selection.mode,
        "rule": selection.rule or None,
        "sample_size": selection.sample_size,
        "sample_fraction": selection.sample_fraction,
        "seed": selection.seed,
        "eligible": selection.eligible,
        "chosen": selection.chosen,
    }
    audit_record(action="adjudication.selected", study=study, target=selection, details=details)
    return selection


def _chosen(study, selection, candidates, rule, size, fraction) -> list[int]:
    if selection.mode == AdjudicationSelection.Mode.ALL:
        return [pk for pk, _ in candidates]
    if selection.mode == AdjudicationSelection.Mode.SAMPLE:
        return _sampled(study, selection, candidates, size, fraction)
    return _by_rule(study, selection, candidates, rule)


def _sampled(study, selection, candidates, size, fraction) -> list[int]:
    try:
        n = core.sample_size(available=len(candidates), size=size, fraction=fraction)
    except core.SampleError as exc:
        raise ValidationError(str(exc)) from None
    run = study.adjudication_runs.count() + 1
    selection.seed = core.derived_seed(study.seed, "sample", run)
    # The number drawn (at most the items available), so the record says what was done.
    selection.sample_size = n if size is not None else None
    selection.sample_fraction = fraction
    tokens = core.draw([token for _, token in candidates], n=n, seed=selection.seed)
    by_token = {token: pk for pk, token in candidates}
    return [by_token[token] for token in tokens]


def _by_rule(study, selection, candidates, rule) -> list[int]:
    try:
        parsed = disagreement.rule_from_dict(rule)
        question = selectors.rule_question(study=study, rule=parsed)
    except disagreement.RuleError as exc:
        raise ValidationError(f"rule: {exc}") from None
    selection.rule = parsed.as_dict()
    found = selectors.item_answers(items=[pk for pk, _ in candidates], questions=[question])
    return [
        pk
        for pk, _ in candidates
        if disagreement.disagrees(
            parsed,
            [a.answer for a in found.get((pk, question.key), [])],
            [a.code for a in found.get((pk, question.key), [])],
        )
    ]


def _adjudications_create(study: Study, selection: AdjudicationSelection, items: list[int]):
    readers: dict[int, list[int]] = {}
    rated = Assignment.objects.filter(
        item_id__in=items, kind__in=selectors.RATED_KINDS, submitted_at__isnull=False
    )
    for item_id, assignment_id in rated.values_list("item_id", "pk"):
        readers.setdefault(item_id, []).append(assignment_id)
    tokens = dict(Item.objects.filter(pk__in=items).values_list("pk", "token"))
    Adjudication.objects.bulk_create(
        [
            Adjudication(
                study=study,
                item_id=item_id,
                selection=selection,
                readers=core.reader_order(readers[item_id], seed=study.seed, item=tokens[item_id]),
            )
            for item_id in items
        ]
    )


# --- recording the reference -------------------------------------------------------------------


@transaction.atomic
def adjudication_record(
    *, adjudication: Adjudication, user: AbstractBaseUser, answers: dict, reason: str
) -> Adjudication:
    """Record (or revise) an item's reference answers, every required reference question
    answered, with a required reason; each recording is kept as a revision. Refused once the
    study is archived, and for an item `user` rated."""
    study = study_for_change(adjudication.study_id)
    adjudication = Adjudication.objects.select_for_update().get(pk=adjudication.pk)
    adjudicator = _adjudicator_for(study, user, adjudication)
    if adjudication.decided_at is None and _held(study, adjudication):
        raise ValidationError(
            "An extra rater is still rating this item: it comes back to your queue once "
            "their rating is in."
        )
    parsed, values = _parsed_answers(study, answers, adjudication.item)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": gettext("Give the reason for the reference answer.")})
    if len(reason) > REASON_MAX:
        message = gettext("Keep the reason under %(limit)s characters.") % {"limit": REASON_MAX}
        raise ValidationError({"reason": message})
    adjudication.answers, adjudication.values, adjudication.reason = parsed, values, reason
    adjudication.adjudicator, adjudication.decided_at = adjudicator, timezone.now()
    adjudication.save()
    AdjudicationRevision.objects.create(
        adjudication=adjudication, adjudicator=adjudicator, answers=parsed, reason=reason
    )
    if study.judges.exists():
        _judge_figures_follow(study)
    return adjudication


# --- the judges against the reference ----------------------------------------------------------

# The task that recomputes them, by name (evalapp.task_queue): services do not import tasks,
# and the web does not load them (issue 22). annotation.tasks checks the name (`queued_as`).
REFERENCE_TASK = "annotation.tasks.judge_reference_compute"


def _judge_figures_follow(study: Study) -> None:
    """The judges are scored against the reference too. The figures stored for the old
    reference go now, in this transaction, so no export pairs the new reference with them;
    they come back when recomputed. That is the study's recomputation while it is open, and
    the judge-vs-reference family alone once its statistics are frozen (locked): it changes
    none of the raters' figures the lock keeps."""
    study.results.filter(statistic=VERSUS_REFERENCE).delete()
    if not study.statistics_frozen_reason():
        statistics_recompute_soon(study=study)
        return
    transaction.on_commit(partial(_queue_reference, study.pk), robust=True)


def _queue_reference(study_id: int) -> None:
    try:
        task_queue.send(REFERENCE_TASK, (study_id,))
    except Exception as exc:
        logger.warning("could not queue the judges' reference figures of %s (%s)", study_id, exc)


def judge_reference_compute(*, study_id: int) -> int:
    """Every judge against the adjudicated reference, on every question, stored (its own
    family, whatever the study's state but archived); the number of figures stored."""
    # Imported here: the statistics need numpy and scipy, which load in the worker.
    from annotation.services.statistics.judges import judges_versus_reference

    study = Study.objects.filter(pk=study_id).first()
    if study is None or study.status == Study.Status.ARCHIVED:
        return 0
    return len(judges_versus_reference(study))


def _adjudicator_for(study: Study, user: AbstractBaseUser, adjudication: Adjudication):
    if study.status not in SELECTABLE:
        raise ValidationError(gettext("The study is archived: its references are final."))
    adjudicator = Adjudicator.objects.filter(study=study, user=user).first()
    if adjudicator is None:
        raise ValidationError(gettext("You do not adjudicate this study."))
    if Assignment.objects.filter(item_id=adjudication.item_id, rater=user).exists():
        raise ValidationError(gettext("You rated this item: another adjudicator decides it."))
    return adjudicator


def _held(study: Study, adjudication: Adjudication) -> bool:
    return selectors.held_for_extras(study=study).filter(pk=adjudication.pk).exists()


def _parsed_answers(study: Study, answers: dict, item: Item) -> tuple[dict, dict]:
    """The posted answers (read in the order the adjudicator saw the responses) in canonical
    order with their codes. Ticking no box is an answer to a multiple-choice question; an
    optional question left blank gets no reference, a required one is refused."""
    if not isinstance(answers, dict):
        raise ValidationError({"answers": "Give the answers as an object by question key."})
    questions = selectors.reference_questions(study=study)
    unknown = sorted(set(answers) - {q.key for q in questions})
    if unknown:
        raise ValidationError({"answers": f"No reference question {unknown[0]!r} here."})
    flipped = core.pairwise_flipped(selectors.shown_places(study=study, item=item))
    parsed, values = {}, {}
    for question in questions:
        raw = answers.get(question.key)
        if raw == [] and question.kind == Question.Kind.MULTIPLE_CHOICE:
            parsed[question.key], values[question.key] = [], None
            continue
        if raw in (None, "", []):
            if not question.required:
                continue
            message = gettext("Give the reference answer to every question.")
            raise ValidationError({question.key: message})
        try:
            answer = rubric.parse_answer(question.spec, raw)
        except rubric.AnswerError as exc:
            raise ValidationError({question.key: answer_error_text(exc)}) from None
        parsed[question.key] = selectors.shown_answer(question, answer, flipped)
        values[question.key] = rubric.numeric_code(question.spec, parsed[question.key])
    return parsed, values
