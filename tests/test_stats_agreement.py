"""Agreement coefficients (annotation.core.stats): the published worked examples to the printed
precision, independent implementations on random data with missing values, and edge cases."""

import itertools
import math
import os

import krippendorff
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats import inter_rater

from annotation.core.stats import coefficients
from annotation.core.stats.data import DataError, Observation, ratings_from
from annotation.core.stats.resampling import Bootstrap
from tests.test_agreement import KRIPPENDORFF_2011, parse_coders

FIVE = [1, 2, 3, 4, 5]

FLEISS_1971 = """
4 4 4 4 4 4|2 2 2 5 5 5|2 3 3 3 3 5|5 5 5 5 5 5|2 2 2 4 4 4|1 1 3 3 3 3|3 3 3 3 5 5|1 1 3 3 3 4
1 1 4 4 4 4|5 5 5 5 5 5|1 4 4 4 4 4|1 2 4 4 4 4|2 2 2 3 3 3|1 4 4 4 4 4|2 2 4 4 4 5|3 3 3 3 3 5
1 1 1 4 5 5|1 1 1 1 1 2|2 2 4 4 4 4|1 3 3 5 5 5|5 5 5 5 5 5|2 4 4 4 4 4|2 2 4 5 5 5|1 1 4 4 4 4
1 4 4 4 4 5|2 2 2 2 2 4|1 1 1 1 5 5|2 2 4 4 4 4|1 3 3 3 3 3|5 5 5 5 5 5
"""

SHROUT_FLEISS_1979 = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]


def rows_to_observations(rows) -> list[Observation]:
    return [
        Observation(f"u{i}", f"r{j}", value)
        for i, row in enumerate(rows)
        for j, value in enumerate(row)
        if value is not None
    ]


def fleiss_rows() -> list[list[int]]:
    return [
        [int(v) for v in row.split()] for row in FLEISS_1971.replace("\n", "|").split("|") if row
    ]


# --- published worked examples ------------------------------------------------------------------


def test_krippendorff_2011_percent_agreement_fleiss_and_gwet():
    ratings = ratings_from(parse_coders(KRIPPENDORFF_2011), level="nominal", categories=FIVE)
    assert round(coefficients.percent_agreement(ratings).value, 3) == 0.818
    assert round(coefficients.fleiss_kappa(ratings).value, 3) == 0.761
    assert round(coefficients.gwet_ac(ratings).value, 3) == 0.775


@pytest.mark.parametrize(
    ("level", "expected"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_2011_alpha_at_each_level_with_an_interval(level, expected):
    ratings = ratings_from(parse_coders(KRIPPENDORFF_2011), level=level, categories=FIVE)
    result = coefficients.krippendorff_alpha(ratings, bootstrap=Bootstrap(resamples=500, seed=1))
    assert round(result.value, 3) == expected
    assert result.ci[0] < result.value <= result.ci[1]
    assert result.as_dict()["method"] == f"Krippendorff's alpha, {level} metric"


def test_fleiss_1971_kappa_chance_z_and_per_category_kappas():
    ratings = ratings_from(rows_to_observations(fleiss_rows()), level="nominal", categories=FIVE)
    result = coefficients.fleiss_kappa(ratings, bootstrap=Bootstrap(resamples=300, seed=0))
    assert round(result.value, 3) == 0.430
    assert round(result.extra["p_bar"], 4) == 0.5556
    # Fleiss printed P-bar-e = 0.2201 from category shares rounded to three decimals.
    shares = result.extra["category_shares"].values()
    assert round(sum(round(p, 3) ** 2 for p in shares), 4) == 0.2201
    assert result.extra["p_e"] == pytest.approx(0.2199, abs=5e-5)
    assert round(result.extra["z"], 2) == 17.65
    # Fleiss (1971), table 2: the kappa of each category.
    per_category = {k: round(v, 3) for k, v in result.extra["per_category"].items()}
    assert per_category == {"1": 0.245, "2": 0.245, "3": 0.520, "4": 0.471, "5": 0.566}
    assert result.ci[0] < 0.430 < result.ci[1]


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("ICC1", 0.166),
        ("ICC2", 0.290),
        ("ICC3", 0.715),
        ("ICC1k", 0.443),
        ("ICC2k", 0.620),
        ("ICC3k", 0.909),
    ],
)
def test_shrout_fleiss_1979_icc_in_all_six_forms(form, expected):
    ratings = ratings_from(rows_to_observations(SHROUT_FLEISS_1979), level="interval")
    result = coefficients.icc(ratings)[form]
    assert round(result.value, 3) == expected
    assert form[:4].replace("ICC", "ICC(") in result.method  # the form is named


# --- independent implementations on random data -------------------------------------------------


@st.composite
def long_data(draw, min_raters=2, max_raters=6, k=5, missing=True):
    """Random ratings of units by raters, some missing, on a k-point scale; correlated enough
    that coefficients are not all near zero."""
    n_units = draw(st.integers(3, 25))
    n_raters = draw(st.integers(min_raters, max_raters))
    truth = draw(st.lists(st.integers(0, k - 1), min_size=n_units, max_size=n_units))
    rows = []
    for t in truth:
        row = []
        for _ in range(n_raters):
            gone = missing and draw(st.integers(0, 4)) == 0
            noise = draw(st.sampled_from([-1, 0, 0, 1, 2]))
            row.append(None if gone else min(k - 1, max(0, t + noise)) + 1)
        rows.append(row)
    return rows


# Derandomized so CI never meets a new example by chance; HYPOTHESIS_EXAMPLES=2000 explores.
HYPOTHESIS = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    derandomize=not os.environ.get("HYPOTHESIS_EXAMPLES"),
    suppress_health_check=[HealthCheck.too_slow],
)


@HYPOTHESIS
@given(rows=long_data(), level=st.sampled_from(["nominal", "ordinal", "interval", "ratio"]))
def test_alpha_and_its_pattern_form_match_the_krippendorff_package(rows, level):
    ratings = ratings_from(rows_to_observations(rows), level=level, categories=FIVE)
    result = coefficients.krippendorff_alpha(ratings)
    matrix = np.array([[np.nan if v is None else v for v in row] for row in rows]).T
    pairable = (~np.isnan(matrix)).sum(axis=0) >= 2
    values = matrix[:, pairable]
    if pairable.sum() == 0 or len(np.unique(values[~np.isnan(values)])) < 2:
        assert result.value is None
        assert result.reason
        return
    expected = krippendorff.alpha(
        reliability_data=matrix, level_of_measurement=level, value_domain=FIVE
    )
    assert result.value == pytest.approx(expected, abs=1e-9)
    counted = coefficients._Counted.of(ratings)
    pattern_form = coefficients.point(
        coefficients._alpha_statistic(counted, level), counted.patterns
    )
    assert pattern_form == pytest.approx(expected, abs=1e-9)


@HYPOTHESIS
@given(rows=long_data(missing=False, min_raters=3))
def test_fleiss_kappa_matches_statsmodels_on_complete_data(rows):
    ratings = ratings_from(rows_to_observations(rows), level="nominal", categories=FIVE)
    table = np.array([[row.count(c) for c in FIVE] for row in rows])
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = inter_rater.fleiss_kappa(table, method="fleiss")
    result = coefficients.fleiss_kappa(ratings)
    if not math.isfinite(expected):
        assert result.value is None
        assert result.reason
    else:
        assert result.value == pytest.approx(expected, abs=1e-9)


def naive_fleiss(rows, categories) -> float:
    """Fleiss' kappa for units with unequal numbers of ratings, loop by loop."""
    units = [[v for v in row if v is not None] for row in rows]
    units = [u for u in units if len(u) >= 2]
    p_i = [
        sum(u.count(c) * (u.count(c) - 1) for c in categories) / (len(u) * (len(u) - 1))
        for u in units
    ]
    total = sum(len(u) for u in units)
    p_j = [sum(u.count(c) for u in units) / total for c in categories]
    chance = sum(p * p for p in p_j)
    return (sum(p_i) / len(p_i) - chance) / (1 - chance)


def naive_gwet(rows, categories, weights) -> float:
    """Gwet's AC1/AC2 straight from Gwet (2014), chapter 2, loop by loop."""
    q = len(categories)
    rated = [[v for v in row if v is not None] for row in rows]
    rated = [u for u in rated if u]
    pairable = [u for u in rated if len(u) >= 2]
    p_a = 0.0
    for u in pairable:
        for k, ck in enumerate(categories):
            r_star = sum(weights[k][j] * u.count(cj) for j, cj in enumerate(categories))
            p_a += u.count(ck) * (r_star - 1) / (len(u) * (len(u) - 1))
    p_a /= len(pairable)
    pi = [sum(u.count(c) / len(u) for u in rated) / len(rated) for c in categories]
    t_w = sum(map(sum, weights))
    p_e = t_w / (q * (q - 1)) * sum(p * (1 - p) for p in pi)
    return (p_a - p_e) / (1 - p_e)


def naive_percent(rows) -> float:
    shares = []
    for row in rows:
        values = [v for v in row if v is not None]
        if len(values) >= 2:
            pairs = list(itertools.combinations(values, 2))
            shares.append(sum(a == b for a, b in pairs) / len(pairs))
    return sum(shares) / len(shares)


@HYPOTHESIS
@given(rows=long_data(), weighting=st.sampled_from(["unweighted", "linear", "quadratic"]))
def test_fleiss_gwet_and_percent_agreement_match_loops_with_missing_values(rows, weighting):
    ratings = ratings_from(rows_to_observations(rows), level="ordinal", categories=FIVE)
    if not any(sum(v is not None for v in row) >= 2 for row in rows):
        assert coefficients.percent_agreement(ratings).value is None
        assert coefficients.fleiss_kappa(ratings).value is None
        assert coefficients.gwet_ac(ratings).value is None
        return
    assert coefficients.percent_agreement(ratings).value == pytest.approx(naive_percent(rows))
    weights = coefficients.category_weights(5, weighting).tolist()
    gwet = coefficients.gwet_ac(ratings, weighting=weighting).value
    assert gwet == pytest.approx(naive_gwet(rows, FIVE, weights), abs=1e-9)
    fleiss = coefficients.fleiss_kappa(ratings).value
    used = {v for row in rows if sum(x is not None for x in row) >= 2 for v in row if v}
    if len(used) == 1:
        assert fleiss is None
    else:
        assert fleiss == pytest.approx(naive_fleiss(rows, FIVE), abs=1e-9)


@HYPOTHESIS
@given(
    rows=long_data(min_raters=2, max_raters=2), wt=st.sampled_from([None, "linear", "quadratic"])
)
def test_cohen_kappa_and_its_se_match_statsmodels_and_scikit_learn(rows, wt):
    weighting = wt or "unweighted"
    ratings = ratings_from(rows_to_observations(rows), level="ordinal", categories=FIVE)
    assume(len(ratings.raters) == 2)  # a rater with no rating at all is not in the data
    both = [row for row in rows if None not in row]
    result = coefficients.cohen_kappa(ratings, weighting=weighting)
    if not both or len({v for row in both for v in row}) == 1:
        assert result.value is None
        assert result.reason
        return
    first, second = zip(*both, strict=True)
    expected = cohen_kappa_score(first, second, labels=FIVE, weights=wt)
    assert result.value == pytest.approx(expected, abs=1e-9)
    table = np.zeros((5, 5))
    for a, b in both:
        table[a - 1, b - 1] += 1
    with np.errstate(divide="ignore", invalid="ignore"):  # statsmodels' z on one unit
        reference = inter_rater.cohens_kappa(table, wt=wt)
    assert result.value == pytest.approx(reference.kappa, abs=1e-9)
    if math.isnan(reference.std_kappa):
        # statsmodels takes the root of a variance that rounding made a hair below zero (one
        # rater used one category, so every resample's kappa is 0): the SE is 0.
        assert reference.var_kappa == pytest.approx(0, abs=1e-12)
        assert result.se == pytest.approx(0, abs=1e-6)
    else:
        assert result.se == pytest.approx(reference.std_kappa, rel=1e-6, abs=1e-7)


def anova_icc(matrix: np.ndarray) -> dict[str, float]:
    """Shrout & Fleiss from the two-way ANOVA sums of squares, written out with loops."""
    n, k = matrix.shape
    grand = matrix.mean()
    ss_rows = k * sum((matrix[i].mean() - grand) ** 2 for i in range(n))
    ss_cols = n * sum((matrix[:, j].mean() - grand) ** 2 for j in range(k))
    ss_total = sum((matrix[i, j] - grand) ** 2 for i in range(n) for j in range(k))
    ss_error = ss_total - ss_rows - ss_cols
    bms, jms = ss_rows / (n - 1), ss_cols / (k - 1)
    ems, wms = ss_error / ((n - 1) * (k - 1)), (ss_cols + ss_error) / (n * (k - 1))
    return {
        "ICC1": (bms - wms) / (bms + (k - 1) * wms),
        "ICC2": (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n),
        "ICC3": (bms - ems) / (bms + (k - 1) * ems),
        "ICC1k": (bms - wms) / bms,
        "ICC2k": (bms - ems) / (bms + (jms - ems) / n),
        "ICC3k": (bms - ems) / bms,
    }


@HYPOTHESIS
@given(rows=long_data(k=7))
def test_icc_matches_the_anova_formulas_over_complete_units(rows):
    ratings = ratings_from(rows_to_observations(rows), level="interval", categories=range(1, 8))
    result = coefficients.icc(ratings)
    raters = sorted({f"r{j}" for row in rows for j, v in enumerate(row) if v is not None})
    columns = [int(r[1:]) for r in raters]
    complete = np.array(
        [[row[j] for j in columns] for row in rows if all(row[j] is not None for j in columns)],
        dtype=float,
    )
    if len(complete) < 2 or len(columns) < 2:
        assert all(e.value is None and e.reason for e in result.values())
        return
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = anova_icc(complete)
    for form, value in expected.items():
        if math.isfinite(value) and abs(value) < 1e6:
            assert result[form].value == pytest.approx(value, abs=1e-9), form
        else:
            assert result[form].value is None


# --- the bootstrap ------------------------------------------------------------------------------


def test_every_coefficient_states_its_bootstrap_and_is_reproducible():
    ratings = ratings_from(parse_coders(KRIPPENDORFF_2011), level="interval", categories=FIVE)
    first = coefficients.all_coefficients(ratings, bootstrap=Bootstrap(resamples=200, seed=5))
    again = coefficients.all_coefficients(ratings, bootstrap=Bootstrap(resamples=200, seed=5))
    other = coefficients.all_coefficients(ratings, bootstrap=Bootstrap(resamples=200, seed=6))
    assert first["krippendorff_alpha"].ci == again["krippendorff_alpha"].ci
    assert first["krippendorff_alpha"].ci != other["krippendorff_alpha"].ci
    described = first["gwet_ac1"].as_dict()
    assert described["ci_method"] == "percentile bootstrap resampling units, 200 resamples, seed 5"
    assert (described["resamples"], described["seed"]) == (200, 5)


def test_the_unit_bootstrap_matches_resampling_units_one_by_one():
    # Drawing pattern counts is resampling units: with many resamples, the two intervals for
    # Fleiss' kappa on Fleiss (1971) agree closely (both seeded: this cannot flake).
    rows = fleiss_rows()
    ratings = ratings_from(rows_to_observations(rows), level="nominal", categories=FIVE)
    ours = coefficients.fleiss_kappa(ratings, bootstrap=Bootstrap(resamples=4000, seed=2)).ci
    rng = np.random.default_rng(99)
    table = np.array([[row.count(c) for c in FIVE] for row in rows])
    direct = [
        inter_rater.fleiss_kappa(table[rng.integers(0, 30, 30)], method="fleiss")
        for _ in range(4000)
    ]
    low, high = np.percentile(direct, [2.5, 97.5])
    assert ours == pytest.approx((low, high), abs=0.02)


# --- edge cases: a defined result or a clear error ----------------------------------------------


def test_all_raters_agree():
    ratings = ratings_from(
        rows_to_observations([[2, 2, 2], [2, 2, 2], [2, 2, None]]), level="ordinal", categories=FIVE
    )
    result = coefficients.all_coefficients(ratings, bootstrap=Bootstrap(resamples=50))
    assert result["percent_agreement"].value == 1.0
    assert result["krippendorff_alpha"].value is None
    assert result["krippendorff_alpha"].reason == "all ratings share one value"
    assert result["fleiss_kappa"].value is None
    assert "chance agreement is 1" in result["fleiss_kappa"].reason
    # Gwet's chance term counts the five declared categories, so AC1 is defined: 1.
    assert result["gwet_ac1"].value == 1.0


def test_a_single_declared_category():
    ratings = ratings_from(rows_to_observations([[1, 1], [1, 1]]), level="nominal", categories=[1])
    assert coefficients.gwet_ac(ratings).reason == "one category: chance agreement is undefined"
    assert coefficients.cohen_kappa(ratings).value is None


def test_one_rater_and_no_pairable_unit():
    ratings = ratings_from(rows_to_observations([[1], [2], [3]]), level="interval", categories=FIVE)
    result = coefficients.all_coefficients(ratings, bootstrap=Bootstrap(resamples=50))
    for key in ("krippendorff_alpha", "percent_agreement", "fleiss_kappa", "gwet_ac1"):
        assert result[key].value is None
        assert result[key].reason == "no unit has two or more ratings"
    assert "cohen_kappa" not in result  # needs exactly two raters
    assert all(e.value is None for e in result["icc"].values())
    scattered = ratings_from(
        rows_to_observations([[1, None], [None, 2]]), level="ordinal", categories=FIVE
    )
    assert coefficients.cohen_kappa(scattered).reason == "no unit was rated by both raters"


@pytest.mark.parametrize(
    ("observations", "level", "categories", "message"),
    [
        ([Observation("u", "a", 7)], "ordinal", FIVE, "7 is not one of the categories"),
        ([Observation("u", "a", "x")], "interval", None, "'x' is not a number"),
        ([Observation("u", "a", float("nan"))], "nominal", None, "leave a missing rating out"),
        ([Observation("u", "a", "mild")], "ordinal", None, "needs the categories declared"),
        ([Observation("u", "a", 1)] * 2, "nominal", None, "rated unit 'u' twice"),
        ([Observation("u", "a", -1)], "ratio", None, "ratio data cannot have negative values"),
    ],
)
def test_bad_data_is_a_clear_error(observations, level, categories, message):
    with pytest.raises(DataError, match=message):
        ratings_from(observations, level=level, categories=categories)


def test_nothing_returns_a_nan():
    for rows in ([[1, 1], [1, 1]], [[1, None]], [[3, 3], [3, 4]]):
        ratings = ratings_from(rows_to_observations(rows), level="interval", categories=FIVE)
        result = coefficients.all_coefficients(ratings, bootstrap=Bootstrap(resamples=20))
        flat = list(result.pop("icc").values()) + list(result.values())
        for estimate in flat:
            values = [estimate.value, *(estimate.ci or ()), estimate.se]
            assert not any(isinstance(v, float) and math.isnan(v) for v in values), estimate


def test_resampled_weights_have_the_multinomial_distribution_of_units_drawn():
    # Patterns shared by many units and by few (drawn as a group) alike: every resample holds
    # n units, and each pattern's count has mean n p and variance n p (1 - p).
    from annotation.core.stats.resampling import Patterns

    rows = np.repeat(np.arange(40), [60, 30, 10] + [3] * 7 + [1] * 30)[:, None]
    patterns = Patterns.of(rows)
    draws = np.concatenate(list(patterns.draws(Bootstrap(resamples=6000, seed=4))))
    assert draws.shape == (6000, 40)
    assert (draws.sum(axis=1) == patterns.n).all()
    p = patterns.weights / patterns.n
    assert draws.mean(axis=0) == pytest.approx(patterns.n * p, rel=0.06, abs=0.05)
    assert draws.var(axis=0) == pytest.approx(patterns.n * p * (1 - p), rel=0.12, abs=0.05)


@pytest.mark.parametrize("scale", [1e-7, 1.0, 1e6])
def test_icc_does_not_depend_on_the_unit_of_measurement(scale):
    rows = [[value * scale for value in row] for row in SHROUT_FLEISS_1979]
    ratings = ratings_from(rows_to_observations(rows), level="ratio")
    result = coefficients.icc(ratings, bootstrap=Bootstrap(resamples=200, seed=1))
    assert round(result["ICC2"].value, 3) == 0.290
    assert result["ICC2"].resamples_used == 200


def test_an_icc_without_variation_between_units_says_which_denominator():
    ratings = ratings_from(rows_to_observations([[1, 2]] * 4), level="interval")
    result = coefficients.icc(ratings)
    assert result["ICC1k"].value is None
    assert result["ICC1k"].reason.startswith("the ICC1k denominator is zero")
    same = coefficients.icc(ratings_from(rows_to_observations([[3, 3]] * 4), level="interval"))
    assert same["ICC1"].reason == "every rating is the same"


def test_a_wide_scale_takes_alphas_point_estimate_from_patterns_not_huge_arrays():
    # 400 distinct values would make the package hold units x 400 x 400 numbers.
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 400, 300)
    rows = [[int(t), int(min(399, t + rng.integers(0, 3)))] for t in truth]
    ratings = ratings_from(rows_to_observations(rows), level="interval")
    assert len(ratings.categories) > coefficients.PACKAGE_MAX_VALUES
    result = coefficients.krippendorff_alpha(ratings)
    matrix = np.array(rows, dtype=float).T
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="interval")
    assert result.value == pytest.approx(expected, abs=1e-9)


def test_the_study_adapter_gives_a_reason_rather_than_failing_the_run():
    from annotation.core.stats.agreement import krippendorff_alpha

    observations = [Observation("u1", "a", 1.0), Observation("u1", "b", 2.0)]
    result = krippendorff_alpha(observations, level="ratio", value_domain=[-2, -1, 0, 1, 2])
    assert result.alpha is None
    assert result.reason == "ratio data cannot have negative values"


def test_alphas_interval_matches_resampling_rated_units_one_by_one():
    # End to end for alpha: the same interval as drawing the rated units (unit 12, rated once,
    # included) with replacement and calling krippendorff.alpha on each resample.
    ratings = ratings_from(parse_coders(KRIPPENDORFF_2011), level="interval", categories=FIVE)
    ours = coefficients.krippendorff_alpha(ratings, bootstrap=Bootstrap(resamples=3000, seed=8)).ci
    matrix = ratings.values_matrix()
    rng = np.random.default_rng(21)
    direct = []
    for _ in range(3000):
        sample = matrix[:, rng.integers(0, matrix.shape[1], matrix.shape[1])]
        pairable = sample[:, (~np.isnan(sample)).sum(axis=0) >= 2]
        if pairable.size and len(np.unique(pairable[~np.isnan(pairable)])) > 1:
            direct.append(
                krippendorff.alpha(
                    reliability_data=sample, level_of_measurement="interval", value_domain=FIVE
                )
            )
    assert ours == pytest.approx(tuple(np.percentile(direct, [2.5, 97.5])), abs=0.03)
