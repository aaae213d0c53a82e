"""Comparing sources (annotation.core.stats.compare): hand-worked and textbook examples, independent
implementations (scipy, statsmodels, a direct optimiser, the case bootstrap rebuilt by hand),
and edge cases that must give a reason rather than a crash or a NaN."""

import gc
import itertools
import json
import math
import os
from collections import defaultdict
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import optimize, special, stats
from statsmodels.stats.contingency_tables import mcnemar as statsmodels_mcnemar
from statsmodels.stats.multitest import multipletests

from annotation.core.stats import compare
from annotation.core.stats.data import DataError
from annotation.core.stats.resampling import Bootstrap

# Derandomized so CI never meets a new example by chance; HYPOTHESIS_EXAMPLES=2000 explores.
HYPOTHESIS = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    derandomize=not os.environ.get("HYPOTHESIS_EXAMPLES"),
    suppress_health_check=[HealthCheck.too_slow],
)

FIVE = [1, 2, 3, 4, 5]
SMALL = Bootstrap(resamples=200, seed=3)
NONE = Bootstrap(resamples=0)

# Hollander & Wolfe (1973), p. 29: Hamilton depression scale before (x) and after (y)
# tranquilliser, the example in R's ?wilcox.test (V = 40, exact two-sided p = 0.03906).
DEPRESSION_X = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
DEPRESSION_Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]


def as_json(result) -> dict:
    """The result's plain form, which must serialise without NaN or numpy types."""
    return json.loads(json.dumps(result.as_dict(), allow_nan=False))


def drawn_cases(n_cases: int, bootstrap: Bootstrap) -> np.ndarray:
    """The cases each resample draws, rebuilt straight from the seed (one chunk at these sizes)."""
    rng = np.random.default_rng(bootstrap.seed)
    return rng.integers(0, n_cases, size=(bootstrap.resamples, n_cases))


def percentile_ci(values, level=0.95) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def by_case(rows) -> list[list]:
    """Rows grouped by their case (first field), in first-seen order."""
    groups = defaultdict(list)
    for row in rows:
        groups[row[0]].append(row)
    return list(groups.values())


LIKERT = st.integers(1, 5)


@st.composite
def ratings(draw, min_cases=1, values=LIKERT):
    """(case, rater, value) for up to 12 cases and 4 raters, each case rated by one or more."""
    n_cases = draw(st.integers(min_cases, 12))
    rows = []
    for case in range(n_cases):
        raters = draw(st.sets(st.integers(0, 3), min_size=1))
        rows += [(f"case{case}", f"rater{r}", draw(values)) for r in sorted(raters)]
    return rows


# --- score_summary --------------------------------------------------------------------------------

HAND = [("c1", "r1", 3), ("c1", "r2", 4), ("c2", "r1", 5), ("c3", "r1", 2), ("c3", "r2", 2)]


def test_score_summary_hand_example_counts_every_rating_and_every_declared_category():
    result = compare.score_summary(HAND + [("c3", "r3", 5)], bootstrap=SMALL, categories=FIVE)
    assert (result.n_cases, result.n_raters, result.n_ratings) == (3, 3, 6)
    assert result.mean.value == pytest.approx(21 / 6)
    assert result.median.value == 3.5  # ratings 2 2 3 4 5 5: the two middle ones averaged
    shares = [(share.category, share.count, share.share) for share in result.distribution]
    assert shares == [(1, 0, 0.0), (2, 2, 2 / 6), (3, 1, 1 / 6), (4, 1, 1 / 6), (5, 2, 2 / 6)]
    assert as_json(result)["mean"]["method"] == "mean of all ratings"


def test_score_summary_median_of_an_odd_number_of_ratings_is_the_middle_one():
    result = compare.score_summary([("a", "r", 1), ("b", "r", 2), ("c", "r", 9)], bootstrap=NONE)
    assert result.median.value == 2
    assert result.mean.value == 4


def test_score_summary_intervals_resample_cases_with_all_their_ratings():
    rows = HAND + [("c4", "r1", 1), ("c4", "r3", 1), ("c4", "r2", 4), ("c5", "r2", 5)]
    result = compare.score_summary(rows, bootstrap=SMALL)
    cases = by_case(rows)
    means, medians = [], []
    for drawn in drawn_cases(len(cases), SMALL):
        values = [row[2] for k in drawn for row in cases[k]]
        means.append(np.mean(values))
        medians.append(np.median(values))
    assert result.mean.ci == pytest.approx(percentile_ci(means))
    assert result.median.ci == pytest.approx(percentile_ci(medians))
    assert result.mean.resamples_used == 200
    assert result.mean.ci_method == (
        "95% percentile bootstrap resampling cases (each drawn case with all its rows), "
        "200 resamples, seed 3"
    )


@HYPOTHESIS
@given(rows=ratings())
def test_score_summary_matches_numpy_and_its_interval_holds_the_estimate(rows):
    result = compare.score_summary(rows, bootstrap=SMALL, categories=FIVE)
    values = [row[2] for row in rows]
    assert result.mean.value == pytest.approx(np.mean(values))
    assert result.median.value == np.median(values)
    assert sum(share.count for share in result.distribution) == len(values)
    if result.n_cases >= 2:
        assert result.mean.ci[0] <= result.mean.value <= result.mean.ci[1]
        assert min(values) <= result.median.ci[0] <= result.median.ci[1] <= max(values)
    else:
        assert result.mean.ci is None
        assert result.mean.ci_reason == "one case: no interval"
    as_json(result)


@HYPOTHESIS
@given(rows=ratings(values=st.floats(-100, 100, allow_nan=False)))
def test_score_summary_median_of_continuous_values_matches_numpy(rows):
    result = compare.score_summary(rows, bootstrap=NONE)
    assert result.median.value == pytest.approx(np.median([row[2] for row in rows]))


def test_intervals_are_reproducible_with_a_seed_and_change_with_another():
    rows = [
        (f"c{i}", "r", int(v)) for i, v in enumerate(np.random.default_rng(1).integers(1, 6, 40))
    ]
    first = compare.score_summary(rows, bootstrap=Bootstrap(resamples=300, seed=7))
    again = compare.score_summary(rows, bootstrap=Bootstrap(resamples=300, seed=7))
    other = compare.score_summary(rows, bootstrap=Bootstrap(resamples=300, seed=8))
    assert first.mean.ci == again.mean.ci
    assert first.mean.ci != other.mean.ci
    assert first.mean.ci[0] < first.mean.value < first.mean.ci[1]


def test_score_summary_without_ratings_gives_reasons_and_every_category_at_zero():
    result = compare.score_summary([], bootstrap=SMALL, categories=FIVE)
    data = as_json(result)
    assert data["reason"] == "no ratings"
    assert data["mean"]["value"] is None
    assert data["mean"]["reason"] == "no ratings"
    assert [share["count"] for share in data["distribution"]] == [0] * 5
    assert data["distribution"][0]["share"] is None


def test_score_summary_of_constant_values_has_a_point_interval():
    rows = [("a", "r", 4), ("b", "r", 4), ("b", "s", 4)]
    result = compare.score_summary(rows, bootstrap=SMALL)
    assert result.mean.value == result.median.value == 4
    assert result.mean.ci == result.median.ci == (4.0, 4.0)


def test_score_summary_refuses_undeclared_values_and_a_rater_rating_a_case_twice():
    with pytest.raises(DataError, match="not one of the declared categories") as error:
        compare.score_summary([("a", "r", 3), ("b", "r", 6)], bootstrap=NONE, categories=FIVE)
    assert error.value.index == 1
    with pytest.raises(DataError, match="rated case 'a' twice"):
        compare.score_summary([("a", "r", 3), ("a", "r", 4)], bootstrap=NONE)
    with pytest.raises(DataError, match="not a number"):
        compare.score_summary([("a", "r", "3")], bootstrap=NONE)
    with pytest.raises(DataError, match="not a finite number"):
        compare.score_summary([("a", "r", math.nan)], bootstrap=NONE)


# --- paired tests ---------------------------------------------------------------------------------


def test_case_means_and_paired_differences_over_shared_cases():
    means = compare.case_means([("a", "r", 3), ("a", "s", 4), ("b", "r", 2)])
    assert means == {"a": 3.5, "b": 2.0}
    other = {"b": 1.0, "c": 5.0, "a": 4.0}
    assert compare.shared(means, other) == [(3.5, 4.0), (2.0, 1.0)]
    assert compare.paired(means, other) == [-0.5, 1.0]


def test_wilcoxon_reproduces_hollander_and_wolfe_depression_example():
    differences = [x - y for x, y in zip(DEPRESSION_X, DEPRESSION_Y, strict=True)]
    result = compare.wilcoxon(differences)
    assert result.statistic == 5  # T- = 5, so T+ = V = 40 as R reports
    assert result.p_value == pytest.approx(0.0390625)  # 2 * 10 / 2**9
    assert (result.n_pairs, result.n_used, result.n_zero) == (9, 9, 0)
    assert result.median_difference == pytest.approx(0.49)
    assert result.rank_biserial == pytest.approx((40 - 5) / 45)
    assert result.method.endswith("exact null distribution")


def test_wilcoxon_hand_example_drops_zeros_and_ranks_tied_magnitudes_together():
    result = compare.wilcoxon([1, -1, 2, 0, 0, 3])
    # |d| ranks 1.5 1.5 3 4 over the four nonzero: T+ = 1.5 + 3 + 4 = 8.5, T- = 1.5
    assert (result.n_used, result.n_zero) == (4, 2)
    assert result.statistic == 1.5
    assert result.rank_biserial == pytest.approx(7 / 10)
    assert result.median_difference == 0.5
    # Exact over the 16 sign patterns of the tied ranks: T+ is 10 in one and 8.5 in two (a
    # 1.5 negative), and as often at the other end, so p = 2 * 3 / 16.
    assert result.p_value == pytest.approx(6 / 16)
    assert result.method.endswith("exact null distribution given the tied ranks")


def test_wilcoxon_treats_equal_differences_of_means_as_ties():
    # 2/3 - 1/3 is 0.33333333333333337 in floating point; unrounded, it would outrank 1/3.
    result = compare.wilcoxon([1 / 3, 2 / 3 - 1 / 3, -1 / 3])
    assert result.rank_biserial == pytest.approx(1 / 3)


@HYPOTHESIS
@given(differences=st.lists(st.integers(-4, 4), max_size=10))
def test_wilcoxon_matches_scipy_on_the_nonzero_differences(differences):
    result = compare.wilcoxon(differences)
    nonzero = [d for d in differences if d != 0]
    assert result.n_zero == len(differences) - len(nonzero)
    if not nonzero:
        assert result.p_value is None
        assert result.reason in ("no pairs", "every difference is zero")
        return
    # Up to 13 pairs, scipy's "auto" is exact too: its own distribution without ties, else
    # an enumeration of all 2^n sign patterns.
    expected = stats.wilcoxon(nonzero)
    assert result.statistic == expected.statistic
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.median_difference == np.median(differences)


@HYPOTHESIS
@given(differences=st.lists(st.sampled_from([-5, -2, -1, 1, 3, 4]), min_size=51, max_size=90))
def test_wilcoxon_beyond_fifty_pairs_is_scipys_normal_approximation(differences):
    result = compare.wilcoxon(differences)
    nonzero = differences
    expected = stats.wilcoxon(nonzero, method="asymptotic", correction=False)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.method.endswith(
        "normal approximation, tie-corrected variance, no continuity correction"
    )


def test_wilcoxon_exact_p_with_ties_matches_enumerating_every_sign_pattern():
    differences = np.array([1, 2, 2, -1, 3, 1, -2, 3, 1, 1, 2, -3, 1, 4, -4, 2])
    ranks = stats.rankdata(np.abs(differences))
    signs = np.array(list(itertools.product([1, -1], repeat=len(differences))))
    t_plus = (signs > 0) @ ranks
    observed = ranks[differences > 0].sum()
    tail = min(np.mean(t_plus <= observed + 1e-9), np.mean(t_plus >= observed - 1e-9))
    result = compare.wilcoxon(differences.tolist())
    assert result.p_value == pytest.approx(min(1, 2 * tail), rel=1e-12)
    assert result.method.endswith("exact null distribution given the tied ranks")


@HYPOTHESIS
@given(differences=st.lists(st.floats(-50, 50).filter(lambda d: d != 0), min_size=1, max_size=30))
def test_wilcoxon_rank_biserial_is_the_balance_of_positive_walsh_averages(differences):
    # Without ties, T+ counts the Walsh averages (d_i + d_j) / 2, i <= j, that are positive.
    d = np.round(np.array(differences), 12)
    if len(np.unique(np.abs(d))) < len(d) or any(
        d[i] + d[j] == 0 for i in range(len(d)) for j in range(i, len(d))
    ):
        return
    walsh = [d[i] + d[j] for i in range(len(d)) for j in range(i, len(d))]
    balance = (sum(w > 0 for w in walsh) - sum(w < 0 for w in walsh)) / len(walsh)
    assert compare.wilcoxon(differences).rank_biserial == pytest.approx(balance)


def test_wilcoxon_and_sign_test_give_reasons_without_nonzero_differences():
    for differences, reason in (([], "no pairs"), ([0, 0.0, 0], "every difference is zero")):
        for result in (compare.wilcoxon(differences), compare.sign_test(differences)):
            data = as_json(result)
            assert data["p_value"] is None
            assert data["reason"] == reason
    single = compare.wilcoxon([2.0])
    assert (single.p_value, single.rank_biserial) == (1.0, 1.0)


def test_sign_test_hand_examples():
    result = compare.sign_test([1, 2, -1, 0, 3, 0])
    assert (result.n_positive, result.n_negative, result.n_ties) == (3, 1, 2)
    assert result.p_value == pytest.approx(2 * 5 / 16)
    ten_two = compare.sign_test([1] * 10 + [-1] * 2)
    assert ten_two.p_value == pytest.approx(2 * (1 + 12 + 66) / 4096)


@HYPOTHESIS
@given(differences=st.lists(st.sampled_from([-2.5, -1, 0, 1, 4]), max_size=60))
def test_sign_test_matches_scipy_binomtest(differences):
    result = compare.sign_test(differences)
    positive = sum(d > 0 for d in differences)
    negative = sum(d < 0 for d in differences)
    if positive + negative == 0:
        assert result.p_value is None
    else:
        expected = stats.binomtest(positive, positive + negative, 0.5).pvalue
        assert result.p_value == pytest.approx(expected)


def test_mcnemar_hand_examples():
    result = compare.mcnemar([(1, 0)] + [(0, 1)] * 5 + [(1, 1)] * 3 + [(0, 0)])
    assert as_json(result)["method"].startswith("exact McNemar test")
    assert (result.b, result.c, result.n_pairs) == (1, 5, 10)
    assert result.p_value == pytest.approx(2 * (1 + 6) / 64)  # P(X <= 1), X ~ Bin(6, 1/2)
    assert compare.mcnemar([(False, True)] * 5).p_value == pytest.approx(2 / 32)


def test_mcnemar_matches_agresti_presidential_approval_table_with_statsmodels():
    # Agresti (2007), table 8.1: approval in two surveys of the same 1600 people.
    pairs = [(1, 1)] * 794 + [(1, 0)] * 150 + [(0, 1)] * 86 + [(0, 0)] * 570
    result = compare.mcnemar(pairs)
    expected = statsmodels_mcnemar([[794, 150], [86, 570]], exact=True).pvalue
    assert (result.b, result.c) == (150, 86)
    assert result.p_value == pytest.approx(expected)
    assert result.p_value < 0.0001


@HYPOTHESIS
@given(table=st.lists(st.integers(0, 30), min_size=4, max_size=4))
def test_mcnemar_matches_statsmodels_exact(table):
    yes_yes, yes_no, no_yes, no_no = table
    pairs = [(1, 1)] * yes_yes + [(1, 0)] * yes_no + [(0, 1)] * no_yes + [(0, 0)] * no_no
    result = compare.mcnemar(pairs)
    if yes_no + no_yes == 0:
        assert result.p_value is None
        assert result.reason in ("no pairs", "no discordant pairs")
        return
    expected = statsmodels_mcnemar([[yes_yes, yes_no], [no_yes, no_no]], exact=True).pvalue
    assert result.p_value == pytest.approx(expected)


def test_mcnemar_refuses_answers_that_are_not_binary():
    with pytest.raises(DataError, match="0 or 1, got 0.5") as error:
        compare.mcnemar([(1, 0), (0.5, 1)])
    assert error.value.index == 1


# --- adjust ---------------------------------------------------------------------------------------


def test_adjust_hand_example_keeps_order_and_passes_none_through():
    p = [0.01, None, 0.04, 0.03]
    assert compare.adjust(p, method="holm") == pytest.approx([0.03, None, 0.06, 0.06])
    assert compare.adjust(p, method="bonferroni") == pytest.approx([0.03, None, 0.12, 0.09])
    assert compare.adjust([0.5, 0.9], method="bonferroni") == [1.0, 1.0]
    assert compare.adjust([None, None], method="by") == [None, None]
    assert compare.adjust([], method="holm") == []


@HYPOTHESIS
@given(
    p_values=st.lists(
        st.one_of(st.none(), st.sampled_from([0.0, 0.01, 0.05, 1.0]), st.floats(0, 1)),
        max_size=25,
    ),
    method=st.sampled_from(["holm", "bonferroni", "by"]),
)
def test_adjust_matches_statsmodels_multipletests(p_values, method):
    result = compare.adjust(p_values, method=method)
    present = [p for p in p_values if p is not None]
    assert [r is None for r in result] == [p is None for p in p_values]
    if not present:
        return
    name = {"holm": "holm", "bonferroni": "bonferroni", "by": "fdr_by"}[method]
    # statsmodels' Holm runs gc.collect() on every call, a tenth of a second each in pytest.
    with mock.patch.object(gc, "collect", return_value=0):
        expected = multipletests(present, method=name)[1]
    assert [r for r in result if r is not None] == pytest.approx(list(expected), abs=1e-12)
    assert all(0 <= r <= 1 for r in result if r is not None)


def test_adjust_refuses_unknown_methods_and_impossible_p_values():
    with pytest.raises(ValueError, match="unknown adjustment 'bh'"):
        compare.adjust([0.1], method="bh")
    with pytest.raises(DataError, match="between 0 and 1"):
        compare.adjust([0.1, 1.5], method="holm")


# --- win_tie_loss ---------------------------------------------------------------------------------


def test_win_tie_loss_hand_example_counts_ratings_and_resamples_cases():
    rows = [("a", "r", 1), ("a", "s", 0), ("b", "r", -1), ("c", "r", 2), ("d", "s", -1)]
    result = compare.win_tie_loss(rows, bootstrap=SMALL)
    assert (result.wins, result.ties, result.losses) == (2, 1, 2)
    assert (result.win.value, result.tie.value, result.loss.value) == (0.4, 0.2, 0.4)
    cases = by_case(rows)
    shares = []
    for drawn in drawn_cases(len(cases), SMALL):
        values = [row[2] for k in drawn for row in cases[k]]
        shares.append(np.mean(np.array(values) > 0))
    assert result.win.ci == pytest.approx(percentile_ci(shares))
    assert as_json(result)["win"]["method"] == "share of ratings preferring the first source"


@HYPOTHESIS
@given(rows=ratings(values=st.integers(-2, 2)))
def test_win_tie_loss_shares_add_up_and_hold_their_estimates(rows):
    result = compare.win_tie_loss(rows, bootstrap=SMALL)
    shares = (result.win.value, result.tie.value, result.loss.value)
    assert sum(shares) == pytest.approx(1)
    assert result.win.value == pytest.approx(np.mean([row[2] > 0 for row in rows]))
    for share in (result.win, result.tie, result.loss):
        if share.ci:
            assert share.ci[0] <= share.value <= share.ci[1]


def test_win_tie_loss_all_ties_and_empty():
    ties = compare.win_tie_loss([("a", "r", 0), ("b", "r", 0)], bootstrap=SMALL)
    assert (ties.tie.value, ties.tie.ci, ties.win.value) == (1.0, (1.0, 1.0), 0.0)
    empty = as_json(compare.win_tie_loss([], bootstrap=SMALL))
    assert empty["reason"] == "no ratings"
    assert empty["win"]["value"] is None


# --- Bradley-Terry --------------------------------------------------------------------------------


def bt_wins(comparisons, sources, pseudo_wins) -> np.ndarray:
    """The win matrix straight from the comparisons, a tie half to each side."""
    at = {source: k for k, source in enumerate(sources)}
    wins = pseudo_wins * (1 - np.eye(len(sources)))
    for _, first, second, outcome in comparisons:
        wins[at[first], at[second]] += (outcome + 1) / 2
        wins[at[second], at[first]] += (1 - outcome) / 2
    return wins


def direct_fit(wins: np.ndarray) -> np.ndarray:
    """Bradley-Terry by minimising the negative log-likelihood with BFGS, centred."""

    def loss(free):
        beta = np.r_[0.0, free]
        return -(wins * special.log_expit(beta[:, None] - beta[None, :])).sum()

    def gradient(free):
        beta = np.r_[0.0, free]
        lost = wins * special.expit(beta[None, :] - beta[:, None])  # W_ij P(j beats i)
        return -(lost.sum(axis=1) - lost.sum(axis=0))[1:]

    start = np.zeros(len(wins) - 1)
    fit = optimize.minimize(loss, start, jac=gradient, method="BFGS", options={"gtol": 1e-11})
    beta = np.r_[0.0, fit.x]
    return beta - beta.mean()


def test_bradley_terry_balanced_cycle_gives_equal_strengths():
    comparisons = [("1", "A", "B", 1), ("2", "B", "C", 1), ("3", "C", "A", 1), ("4", "A", "C", 0)]
    result = compare.bradley_terry(comparisons, bootstrap=NONE, pseudo_wins=0)
    assert [s.source for s in result.sources] == ["A", "B", "C"]
    for source in result.sources:
        assert source.log_strength.value == pytest.approx(0, abs=1e-9)
        assert source.beats_average.value == pytest.approx(0.5)
    assert [s.wins for s in result.sources] == [1.5, 1.0, 1.5]
    assert [s.comparisons for s in result.sources] == [3, 2, 3]
    assert result.n_comparisons == 4


def test_bradley_terry_hand_example_with_a_closed_form():
    # A beats B and C each 2 of 3 times, B and C split 2 games: by symmetry B = C, and
    # A's score equation 4 = 6 p/(p + q) gives p/q = 2, so log-strengths ln2 * (2/3, -1/3, -1/3).
    comparisons = [(f"a{k}", "A", other, 1 if k < 2 else -1) for k in range(3) for other in "BC"]
    comparisons += [("b1", "B", "C", 1), ("b2", "B", "C", -1)]
    result = compare.bradley_terry(comparisons, bootstrap=NONE, pseudo_wins=0)
    values = [s.log_strength.value for s in result.sources]
    assert values == pytest.approx(np.log(2) * np.array([2 / 3, -1 / 3, -1 / 3]), abs=1e-9)
    assert result.sources[0].beats_average.value == pytest.approx(special.expit(values[0]))


@st.composite
def comparisons(draw, sources="ABCDE"):
    n_sources = draw(st.integers(3, len(sources)))
    names = sources[:n_sources]
    n = draw(st.integers(n_sources, 40))
    rows = []
    for k in range(n):
        first, second = draw(st.permutations(names))[:2]
        rows.append((f"case{k // 2}", first, second, draw(st.sampled_from([1, 0, -1]))))
    return rows


@HYPOTHESIS
@given(rows=comparisons(), pseudo_wins=st.sampled_from([0.0, 0.5, 2.0]))
def test_bradley_terry_matches_a_direct_optimiser(rows, pseudo_wins):
    result = compare.bradley_terry(rows, bootstrap=NONE, pseudo_wins=pseudo_wins)
    sources = [s.source for s in result.sources]
    if len(sources) < 3:
        assert result.reason.startswith("Bradley-Terry needs three or more sources")
        return
    wins = bt_wins(rows, sources, pseudo_wins)
    strongly_connected = all(
        wins[np.ix_(group, [k for k in range(len(sources)) if k not in group])].sum() > 0
        for size in range(1, len(sources))
        for group in map(list, itertools.combinations(range(len(sources)), size))
    )
    if not strongly_connected:
        assert pseudo_wins == 0
        assert "infinite" in result.reason
        assert all(s.log_strength.value is None for s in result.sources)
        return
    expected = direct_fit(wins)
    values = np.array([s.log_strength.value for s in result.sources])
    assert values == pytest.approx(expected, abs=1e-6)
    assert values.sum() == pytest.approx(0, abs=1e-9)


def test_bradley_terry_interval_holds_the_estimate_and_repeats_with_the_seed():
    rng = np.random.default_rng(5)
    rows = [
        (f"c{k}", *rng.choice(list("ABCD"), 2, replace=False), int(rng.choice([1, 1, 0, -1])))
        for k in range(120)
    ]
    result = compare.bradley_terry(rows, bootstrap=SMALL)
    again = compare.bradley_terry(rows, bootstrap=SMALL)
    other = compare.bradley_terry(rows, bootstrap=Bootstrap(resamples=200, seed=4))
    for source, same, different in zip(result.sources, again.sources, other.sources, strict=True):
        low, high = source.log_strength.ci
        assert low < source.log_strength.value < high
        assert same.log_strength.ci == source.log_strength.ci
        assert different.log_strength.ci != source.log_strength.ci
        assert source.beats_average.ci == pytest.approx(special.expit([low, high]), abs=0.02)
        assert source.log_strength.resamples_used == 200
    data = as_json(result)
    assert data["pseudo_wins"] == 0.5
    assert "Hunter's (2004) MM algorithm" in data["method"]


def test_bradley_terry_resamples_cases_with_all_their_comparisons():
    rows = [("c1", "A", "B", 1), ("c1", "B", "C", 1), ("c2", "C", "A", 1), ("c2", "A", "B", 0)]
    rows += [("c3", "A", "C", 1), ("c4", "B", "C", -1), ("c5", "B", "A", 1)]
    result = compare.bradley_terry(rows, bootstrap=SMALL)
    cases = by_case(rows)
    fits = [
        direct_fit(bt_wins([row for k in drawn for row in cases[k]], "ABC", 0.5))
        for drawn in drawn_cases(len(cases), SMALL)
    ]
    expected = percentile_ci([fit[0] for fit in fits])
    assert result.sources[0].log_strength.ci == pytest.approx(expected, abs=1e-6)


def test_bradley_terry_with_a_source_that_never_loses():
    rows = [(f"a{k}", "A", other, 1) for k, other in enumerate("BCBC")]
    rows += [("b1", "B", "C", 1), ("b2", "C", "B", 1)]
    plain = compare.bradley_terry(rows, bootstrap=SMALL, pseudo_wins=0)
    assert plain.reason == (
        "the maximum-likelihood strengths are infinite (A never lost); use pseudo-wins"
    )
    assert all(as_json(s)["log_strength"]["value"] is None for s in plain.sources)
    shrunk = compare.bradley_terry(rows, bootstrap=SMALL)
    strengths = [s.log_strength.value for s in shrunk.sources]
    assert strengths[0] > 1
    assert strengths[1] == pytest.approx(strengths[2])
    assert shrunk.sources[0].log_strength.ci[1] < 10  # finite in every resample
    as_json(shrunk)


def test_bradley_terry_without_pseudo_wins_drops_resamples_with_infinite_strengths():
    rows = [("c1", "A", "B", 1), ("c2", "B", "C", 1), ("c3", "C", "A", 1), ("c4", "A", "B", 1)]
    rows += [("c5", "B", "A", 1), ("c6", "C", "B", 0)]
    result = compare.bradley_terry(rows, bootstrap=SMALL, pseudo_wins=0)
    strength = result.sources[0].log_strength
    assert strength.value == pytest.approx(direct_fit(bt_wins(rows, "ABC", 0))[0], abs=1e-6)
    # A resample without c3 and c5, where A lost, has no finite fit, and is left out.
    assert 0 < strength.resamples_used < 200
    assert strength.ci[0] < strength.value < strength.ci[1]


def test_bradley_terry_needs_three_sources_and_valid_outcomes():
    two = compare.bradley_terry([("a", "A", "B", 1), ("b", "B", "A", 0)], bootstrap=SMALL)
    assert two.reason.startswith("Bradley-Terry needs three or more sources")
    assert [s.log_strength.value for s in two.sources] == [None, None]
    empty = as_json(compare.bradley_terry([], bootstrap=SMALL))
    assert (empty["sources"], empty["n_comparisons"]) == ([], 0)
    with pytest.raises(DataError, match="outcome 1, 0 or -1"):
        compare.bradley_terry([("a", "A", "B", 2)], bootstrap=SMALL)
    with pytest.raises(DataError, match="two sources"):
        compare.bradley_terry([("a", "A", "A", 1)], bootstrap=SMALL)


# --- criteria_points ------------------------------------------------------------------------------


def test_criteria_points_hand_example_clips_the_mean_as_healthbench_does():
    rows = [("a", "r", 5, 10), ("a", "s", -2, 10), ("b", "r", 8, 8)]
    result = compare.criteria_points(rows, bootstrap=SMALL)
    assert (result.earned, result.possible) == (11, 28)
    assert result.points_ratio.value == pytest.approx(11 / 28)
    assert result.score.value == pytest.approx((0.5 - 0.2 + 1.0) / 3)
    # HealthBench clips the mean, not each rating: (-0.5 + 1) / 2, where clipping each
    # rating first would give 0.5.
    mixed = compare.criteria_points([("a", "r", -5, 10), ("b", "r", 10, 10)], bootstrap=NONE)
    assert mixed.score.value == pytest.approx(0.25)
    negative = compare.criteria_points([("a", "r", -5, 10), ("b", "r", 1, 10)], bootstrap=SMALL)
    assert (negative.score.value, negative.points_ratio.value) == (0.0, -0.2)
    assert negative.score.ci[0] == 0.0


def test_criteria_points_interval_resamples_cases():
    rows = [("a", "r", 5, 10), ("a", "s", 7, 10), ("b", "r", 8, 8), ("c", "r", 1, 4)]
    rows += [("d", "r", 0, 6), ("d", "s", 3, 6)]
    result = compare.criteria_points(rows, bootstrap=SMALL)
    cases = by_case(rows)
    scores = []
    for drawn in drawn_cases(len(cases), SMALL):
        ratio = [row[2] / row[3] for k in drawn for row in cases[k]]
        scores.append(np.clip(np.mean(ratio), 0, 1))
    assert result.score.ci == pytest.approx(percentile_ci(scores))
    assert result.score.ci[0] <= result.score.value <= result.score.ci[1]


def test_criteria_points_refuses_nothing_possible_and_reports_no_ratings():
    with pytest.raises(DataError, match="positive points possible") as error:
        compare.criteria_points([("a", "r", 1, 2), ("b", "r", 0, 0)], bootstrap=NONE)
    assert error.value.index == 1
    empty = as_json(compare.criteria_points([], bootstrap=SMALL))
    assert (empty["reason"], empty["score"]["value"]) == ("no ratings", None)


# --- correlation ----------------------------------------------------------------------------------


def test_correlation_hand_example():
    rows = [
        (f"c{k}", x, y)
        for k, (x, y) in enumerate(zip([1, 2, 3, 4, 5], [2, 1, 4, 3, 5], strict=True))
    ]
    result = compare.correlation(rows, bootstrap=NONE)
    assert result.spearman.value == pytest.approx(0.8)  # 1 - 6 * 4 / (5 * 24)
    assert result.kendall.value == pytest.approx(0.6)  # (8 - 2) / 10
    assert result.kendall_p == pytest.approx(
        stats.kendalltau([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]).pvalue
    )
    assert result.kendall_p_method == "two-sided, exact null distribution"
    half_width = 1.959963984540054 * math.sqrt((1 + 0.8**2 / 2) / 2)
    expected = (math.tanh(math.atanh(0.8) - half_width), math.tanh(math.atanh(0.8) + half_width))
    assert result.fisher_z_ci == pytest.approx(expected)
    assert result.fisher_z_method.startswith("Fisher z interval with the Bonett-Wright (2000)")


@HYPOTHESIS
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 9), st.integers(0, 6), st.sampled_from([1, 1.5, 2, 3, 4, 5])),
        min_size=3,
        max_size=40,
    )
)
def test_correlation_matches_scipy_with_ties(rows):
    rows = [(f"case{case}", metric, score) for case, metric, score in rows]
    result = compare.correlation(rows, bootstrap=NONE)
    metric, score = [row[1] for row in rows], [row[2] for row in rows]
    if len(set(metric)) == 1 or len(set(score)) == 1:
        assert result.spearman.value is None
        assert "never varies" in result.reason
        return
    rho, tau = stats.spearmanr(metric, score), stats.kendalltau(metric, score)
    assert result.spearman.value == pytest.approx(rho.statistic, abs=1e-9)
    assert result.spearman_p == pytest.approx(rho.pvalue, rel=1e-6, abs=1e-12)
    assert result.kendall.value == pytest.approx(tau.statistic, abs=1e-9)
    assert result.kendall_p == pytest.approx(tau.pvalue, rel=1e-6, abs=1e-12)


def test_correlation_intervals_resample_cases_with_all_their_outputs():
    rng = np.random.default_rng(2)
    metric = rng.normal(size=24)
    score = np.round(metric + rng.normal(size=24))  # ties, as reader scores have
    rows = [
        (f"c{k // 2}", float(m), float(s))
        for k, (m, s) in enumerate(zip(metric, score, strict=True))
    ]
    result = compare.correlation(rows, bootstrap=SMALL)
    cases = by_case(rows)
    rhos, taus = [], []
    for drawn in drawn_cases(len(cases), SMALL):
        sample = np.array([row[1:] for k in drawn for row in cases[k]])
        rhos.append(stats.spearmanr(sample[:, 0], sample[:, 1]).statistic)
        taus.append(stats.kendalltau(sample[:, 0], sample[:, 1]).statistic)
    assert result.spearman.ci == pytest.approx(percentile_ci(rhos), abs=1e-9)
    assert result.kendall.ci == pytest.approx(percentile_ci(taus), abs=1e-9)
    assert (result.n_outputs, result.n_cases) == (24, 12)
    assert result.spearman.ci[0] < result.spearman.value < result.spearman.ci[1]


def test_correlation_edge_cases_give_reasons():
    two = as_json(compare.correlation([("a", 1, 2), ("b", 2, 3)], bootstrap=SMALL))
    assert two["reason"] == "a correlation needs three or more outputs"
    assert (two["spearman"]["value"], two["kendall"]["value"]) == (None, None)
    flat = compare.correlation([("a", 1, 2), ("b", 2, 2), ("c", 3, 2)], bootstrap=SMALL)
    assert flat.reason == "the reader score never varies"
    perfect = compare.correlation([(k, k, 2 * k) for k in range(6)], bootstrap=SMALL)
    assert (perfect.spearman.value, perfect.fisher_z_ci) == (1, None)
    assert perfect.fisher_z_method.endswith("rho is +1 or -1, where z is infinite")
    as_json(perfect)
    three = compare.correlation([("a", 1, 2), ("b", 2, 1), ("c", 3, 3)], bootstrap=SMALL)
    assert three.fisher_z_ci is None
    assert three.fisher_z_method.endswith("needs four or more outputs")
