"""Krippendorff's alpha from each unit's category counts is the package's value from the raters
x units matrix to the bit: at every level of measurement, with missing ratings, categories
nobody used, units rated once, and with each rater left out as the jackknife over raters does."""

import krippendorff
import numpy as np
import pytest

from annotation.core.stats import coefficients, raters_random
from annotation.core.stats.data import LEVELS, Observation, ratings_from

SCALES = {
    "nominal": ["a", "b", "c", "d"],
    "ordinal": [1, 2, 3, 4, 5, 6, 7],
    "interval": [-2, -0.5, 0, 1, 2.5, 10],
    "ratio": [0, 0.5, 1, 2, 4, 8, 16],
}


def _ratings(level: str, seed: int):
    """Raters x units with a share missing, values drawn unevenly (some never used)."""
    rng = np.random.default_rng(seed)
    scale = SCALES[level]
    n_raters, n_units = int(rng.integers(3, 9)), int(rng.integers(5, 300))
    used = rng.choice(len(scale), size=int(rng.integers(2, len(scale) + 1)), replace=False)
    shares = rng.dirichlet(np.ones(len(used)))
    missing = rng.uniform(0, 0.6)
    observations = [
        Observation(f"u{u}", f"r{r}", scale[int(rng.choice(used, p=shares))])
        for u in rng.permutation(n_units)
        for r in rng.permutation(n_raters)
        if rng.random() >= missing
    ]
    return ratings_from(observations, level=level, categories=scale)


def _package(ratings, level: str) -> float:
    """The package on the raters x units matrix, as the point estimate was computed before."""
    if level in ("interval", "ratio"):
        matrix, domain = ratings.values_matrix(), list(ratings.numbers)
    else:
        matrix, domain = ratings.matrix, list(range(len(ratings.categories)))
    return float(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement=level, value_domain=domain)
    )


def _defined(ratings) -> bool:
    rated = ratings.counts[ratings.counts.sum(axis=1) >= 2]
    return len(np.unique(rated.nonzero()[1])) >= 2


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", range(12))
def test_alpha_from_counts_is_the_packages_value_to_the_bit(level, seed):
    ratings = _ratings(level, seed)
    # Every seeded draw here has two values in pairable units, where alpha is defined: a
    # change to the draws that loses that fails here rather than comparing nothing.
    assert _defined(ratings)
    assert coefficients.krippendorff_alpha(ratings).value == _package(ratings, level)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", range(6))
def test_alpha_with_each_rater_left_out_is_the_packages_value(level, seed):
    ratings = _ratings(level, 100 + seed)
    alpha = raters_random.coefficient_for("krippendorff_alpha")
    left_out = raters_random.leave_each_rater_out(ratings, {"alpha": alpha})["alpha"]
    for j, value in enumerate(left_out):
        without = raters_random.without_rater(ratings, j)
        expected = _package(without, level) if _defined(without) else None
        assert value == expected


def test_alpha_of_the_packages_own_example():
    # Krippendorff's example in the package's documentation: 0.691358 nominal, 0.810845 interval.
    data = [
        [None, None, None, None, None, 3, 4, 1, 2, 1, 1, 3, 3, None, 3],
        [1, None, 2, 1, 3, 3, 4, 3, None, None, None, None, None, None, None],
        [None, None, 2, 1, 3, 4, 4, None, 2, 1, 1, 3, 3, None, 4],
    ]
    observations = [
        Observation(f"u{u}", f"r{r}", value)
        for r, row in enumerate(data)
        for u, value in enumerate(row)
        if value is not None
    ]
    for level, expected in (("nominal", 0.691358), ("interval", 0.810845)):
        ratings = ratings_from(observations, level=level, categories=[1, 2, 3, 4])
        assert round(coefficients.krippendorff_alpha(ratings).value, 6) == expected
