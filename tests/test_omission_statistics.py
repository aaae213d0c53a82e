"""Omission statistics checked against independent computations: the rate per source by hand
with numpy, its interval against the normal approximation, and agreement on the facts against
the `krippendorff` package fed a raters x units matrix and against alpha's pairwise definition."""

import itertools

import krippendorff
import numpy as np
import pytest

from annotation.core.stats.compare import omissions
from annotation.core.stats.names import THESE_RATERS
from annotation.core.stats.resampling import Bootstrap

BOOTSTRAP = Bootstrap(resamples=2000, seed=7)


def simulated_marks(seed: int, n_cases: int = 15, raters=("R1", "R2", "R3")):
    """Each case's 4 facts in two outputs, each rater agreeing with a hidden truth 80% of the
    time; a rater now and then leaves an output unread."""
    rng = np.random.default_rng(seed)
    marks = []
    for case, source, fact in itertools.product(range(n_cases), "AB", range(4)):
        truth = rng.random() < 0.35
        for rater in raters:
            if rng.random() < 0.1:
                continue
            mark = truth if rng.random() < 0.8 else not truth
            marks.append((f"c{case:02}", source, f"f{fact}", rater, int(mark)))
    return marks


def pairwise_alpha(units: list[list[int]]) -> float:
    """Nominal alpha from its definition: 1 - D_o / D_e, D_o the share of unlike pairs within
    units (each unit's pairs weighted 1 / (m - 1)), D_e that among all pairable values."""
    pairable = [u for u in units if len(u) >= 2]
    values = [v for u in pairable for v in u]
    n = len(values)
    observed = sum(
        sum(a != b for a, b in itertools.permutations(u, 2)) / (len(u) - 1) for u in pairable
    )
    expected = sum(a != b for a, b in itertools.permutations(values, 2)) / (n - 1)
    return 1 - observed / expected


def matrix_of(marks, keep=lambda case, fact: True):
    units = sorted({(c, s, f) for c, s, f, _, _ in marks if keep(c, f)})
    raters = sorted({r for *_, r, _ in marks})
    grid = np.full((len(raters), len(units)), np.nan)
    for case, source, fact, rater, mark in marks:
        if keep(case, fact):
            grid[raters.index(rater), units.index((case, source, fact))] = mark
    return grid


def test_the_pooled_alpha_is_krippendorffs_on_every_output_and_fact():
    marks = simulated_marks(1)
    result = omissions.fact_agreement(marks, bootstrap=BOOTSTRAP)
    grid = matrix_of(marks)
    expected = krippendorff.alpha(reliability_data=grid, level_of_measurement="nominal")
    assert result.alpha.value == pytest.approx(expected, abs=1e-12)
    columns = [[int(v) for v in col if not np.isnan(v)] for col in grid.T]
    assert result.alpha.value == pytest.approx(pairwise_alpha(columns), abs=1e-12)
    assert result.n_units == sum(len(c) >= 2 for c in columns)
    agreeing = [
        sum(a == b for a, b in itertools.combinations(c, 2)) / (len(c) * (len(c) - 1) / 2)
        for c in columns
        if len(c) >= 2
    ]
    assert result.percent_agreement == pytest.approx(np.mean(agreeing))
    # The interval resamples cases and says so.
    low, high = result.alpha.ci
    assert low < result.alpha.value < high
    assert result.alpha.as_dict()["interval_question"] == THESE_RATERS


def test_the_closed_form_behind_the_interval_is_alpha_on_any_resample():
    marks = simulated_marks(2, n_cases=6)
    units: dict = {}
    for case, source, fact, rater, mark in marks:
        units.setdefault((case, source, fact), {})[rater] = mark
    shared = {unit: marked for unit, marked in units.items() if len(marked) >= 2}
    cases, sums = omissions.case_coincidences(shared)
    rng = np.random.default_rng(3)
    for _ in range(5):
        weights = rng.multinomial(len(cases), [1 / len(cases)] * len(cases))
        # The resample written out: each drawn case's units copied as often as it was drawn.
        copies = [
            list(marked.values())
            for unit, marked in shared.items()
            for _ in range(weights[cases.index(unit[0])])
        ]
        closed = omissions.binary_alpha(sums, weights[None, :])[0]
        assert closed == pytest.approx(pairwise_alpha(copies), abs=1e-12)


def test_each_fact_has_its_alpha_or_its_percent_agreement():
    marks = simulated_marks(4, n_cases=3)
    result = omissions.fact_agreement(marks, bootstrap=BOOTSTRAP)
    assert len(result.facts) == 3 * 4
    for fact in result.facts:
        grid = matrix_of(marks, lambda c, f, fact=fact: (c, f) == (fact.case, fact.fact))
        values = grid[~np.isnan(grid)]
        assert fact.omitted_share == pytest.approx(values.mean())
        if len(set(values)) == 1:
            assert fact.alpha is None
            assert fact.reason == "all ratings share one value"
            assert fact.percent_agreement == 1.0
        else:
            expected = krippendorff.alpha(reliability_data=grid, level_of_measurement="nominal")
            assert fact.alpha == pytest.approx(expected, abs=1e-12)


def test_no_fact_marked_twice_has_no_agreement():
    marks = [("c1", "A", "f1", "R1", 1), ("c1", "B", "f1", "R2", 0)]
    result = omissions.fact_agreement(marks, bootstrap=BOOTSTRAP)
    assert result.alpha.value is None
    assert result.reason == "no fact was marked by two raters"
    assert result.facts[0].reason == "no output was marked by two raters"


def test_the_rate_averages_raters_per_output_then_outputs():
    rng = np.random.default_rng(5)
    rows = []
    for case in range(60):
        raters = rng.choice(["R1", "R2", "R3"], size=rng.integers(1, 4), replace=False)
        for rater in raters:
            rows.append((f"c{case}", str(rater), rng.beta(2, 5), rng.beta(1, 8)))
    result = omissions.omission_rates(rows, bootstrap=BOOTSTRAP)
    per_case = {}
    for case, _, omitted, wrong in rows:
        per_case.setdefault(case, []).append((omitted, wrong))
    means = np.array([np.mean(v, axis=0) for v in per_case.values()])
    assert result.omission_rate.value == pytest.approx(means[:, 0].mean())
    assert result.wrong_rate.value == pytest.approx(means[:, 1].mean())
    # Not the mean over ratings, which weighs a case read by three raters three times.
    assert result.omission_rate.value != pytest.approx(np.mean([r[2] for r in rows]))
    # The case bootstrap's interval is close to the normal one at 60 cases.
    half = 1.96 * means[:, 0].std(ddof=1) / np.sqrt(len(means))
    low, high = result.omission_rate.ci
    assert low == pytest.approx(means[:, 0].mean() - half, abs=0.012)
    assert high == pytest.approx(means[:, 0].mean() + half, abs=0.012)
    assert (result.n_cases, result.n_ratings) == (60, len(rows))


def test_the_omitted_share_counts_marks_on_outputs_one_rater_read():
    # Two outputs each read by one rater: no agreement, but both marks count in the share.
    single = [("c1", "A", "f1", "R1", 1), ("c1", "B", "f1", "R2", 1)]
    [fact] = omissions.fact_agreement(single, bootstrap=BOOTSTRAP).facts
    assert (fact.n_outputs, fact.omitted_share) == (0, 1.0)
    # Output A read twice (both 'present'), output B once ('omitted'): 1 of 3 marks.
    mixed = [("c1", "A", "f1", "R1", 0), ("c1", "A", "f1", "R2", 0), ("c1", "B", "f1", "R1", 1)]
    [fact] = omissions.fact_agreement(mixed, bootstrap=BOOTSTRAP).facts
    assert fact.n_outputs == 1
    assert fact.omitted_share == pytest.approx(np.mean([0, 0, 1]))
