"""Creating studies, their lifecycle (draft, open, locked, archived), and opening one: its
items and the seeded assignment manifest."""

import itertools

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotation import design
from annotation.models import (
    Assignment,
    Item,
    Membership,
    Output,
    Question,
    Study,
)

DEFAULT_SCALE = [
    {"value": 1, "label": "Very poor"},
    {"value": 2, "label": "Poor"},
    {"value": 3, "label": "Acceptable"},
    {"value": 4, "label": "Good"},
    {"value": 5, "label": "Excellent"},
]
PAIRWISE_SCALE = [
    {"value": -2, "label": "B much better"},
    {"value": -1, "label": "B slightly better"},
    {"value": 0, "label": "Neither"},
    {"value": 1, "label": "A slightly better"},
    {"value": 2, "label": "A much better"},
]


# --- studies and membership -------------------------------------------------------------------


@transaction.atomic
def study_create(
    *,
    creator: AbstractBaseUser,
    title: str,
    instructions: str = "",
    raters_per_item: int = 2,
    question_prompt: str,
    scale: list[dict] | None = None,
    level: str = Question.Level.ORDINAL,
    seed: int | None = None,
    show_reference: bool = False,
    design: str = Study.Design.ABSOLUTE,
) -> Study:
    study = Study(
        design=design,
        title=title,
        instructions=instructions,
        raters_per_item=raters_per_item,
        show_reference=show_reference,
        created_by=creator,
    )
    if seed is not None:
        study.seed = seed
    study.full_clean()
    study.save()
    Membership.objects.create(study=study, user=creator, role=Membership.Role.ADMIN)
    pairwise = design == Study.Design.PAIRWISE
    question = Question(
        study=study,
        key="preference" if pairwise else "overall",
        kind=Question.Kind.PAIRWISE if pairwise else Question.Kind.LIKERT,
        prompt=question_prompt,
        scale=PAIRWISE_SCALE if pairwise else (scale or DEFAULT_SCALE),
        level=level,
    )
    question.full_clean()
    question.save()
    return study


def item_key(item: Item) -> str:
    # What stays the same in any copy of the study: case id and source label(s).
    key = f"{item.output.case.external_id}\x1f{item.output.source.label}"
    return f"{key}\x1f{item.output_b.source.label}" if item.output_b_id else key


def shown_order(assignment: Assignment) -> tuple[str, ...]:
    """The sources of a pair in the order this rater sees them (A, B); () for one output."""
    item = assignment.item
    if not item.is_pair:
        return ()
    pair = (item.output.source.label, item.output_b.source.label)
    return pair[::-1] if assignment.flipped else pair


@transaction.atomic
def study_open(*, study: Study) -> int:
    """Freeze the study's outputs into items and store every rater's seeded order."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    raters = list(study.memberships.filter(role=Membership.Role.RATER).select_related("user"))
    _check_can_open(study, len(raters))
    # The design is keyed on what stays the same in any copy of the study (case id, source label,
    # rater pseudonym), so the same file, raters and seed give the same manifest anywhere.
    items = {item_key(item): item for item in _items_for(study)}
    if not items:
        raise ValidationError("No case has two outputs to compare.")
    Item.objects.bulk_create(items.values())
    users = {m.pseudonym: m.user for m in raters}
    manifest = design.assign(
        items=[design.DesignItem(key, _sources_of(item)) for key, item in items.items()],
        raters=list(users),
        k=study.raters_per_item,
        seed=study.seed,
    )
    Assignment.objects.bulk_create(
        Assignment(
            study=study,
            item=items[p.item],
            rater=users[p.rater],
            position=p.position,
            flipped=bool(p.order) and p.order != _sources_of(items[p.item]),
        )
        for p in manifest.placements
    )
    study.status = Study.Status.OPEN
    study.opened_at = timezone.now()
    study.manifest_hash = manifest.digest
    study.save(update_fields=["status", "opened_at", "manifest_hash"])
    return len(manifest.placements)


def _items_for(study: Study) -> list[Item]:
    """One item per output, or per pair of a case's outputs (sources sorted by label)."""
    outputs = Output.objects.filter(case__study=study).select_related("case", "source")
    if study.design == Study.Design.ABSOLUTE:
        return [Item(study=study, output=o) for o in outputs]
    by_case: dict[int, list[Output]] = {}
    for output in outputs:
        by_case.setdefault(output.case_id, []).append(output)
    items = []
    for case_outputs in by_case.values():
        ordered = sorted(case_outputs, key=lambda o: o.source.label)
        for first, second in itertools.combinations(ordered, 2):
            items.append(Item(study=study, output=first, output_b=second))
    return items


def _sources_of(item: Item) -> tuple[str, ...]:
    if item.output_b is None:
        return ()
    return (item.output.source.label, item.output_b.source.label)


def study_lock(*, study: Study) -> None:
    """Open -> locked: no answer changes any more; exports and statistics stay available."""
    _study_move(study, Study.Status.OPEN, Study.Status.LOCKED)


def study_archive(*, study: Study) -> None:
    """Locked -> archived: kept for the record, out of everyone's way."""
    _study_move(study, Study.Status.LOCKED, Study.Status.ARCHIVED)


def _study_move(study: Study, source: str, target: str) -> None:
    moved = Study.objects.filter(pk=study.pk, status=source).update(status=target)
    if not moved:
        names = dict(Study.Status.choices)
        raise ValidationError(f"Only a study that is {names[source].lower()} can be {target}.")
    study.refresh_from_db()


def _check_can_open(study: Study, n_raters: int) -> None:
    if study.status != Study.Status.DRAFT:
        raise ValidationError("Only a draft study can be opened.")
    if study.show_reference:
        # A reference shown beside an output with the same text would name that output's source.
        same = Output.objects.filter(case__study=study, text=F("case__reference")).exclude(
            case__reference=""
        )
        if found := same.select_related("case").first():
            raise ValidationError(
                f"Case {found.case.external_id!r}: its reference is also the text of an output "
                "raters would rate, so showing it would unblind them. Stop showing references, "
                "or leave that source out."
            )
    if not Output.objects.filter(case__study=study).exists():
        raise ValidationError("The study has no outputs to rate yet.")
    if n_raters < study.raters_per_item:
        raise ValidationError(
            f"Each output needs {study.raters_per_item} raters, but the study has {n_raters}."
        )
