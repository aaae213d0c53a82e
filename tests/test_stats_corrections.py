"""The corrections' summary per source, against independent computations: the same seeded case
draws looped over case by case in plain Python, and statsmodels' Wilson interval."""

import random

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from annotation.core.stats.bootstrap import Bootstrap
from annotation.core.stats.corrections import CorrectionRow, correction_summary, wilson_interval
from annotation.core.stats.names import THESE_RATERS


def _rows(seed: int = 2, n_cases: int = 12) -> list[CorrectionRow]:
    rng = random.Random(seed)
    rows = []
    for case in range(n_cases):
        for rater in ("r1", "r2", "r3")[: rng.randint(1, 3)]:
            words = rng.choice([0, 0, 1, 2, 5])
            rate = None if case == 3 else words / 20
            rows.append(CorrectionRow(f"c{case:02d}", rater, words * 6, words, rate, words == 0))
    return rows


def _by_hand(rows, measure, bootstrap: Bootstrap) -> tuple[float, list[float]]:
    """The mean and its percentile interval with the draws made one case at a time."""
    cases = sorted({r.case for r in rows})
    kept = [r for r in rows if measure(r) is not None]
    value = sum(measure(r) for r in kept) / len(kept)
    rng = np.random.default_rng(bootstrap.seed)
    drawn = rng.integers(0, len(cases), size=(bootstrap.resamples, len(cases)))
    means = []
    for resample in drawn:
        picked = [r for k in resample for r in kept if r.case == cases[k]]
        if picked:
            means.append(sum(measure(r) for r in picked) / len(picked))
    return value, list(np.percentile(means, [2.5, 97.5]))


@pytest.mark.parametrize(
    ("key", "measure"),
    [
        ("mean_chars", lambda r: r.chars),
        ("mean_words", lambda r: r.words),
        ("edit_rate", lambda r: r.rate),
        ("share_unchanged", lambda r: float(r.unchanged)),
    ],
)
def test_each_measure_matches_the_case_bootstrap_done_by_hand(key, measure):
    rows, bootstrap = _rows(), Bootstrap(resamples=300, seed=9)
    summary = correction_summary(rows, bootstrap=bootstrap)
    value, ci = _by_hand(rows, measure, bootstrap)
    assert summary[key]["value"] == pytest.approx(value)
    assert summary[key]["ci"] == pytest.approx(ci)
    assert summary[key]["interval_question"] == THESE_RATERS
    assert summary["n_cases"] == 12


def test_the_rate_leaves_out_originals_without_words():
    rows = _rows()
    summary = correction_summary(rows, bootstrap=Bootstrap(resamples=50, seed=1))
    assert summary["edit_rate"]["n_ratings"] == sum(r.rate is not None for r in rows)
    assert summary["mean_chars"]["n_ratings"] == len(rows)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (17, 40)])
def test_wilson_matches_statsmodels(k, n):
    assert wilson_interval(k, n) == pytest.approx(proportion_confint(k, n, method="wilson"))


def test_the_wilson_interval_is_beside_the_bootstrap_one_and_says_what_it_assumes():
    rows = _rows()
    unchanged = sum(r.unchanged for r in rows)
    summary = correction_summary(rows, bootstrap=Bootstrap(resamples=50, seed=1))
    [wilson] = summary["share_unchanged"]["other_intervals"]
    assert wilson["ci"] == pytest.approx(proportion_confint(unchanged, len(rows), method="wilson"))
    assert "independent" in wilson["interval_method"]
