"""Intervals and what they answer (annotation.core.stats): McGraw & Wong's (1996) F-based ICC
intervals against R psych's printed output and against their formulas written out here from F
quantiles; the generalized confidence interval for ICC(A,1) and ICC(A,k) against its pivot
simulated here; the BCa bootstrap's pieces against scipy's and a leave-one-unit-out loop."""

import krippendorff
import numpy as np
import pytest
from scipy import stats
from scipy.stats import _resampling
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats import inter_rater

from annotation.core.stats import coefficients, resampling
from annotation.core.stats import icc as icc_module
from annotation.core.stats.data import Observation, ratings_from
from annotation.core.stats.resampling import Bootstrap, Patterns
from tests.test_agreement import KRIPPENDORFF_2011, parse_coders
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


def f_interval_of(estimate) -> tuple[float, float]:
    """McGraw & Wong's F interval: the headline one, or beside the GCI for ICC(A,1), ICC(A,k)."""
    if estimate.interval_method == "McGraw-Wong F":
        return estimate.ci
    (f,) = [o for o in estimate.other_intervals if o["interval_method"] == "McGraw-Wong F"]
    return tuple(f["ci"])


@pytest.mark.parametrize("form", FORMS)
def test_icc_f_intervals_match_psych_on_shrout_fleiss_1979(form):
    estimate = coefficients.icc(shrout_fleiss())[form]
    low, high = f_interval_of(estimate)
    assert (round(low, 3), round(high, 2)) == PSYCH_SF_BOUNDS[form]
    expected = "generalized confidence interval" if form in ("ICC2", "ICC2k") else "McGraw-Wong F"
    assert estimate.interval_method == expected


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
    assert stored["interval_method"] == "generalized confidence interval"
    assert "Tian & Cappelleri (2004)" in stored["ci_method"]
    f_interval, beside = stored["other_intervals"]
    assert f_interval["interval_method"] == "McGraw-Wong F"
    assert f_interval["interval_question"] == coefficients.RATERS_LIKE_THESE
    assert "Satterthwaite df 4.79" in f_interval["ci_method"]
    assert beside["interval_method"] == "percentile bootstrap over cases"
    assert beside["interval_question"] == "these raters, cases like these"
    assert (beside["resamples"], beside["seed"]) == (200, 4)
    assert beside["ci"] != stored["ci"]


def simulated_gci(table: np.ndarray, draws: int, seed: int, level: float = 0.95) -> tuple:
    """Tian & Cappelleri's (2004) generalized confidence interval for ICC(A,1), by simulating
    its pivot: each mean square's expectation replaced by df * MS / chi-square(df)."""
    n, k = table.shape
    grand = table.mean()
    ss_rows = k * ((table.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((table.mean(axis=0) - grand) ** 2).sum()
    ss_error = ((table - grand) ** 2).sum() - ss_rows - ss_cols
    rng = np.random.default_rng(seed)
    t1 = ss_rows / rng.chisquare(n - 1, draws)  # df * MS = SS
    t2 = ss_cols / rng.chisquare(k - 1, draws)
    t3 = ss_error / rng.chisquare((n - 1) * (k - 1), draws)
    pivot = n * (t1 - t3) / (n * t1 + k * t2 + (n * k - n - k) * t3)
    return tuple(np.quantile(pivot, [(1 - level) / 2, (1 + level) / 2]))


@pytest.mark.parametrize(
    ("n", "k", "reader_sd", "level"), [(30, 3, 0.5, 0.95), (100, 5, 0.0, 0.95), (8, 2, 1.0, 0.9)]
)
def test_icc_agreement_gci_is_the_quantiles_of_its_pivot(n, k, reader_sd, level):
    """The quadrature gives the quantiles 2 million draws of the pivot give, to the draws'
    own precision (their standard error here is below 0.001)."""
    rng = np.random.default_rng(n + k)
    table = rng.normal(0, 1, (n, 1)) + rng.normal(0, reader_sd, (1, k)) + rng.normal(0, 0.6, (n, k))
    squares = coefficients.MeanSquares.of(table)
    expected = simulated_gci(table, 2_000_000, seed=1, level=level)
    ours = icc_module.icc_interval(squares, "ICC2", method="gci", level=level)
    assert ours == pytest.approx(expected, abs=0.002)
    # ICC(A,k) is the Spearman-Brown step-up of ICC(A,1), bound by bound.
    stepped = tuple(k * b / (1 + (k - 1) * b) for b in expected)
    assert icc_module.icc_interval(squares, "ICC2k", method="gci", level=level) == (
        pytest.approx(stepped, abs=0.002)
    )


def test_icc_gci_is_wider_than_the_f_interval_when_few_readers_differ():
    """Three readers with a large spread: the F interval's Satterthwaite df trusts the raters'
    variance more than two degrees of freedom allow, and its lower bound sits far higher."""
    rng = np.random.default_rng(11)
    table = rng.normal(0, 1, (100, 1)) + [[-0.6, 0.1, 0.5]] + rng.normal(0, 0.6, (100, 3))
    estimate = coefficients.icc(ratings_from(table_observations(table), level="interval"))["ICC2"]
    f_low, f_high = f_interval_of(estimate)
    low, high = estimate.ci
    assert low < f_low - 0.1
    assert low < estimate.value < high
    assert estimate.interval_question == coefficients.RATERS_LIKE_THESE


def table_observations(table: np.ndarray) -> list[Observation]:
    return [
        Observation(f"u{i}", f"r{j}", float(value))
        for i, row in enumerate(table)
        for j, value in enumerate(row)
    ]


def test_icc_interval_refuses_what_it_does_not_offer():
    squares = coefficients.MeanSquares.of(np.array(SHROUT_FLEISS_1979, dtype=float))
    with pytest.raises(ValueError, match="is for ICC2 and ICC2k, not ICC3"):
        icc_module.icc_interval(squares, "ICC3", method="gci")
    with pytest.raises(ValueError, match="unknown ICC interval method 'mls'"):
        icc_module.icc_interval(squares, "ICC2", method="mls")
    assert icc_module.icc_interval(squares, "ICC3") == coefficients.icc_f_interval(squares, "ICC3")


def test_unit_bootstrap_intervals_say_they_hold_the_raters_fixed():
    ratings = ratings_from(rows_to_observations(fleiss_rows()), level="nominal")
    stored = coefficients.fleiss_kappa(ratings, bootstrap=Bootstrap(200, seed=1)).as_dict()
    assert stored["interval_method"] == "percentile bootstrap over cases"
    assert stored["interval_question"] == "these raters, cases like these"
    assert coefficients.fleiss_kappa(ratings).as_dict()["interval_question"] == ""  # no interval


# --- BCa ------------------------------------------------------------------------------------------


def fleiss_by_weights(rows: np.ndarray):
    """Fleiss' kappa as a function of pattern weights, written out here (equal raters per unit)."""
    m = rows.sum(axis=1)

    def kappa(weights: np.ndarray) -> np.ndarray:
        agreement = (weights @ ((rows * (rows - 1)).sum(axis=1) / (m * (m - 1)))) / weights.sum(1)
        shares = weights @ rows / (weights @ rows).sum(axis=1, keepdims=True)
        chance = (shares**2).sum(axis=1)
        return (agreement - chance) / (1 - chance)

    return kappa


def test_jackknife_acceleration_by_patterns_equals_leaving_out_each_unit():
    counts = np.array([np.bincount(row, minlength=6)[1:] for row in fleiss_rows()])
    patterns = Patterns.of(counts)
    assert len(patterns.weights) < len(counts)  # some units share a pattern: they count twice
    left_out = np.array(
        [inter_rater.fleiss_kappa(np.delete(counts, i, axis=0)) for i in range(len(counts))]
    )
    deviation = left_out.mean() - left_out
    expected = (deviation**3).sum() / (6 * ((deviation**2).sum()) ** 1.5)
    ours = resampling.jackknife_acceleration(fleiss_by_weights(patterns.rows), patterns)
    assert ours == pytest.approx(expected, abs=1e-12)
    assert abs(expected) > 1e-4  # not trivially zero


def test_bca_levels_are_efrons_formula():
    # z0 = 0 and a = 0: the percentile interval's own levels.
    assert resampling.bca_levels(0.0, 0.0, 0.95) == pytest.approx((0.025, 0.975), abs=1e-15)
    z0, a = 0.2, 0.05
    z = stats.norm.ppf(0.975)
    low = stats.norm.cdf(z0 + (z0 - z) / (1 - a * (z0 - z)))
    high = stats.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
    assert resampling.bca_levels(z0, a, 0.95) == pytest.approx((low, high), abs=1e-15)


def test_bias_correction_counts_a_tie_with_the_estimate_as_half():
    values = np.array([0.1, 0.2, 0.3, 0.3, 0.5])
    assert resampling.bias_correction(values, 0.3) == pytest.approx(stats.norm.ppf(3 / 5))


def alpha_of_counts(table: np.ndarray) -> float:
    """krippendorff's alpha (nominal) on a units x categories count table: alpha depends only on
    each unit's counts, so raters are filled in slot by slot."""
    slots = np.full((int(table.sum(axis=1).max()), len(table)), np.nan)
    for unit, row in enumerate(table):
        values = np.repeat(np.arange(len(row)), row)
        slots[: len(values), unit] = values
    return krippendorff.alpha(
        reliability_data=slots, level_of_measurement="nominal", value_domain=range(table.shape[1])
    )


def ac1_of_counts(table: np.ndarray) -> float:
    """Gwet's AC1 (Gwet 2014) from units x categories counts, with missing ratings."""
    m = table.sum(axis=1)
    pairable = m >= 2
    p_a = np.mean(
        (table[pairable] * (table[pairable] - 1)).sum(1) / (m[pairable] * (m[pairable] - 1))
    )
    prevalence = (table / m[:, None]).mean(axis=0)
    p_e = (prevalence * (1 - prevalence)).sum() / (table.shape[1] - 1)
    return (p_a - p_e) / (1 - p_e)


def cohen_of_pairs(table: np.ndarray) -> float:
    return cohen_kappa_score(table[:, 0], table[:, 1], labels=range(5))


def two_raters() -> list[Observation]:
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 5, 40)
    second = np.where(rng.random(40) < 0.6, truth, rng.integers(0, 5, 40))
    return [
        Observation(f"u{unit}", rater, float(value + 1))
        for unit, pair in enumerate(zip(truth, second, strict=True))
        for rater, value in zip(("a", "b"), pair, strict=True)
    ]


CASES = {
    "fleiss_kappa": (
        lambda: rows_to_observations(fleiss_rows()),
        coefficients.fleiss_kappa,
        inter_rater.fleiss_kappa,
    ),
    "krippendorff_alpha": (
        lambda: parse_coders(KRIPPENDORFF_2011),
        coefficients.krippendorff_alpha,
        alpha_of_counts,
    ),
    "gwet_ac1": (lambda: parse_coders(KRIPPENDORFF_2011), coefficients.gwet_ac, ac1_of_counts),
    "cohen_kappa": (two_raters, coefficients.cohen_kappa, cohen_of_pairs),
}


@pytest.mark.parametrize("key", CASES)
def test_bca_interval_matches_scipys_bca_on_the_same_resamples(key):
    """scipy.stats.bootstrap draws its own resamples, so its BCa interval differs from ours by
    Monte Carlo error. Its BCa step (the private `_bca_interval`, which `bootstrap` calls) is
    handed our resamples, recomputed unit by unit with an independent implementation, and the
    data as units; its z0, jackknife acceleration and levels then give our interval exactly."""
    observations, coefficient, independent = CASES[key]
    ratings = ratings_from(observations(), level="nominal", categories=[1.0, 2, 3, 4, 5])
    bootstrap = Bootstrap(resamples=300, seed=3, kind="bca")
    ours = coefficient(ratings, bootstrap=bootstrap)
    units = (
        ratings.matrix[:, ~np.isnan(ratings.matrix).any(axis=0)].T.astype(int)
        if key == "cohen_kappa"
        else ratings.counts[ratings.counts.sum(axis=1) > 0]
    )
    patterns = Patterns.of(units)  # the coefficient draws its resamples from these
    drawn = [
        independent(np.repeat(patterns.rows, row.astype(int), axis=0))
        for weights in patterns.draws(bootstrap)
        for row in weights
    ]
    with np.errstate(divide="ignore", invalid="ignore"):
        drawn = np.array(drawn)
    drawn = drawn[np.isfinite(drawn)]

    def statistic(index, axis=-1):
        if index.ndim == 1:
            return independent(units[index])
        return np.array([independent(units[row]) for row in index])

    low, high, acceleration = _resampling._bca_interval(
        (np.arange(len(units)),), statistic, -1, 0.025, drawn, None, np
    )
    assert abs(acceleration) > 1e-6
    expected = np.percentile(drawn, [float(low) * 100, float(high) * 100])
    assert ours.ci == pytest.approx(tuple(expected), abs=1e-9)
    assert ours.resamples_used == len(drawn)
    assert ours.as_dict()["interval_method"] == "BCa bootstrap over cases"
    assert ours.as_dict()["interval_question"] == "these raters, cases like these"


def test_bca_when_every_rater_agrees_is_the_estimate_itself():
    rows = [[2, 2, 2], [1, 1, 1], [3, 3, 3], [1, 1, 1]]
    ratings = ratings_from(rows_to_observations(rows), level="nominal")
    estimate = coefficients.gwet_ac(ratings, bootstrap=Bootstrap(200, seed=0, kind="bca"))
    assert estimate.ci == (1.0, 1.0)


def test_an_unknown_interval_kind_is_refused():
    with pytest.raises(ValueError, match="unknown bootstrap interval"):
        Bootstrap(kind="studentized")


def test_cohens_asymptotic_interval_is_named_beside_the_bootstrap():
    ratings = ratings_from(two_raters(), level="nominal")
    estimate = coefficients.cohen_kappa(ratings, bootstrap=Bootstrap(200, seed=2)).as_dict()
    (asymptotic,) = estimate["other_intervals"]
    assert asymptotic["interval_method"] == "asymptotic"
    assert asymptotic["interval_question"] == "these raters, cases like these"
    half_width = stats.norm.ppf(0.975) * estimate["se"]
    assert asymptotic["ci"] == pytest.approx(
        [estimate["value"] - half_width, estimate["value"] + half_width], abs=1e-12
    )
    assert estimate["interval_method"] == "percentile bootstrap over cases"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # Raters differ by a constant: consistency is perfect, absolute agreement is not.
        ([[1, 2], [3, 4], [5, 6]], {"ICC3": (1.0, 1.0), "ICC3k": (1.0, 1.0)}),
        # Every rater gives every case the same value: every bound is 1.
        ([[1, 1], [3, 3], [5, 5]], {form: (1.0, 1.0) for form in FORMS}),
    ],
)
def test_f_intervals_at_perfect_agreement(rows, expected):
    ratings = ratings_from(rows_to_observations(rows), level="interval")
    result = coefficients.icc(ratings)
    for form, bounds in expected.items():
        assert result[form].ci == pytest.approx(bounds, abs=1e-12), form


def test_icc_ak_has_no_interval_where_icc_a1s_lower_bound_passes_the_step_ups_pole():
    """ICC(A,k) = k r / (1 + (k - 1) r) runs to minus infinity as r falls to -1/(k-1): with
    ICC(A,1)'s lower bound below that, ICC(A,k)'s interval is unbounded, and there is none
    (stepping the bounds up blindly gave a 'lower' bound of 4.7 above an upper one of 0.98)."""
    table = np.array([[1, 2, 3], [2, 1, 1], [2, 3, 2]], dtype=float)
    squares = coefficients.MeanSquares.of(table)
    assert icc_module.icc_interval(squares, "ICC2", method="gci")[0] < -0.5
    assert icc_module.icc_interval(squares, "ICC2", method="f")[0] < -0.5
    assert icc_module.icc_interval(squares, "ICC2k", method="gci") is None
    assert icc_module.icc_interval(squares, "ICC2k", method="f") is None
    estimate = coefficients.icc(ratings_from(table_observations(table), level="interval"))["ICC2k"]
    assert estimate.ci is None
    assert "unbounded" in estimate.extra["ci_note"]
