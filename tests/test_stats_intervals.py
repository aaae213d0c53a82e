"""Intervals and what they answer (annotation.core.stats): McGraw & Wong's (1996) F-based ICC
intervals against R psych's printed output and against their formulas written out here from F
quantiles; the BCa bootstrap's pieces against scipy's and a leave-one-unit-out loop."""

import numpy as np
import pytest
from scipy import stats

from annotation.core.stats import coefficients
from annotation.core.stats.data import ratings_from
from annotation.core.stats.resampling import Bootstrap
from tests.test_stats_agreement import SHROUT_FLEISS_1979, fleiss_rows, rows_to_observations

FORMS = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")

# psych::ICC(sf), as printed in its documentation: lower bound to 3 decimals, upper to 2.
PSYCH_SF_BOUNDS = {
    "ICC1": (-0.133, 0.72),
    "ICC2": (0.019, 0.76),
    "ICC3": (0.342, 0.95),
    "ICC1k": (-0.884, 0.91),
    "ICC2k": (0.071, 0.93),
    "ICC3k": (0.676, 0.99),
}


def shrout_fleiss():
    return ratings_from(rows_to_observations(SHROUT_FLEISS_1979), level="interval")


@pytest.mark.parametrize("form", FORMS)
def test_icc_f_intervals_match_psych_on_shrout_fleiss_1979(form):
    estimate = coefficients.icc(shrout_fleiss())[form]
    low, high = estimate.ci
    assert (round(low, 3), round(high, 2)) == PSYCH_SF_BOUNDS[form]
    assert estimate.interval_method == "McGraw-Wong F"


def written_out_bounds(table: np.ndarray, form: str, level: float = 0.95) -> tuple:
    """McGraw & Wong (1996), Table 7, from the sums of squares and F quantiles, with loops."""
    n, k = table.shape
    grand = sum(sum(row) for row in table) / (n * k)
    rows = [sum(row) / k for row in table]
    cols = [sum(table[i][j] for i in range(n)) / n for j in range(k)]
    ss_rows = k * sum((r - grand) ** 2 for r in rows)
    ss_cols = n * sum((c - grand) ** 2 for c in cols)
    ss_total = sum((table[i][j] - grand) ** 2 for i in range(n) for j in range(k))
    ss_error = ss_total - ss_rows - ss_cols
    msr, msc = ss_rows / (n - 1), ss_cols / (k - 1)
    mse, msw = ss_error / ((n - 1) * (k - 1)), (ss_cols + ss_error) / (n * (k - 1))
    q = 1 - (1 - level) / 2
    if form in ("ICC1", "ICC1k", "ICC3", "ICC3k"):
        within, df2 = (msw, n * (k - 1)) if form.startswith("ICC1") else (mse, (n - 1) * (k - 1))
        f_obs = msr / within
        fl = f_obs / stats.f.ppf(q, n - 1, df2)
        fu = f_obs * stats.f.ppf(q, df2, n - 1)
        if form.endswith("k"):
            return 1 - 1 / fl, 1 - 1 / fu
        return (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
    rho = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)  # ICC(A,1)
    a = k * rho / (n * (1 - rho))
    b = 1 + k * rho * (n - 1) / (n * (1 - rho))
    v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
    f_lower, f_upper = stats.f.ppf(q, n - 1, v), stats.f.ppf(q, v, n - 1)
    if form == "ICC2":
        low = n * (msr - f_lower * mse) / (f_lower * (k * msc + (k * n - k - n) * mse) + n * msr)
        high = n * (f_upper * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f_upper * msr)
    else:  # ICC(A,k)
        low = n * (msr - f_lower * mse) / (f_lower * (msc - mse) + n * msr)
        high = n * (f_upper * msr - mse) / (msc - mse + n * f_upper * msr)
    return low, high


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("form", FORMS)
def test_icc_f_intervals_match_mcgraw_wong_written_out(form, seed):
    rng = np.random.default_rng(seed)
    n, k = rng.integers(5, 40), rng.integers(2, 7)
    table = (
        rng.normal(0, 1, (n, 1)) + rng.normal(0, 0.7, (1, k)) + rng.normal(0, 0.8, (n, k))
    ).round(1)
    squares = coefficients.MeanSquares.of(table)
    level = 0.9 if seed % 2 else 0.95
    ours = coefficients.icc_f_interval(squares, form, level=level)
    assert ours == pytest.approx(written_out_bounds(table, form, level), abs=1e-10)


def test_shrout_fleiss_satterthwaite_df_and_the_interval_holds_the_estimate():
    squares = coefficients.MeanSquares.of(np.array(SHROUT_FLEISS_1979, dtype=float))
    # psych prints ICC2 with F 11.0 on 5 and 15 df; its interval uses the Satterthwaite df.
    assert squares.bms / squares.ems == pytest.approx(11.03, abs=0.005)
    assert squares.satterthwaite_df() == pytest.approx(4.785, abs=0.001)
    for estimate in coefficients.icc(shrout_fleiss()).values():
        assert estimate.ci[0] < estimate.value < estimate.ci[1]


def test_icc_says_which_question_each_interval_answers():
    result = coefficients.icc(shrout_fleiss(), bootstrap=Bootstrap(resamples=200, seed=4))
    assert result["ICC2"].interval_question == coefficients.RATERS_LIKE_THESE
    assert result["ICC2k"].interval_question == coefficients.RATERS_LIKE_THESE
    assert result["ICC3"].interval_question == coefficients.THESE_RATERS
    assert result["ICC1"].interval_question.startswith(coefficients.RATERS_LIKE_THESE)
    stored = result["ICC2"].as_dict()
    assert stored["interval_method"] == "McGraw-Wong F"
    assert "Satterthwaite df 4.79" in stored["ci_method"]
    (beside,) = stored["other_intervals"]
    assert beside["interval_method"] == "percentile bootstrap over cases"
    assert beside["interval_question"] == "these raters, cases like these"
    assert (beside["resamples"], beside["seed"]) == (200, 4)
    assert beside["ci"] != stored["ci"]


def test_unit_bootstrap_intervals_say_they_hold_the_raters_fixed():
    ratings = ratings_from(rows_to_observations(fleiss_rows()), level="nominal")
    stored = coefficients.fleiss_kappa(ratings, bootstrap=Bootstrap(200, seed=1)).as_dict()
    assert stored["interval_method"] == "percentile bootstrap over cases"
    assert stored["interval_question"] == "these raters, cases like these"
    assert coefficients.fleiss_kappa(ratings).as_dict()["interval_question"] == ""  # no interval
