"""A study's items, built from its outputs at opening, and what stays the same in any copy of
them (case id and source labels)."""

import itertools

from django.core.exceptions import ValidationError

from annotation.models import Assignment, Item, Output, Study
from annotation.services.studies.tokens import _token_stream

# The most outputs one screen shows together (side by side, ranking).
MAX_SHOWN_TOGETHER = 8


def item_key(item: Item) -> str:
    # What stays the same in any copy of the study: case id and source label(s).
    labels = [o.source.label for o in item.canonical_outputs()]
    return "\x1f".join([item.output.case.external_id, *labels])


def shown_order(assignment: Assignment) -> tuple[str, ...]:
    """The sources of a pair or set in the order this rater sees them (A, B, ...); () for one
    output."""
    if len(shown := assignment.shown_outputs()) < 2:
        return ()
    return tuple(o.source.label for o in shown)


OPENING_READS = ("case__external_id", "case__role", "case__expected", "source__label")


def _items_for(study: Study) -> list[Item]:
    """One item per output; per pair of a case's outputs; or, side by side and for ranking, one
    per case with all its outputs (two at least to rank). Sources are sorted by label. A set
    item's outputs ride along, unsaved, as `planned_outputs`."""
    # Raters rate each source's first sample; further samples are for consistency measures.
    outputs = Output.objects.filter(case__study=study, sample=0).select_related("case", "source")
    # Only what opening reads (keys, roles, expected answers): not the texts and metadata of
    # every case and output, which at 50,000 outputs took a second to read and decode.
    outputs = outputs.only(*OPENING_READS)
    tokens = _token_stream()
    if study.design == Study.Design.ABSOLUTE:
        return [Item(study=study, output=o, token=next(tokens)) for o in outputs]
    by_case: dict[int, list[Output]] = {}
    for output in outputs:
        by_case.setdefault(output.case_id, []).append(output)
    items = []
    for case_outputs in by_case.values():
        ordered = sorted(case_outputs, key=lambda o: o.source.label)
        if study.design == Study.Design.PAIRWISE:
            for first, second in itertools.combinations(ordered, 2):
                items.append(Item(study=study, output=first, output_b=second, token=next(tokens)))
            continue
        if len(ordered) < 2 and study.design == Study.Design.RANKING:
            continue
        if len(ordered) > MAX_SHOWN_TOGETHER:
            raise ValidationError(
                f"Case {ordered[0].case.external_id!r} has {len(ordered)} outputs; at most "
                f"{MAX_SHOWN_TOGETHER} can be shown side by side on one screen."
            )
        item = Item(study=study, output=ordered[0], token=next(tokens))
        item.planned_outputs = ordered
        items.append(item)
    return items


def _key_of(item: Item) -> str:
    """`item_key` for an item built by `_items_for`, before its members are stored."""
    return "\x1f".join([item.output.case.external_id, *_labels(item)])


def _labels(item: Item) -> tuple[str, ...]:
    if hasattr(item, "planned_outputs"):  # built by _items_for, members not stored yet
        return tuple(o.source.label for o in item.planned_outputs)
    if "members" in getattr(item, "_prefetched_objects_cache", {}):  # read back, prefetched
        return tuple(o.source.label for o in item.canonical_outputs())
    if item.output_b is None:
        return (item.output.source.label,)
    return (item.output.source.label, item.output_b.source.label)


def _sources_of(item: Item) -> tuple[str, ...]:
    """The source labels of a pair or set, in canonical order; () for one output."""
    labels = _labels(item)
    return labels if len(labels) > 1 else ()
