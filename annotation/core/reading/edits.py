"""What a reader changed between their locked unassisted answer and their assisted one (the
sequential layout), compared as scoring compares answers: text and ranked entries after
normalisation, choices and numbers as they are. Derived from the two stored answers, so
nothing extra is stored."""

from collections.abc import Sequence
from dataclasses import dataclass

from annotation.core.reading.scoring import KINDS, RANKED, TEXT, ScoringError, normalise


@dataclass(frozen=True)
class AnswerChange:
    """`changed`: the answers differ. For a ranked list, the entries (normalised) the
    assisted list added, dropped, and kept at another rank."""

    changed: bool
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    moved: tuple[str, ...] = ()


def answer_change(before: object, after: object, *, kind: str) -> AnswerChange:
    if kind not in KINDS:
        raise ScoringError(f"unknown answer kind {kind!r}: one of {KINDS}", "kind")
    if kind == RANKED:
        return _ranked_change(_entries(before), _entries(after))
    if kind == TEXT:
        return AnswerChange(normalise(str(before)) != normalise(str(after)))
    return AnswerChange(before != after)


def _entries(answer: object) -> list[str]:
    if isinstance(answer, str) or not isinstance(answer, Sequence):
        raise ScoringError("a ranked answer must be a list of entries", "answer")
    return [normalise(str(entry)) for entry in answer]


def _ranked_change(before: list[str], after: list[str]) -> AnswerChange:
    added = tuple(entry for entry in after if entry not in before)
    removed = tuple(entry for entry in before if entry not in after)
    moved = tuple(
        entry for rank, entry in enumerate(after) if entry in before and before.index(entry) != rank
    )
    return AnswerChange(before != after, added, removed, moved)
