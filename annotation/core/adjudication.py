"""Adjudication's seeded choices and its summary, as plain functions (no Django): which
decided items a sample draws, the order an item's readers are labelled in and its responses
are lettered in, and how often the reference sided with the raters' majority
(core.disagreement.majority)."""

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from annotation.core.disagreement import majority, same_answer

# The largest sample size the database stores (a 32-bit integer); larger is refused, never cut.
SIZE_MAX = 2**31 - 1


class SampleError(ValueError):
    """A sample that cannot be drawn, with a message naming the field at fault."""


def derived_seed(seed: int, *parts: object) -> int:
    """A stable seed for one use of the study's seed (a run, an item): the same parts give the
    same seed on every machine, unlike Python's salted hash()."""
    text = ":".join(str(part) for part in (seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def sample_size(*, available: int, size: int | None, fraction: float | None) -> int:
    """How many of `available` items a sample takes: `size` (at most all of them) or
    `fraction` of them rounded up (so a non-empty pool gives at least one)."""
    if (size is None) == (fraction is None):
        raise SampleError("sample_size: give either a number of items or a fraction, not both.")
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise SampleError("sample_size: the number of items must be a whole number >= 1.")
        if size > SIZE_MAX:
            raise SampleError(f"sample_size: the number of items must be at most {SIZE_MAX}.")
        return min(size, available)
    if not isinstance(fraction, int | float) or not 0 < fraction <= 1:
        raise SampleError("sample_fraction: the fraction must be above 0 and at most 1.")
    return min(available, math.ceil(fraction * available))


def draw(tokens: Sequence[str], *, n: int, seed: int) -> list[str]:
    """n of `tokens` in the order `seed` draws them: the input is sorted first, so the
    database's order never matters, and the result is not, so it says nothing of the tokens."""
    return random.Random(seed).sample(sorted(tokens), n)


def reader_order(readers: Sequence[int], *, seed: int, item: str) -> list[int]:
    """An item's readers (assignment ids) in the order they are labelled Reader 1..n: shuffled
    per item from the study's seed, so the label says nothing of who or when."""
    order = sorted(readers)
    random.Random(derived_seed(seed, "readers", item)).shuffle(order)
    return order


def shown_order(places: int, *, seed: int, item: str) -> list[int]:
    """The canonical places of an item's responses in the order the adjudicator sees them
    (Response A first): shuffled per item from the study's seed, as raters' sides are, so a
    letter says nothing of which source wrote the response."""
    order = list(range(places))
    random.Random(derived_seed(seed, "outputs", item)).shuffle(order)
    return order


def pairwise_flipped(order: Sequence[int]) -> bool:
    """Whether a pair is shown the other way round: a pairwise code then reads with its sign
    turned (positive: the first response shown is better), both ways."""
    return list(order) == [1, 0]


def reader_label(number: int) -> str:
    return f"Reader {number}"


@dataclass(frozen=True)
class Siding:
    """For one question: of the adjudicated items, how many had a raters' majority, and of
    those how often the reference equalled it; items without one are counted apart."""

    adjudicated: int = 0
    with_majority: int = 0
    sided: int = 0
    no_majority: int = 0

    @property
    def share(self) -> float | None:
        return self.sided / self.with_majority if self.with_majority else None

    def as_dict(self) -> dict:
        return {
            "adjudicated": self.adjudicated,
            "with_majority": self.with_majority,
            "sided": self.sided,
            "no_majority": self.no_majority,
            "share": self.share,
        }


def sided_with_majority(reference: object, answers: Sequence[object]) -> bool | None:
    """Whether the reference is the raters' majority answer; None when there is none."""
    found = majority(answers)
    if found is None:
        return None
    return same_answer(reference, found)


def siding(pairs: Sequence[tuple[object, Sequence[object]]]) -> Siding:
    """`pairs`: (reference answer, the raters' answers) for each adjudicated item."""
    outcomes = [sided_with_majority(reference, answers) for reference, answers in pairs]
    return Siding(
        adjudicated=len(outcomes),
        with_majority=sum(o is not None for o in outcomes),
        sided=sum(o is True for o in outcomes),
        no_majority=sum(o is None for o in outcomes),
    )
