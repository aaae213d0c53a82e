"""What the judge statistics share: the paper's thresholds, answer values (the judge's by unit,
normalised so that 1, 1.0 and "1" are one answer), the clinicians' majority."""

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from annotation.core.stats.data import DataError, Observation, category_label, ratings_from

# Calderon et al.'s rule of thumb for epsilon, the cost-benefit allowance the judge is given:
# experts (reliable but expensive) 0.2, skilled annotators 0.15, crowd workers 0.1.
EPSILON_EXPERTS = 0.2


EPSILON_SKILLED = 0.15


EPSILON_CROWD = 0.1


MIN_INSTANCES = 30  # the paper's floor for the t-test's normality assumption


MIN_ANNOTATORS = 3  # the paper's minimum: with two, "the others" is a single person


TIE_TOLERANCE = 1e-9  # scores or distances equal up to rounding are ties


Value = float | str


JudgeAnswers = Mapping[str, Value] | Iterable[tuple[str, Value]]


MAJORITY_RULE = (
    "nominal: the modal category, none when two or more categories share the highest count; "
    "ordinal: the median of the category positions, interval and ratio: the median of the "
    "values, then the nearest declared category (by position or value), none when the median "
    "lies exactly halfway between two categories. Units without a majority are left out and "
    "counted."
)


def answers_by_unit(judge: JudgeAnswers) -> dict[str, Value]:
    """unit -> the judge's answer; answering a unit twice is a DataError."""
    pairs = judge.items() if isinstance(judge, Mapping) else judge
    answers: dict[str, Value] = {}
    for n, (unit, value) in enumerate(pairs):
        if unit in answers:
            raise DataError(f"the judge answered unit {unit!r} twice", n)
        answers[unit] = value
    return answers


def normalised_value(value: Value, numeric: bool) -> Value:
    """Numbers as floats; categories as `category_label` so 1, 1.0 and "1" are one answer."""
    if value is None:
        raise DataError("None is not a value; leave a missing answer out")
    if not numeric:
        return category_label(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise DataError(f"{value!r} is not a value; leave a missing answer out")
    return number


def median_scale(level: str, categories: tuple, numbers: np.ndarray | None) -> np.ndarray | None:
    """Where a median is taken: category positions (ordinal), values (interval, ratio), or
    nowhere (nominal: the mode)."""
    if level == "nominal":
        return None
    return np.arange(len(categories), dtype=float) if level == "ordinal" else numbers


def majority_position(positions: Sequence[int], scale: np.ndarray | None) -> int | None:
    if scale is None:
        ranked = Counter(positions).most_common(2)
        if len(ranked) == 2 and ranked[0][1] == ranked[1][1]:
            return None  # a tied mode: no category is the majority
        return ranked[0][0]
    median = float(np.median(scale[list(positions)]))
    distance = np.abs(scale - median)
    # Rounding can make two equal distances differ in the last bit: compare with a tolerance.
    nearest = np.flatnonzero(distance <= distance.min() + TIE_TOLERANCE * (1 + abs(median)))
    return int(nearest[0]) if len(nearest) == 1 else None


def majority(values: Sequence[Value], *, level: str, categories: Sequence) -> Value | None:
    """The clinicians' majority answer on one unit by `MAJORITY_RULE`, as a declared category,
    or None when there is none (a tie). Needs at least one value."""
    if not values:
        raise DataError("a majority needs at least one value")
    observed = [Observation("unit", str(n), value) for n, value in enumerate(values)]
    ratings = ratings_from(observed, level=level, categories=categories)
    scale = median_scale(level, ratings.categories, ratings.numbers)
    position = majority_position([int(p) for p in ratings.position], scale)
    return None if position is None else ratings.categories[position]
