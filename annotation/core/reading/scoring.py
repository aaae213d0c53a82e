"""Scoring a reader's answer against a case's expected answer: right, wrong or undecided.

A choice and a number are always decidable: a choice is right when it is one of the accepted
choices, a number when it lies within the case's tolerance of the expected value. Free text is
right when, after normalisation, it equals an accepted answer or one of its synonyms, and
undecided otherwise: a differently worded right answer is common ("MI" for "myocardial
infarction"), so text that matches nothing goes to a human scorer rather than counting as
wrong. Normalisation never expands abbreviations or guesses: the import lists every wording
the study accepts. A ranked list (a differential diagnosis of up to k entries) is right when
one of its entries matches; the rank of its first match gives top-j accuracy for any j up to k.

A scorer's decision overrides the automatic outcome (`decide`).
"""

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

CHOICE, NUMBER, TEXT, RANKED = "choice", "number", "text", "ranked"
KINDS = (CHOICE, NUMBER, TEXT, RANKED)
RIGHT, WRONG, UNDECIDED = "right", "wrong", "undecided"
# How an outcome was reached.
BY_MATCH, BY_SCORER = "match", "scorer"

# Apostrophes join ("Crohn's" and "Crohns" are one answer); every other punctuation mark
# separates words ("type-2" is "type 2"; "3.5" is not "35", and "P.E." is not "PE", which a
# scorer then decides), except a dash ending a word after a letter or digit, which is a sign
# ("HER2-", "Rh-") and must not make "HER2-" equal "HER2".
_APOSTROPHES = "'\u2019\u02bc\u2018"
_DASHES = "-\u2010\u2011\u2012\u2013\u2212"
# Numbers are compared with this much room for binary rounding (0.1 + 0.2 is within 0 of 0.3).
_FLOAT_SLACK = 1e-9


class ScoringError(ValueError):
    """An expected answer or an answer that cannot be scored; `field` names what is wrong, so
    an importer can name the row and column."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def normalise(text: str) -> str:
    """Unicode NFKC, case folded, punctuation as word breaks, whitespace collapsed."""
    words = unicodedata.normalize("NFKC", text).casefold().split()
    return " ".join(part for word in words if (part := _normalise_word(word)))


def _normalise_word(word: str) -> str:
    signed = len(word) > 1 and word[-1] in _DASHES and word[-2].isalnum()
    if signed:
        word = word[:-1]
    kept = "".join(
        "" if char in _APOSTROPHES else " " if unicodedata.category(char).startswith("P") else char
        for char in word
    )
    return " ".join(kept.split()) + ("-" if signed else "")


@dataclass(frozen=True)
class Accepted:
    """One accepted answer and the other wordings that mean it."""

    answer: str
    synonyms: tuple[str, ...] = ()

    @property
    def wordings(self) -> tuple[str, ...]:
        return (self.answer, *self.synonyms)


@dataclass(frozen=True)
class Expected:
    """A case's expected answer. `accepted` for choice, text and ranked; `value` and
    `tolerance` (absolute, inclusive) for number; `k` for ranked: the most entries a list
    may hold, all of which count (top-k); `Score.at` gives top-j for a smaller j."""

    kind: str
    accepted: tuple[Accepted, ...] = ()
    value: float | None = None
    tolerance: float = 0.0
    k: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ScoringError(f"unknown answer kind {self.kind!r}: one of {KINDS}", "kind")
        if self.kind == NUMBER:
            _check_number(self.value, self.tolerance)
            return
        _check_accepted(self.kind, self.accepted)
        if self.kind == RANKED and (self.k is None or self.k < 1):
            raise ScoringError("a ranked answer needs k, the entries that count, of 1 or more", "k")

    def match(self, text: str) -> str | None:
        """The accepted answer that `text` states, after normalisation; None if none."""
        wanted = normalise(text)
        for accepted in self.accepted:
            if any(normalise(wording) == wanted for wording in accepted.wordings):
                return accepted.answer
        return None


def _check_accepted(kind: str, accepted: tuple[Accepted, ...]) -> None:
    if not accepted:
        raise ScoringError(f"a {kind} answer needs at least one accepted answer", "accepted")
    owner: dict[str, str] = {}
    for entry in accepted:
        for wording in entry.wordings:
            normal = normalise(wording)
            if not normal:
                raise ScoringError(f"accepted answer {wording!r} is empty", "accepted")
            # One wording under two answers would make the answer matched depend on order.
            if owner.setdefault(normal, entry.answer) != entry.answer:
                message = f"{wording!r} is listed under {owner[normal]!r} and {entry.answer!r}"
                raise ScoringError(message, "accepted")


def _check_number(value: float | None, tolerance: float) -> None:
    if value is None or not math.isfinite(value):
        raise ScoringError("a number answer needs a finite expected value", "value")
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ScoringError("the tolerance must be a finite number of 0 or more", "tolerance")


@dataclass(frozen=True)
class Score:
    """An answer's outcome. For a ranked list, `rank` is the 1-based rank of its first entry
    that matches (None: none does, as far as is known), `length` its number of entries, and
    `k` the entries that count; `matched` is the accepted answer found."""

    outcome: str
    by: str = BY_MATCH
    matched: str | None = None
    rank: int | None = None
    length: int = 0
    k: int | None = None

    def at(self, top: int) -> str:
        """A ranked list's outcome if only its first `top` entries counted (top-j accuracy).
        Entries before the first match that matched nothing may be unlisted synonyms:
        undecided unless a scorer has read the list."""
        if self.k is None:
            raise ValueError("top-j accuracy is for ranked lists")
        if top < 1:
            raise ValueError("top must be 1 or more")
        if self.rank is not None and self.rank <= top:
            return RIGHT
        if self.by == BY_SCORER or self.length == 0:
            return WRONG
        return UNDECIDED


def score(answer: object, expected: Expected) -> Score:
    """Score one answer: a choice (str), a number, free text (str), or a ranked list (a
    sequence of str), as `expected.kind` says."""
    if expected.kind == CHOICE:
        return _score_choice(answer, expected)
    if expected.kind == NUMBER:
        return _score_number(answer, expected)
    if expected.kind == TEXT:
        return _score_text(answer, expected)
    return _score_ranked(answer, expected)


def _score_choice(answer: object, expected: Expected) -> Score:
    if not isinstance(answer, str):
        raise ScoringError(f"a choice answer is a choice's value, got {answer!r}", "answer")
    # Choices are values from the question's own list: compared as they are, never normalised.
    if answer in {a.answer for a in expected.accepted}:
        return Score(RIGHT, matched=answer)
    return Score(WRONG)


def _score_number(answer: object, expected: Expected) -> Score:
    if isinstance(answer, bool) or not isinstance(answer, int | float) or not math.isfinite(answer):
        raise ScoringError(f"a number answer must be a finite number, got {answer!r}", "answer")
    slack = _FLOAT_SLACK * max(1.0, abs(expected.value))
    within = abs(answer - expected.value) <= expected.tolerance + slack
    return Score(RIGHT if within else WRONG)


def _score_text(answer: object, expected: Expected) -> Score:
    if not isinstance(answer, str):
        raise ScoringError(f"a text answer must be text, got {answer!r}", "answer")
    if not normalise(answer):
        return Score(WRONG)  # nothing stated cannot be the expected answer
    matched = expected.match(answer)
    return Score(RIGHT if matched else UNDECIDED, matched=matched)


def _score_ranked(answer: object, expected: Expected) -> Score:
    if isinstance(answer, str) or not isinstance(answer, Sequence):
        raise ScoringError("a ranked answer must be a list of entries", "answer")
    if not all(isinstance(entry, str) for entry in answer):
        raise ScoringError("every entry of a ranked answer must be text", "answer")
    if not all(normalise(entry) for entry in answer):
        raise ScoringError("a ranked answer has an empty entry", "answer")
    if len(answer) > expected.k:
        raise ScoringError(f"a ranked answer holds at most {expected.k} entries", "answer")
    for rank, entry in enumerate(answer, start=1):
        matched = expected.match(entry)
        if matched:
            return Score(RIGHT, matched=matched, rank=rank, length=len(answer), k=expected.k)
    # Unmatched entries may be wordings the import did not list: a scorer reads them.
    outcome = UNDECIDED if answer else WRONG
    return Score(outcome, length=len(answer), k=expected.k)


@dataclass(frozen=True)
class Decision:
    """A scorer's decision on an answer the match left undecided (or one they correct): right
    or not; for a ranked list, the rank of its first entry that states the expected answer
    (None: none does), from which `right` follows."""

    right: bool | None = None
    rank: int | None = None


def decide(score: Score, decision: Decision) -> Score:
    """The score after a scorer's decision, which overrides the automatic outcome."""
    if score.k is None:  # not a ranked list
        if decision.right is None or decision.rank is not None:
            raise ScoringError("a scorer decides right or wrong, without a rank", "decision")
        if decision.right:
            return Score(RIGHT, BY_SCORER, score.matched)
        return Score(WRONG, BY_SCORER)
    rank = decision.rank
    if rank is not None and not 1 <= rank <= score.length:
        raise ScoringError(f"rank {rank} is not an entry of a {score.length}-entry list", "rank")
    if decision.right is not None and decision.right != (rank is not None and rank <= score.k):
        raise ScoringError("a ranked decision's right must follow from its rank", "decision")
    outcome = RIGHT if rank is not None and rank <= score.k else WRONG
    matched = score.matched if rank == score.rank else None
    return Score(outcome, BY_SCORER, matched, rank, score.length, score.k)
