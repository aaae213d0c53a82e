"""The raters-and-cases interval: its raters part on designs where that part is known in closed
form, the data it recomputes on, and the cases it refuses."""

import math

import numpy as np
import pytest
from scipy import stats

from annotation.core.stats import coefficients, raters_random
from annotation.core.stats.data import Observation, Ratings, ratings_from
from annotation.core.stats.raters_random import (
    Z_95,
    cross_jackknife,
    jackknife_variance,
    leave_one_rater_out,
    only_units,
    raters_and_cases_interval,
    raters_variance,
    without_rater,
)


def grid_ratings(grid: np.ndarray) -> Ratings:
    """Interval-level ratings from a raters x units grid of numbers (every cell rated)."""
    return ratings_from(
        [
            Observation(f"u{i}", f"r{j}", float(grid[j, i]))
            for j in range(grid.shape[0])
            for i in range(grid.shape[1])
        ],
        level="interval",
    )


def mean_rating(ratings: Ratings) -> float:
    """The plainest statistic: the mean of every rating (for which the jackknife is exact)."""
    return float(ratings.numbers[ratings.position].mean())


def test_jackknife_variance_of_a_mean_is_the_variance_of_the_mean():
    values = np.array([3.0, 7.0, 1.0, 4.0, 10.0])
    leave_outs = [np.delete(values, j).mean() for j in range(len(values))]
    assert jackknife_variance(leave_outs) == pytest.approx(values.var(ddof=1) / len(values))


def test_cross_jackknife_of_unrelated_halves_is_their_covariance():
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 4.0, 3.0]
    expected = 3 / 4 * sum((x - 2.5) * (y - 2.5) for x, y in zip(a, b, strict=True))
    assert cross_jackknife(a, b) == pytest.approx(expected)


def test_additive_design_raters_part_is_the_spread_of_rater_effects_over_r():
    # y_ij = case effect + rater effect, no residual: the mean rating with rater j left out is
    # mean(case) + mean(rater effects but j), so both raters parts are var(b) / r exactly.
    rng = np.random.default_rng(3)
    biases = np.array([-1.0, 0.0, 0.5, 2.0])
    grid = biases[:, None] + rng.normal(size=20)[None, :]
    data = grid_ratings(np.round(grid, 6))
    known = biases.var(ddof=1) / len(biases)
    for part in ("jackknife", "split-half"):
        variance, reason = raters_variance(data, mean_rating, part=part)
        assert reason == ""
        assert variance == pytest.approx(known, rel=1e-6)


def test_split_half_removes_the_residual_the_jackknife_counts_again():
    # Interchangeable raters (no rater effect), residual sd 1, n units, r raters: the jackknife
    # over raters of the mean is sigma_e^2 / (n r) on average, a term the unit part already has;
    # the split-half cross-product is 0 on average.
    rng = np.random.default_rng(4)
    n, r, studies = 20, 4, 300
    plain, split = [], []
    for _ in range(studies):
        grid = rng.normal(size=n)[None, :] + rng.normal(size=(r, n))
        data = grid_ratings(np.round(grid, 6))
        plain.append(raters_variance(data, mean_rating, part="jackknife")[0])
        # Negative estimates are kept here (not floored at 0) to see the mean's bias.
        halves = np.array_split(rng.permutation(n), 2)
        first, second = (
            leave_one_rater_out(only_units(data, np.sort(h)), mean_rating) for h in halves
        )
        split.append(cross_jackknife(first, second))
    residual_part = 1 / (n * r)
    assert np.mean(plain) == pytest.approx(residual_part, rel=0.15)
    assert abs(np.mean(split)) < 0.15 * residual_part


def test_identical_raters_have_no_raters_part():
    rng = np.random.default_rng(5)
    grid = np.tile(rng.integers(1, 6, size=25), (4, 1))
    data = grid_ratings(grid)
    alpha = lambda d: coefficients.krippendorff_alpha(d, level="ordinal").value  # noqa: E731
    for statistic in (alpha, mean_rating):
        for part in ("jackknife", "split-half"):
            variance, reason = raters_variance(data, statistic, part=part)
            assert reason == ""
            assert variance == pytest.approx(0.0, abs=1e-15)


def test_two_raters_have_no_jackknife():
    data = grid_ratings(np.array([[1, 2, 3, 4], [1, 3, 3, 4]]))
    for part in ("jackknife", "split-half"):
        variance, reason = raters_variance(data, mean_rating, part=part)
        assert variance is None
        assert "three or more raters" in reason
    interval = raters_and_cases_interval(
        estimate=0.5, unit_ci=(0.3, 0.7), raters_variance=None, n_units=4, n_raters=2, reason=reason
    )
    assert interval.ci is None
    assert "three or more raters" in interval.reason


def test_interval_adds_the_parts_with_satterthwaites_df():
    # Unit interval (0.3, 0.7) at 95%: v_u = (0.2 / z)^2 on 29 df; v_r = 0.01 on 2 df.
    v_u, v_r = (0.2 / Z_95) ** 2, 0.01
    df = (v_u + v_r) ** 2 / (v_u**2 / 29 + v_r**2 / 2)
    interval = raters_and_cases_interval(
        estimate=0.5, unit_ci=(0.3, 0.7), raters_variance=v_r, n_units=30, n_raters=3
    )
    half = stats.t.ppf(0.975, df) * math.sqrt(v_u + v_r)
    assert interval.df == pytest.approx(df)
    assert interval.ci == pytest.approx((0.5 - half, 0.5 + half))
    assert interval.se == pytest.approx(math.hypot(0.2 / Z_95, 0.1))


def test_no_raters_part_leaves_the_unit_width_up_to_t_on_n_minus_1():
    interval = raters_and_cases_interval(
        estimate=0.5, unit_ci=(0.3, 0.7), raters_variance=0.0, n_units=30, n_raters=3
    )
    assert interval.df == pytest.approx(29)
    half = 0.2 * stats.t.ppf(0.975, 29) / Z_95
    assert interval.ci == pytest.approx((0.5 - half, 0.5 + half))


def test_leaving_a_rater_out_is_the_data_without_that_rater():
    rng = np.random.default_rng(6)
    grid = rng.integers(1, 5, size=(4, 15))
    data = grid_ratings(grid)
    for j in range(4):
        rebuilt = grid_ratings(np.delete(grid, j, axis=0))
        assert coefficients.krippendorff_alpha(without_rater(data, j), level="ordinal").value == (
            pytest.approx(coefficients.krippendorff_alpha(rebuilt, level="ordinal").value)
        )
        assert coefficients.fleiss_kappa(without_rater(data, j)).value == pytest.approx(
            coefficients.fleiss_kappa(rebuilt).value
        )


def test_a_subset_of_units_is_the_data_of_those_units():
    rng = np.random.default_rng(7)
    grid = rng.integers(1, 5, size=(3, 12))
    data = grid_ratings(grid)
    units = np.array([0, 3, 4, 8, 11])
    rebuilt = grid_ratings(grid[:, units])
    assert coefficients.gwet_ac(only_units(data, units)).value == pytest.approx(
        coefficients.gwet_ac(rebuilt).value
    )


def test_an_interval_reaching_past_the_coefficients_range_is_cut_back_and_says_so():
    # Few raters, a large t quantile: the sum reaches past 1, which no agreement coefficient can.
    wide = raters_and_cases_interval(
        estimate=0.6, unit_ci=(0.2, 1.0), raters_variance=0.3, n_units=30, n_raters=3
    )
    assert wide.ci[1] > 1
    assert not wide.clipped
    cut = raters_and_cases_interval(
        estimate=0.6,
        unit_ci=(0.2, 1.0),
        raters_variance=0.3,
        n_units=30,
        n_raters=3,
        bounds=(-1.0, 1.0),
    )
    assert cut.ci == (max(wide.ci[0], -1.0), 1.0)
    assert cut.clipped
    assert "cut back to the coefficient's range" in cut.describe()
    # An estimate outside the range (possible for alpha) stays inside its own interval.
    odd = raters_and_cases_interval(
        estimate=-1.2,
        unit_ci=(-1.3, -1.1),
        raters_variance=0.0001,
        n_units=30,
        n_raters=3,
        bounds=(-1.0, 1.0),
    )
    assert odd.ci[0] <= -1.2 <= odd.ci[1]


def test_the_coefficients_offered_by_stored_name_and_their_ranges():
    observations = [
        Observation(f"u{u}", f"r{r}", (u + r * (u % 2)) % 3 + 1)
        for u in range(12)
        for r in range(3)
    ]
    ratings = ratings_from(observations, level="ordinal", categories=(1, 2, 3))
    alpha = raters_random.coefficient_for("krippendorff_alpha")
    assert alpha(ratings) == coefficients.krippendorff_alpha(ratings).value
    assert raters_random.coefficient_for("icc_ICC2") is None  # ICC has its F interval instead
    assert raters_random.range_of("percent_agreement") == (0.0, 1.0)
    assert raters_random.range_of("fleiss_kappa") == (-1.0, 1.0)
