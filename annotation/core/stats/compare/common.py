"""What the comparisons share: result types with `as_dict`, checked rows, the case bootstrap.

`_Result` gives each result its `as_dict`; `Statistic` is one estimate with its interval.
`_rows` checks long rows and indexes them by case; `_estimate` evaluates one statistic function
at the observed data (every case weight 1) and at each case-bootstrap resample.
"""

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from numbers import Real

import numpy as np

from annotation.core.stats.data import (
    DataError,
    all_distinct,
    columns_of,
    first_seen,
    first_seen_codes,
)
from annotation.core.stats.names import THESE_RATERS
from annotation.core.stats.resampling import Bootstrap, case_weights


class _Result:
    """`as_dict` for results: the fields in order as plain data, an empty reason left out."""

    def as_dict(self) -> dict:
        data = {item.name: _plain(getattr(self, item.name)) for item in fields(self)}
        if not data.get("reason", True):
            del data["reason"]
        return data


def _plain(value: object) -> object:
    if isinstance(value, _Result | Statistic):
        return value.as_dict()
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


CASE_BOOTSTRAP = "percentile bootstrap over cases"


@dataclass(frozen=True)
class Statistic:
    """One estimate with its case-bootstrap interval. `as_dict` uses `agreement.Estimate`'s
    keys so one template can show both; the sizes live on the result that holds it (Estimate's
    n_raters means nothing for a correlation over outputs or a Bradley-Terry fit)."""

    method: str
    value: float | None
    ci: tuple[float, float] | None = None
    ci_method: str = ""
    resamples: int = 0
    resamples_used: int = 0  # resamples that defined the statistic
    seed: int | None = None
    reason: str = ""  # why value is None
    ci_reason: str = ""  # why ci is None although value is not

    def as_dict(self) -> dict:
        data = {"value": self.value, "ci": list(self.ci) if self.ci else None}
        data["method"] = self.method
        if self.ci:
            # Resampling cases holds the panel of raters fixed: the question it answers.
            data.update(interval_method=CASE_BOOTSTRAP, interval_question=THESE_RATERS)
        if self.resamples:
            data.update(ci_method=self.ci_method, resamples=self.resamples)
            data.update(resamples_used=self.resamples_used, seed=self.seed)
        if self.reason:
            data["reason"] = self.reason
        if self.ci_reason:
            data["ci_reason"] = self.ci_reason
        return data


# --- checked rows and the case bootstrap ----------------------------------------------------------


@dataclass(frozen=True)
class _Rows:
    """Rows as arrays: each row's case (an index into `cases`) and its numbers (rows x k)."""

    cases: tuple
    case: np.ndarray
    numbers: np.ndarray
    n_raters: int

    @property
    def n(self) -> int:
        return len(self.case)

    def per_case(self, column: np.ndarray) -> np.ndarray:
        return np.bincount(self.case, weights=column, minlength=len(self.cases))


def _rows(rows: Iterable[Sequence] | _Rows, *, numbers: int, rated: bool = True) -> _Rows:
    """Check and index (case, rater, number...) rows, or (case, number...) when not `rated`.
    Column by column when every row is well formed (a million rows in a fraction of a second);
    row by row, naming the first row at fault, when one is not. `_Rows` already checked
    (`rows_of_columns`) are taken as they are."""
    if isinstance(rows, _Rows):
        return rows
    rows = rows if isinstance(rows, list) else list(rows)
    width = 1 + rated + numbers
    checked = _checked_columns(rows, width, numbers, rated)
    if checked is not None:
        return checked
    cases: dict[Hashable, int] = {}
    pairs: set = set()
    index, values = [], []
    for n, row in enumerate(rows):
        row = tuple(row)
        if len(row) != width:
            raise DataError(f"expected {width} fields in a row, got {len(row)}", n)
        if rated and row[:2] in pairs:
            raise DataError(f"rater {row[1]!r} rated case {row[0]!r} twice", n)
        if rated:
            pairs.add(row[:2])
        index.append(cases.setdefault(row[0], len(cases)))
        values.append([_number(value, n) for value in row[1 + rated :]])
    raters = len({rater for _, rater in pairs})
    array = np.array(values, dtype=float).reshape(-1, numbers)
    return _Rows(tuple(cases), np.array(index, dtype=np.int64), array, raters)


def _checked_columns(rows: list, width: int, numbers: int, rated: bool) -> _Rows | None:
    """`_rows` for rows of plain floats, each rater rating each case once; None otherwise."""
    if not rows or any(len(row) != width for row in rows):
        return None
    columns = columns_of(rows, width)
    return rows_of_columns(columns[0], columns[1] if rated else None, columns[1 + rated :])


def rows_of_columns(
    cases: Sequence, raters: Sequence | None, values: Sequence[Sequence]
) -> _Rows | None:
    """The checked rows of (case, rater, number...) given as columns (no rater column: not
    rated), for a caller holding a million rows as columns, which `score_summary` and
    `case_means` then take as their rows; None unless every number is a plain finite float and
    each rater rated each case once (the rows as tuples then name the first at fault)."""
    if not len(cases) or any(set(map(type, column)) != {float} for column in values):
        return None
    array = np.ascontiguousarray(np.array(values, dtype=float).T)
    if not np.isfinite(array).all():
        return None
    labels, index = first_seen(cases)
    n_raters = 0
    if raters is not None:
        ids, rater = first_seen(raters)
        if not all_distinct(index * len(ids) + rater, len(labels) * len(ids)):
            return None  # a rater rated a case twice: the row by row check names the row
        n_raters = len(ids)
    return _Rows(labels, index, array, n_raters)


def rows_of_codes(
    cases: tuple[np.ndarray, Sequence],
    raters: tuple[np.ndarray, Sequence],
    values: tuple[np.ndarray, Sequence],
) -> _Rows | None:
    """`rows_of_columns` of rated rows with one number each, the columns given as codes: each
    a pair (each row's code, what each code stands for), as a caller holding the rows as
    arrays has them. The same rows, from the distinct names and values alone; None where
    `rows_of_columns` would be None (or names repeat, or a value is not a plain float)."""
    numbers = values[1]
    if not len(cases[0]) or set(map(type, numbers)) != {float}:
        return None
    number = np.array(numbers, dtype=float)
    if not np.isfinite(number).all():
        return None
    indexed = [first_seen_codes(*column) for column in (cases, raters)]
    if None in indexed:
        return None
    (labels, index), (ids, rater) = indexed  # type: ignore[misc]
    if not all_distinct(index * len(ids) + rater, len(labels) * len(ids)):
        return None
    return _Rows(labels, index, np.ascontiguousarray(number[values[0]][:, None]), len(ids))


def _number(value: object, n: int | None = None) -> float:
    if type(value) is float:  # the common case, without the slow abstract-class checks
        if not math.isfinite(value):
            raise DataError(f"{value!r} is not a finite number", n)
        return value
    if isinstance(value, bool) or not isinstance(value, Real | Decimal):
        raise DataError(f"{value!r} is not a number", n)
    if not math.isfinite(value):
        raise DataError(f"{value!r} is not a finite number", n)
    return float(value)


def _ci_method(bootstrap: Bootstrap) -> str:
    return (
        f"{bootstrap.level * 100:g}% percentile bootstrap resampling cases (each drawn case "
        f"with all its rows), {bootstrap.resamples} resamples, seed {bootstrap.seed}"
    )


def _estimate(
    methods: Sequence[str],
    statistic: Callable[[np.ndarray], np.ndarray],
    n_cases: int,
    bootstrap: Bootstrap,
    *,
    width: int = 0,
) -> list[Statistic]:
    """Each column of `statistic` (case weights, rows x cases -> rows x len(methods)) at the
    observed data, with its percentile interval over the case bootstrap. `width` is the cells
    per resample the statistic expands to, for the chunk size."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        points = statistic(np.ones((1, n_cases), dtype=np.int64))[0]
        draws = None
        if bootstrap.resamples > 0 and n_cases >= 2:
            chunks = case_weights(n_cases, bootstrap, width=width)
            draws = np.concatenate([statistic(weights) for weights in chunks])
    return [
        _statistic(method, points[k], None if draws is None else draws[:, k], bootstrap, n_cases)
        for k, method in enumerate(methods)
    ]


def _statistic(
    method: str, point: float, draws: np.ndarray | None, bootstrap: Bootstrap, n_cases: int
) -> Statistic:
    if not math.isfinite(point):
        return Statistic(method, None, reason="not defined by these data")
    if draws is None:
        why = "one case: no interval" if n_cases < 2 else "no resamples were asked for"
        return Statistic(method, float(point), ci_reason=why)
    finite = draws[np.isfinite(draws)]
    ci = None
    if len(finite):
        tail = (1 - bootstrap.level) / 2 * 100
        low, high = np.percentile(finite, [tail, 100 - tail])
        ci = (float(low), float(high))
    return Statistic(
        method,
        float(point),
        ci,
        _ci_method(bootstrap),
        bootstrap.resamples,
        resamples_used=len(finite),
        seed=bootstrap.seed,
        ci_reason="" if ci else "no resample defined it",
    )
