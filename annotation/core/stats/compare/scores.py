"""One source on one question: the mean, median and distribution of its ratings, and the
per-case means the paired tests compare."""

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from annotation.core.stats.compare.common import (
    Statistic,
    _estimate,
    _number,
    _Result,
    _Rows,
    _rows,
)
from annotation.core.stats.data import DataError
from annotation.core.stats.resampling import Bootstrap

MEAN = "mean of all ratings"
MEDIAN = "median of all ratings"


@dataclass(frozen=True)
class Share(_Result):
    category: float
    count: int
    share: float | None


@dataclass(frozen=True)
class ScoreSummary(_Result):
    n_cases: int
    n_raters: int
    n_ratings: int
    mean: Statistic
    median: Statistic
    distribution: tuple[Share, ...]  # every declared category in order, unused ones included
    reason: str = ""


def score_summary(
    observations: Iterable[tuple[Hashable, Hashable, float]],
    *,
    bootstrap: Bootstrap,
    categories: Sequence[float] | None = None,
) -> ScoreSummary:
    """Mean, median and distribution of one source's ratings on one question.

    The mean and the median are of all ratings (a case with three raters gives three), and
    their intervals resample cases, each drawn case bringing all its ratings; the median of
    N ratings is the middle one, or the average of the two middle ones when N is even. The
    distribution counts ratings per category (`categories` in declared order, else the values
    seen, sorted); a value outside the declared categories is a DataError.
    """
    data = _rows(observations, numbers=1)
    distribution = _distribution(data.numbers[:, 0], categories)
    if data.n == 0:
        mean, median = (Statistic(m, None, reason="no ratings") for m in (MEAN, MEDIAN))
        return ScoreSummary(0, 0, 0, mean, median, distribution, reason="no ratings")
    statistic, width = _mean_and_median(data)
    mean, median = _estimate([MEAN, MEDIAN], statistic, len(data.cases), bootstrap, width=width)
    return ScoreSummary(len(data.cases), data.n_raters, data.n, mean, median, distribution)


def _distribution(values: np.ndarray, categories: Sequence[float] | None) -> tuple[Share, ...]:
    if categories is None:
        categories = sorted(set(values.tolist()))
    position = {_number(category): k for k, category in enumerate(categories)}
    if len(position) != len(categories):
        raise DataError("the declared categories repeat a value")
    for n, value in enumerate(values.tolist()):
        if value not in position:
            raise DataError(f"{value:g} is not one of the declared categories", n)
    counts = np.bincount([position[value] for value in values.tolist()], minlength=len(position))
    total = len(values)
    return tuple(
        Share(category, int(count), float(count / total) if total else None)
        for category, count in zip(categories, counts, strict=True)
    )


def _mean_and_median(data: _Rows) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    values = data.numbers[:, 0]
    sums, counts = data.per_case(values), data.per_case(np.ones(data.n))
    # Cases x distinct values, how many of a case's ratings have each value (sparse: a case
    # uses few of them). A resample's weights times it count the ratings at each value, and
    # the median is read off the running count.
    distinct, position = np.unique(values, return_inverse=True)
    shape = (len(data.cases), len(distinct))
    at_value = sparse.csr_array((np.ones(data.n), (data.case, position)), shape=shape).T

    def statistic(weights: np.ndarray) -> np.ndarray:
        running = np.cumsum((at_value @ weights.T).T, axis=1)
        total = running[:, -1]
        lower = distinct[np.argmax(running > ((total - 1) // 2)[:, None], axis=1)]
        upper = distinct[np.argmax(running > (total // 2)[:, None], axis=1)]
        return np.column_stack([(weights @ sums) / (weights @ counts), (lower + upper) / 2])

    return statistic, len(distinct)


def case_means(observations: Iterable[tuple[Hashable, Hashable, float]]) -> dict:
    """Each case's mean over its raters: the per-case values the paired tests compare."""
    data = _rows(observations, numbers=1)
    means = data.per_case(data.numbers[:, 0]) / data.per_case(np.ones(data.n))
    return dict(zip(data.cases, means.tolist(), strict=True))
