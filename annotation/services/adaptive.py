"""Adaptive extra raters: a draft study's rule (annotation.core.disagreement, about one
question), and, once it is open, the decision for each item when its first k regular ratings
are in: if they disagree by the rule, up to m more raters, chosen by the seeded engine
(design.extra_placements), each get the item at the end of their order.

A submit queues the decision for after its commit (a Celery task taking the item id); one
`AdaptiveDecision` row per item, written under the study's row lock, makes a duplicated task or
two racing submits decide once. Each recomputation of the statistics sweeps up items whose task
was lost. Extras are never a trigger: only regular (`study`) ratings count.
"""

import logging
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from annotation.core import design, disagreement, rubric
from annotation.models import (
    MAX_EXTRA_RATERS,
    AdaptiveDecision,
    AdaptiveDesign,
    Assignment,
    Item,
    Membership,
    Question,
    Rating,
    Study,
)
from annotation.selectors.sessions import raters_stopped
from annotation.services.adaptive_rule import checked_rule
from annotation.services.audit import audit_record, changes
from annotation.services.studies.assignments import assignments_create
from annotation.services.studies.items import item_key, shown_order
from annotation.services.task_runs import assignments_pending
from evalapp import task_queue

logger = logging.getLogger(__name__)

# --- the draft study's setting -------------------------------------------------------------


@transaction.atomic
def adaptive_design_set(
    *, study: Study, rule: object, first_k: int | None = None, extra_m: int
) -> AdaptiveDesign:
    """Turn adaptive extra raters on (or change them) for a draft study. `first_k` defaults to
    the study's raters per item. Refused, naming the field, when the rule does not fit its
    question, k is under 2 or over the raters per item, or m is out of bounds."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    _check_draft(study)
    _check_compatible(study)
    parsed = checked_rule(study=study, data=rule)
    k = study.raters_per_item if first_k is None else first_k
    _check_sizes(study, k, extra_m)
    old = AdaptiveDesign.objects.filter(study=study).values("rule", "first_k", "extra_m").first()
    new = {"rule": parsed.as_dict(), "first_k": k, "extra_m": extra_m}
    adaptive, _ = AdaptiveDesign.objects.update_or_create(study=study, defaults=new)
    if diff := changes(old or {}, new):
        audit_record(action="adaptive.changed", study=study, target=adaptive, details=diff)
    return adaptive


@transaction.atomic
def adaptive_design_clear(*, study: Study) -> None:
    """Turn adaptive extra raters off for a draft study."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    _check_draft(study)
    old = AdaptiveDesign.objects.filter(study=study).values("rule", "first_k", "extra_m").first()
    if old is not None:
        AdaptiveDesign.objects.filter(study=study).delete()
        audit_record(action="adaptive.changed", study=study, details=changes(old, {}))


def _check_draft(study: Study) -> None:
    if study.status != Study.Status.DRAFT:
        raise ValidationError(
            "Adaptive extra raters are part of the design: they can be changed only while the "
            "study is a draft."
        )


def _check_compatible(study: Study) -> None:
    if study.is_reading:
        # Every reader reads every case in every arm there: an extra reader of one case would
        # break the fully crossed design the multi-reader multi-case analysis needs.
        raise ValidationError(
            "Assisted-reading studies (sequential or crossover) cannot use adaptive extra "
            "raters: their analysis needs every reader to read every case in every arm."
        )
    if study.retests_per_rater:
        raise ValidationError(
            "A study with re-reads after a washout cannot use adaptive extra raters: an extra "
            "item would reopen a rater's first session after their washout began."
        )


def _check_sizes(study: Study, k: int, m: int) -> None:
    if k < 2:
        raise ValidationError({"first_k": "At least 2 ratings decide: one cannot disagree."})
    if k > study.raters_per_item:
        raise ValidationError(
            {"first_k": f"At most the study's {study.raters_per_item} raters per item decide."}
        )
    if not 1 <= m <= MAX_EXTRA_RATERS:
        raise ValidationError({"extra_m": f"Between 1 and {MAX_EXTRA_RATERS} extra raters."})
    raters = study.memberships.filter(role=Membership.Role.RATER).count()
    spare = raters - study.raters_per_item
    if raters and m > spare:
        raise ValidationError(
            {
                "extra_m": f"The study has {raters} raters and gives each item to "
                f"{study.raters_per_item}: at most {max(spare, 0)} are left to be extra raters."
            }
        )


# --- deciding, per item --------------------------------------------------------------------


# The task a submit queues, by name (evalapp.task_queue): services do not import tasks, and the
# web does not load them (issue 22). annotation.tasks checks the name (`queued_as`).
CHECK_TASK = "annotation.tasks.adaptive_item_check"


def adaptive_after_submit(*, assignment: Assignment) -> None:
    """Queue the item's decision once the submit commits, if the study is adaptive and the
    assignment regular (an extra is never a trigger). Queued on every regular submit, not only
    the one that looks k-th: two racing submits each see the other uncommitted, and the later
    commit's task then sees both. A task lost to a broker outage is left to the sweep."""
    if assignment.kind != Assignment.Kind.STUDY:
        return
    if not AdaptiveDesign.objects.filter(study_id=assignment.study_id).exists():
        return
    transaction.on_commit(partial(_queue, assignment.item_id), robust=True)


def _queue(item_id: int) -> None:
    try:
        task_queue.send(CHECK_TASK, (item_id,))
    except Exception as exc:
        logger.warning("could not queue the adaptive check of item %s (%s)", item_id, exc)


@transaction.atomic
def adaptive_item_check(*, item_id: int) -> AdaptiveDecision | None:
    """Decide once whether the item's first k regular ratings disagree by the study's rule,
    and if so give it to up to m more raters. None while fewer than k are submitted, or the
    study is not open or not adaptive; the decision taken before when there was one."""
    item = Item.objects.filter(pk=item_id).only("study_id").first()
    if item is None:
        return None
    study = _locked_study(item.study_id)
    decision, made = _decide(study, item_id)
    if made:
        _manifest_digest_update(study)
    return decision


# Items decided per transaction of a sweep (the study's row lock is held for one chunk).
SWEEP_CHUNK = 50


def adaptive_sweep(*, study: Study) -> int:
    """Decide every item of an open adaptive study whose first k ratings are in but whose
    decision was never taken (its task lost). How many decisions it took."""
    adaptive = AdaptiveDesign.objects.filter(study=study).first()
    if adaptive is None or study.status != Study.Status.OPEN:
        return 0
    waiting = (
        Item.objects.filter(study=study, adaptive_decision__isnull=True)
        .annotate(
            done=Count(
                "assignments",
                filter=Q(
                    assignments__kind=Assignment.Kind.STUDY,
                    assignments__submitted_at__isnull=False,
                ),
            )
        )
        .filter(done__gte=adaptive.first_k)
        .values_list("pk", flat=True)
    )
    # In chunks, each one transaction under the study's lock: its decisions, then the
    # manifest's digest once for the extras it made (the digest reads every assignment of the
    # study), committed together. The lock is released between chunks, so that raters'
    # submits (whose TaskRun references the study) wait for one chunk at most, not the whole
    # sweep; every decision is still taken under the lock, so never more than m extras.
    pending = list(waiting)
    decided = 0
    for start in range(0, len(pending), SWEEP_CHUNK):
        with transaction.atomic():
            locked = _locked_study(study.pk)
            swept = [_swept(locked, pk) for pk in pending[start : start + SWEEP_CHUNK]]
            if any(made for _, made in swept):
                _manifest_digest_update(locked)
        decided += sum(done for done, _ in swept)
    return decided


def _swept(study: Study, item_id: int) -> tuple[bool, int]:
    """Whether the item was decided, and how many extras that made. One item that cannot be
    decided must not stop the others, nor the recomputation of the statistics that runs the
    sweep: it is logged and left undecided (its savepoint rolled back)."""
    try:
        with transaction.atomic():
            decision, made = _decide(study, item_id)
    except Exception:
        logger.exception("the adaptive decision of item %s failed; left undecided", item_id)
        return False, 0
    return decision is not None, made


def _locked_study(study_id: int) -> Study:
    # The study's row lock serialises decisions: one per item, and extras appended to a
    # rater's order one at a time, so that no two take the same place.
    return Study.objects.select_for_update().get(pk=study_id)


def _decide(study: Study, item_id: int) -> tuple[AdaptiveDecision | None, int]:
    """The item's decision (the one taken before, if any), and how many extras this call
    made: the caller then updates the manifest's digest, once for all it decided."""
    adaptive = AdaptiveDesign.objects.filter(study=study).first()
    if adaptive is None or study.status != Study.Status.OPEN:
        return None, 0
    if (earlier := AdaptiveDecision.objects.filter(item_id=item_id).first()) is not None:
        return earlier, 0
    if assignments_pending(study):
        # An extra goes at the end of a rater's order, which a rater still to be written lacks:
        # undecided until every rater's is written (the item's next submit, or the sweep).
        return None, 0
    first = list(
        Assignment.objects.filter(
            item_id=item_id, kind=Assignment.Kind.STUDY, submitted_at__isnull=False
        ).order_by("submitted_at", "pk")[: adaptive.first_k]
    )
    if len(first) < adaptive.first_k:
        return None, 0
    rule = adaptive.parsed_rule
    question = study.questions.filter(key=rule.question).first()
    if question is None:  # opened before the rule was checked at opening: nothing to read
        logger.warning("study %s: the adaptive rule's question %r is gone", study.pk, rule.question)
        return None, 0
    answers, codes = _first_answers(question, first)
    disagreed = disagreement.disagrees(rule, answers, codes)
    created = _extras_create(study, item_id, adaptive.extra_m) if disagreed else 0
    decision = AdaptiveDecision.objects.create(
        item_id=item_id,
        disagreed=disagreed,
        rule=adaptive.rule,
        answers=answers,
        wanted=adaptive.extra_m if disagreed else 0,
        created=created,
        decided_at=timezone.now(),
    )
    return decision, created


def _first_answers(question: Question, first: list[Assignment]) -> tuple[list, list]:
    """The answers to the rule's question, in submit order, and their codes. A pairwise
    answer is read as its code, which is oriented to the item's canonical sides (the raters
    saw A and B in different orders); an unanswered question reads as None."""
    stored = {
        r.assignment_id: r
        for r in Rating.objects.filter(assignment__in=first, question=question, output=None)
    }
    ratings = [stored.get(a.pk) for a in first]
    codes = [r.value if r else None for r in ratings]
    if question.kind == rubric.PAIRWISE:
        return codes, codes
    return [r.answer if r else None for r in ratings], codes


def _extras_create(study: Study, item_id: int, m: int) -> int:
    """Up to m extra assignments of the item, at the end of the chosen raters' orders. How
    many were made (the caller updates the manifest's digest)."""
    item = (
        Item.objects.select_related("output__case", "output__source", "output_b__source")
        .prefetch_related("members__output__source")
        .get(pk=item_id)
    )
    memberships = study.memberships.filter(role=Membership.Role.RATER).select_related("user")
    users = {m.pseudonym: m.user for m in memberships}
    name = {m.user_id: m.pseudonym for m in memberships}
    # A rater who stopped (their work handed on) or withdrew gets no extra: with no load left
    # they would otherwise be the first chosen.
    stopped = raters_stopped(study)
    per_rater = (
        study.assignments.values("rater_id")
        .annotate(
            load=Count("pk", filter=Q(kind__in=[Assignment.Kind.STUDY, Assignment.Kind.EXTRA])),
            last=Max("position"),
        )
        .values_list("rater_id", "load", "last")
    )
    loads, last = dict.fromkeys((r for r in users if r not in stopped), 0), {}
    for rater_id, load, position in per_rater:
        if name.get(rater_id) in loads:
            loads[name[rater_id]], last[name[rater_id]] = load, position
    seen = {name.get(r) for r in item.assignments.values_list("rater_id", flat=True)}
    labels = tuple(o.source.label for o in item.canonical_outputs())
    key = item_key(item)
    placements = design.extra_placements(
        item=design.DesignItem(key, labels if len(labels) > 1 else ()),
        loads=loads,
        last_positions=last,
        seen=seen,
        m=m,
        seed=study.seed,
    )
    if placements:
        assignments_create(study, placements, items={key: item}, users=users)
    return len(placements)


def _manifest_digest_update(study: Study) -> None:
    """The stored digest made again from every assignment, extras included."""
    study.manifest_hash = stored_manifest(study).digest
    study.save(update_fields=["manifest_hash"])


def stored_manifest(study: Study) -> design.Manifest:
    """The study's manifest as its assignments hold it (extras included): what its stored
    digest is the digest of."""
    name = dict(
        study.memberships.filter(role=Membership.Role.RATER).values_list("user_id", "pseudonym")
    )
    rows = study.assignments.select_related(
        "item__output__case", "item__output__source", "item__output_b__source"
    ).prefetch_related("item__members__output__source")
    placements = tuple(
        design.Placement(
            name[a.rater_id], item_key(a.item), a.position, shown_order(a), a.kind, a.session
        )
        for a in rows
    )
    return design.Manifest(seed=study.seed, k=study.raters_per_item, placements=placements)
