"""MRMC comparison (annotation.core.stats.mrmc): the Van Dyke et al. (1993) figures as published
for the Obuchowski-Rockette-Hillis analysis with jackknife covariances, the AUC against
scikit-learn, the jackknife and the mean squares against closed forms and statsmodels, the
fixed-cases analysis against a paired t-test, and the power against a t-test's power."""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm

from annotation.core.stats import mrmc as m
from annotation.core.stats.data import DataError

VANDYKE = Path(__file__).parent / "data" / "vandyke.csv"


def vandyke_rows() -> tuple[list[tuple], dict]:
    with VANDYKE.open() as handle:
        records = list(csv.DictReader(handle))
    rows = [(r["reader"], r["case"], r["modality"], int(r["rating"])) for r in records]
    return rows, {r["case"]: int(r["truth"]) for r in records}


@pytest.fixture(scope="module")
def vandyke() -> m.Mrmc:
    rows, truth = vandyke_rows()
    return m.mrmc(rows, figure="auc", truth=truth)


def analysis(result: m.Mrmc, question: str) -> m.Analysis:
    return next(a for a in result.analyses if a.question == question)


def crossed(values: np.ndarray) -> list[tuple]:
    """(reader, case, modality, value) rows from values[modality, reader, case]."""
    return [
        (f"r{r}", f"c{k}", f"m{t}", float(values[t, r, k])) for t, r, k in np.ndindex(values.shape)
    ]


# --- Van Dyke: every published figure to its printed precision --------------------------------


def test_vandyke_reader_aucs(vandyke):
    assert vandyke.modalities == ("T0", "T1")
    assert vandyke.readers == ("R1", "R2", "R3", "R4", "R5")
    assert np.round(vandyke.figures, 4).tolist() == [
        [0.9196, 0.8588, 0.9039, 0.9731, 0.8298],
        [0.9478, 0.9053, 0.9217, 0.9994, 0.9300],
    ]
    assert np.round(np.mean(vandyke.figures, axis=1), 4).tolist() == [0.8970, 0.9408]


def test_vandyke_variance_components(vandyke):
    c = vandyke.components
    assert (round(c.ms_t, 6), round(c.ms_r, 6), round(c.ms_tr, 6)) == (0.004796, 0.003836, 0.000551)
    assert round(c.var, 7) == 0.0008023
    assert (round(c.cov1, 7), round(c.cov2, 7), round(c.cov3, 7)) == (
        0.0003466,
        0.0003441,
        0.0002390,
    )
    assert c.covariance_method == m.JACKKNIFE


def test_vandyke_random_readers_random_cases(vandyke):
    result = analysis(vandyke, m.RANDOM_BOTH)
    assert (result.readers, result.cases) == ("random", "random")
    assert result.test.statistic == "F"
    assert result.test.df1 == 1
    assert round(result.test.value, 3) == 4.456
    assert round(result.test.df2, 2) == 15.26
    assert round(result.test.p, 4) == 0.0517
    (difference,) = result.differences
    assert (difference.first, difference.second) == ("T0", "T1")
    assert round(difference.estimate, 4) == -0.0438
    assert [round(x, 4) for x in difference.ci] == [-0.0880, 0.0004]
    assert difference.p == pytest.approx(result.test.p)  # two modalities: t^2 = F


def test_vandyke_each_modality_alone(vandyke):
    t0, t1 = analysis(vandyke, m.RANDOM_BOTH).modalities
    assert (t0.modality, round(t0.value, 4), [round(x, 4) for x in t0.ci]) == (
        "T0",
        0.8970,
        [0.8252, 0.9689],
    )
    assert (t1.modality, round(t1.value, 4), [round(x, 4) for x in t1.ci]) == (
        "T1",
        0.9408,
        [0.8941, 0.9875],
    )


def test_vandyke_fixed_readers_is_significant_where_random_readers_is_not(vandyke):
    fixed = analysis(vandyke, m.FIXED_READERS)
    assert (fixed.readers, fixed.cases) == ("fixed", "random")
    assert fixed.test.statistic == "chi-square"
    assert fixed.test.df2 is None
    assert fixed.test.p < 0.05 < analysis(vandyke, m.RANDOM_BOTH).test.p
    (difference,) = fixed.differences
    assert difference.ci[1] < 0
    # Hand check: chi-square = MS(T) / (Var - Cov1 + (R - 1)(Cov2 - Cov3)), one df.
    c = vandyke.components
    chi2 = c.ms_t / (c.var - c.cov1 + 4 * (c.cov2 - c.cov3))
    assert fixed.test.value == pytest.approx(chi2)
    assert fixed.test.p == pytest.approx(stats.chi2.sf(chi2, 1))


def test_vandyke_as_dict_is_plain_json(vandyke):
    data = json.loads(json.dumps(vandyke.as_dict(), allow_nan=False))
    assert [a["question"] for a in data["analyses"]] == [
        m.RANDOM_BOTH,
        m.FIXED_READERS,
        m.FIXED_CASES,
    ]
    assert "cases like these" in data["analyses"][0]["question"]


# --- the figures of merit against independent computations -------------------------------------


def small_auc_design(seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """2 modalities x 3 readers x 12 cases of 1-5 ratings (many ties), 5 cases diseased."""
    rng = np.random.default_rng(seed)
    truth = np.array([1] * 5 + [0] * 7)
    values = rng.integers(1, 6, size=(2, 3, 12)) + truth  # the diseased rated a little higher
    return values.astype(float), truth


def test_auc_matches_scikit_learn_with_ties():
    values, truth = small_auc_design()
    readings = m.readings_from(crossed(values), figure="auc", truth=dict(enumerate_cases(truth)))
    expected = [[roc_auc_score(truth, values[t, r]) for r in range(3)] for t in range(2)]
    assert m.figures_of_merit(readings) == pytest.approx(np.array(expected), abs=1e-12)


def enumerate_cases(truth: np.ndarray):
    return ((f"c{k}", int(label)) for k, label in enumerate(truth))


def test_auc_jackknife_matches_recomputing_without_each_case():
    values, truth = small_auc_design(seed=9)
    readings = m.readings_from(crossed(values), figure="auc", truth=dict(enumerate_cases(truth)))
    left_out = m.readings.leave_one_out(readings)
    for k in range(len(truth)):
        keep = np.arange(len(truth)) != k
        for t, r in np.ndindex(2, 3):
            expected = roc_auc_score(truth[keep], values[t, r, keep])
            assert left_out[k, t, r] == pytest.approx(expected, abs=1e-12)


def test_mean_score_jackknife_is_the_usual_covariance_of_a_mean():
    # The jackknife covariance of two means over the same K cases is their sample covariance
    # (divisor K - 1) over K: the closed form it must reduce to.
    values = np.array(
        [
            [[3, 4, 2, 5, 4, 3], [2, 4, 3, 5, 3, 3]],
            [[4, 5, 3, 5, 4, 4], [3, 5, 2, 4, 5, 4]],
        ],
        dtype=float,
    )
    readings = m.readings_from(crossed(values), figure="mean")
    assert m.figures_of_merit(readings).tolist() == [[21 / 6, 20 / 6], [25 / 6, 23 / 6]]
    flat = values.reshape(4, 6)  # (m0 r0, m0 r1, m1 r0, m1 r1)
    expected = np.cov(flat) / 6
    c = m.jackknife_covariances(readings)
    assert c.matrix == pytest.approx(expected, abs=1e-15)
    assert c.var == pytest.approx(np.diag(expected).mean())
    assert c.cov1 == pytest.approx((expected[0, 2] + expected[1, 3]) / 2)
    assert c.cov2 == pytest.approx((expected[0, 1] + expected[2, 3]) / 2)
    assert c.cov3 == pytest.approx((expected[0, 3] + expected[1, 2]) / 2)


def test_mean_squares_match_a_two_way_anova():
    rng = np.random.default_rng(2)
    values = rng.normal(3, 1, size=(3, 4, 10))
    result = m.mrmc(crossed(values), figure="mean")
    figures = values.mean(axis=-1)
    frame = pd.DataFrame(
        {
            "y": figures.ravel(),
            "t": [f"t{t}" for t, _ in np.ndindex(3, 4)],
            "r": [f"r{r}" for _, r in np.ndindex(3, 4)],
        }
    )
    table = anova_lm(ols("y ~ C(t) + C(r)", data=frame).fit())
    c = result.components
    assert c.ms_t == pytest.approx(table.loc["C(t)", "mean_sq"])
    assert c.ms_r == pytest.approx(table.loc["C(r)", "mean_sq"])
    assert c.ms_tr == pytest.approx(table.loc["Residual", "mean_sq"])  # no replication


def test_fixed_cases_two_modalities_is_the_paired_t_test_over_readers():
    rng = np.random.default_rng(5)
    values = rng.integers(0, 2, size=(2, 6, 40)).astype(float)
    result = m.mrmc(crossed(values), figure="proportion")
    fixed_cases = analysis(result, m.FIXED_CASES)
    figures = values.mean(axis=-1)
    paired = stats.ttest_rel(figures[0], figures[1])
    (difference,) = fixed_cases.differences
    assert difference.p == pytest.approx(paired.pvalue)
    assert fixed_cases.test.value == pytest.approx(paired.statistic**2)
    low, high = paired.confidence_interval()
    assert difference.ci == pytest.approx((low, high))


def test_three_modalities_give_every_pair():
    rng = np.random.default_rng(7)
    values = rng.normal(size=(3, 4, 15)) + np.array([0, 0.3, 0.6])[:, None, None]
    result = m.mrmc(crossed(values), figure="mean")
    for item in result.analyses:
        assert [(d.first, d.second) for d in item.differences] == [
            ("m0", "m1"),
            ("m0", "m2"),
            ("m1", "m2"),
        ]
        assert item.test.df1 == 2
    means = values.mean(axis=(1, 2))
    assert result.analyses[0].differences[1].estimate == pytest.approx(means[0] - means[2])


def test_bootstrap_covariances_are_seeded_and_near_the_jackknife_for_a_mean():
    rng = np.random.default_rng(11)
    values = rng.normal(size=(2, 3, 60))
    readings = m.readings_from(crossed(values), figure="mean")
    first = m.bootstrap_covariances(readings, resamples=4000, seed=1)
    again = m.bootstrap_covariances(readings, resamples=4000, seed=1)
    assert np.array_equal(first.matrix, again.matrix)
    # The bootstrap variance of a mean is the plug-in variance over K: (K - 1)/K of the jackknife.
    jackknife = m.jackknife_covariances(readings)
    assert first.var == pytest.approx(jackknife.var * 59 / 60, rel=0.08)
    assert "seed 1" in first.method


def test_bootstrap_auc_keeps_both_kinds_of_case():
    values, truth = small_auc_design()
    rows = crossed(values)
    result = m.mrmc(
        rows, figure="auc", truth=dict(enumerate_cases(truth)), covariance="bootstrap", seed=3
    )
    assert "within diseased and non-diseased" in result.components.covariance_method
    assert math.isfinite(result.components.var)
    assert result.components.var > 0


# --- what the data cannot give ---------------------------------------------------------------


def test_missing_reading_is_refused():
    rows = crossed(np.ones((2, 2, 3)))[1:]
    with pytest.raises(DataError, match="not fully crossed"):
        m.readings_from(rows, figure="mean")


def test_proportion_takes_only_zero_or_one():
    with pytest.raises(DataError, match="0 or 1"):
        m.readings_from(crossed(np.full((2, 2, 3), 2.0)), figure="proportion")


def test_auc_needs_truth_for_every_case_and_both_kinds():
    rows = crossed(np.ones((2, 2, 4)))
    with pytest.raises(DataError, match="truth"):
        m.readings_from(rows, figure="auc")
    with pytest.raises(DataError, match="two cases with and two without"):
        m.readings_from(rows, figure="auc", truth={f"c{k}": int(k == 0) for k in range(4)})


def test_one_reader_gives_fixed_readers_only():
    rng = np.random.default_rng(1)
    result = m.mrmc(crossed(rng.normal(size=(2, 1, 20))), figure="mean")
    random_both, fixed, fixed_cases = result.analyses
    assert random_both.test is None
    assert "one reader" in random_both.reason
    assert fixed_cases.test is None
    assert fixed.test is not None
    assert fixed.differences[0].ci is not None
    json.dumps(result.as_dict(), allow_nan=False)


def test_one_modality_gives_its_interval_only():
    rng = np.random.default_rng(1)
    result = m.mrmc(crossed(rng.normal(size=(1, 4, 20))), figure="mean")
    for item in result.analyses:
        assert item.test is None
        assert item.differences == ()
        assert "one modality" in item.reason
        (alone,) = item.modalities
        assert alone.ci[0] < alone.value < alone.ci[1]


# --- study sizing ----------------------------------------------------------------------------


def test_power_with_independent_errors_is_a_paired_t_tests_power():
    # With no covariances and no reader x modality variance, each reader's difference has
    # variance 2 Var and the test is a paired t-test over J readers: its power is the
    # noncentral t's, with noncentrality d / sqrt(2 Var / J) on J - 1 df.
    var, d, readers = 0.002, 0.05, 6
    result = m.mrmc_power(
        difference=d, readers=readers, cases=100, var=var, cov1=0, cov2=0, cov3=0, interaction=0
    )
    df = readers - 1
    critical = stats.t.isf(0.025, df)
    shift = d / math.sqrt(2 * var / readers)
    expected = stats.nct.sf(critical, df, shift) + stats.nct.cdf(-critical, df, shift)
    assert result.ddf == pytest.approx(df)
    assert result.power == pytest.approx(expected, abs=1e-9)


def test_power_scales_pilot_covariances_to_the_planned_cases(vandyke):
    c = vandyke.components
    interaction = m.sizing.interaction_variance(c)
    common = dict(var=c.var, cov1=c.cov1, cov2=c.cov2, cov3=c.cov3, interaction=interaction)
    as_piloted = m.mrmc_power(difference=0.0438, readers=5, cases=114, pilot_cases=114, **common)
    doubled = m.mrmc_power(difference=0.0438, readers=5, cases=228, pilot_cases=114, **common)
    half = {key: value / 2 for key, value in common.items() if key != "interaction"}
    direct = m.mrmc_power(difference=0.0438, readers=5, cases=228, interaction=interaction, **half)
    assert doubled.power == pytest.approx(direct.power)
    assert as_piloted.power < doubled.power
    assert 0.3 < as_piloted.power < 0.7  # the pilot's own p was 0.05: power near one half


@pytest.mark.parametrize("difference", [1.0, 1e10, 1e200])
def test_a_difference_huge_against_the_variances_has_power_one(vandyke, difference):
    # scipy's noncentral F returns nan this far out (and d^2 overflows at 1e200): the power is 1,
    # not "out of reach".
    c = vandyke.components
    interaction = m.sizing.interaction_variance(c)
    result = m.mrmc_power(
        difference=difference,
        readers=5,
        cases=114,
        var=c.var,
        cov1=c.cov1,
        cov2=c.cov2,
        cov3=c.cov3,
        interaction=interaction,
    )
    assert result.power == pytest.approx(1.0)
