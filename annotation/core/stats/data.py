"""Long rating data (unit, rater, value) checked against declared categories, and the shapes the
coefficients need: a raters x units matrix, and per-unit counts of each category."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter

import numpy as np

LEVELS = ("nominal", "ordinal", "interval", "ratio")


class DataError(ValueError):
    """Data the coefficients cannot be computed from, with a message naming what is wrong and,
    when one observation is at fault, its index (so a file reader can name the row)."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class Observation:
    unit: str
    rater: str
    value: float | str


@dataclass(frozen=True)
class Ratings:
    """Checked long data: every rating as (unit index, rater index, category position).

    `categories` is the declared list of values in order (or the values observed, sorted, when
    none was declared); weights and Gwet's chance term count positions in it, so a category
    nobody used still counts. `numbers` is each category's numeric value, for the interval and
    ratio metrics and ICC; None when the categories are not numbers.
    """

    units: tuple[str, ...]
    raters: tuple[str, ...]
    categories: tuple
    numbers: np.ndarray | None
    level: str
    unit_index: np.ndarray
    rater_index: np.ndarray
    position: np.ndarray

    @property
    def n_ratings(self) -> int:
        return len(self.position)

    @cached_property
    def matrix(self) -> np.ndarray:
        """Raters x units, each cell the category's position (NaN where a rater did not rate
        a unit). Raters are rows: the `krippendorff` package reads the transpose wrongly."""
        grid = np.full((len(self.raters), len(self.units)), np.nan)
        grid[self.rater_index, self.unit_index] = self.position
        return grid

    @cached_property
    def derived(self) -> dict:
        """Shapes derived from these ratings that several coefficients share, computed once
        (the counts-based coefficients' unit patterns and sizes)."""
        return {}

    @cached_property
    def counts(self) -> np.ndarray:
        """Units x categories: how many raters put each unit in each category."""
        k = len(self.categories)
        flat = np.bincount(self.unit_index * k + self.position, minlength=len(self.units) * k)
        return flat.reshape(len(self.units), k)

    def values_matrix(self) -> np.ndarray:
        """Raters x units of numeric values (NaN where missing); numeric categories only."""
        if self.numbers is None:
            raise DataError("these categories are not numbers")
        grid = np.full((len(self.raters), len(self.units)), np.nan)
        grid[self.rater_index, self.unit_index] = self.numbers[self.position]
        return grid


def columns_of(rows: Sequence[Sequence], width: int) -> list[list]:
    """The first `width` columns of rows (each at least that long) as lists, by C-level
    item getters: several times faster than `zip(*rows)` at a million rows."""
    return [list(map(itemgetter(k), rows)) for k in range(width)]


def first_seen(column: Sequence) -> tuple[tuple, np.ndarray]:
    """A column's distinct values in the order first seen, and each entry's index among them,
    by dict and map in C rather than a Python loop (a million entries in tens of ms)."""
    at = {value: i for i, value in enumerate(dict.fromkeys(column))}
    return tuple(at), np.fromiter(map(at.__getitem__, column), np.int64, len(column))


def all_distinct(keys: np.ndarray, bound: int) -> bool:
    """Whether no two of `keys` (integers in [0, bound)) are equal: by counting each key where
    `bound` is not much more than the keys (a million in milliseconds, where np.unique hashes
    or sorts them in a tenth of a second or more), else by np.unique."""
    if bound <= 4 * len(keys) + 1024:
        return not len(keys) or int(np.bincount(keys, minlength=1).max()) <= 1
    return len(np.unique(keys)) == len(keys)


def ratings_from(
    observations: Iterable[Observation],
    *,
    level: str,
    categories: Sequence | None = None,
) -> Ratings:
    """Check long data and index it. A rater rating a unit twice, a value outside the declared
    categories, or a non-number where the level needs numbers is a DataError."""
    observations = list(observations)
    return ratings_from_columns(
        [obs.unit for obs in observations],
        [obs.rater for obs in observations],
        [obs.value for obs in observations],
        level=level,
        categories=categories,
    )


def ratings_from_columns(
    units: Sequence,
    raters: Sequence,
    values: Sequence,
    *,
    level: str,
    categories: Sequence | None = None,
) -> Ratings:
    """`ratings_from` for observations given as three parallel columns (unit, rater, value),
    which a caller holding a million ratings can build without an object per rating. Units and
    raters are indexed in the order first seen, as `ratings_from` does."""
    if level not in LEVELS:
        raise DataError(f"unknown level of measurement {level!r}: use one of {', '.join(LEVELS)}")
    if set(map(type, values)) <= {float} and np.isfinite(np.array(values, dtype=float)).all():
        keys = list(values)  # plain finite floats are their own keys
    else:
        keys = [_key(value) for value in values]
        for n, (value, key) in enumerate(zip(values, keys, strict=True)):
            if value is None or (isinstance(key, float) and not np.isfinite(key)):
                raise DataError(f"{value!r} is not a value; leave a missing rating out", n)
    numeric_level = level in ("interval", "ratio")
    if categories is None:
        if numeric_level:
            for n, key in enumerate(keys):
                if not isinstance(key, float):
                    raise DataError(f"{values[n]!r} is not a number", n)
        categories = _observed_categories(keys, level)
    categories = tuple(categories)
    if len({_key(value) for value in categories}) != len(categories):
        raise DataError("the declared categories repeat a value")
    numbers = _numbers(categories)
    if numeric_level and numbers is None:
        raise DataError(f"{level} data needs categories that are numbers")
    if level == "ratio" and numbers is not None and (numbers < 0).any():
        negative = [n for n, key in enumerate(keys) if isinstance(key, float) and key < 0]
        raise DataError("ratio data cannot have negative values", negative[0] if negative else None)
    position_of = {_key(value): i for i, value in enumerate(categories)}
    positions = list(map(position_of.get, keys))
    if None in positions:
        _raise_first_fault(units, raters, values, positions, categories)
    indexed = (first_seen(units), first_seen(raters))
    found = _rated_once(*indexed, categories, numbers, level, np.array(positions, dtype=np.int64))
    if found is None:
        _raise_first_fault(units, raters, values, positions, categories)
    return found


def _rated_once(
    units: tuple[tuple, np.ndarray],
    raters: tuple[tuple, np.ndarray],
    categories: tuple,
    numbers: np.ndarray | None,
    level: str,
    position: np.ndarray,
) -> Ratings | None:
    """The Ratings of units and raters indexed (each its distinct names and every rating's
    index among them); None when a rater rated a unit twice."""
    (unit_ids, unit_index), (rater_ids, rater_index) = units, raters
    cells = unit_index * max(1, len(rater_ids)) + rater_index
    if not all_distinct(cells, max(1, len(unit_ids)) * max(1, len(rater_ids))):
        return None
    return Ratings(
        units=unit_ids,
        raters=rater_ids,
        categories=categories,
        numbers=numbers,
        level=level,
        unit_index=unit_index,
        rater_index=rater_index,
        position=position,
    )


def ratings_from_codes(
    units: tuple[np.ndarray, Sequence],
    raters: tuple[np.ndarray, Sequence],
    values: tuple[np.ndarray, Sequence],
    *,
    level: str,
    categories: Sequence | None,
) -> Ratings | None:
    """`ratings_from_columns` for columns given as codes: each of `units`, `raters` and
    `values` a pair (each observation's code, what each code stands for), as a caller holding
    a million ratings as arrays has them; the same Ratings, units and raters indexed in the
    order first seen. Only the distinct values are looked at, not a million. None where
    `ratings_from_columns` would find fault (or names repeat): it then says what is wrong, and
    with no categories declared, where it takes them from the values."""
    if level not in LEVELS or not len(units[0]) or categories is None:
        return None
    categories = tuple(categories)
    numbers = _numbers(categories)
    if len({_key(value) for value in categories}) != len(categories):
        return None
    if (level in ("interval", "ratio") and numbers is None) or (
        level == "ratio" and numbers is not None and (numbers < 0).any()
    ):
        return None
    position_of = {_key(value): i for i, value in enumerate(categories)}
    positions = []
    for value in values[1]:
        key = value if type(value) is float else _key(value)
        if value is None or (isinstance(key, float) and not np.isfinite(key)):
            return None
        positions.append(position_of.get(key, -1))
    position = np.array(positions, dtype=np.int64)[values[0]]
    if len(positions) and min(positions) < 0 and (position < 0).any():
        return None
    indexed = [first_seen_codes(*column) for column in (units, raters)]
    if None in indexed:
        return None
    return _rated_once(*indexed, categories, numbers, level, position)  # type: ignore[misc]


def first_seen_codes(codes: np.ndarray, names: Sequence) -> tuple[tuple, np.ndarray] | None:
    """`first_seen` of the column whose entries are `names[code]`: the distinct names in the
    order first seen and each entry's index among them. None when two codes share a name."""
    distinct, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    seen = tuple(names[code] for code in distinct[order].tolist())
    if len(set(seen)) != len(seen):
        return None
    rank = np.empty(len(distinct), dtype=np.int64)
    rank[order] = np.arange(len(distinct))
    return seen, rank[inverse.reshape(-1)]


def _raise_first_fault(
    units: Sequence, raters: Sequence, values: Sequence, positions: list, categories: tuple
) -> None:
    """The DataError for the first observation at fault: a value outside the categories, or a
    rater's second rating of a unit."""
    seen = set()
    for n, (unit, rater, value, position) in enumerate(
        zip(units, raters, values, positions, strict=True)
    ):
        if position is None:
            shown = ", ".join(str(c) for c in categories)
            raise DataError(f"{value!r} is not one of the categories ({shown})", n)
        if (unit, rater) in seen:
            raise DataError(f"rater {rater!r} rated unit {unit!r} twice", n)
        seen.add((unit, rater))


def _key(value: object) -> object:
    """Numbers compare as numbers (so 1, 1.0 and "1" are one category); other values as text."""
    if isinstance(value, bool):
        return str(value).lower()
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value).strip()


def _numbers(categories: Sequence) -> np.ndarray | None:
    keys = [_key(value) for value in categories]
    if all(isinstance(key, float) for key in keys):
        return np.array(keys, dtype=float)
    return None


def _observed_categories(keys: list, level: str) -> list:
    keys = list(dict.fromkeys(keys))
    if all(isinstance(key, float) for key in keys):
        return sorted(keys)
    if level != "nominal":
        raise DataError(
            f"{level} data with values that are not numbers needs the categories declared in order"
        )
    return sorted(keys, key=str)


def category_label(value: object) -> object:
    """A category as JSON shows it: 3 for "3" or 3.0, 2.5 for "2.5", text as text."""
    key = _key(value)
    if isinstance(key, float):
        return int(key) if key.is_integer() else key
    return key
