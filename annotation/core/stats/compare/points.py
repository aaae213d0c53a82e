"""Rubric points (HealthBench): points earned over points possible, and HealthBench's score."""

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np

from annotation.core.stats.compare.common import Statistic, _estimate, _Result, _rows
from annotation.core.stats.data import DataError
from annotation.core.stats.resampling import Bootstrap

POINTS_RATIO = "criteria points earned over points possible, summed over all ratings"
CRITERIA_SCORE = (
    "HealthBench score: mean over ratings of points earned / points possible, the mean "
    "clipped to [0, 1]"
)


@dataclass(frozen=True)
class CriteriaPoints(_Result):
    n_cases: int
    n_raters: int
    n_ratings: int
    earned: float
    possible: float
    points_ratio: Statistic
    score: Statistic
    reason: str = ""


def criteria_points(
    rows: Iterable[tuple[Hashable, Hashable, float, float]], *, bootstrap: Bootstrap
) -> CriteriaPoints:
    """One source's rubric points from (case, rater, earned, possible) rows: all points earned
    over all possible, and HealthBench's score, the mean of each rating's earned / possible
    (negative criteria can take a rating below 0) with the mean clipped to [0, 1], as
    HealthBench's `_compute_clipped_stats` does. (`rubric.criteria_score` clips each rating
    instead, so the two differ when some rating falls below 0.)"""
    data = _rows(rows, numbers=2)
    earned, possible = data.numbers[:, 0], data.numbers[:, 1]
    if (possible <= 0).any():
        raise DataError(
            "a rating needs some positive points possible", int(np.argmax(possible <= 0))
        )
    totals = (float(earned.sum()), float(possible.sum()))
    sizes = (len(data.cases), data.n_raters, data.n, *totals)
    if data.n == 0:
        empty = (Statistic(m, None, reason="no ratings") for m in (POINTS_RATIO, CRITERIA_SCORE))
        return CriteriaPoints(*sizes, *empty, reason="no ratings")
    columns = np.column_stack([earned, possible, earned / possible, np.ones(data.n)])
    by_case = np.column_stack([data.per_case(column) for column in columns.T])

    def statistic(weights: np.ndarray) -> np.ndarray:
        earned_w, possible_w, score_w, n_w = (weights @ by_case).T
        return np.column_stack([earned_w / possible_w, np.clip(score_w / n_w, 0, 1)])

    ratio, score = _estimate([POINTS_RATIO, CRITERIA_SCORE], statistic, len(data.cases), bootstrap)
    return CriteriaPoints(*sizes, ratio, score)
