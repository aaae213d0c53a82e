"""Statistics of assisted reading (annotation.core.reading.statistics), each against an
independent computation: McNemar against statsmodels, helped and harmed against counts by hand
and their bootstrap against resampling read by read, the MRMC analysis of accuracy per arm
against the Obuchowski-Rockette-Hillis formulas written out on Van Dyke's readers (their
ratings turned into right or wrong), times against Python's statistics module, and the
experience interaction against Welch's formulas, with its coverage measured by simulation."""

import csv
import itertools
import math
import statistics as pystats
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.proportion import proportion_confint

from annotation.core.reading import statistics as s
from annotation.core.reading.allocation import UNASSISTED
from annotation.core.stats.data import DataError
from annotation.core.stats.names import FIXED_CASES, FIXED_READERS, RANDOM_BOTH

VANDYKE = Path(__file__).parent / "data" / "vandyke.csv"


def read(reader, case, arm, right, seconds=None, rank=None) -> s.Read:
    return s.Read(reader, case, arm, bool(right), seconds, rank)


def pairs_from(table: list[tuple[str, str, int, int]]) -> list[s.Pair]:
    return [s.Pair(r, c, bool(a), bool(b)) for r, c, a, b in table]


# --- accuracy per arm ------------------------------------------------------------------------


def test_accuracy_by_arm_counts_reads():
    reads = [
        read("R1", "c1", UNASSISTED, 1),
        read("R1", "c2", UNASSISTED, 0),
        read("R2", "c1", UNASSISTED, 0),
        read("R1", "c1", "llm", 1),
        read("R1", "c2", "llm", 1),
    ]
    result = s.accuracy_by_arm(reads)
    assert result == (s.ArmAccuracy(UNASSISTED, 3, 1, 1 / 3), s.ArmAccuracy("llm", 2, 2, 1.0))


def test_top_j_accuracy_uses_the_rank_of_the_first_right_entry():
    reads = [
        read("R1", "c1", "llm", 1, rank=1),
        read("R1", "c2", "llm", 1, rank=4),
        read("R1", "c3", "llm", 0, rank=None),
        read("R1", "c4", "llm", 1, rank=10),
    ]
    by_top = {top: s.accuracy_by_arm(reads, top=top)[0].right for top in (1, 3, 5, 10)}
    assert by_top == {1: 1, 3: 1, 5: 2, 10: 3}


def test_a_read_rank_must_be_that_of_a_right_answer():
    with pytest.raises(DataError, match="first right entry"):
        read("R1", "c1", "llm", 0, rank=2)
    with pytest.raises(DataError, match="first right entry"):
        read("R1", "c1", "llm", 1, rank=0)
    with pytest.raises(DataError, match="needs ranked answers"):
        s.accuracy_by_arm([read("R1", "c1", "llm", 1)], top=3)


# --- McNemar ---------------------------------------------------------------------------------


def table(both_right: int, harmed: int, helped: int, both_wrong: int) -> list[s.Pair]:
    cells = [(1, 1)] * both_right + [(1, 0)] * harmed + [(0, 1)] * helped + [(0, 0)] * both_wrong
    return [s.Pair(f"R{n % 3}", f"c{n}", bool(a), bool(b)) for n, (a, b) in enumerate(cells)]


@pytest.mark.parametrize(
    ("both_right", "harmed", "helped", "both_wrong"),
    [(10, 3, 12, 5), (40, 1, 0, 7), (0, 9, 2, 0), (100, 25, 40, 35), (5, 0, 7, 1), (3, 6, 5, 2)],
)
def test_mcnemar_matches_statsmodels(both_right, harmed, helped, both_wrong):
    result = s.mcnemar(table(both_right, harmed, helped, both_wrong))
    assert (result.both_right, result.harmed, result.helped, result.both_wrong) == (
        both_right,
        harmed,
        helped,
        both_wrong,
    )
    assert result.n_pairs == both_right + harmed + helped + both_wrong
    square = [[both_right, harmed], [helped, both_wrong]]
    exact = sm_mcnemar(square, exact=True)
    chi2 = sm_mcnemar(square, exact=False, correction=True)
    assert result.exact_p == pytest.approx(exact.pvalue, rel=1e-12)
    assert result.chi2 == pytest.approx(chi2.statistic, rel=1e-12)
    assert result.chi2_p == pytest.approx(chi2.pvalue, rel=1e-12)


@pytest.mark.parametrize(("harmed", "helped"), [(3, 12), (9, 2), (25, 40), (1, 1)])
def test_mcnemar_odds_ratio_interval_matches_statsmodels_clopper_pearson(harmed, helped):
    result = s.mcnemar(table(5, harmed, helped, 5))
    assert result.odds_ratio == pytest.approx(helped / harmed)
    low, high = proportion_confint(helped, helped + harmed, alpha=0.05, method="beta")
    interval = result.odds_ratio_ci
    assert interval.low == pytest.approx(low / (1 - low), rel=1e-9)
    assert interval.high == pytest.approx(high / (1 - high), rel=1e-9)
    assert interval.low < result.odds_ratio < interval.high
    assert interval.question == s.PAIRS


def test_mcnemar_odds_ratio_with_nothing_harmed_is_unbounded():
    result = s.mcnemar(table(5, 0, 6, 5))
    assert result.odds_ratio is None
    low, _ = proportion_confint(6, 6, alpha=0.05, method="beta")
    assert result.odds_ratio_ci.low == pytest.approx(low / (1 - low))
    assert result.odds_ratio_ci.high is None


def test_mcnemar_with_equal_discordant_counts_by_hand():
    """b = c: no evidence of a change. The corrected statistic is 0 (statsmodels would give
    1 / (b + c) here, its correction overshooting), both p-values 1."""
    result = s.mcnemar(table(8, 4, 4, 2))
    assert (result.chi2, result.chi2_p, result.exact_p) == (0.0, 1.0, 1.0)


def test_mcnemar_by_hand_small_table():
    # b = 1, c = 6: exact two-sided p = 2 * P(X <= 1), X ~ Bin(7, 1/2) = 2 * 8 / 128.
    result = s.mcnemar(table(3, 1, 6, 2))
    assert result.exact_p == pytest.approx(16 / 128)
    assert result.chi2 == pytest.approx((6 - 1 - 1) ** 2 / 7)


def test_mcnemar_without_discordant_pairs_says_why():
    assert s.mcnemar(table(5, 0, 0, 3)).reason == "no discordant pairs"
    assert s.mcnemar([]).reason == "no pairs"
    assert s.mcnemar([]).exact_p is None


def test_pairs_join_the_same_reader_and_case_across_arms():
    reads = [
        read("R1", "c1", UNASSISTED, 0),
        read("R1", "c1", "llm", 1),
        read("R1", "c2", UNASSISTED, 1),  # no assisted read: not a pair
        read("R2", "c1", "llm", 0),
        read("R2", "c1", UNASSISTED, 1),
        read("R2", "c1", "search", 1),  # another arm: not in this comparison
    ]
    assert s.pairs(reads, second="llm") == [
        s.Pair("R1", "c1", False, True),
        s.Pair("R2", "c1", True, False),
    ]
    with pytest.raises(DataError, match="twice"):
        s.pairs([*reads, read("R1", "c1", "llm", 0)], second="llm")
    with pytest.raises(DataError, match="two different arms"):
        s.pairs(reads, second=UNASSISTED)


# --- helped and harmed -----------------------------------------------------------------------


def test_changes_counts_and_rates_by_hand():
    paired = table(10, 3, 12, 5)  # 30 pairs; 13 right unassisted, 17 wrong
    result = s.changes(paired, resamples=200, seed=1)
    assert result.n_pairs == 30
    got = {r.name: (r.count, r.of, r.value) for r in result.rates}
    assert got == {
        "helped": (12, 30, 12 / 30),
        "harmed": (3, 30, 3 / 30),
        "helped_of_wrong": (12, 17, 12 / 17),
        "harmed_of_right": (3, 13, 3 / 13),
    }
    for rate in result.rates:
        assert [i.question for i in rate.intervals] == [FIXED_READERS, RANDOM_BOTH]
        for interval in rate.intervals:
            assert interval.low <= rate.value <= interval.high


def crossed_pairs(seed: int, n_readers: int = 6, n_cases: int = 40) -> list[s.Pair]:
    """Readers who differ in how often they are right, and in how much assistance helps."""
    rng = np.random.default_rng(seed)
    skill = rng.uniform(0.3, 0.7, n_readers)
    lift = rng.uniform(0.0, 0.3, n_readers)
    out = []
    for r, c in itertools.product(range(n_readers), range(n_cases)):
        first = rng.random() < skill[r]
        second = first or rng.random() < lift[r] / (1 - skill[r])
        if first and rng.random() < 0.05:
            second = False
        out.append(s.Pair(f"R{r}", f"c{c}", bool(first), bool(second)))
    return out


def test_changes_interval_over_cases_equals_resampling_read_by_read():
    """The same seeded case draws, applied by listing the drawn cases' pairs one by one."""
    paired = crossed_pairs(3)
    result = s.changes(paired, resamples=300, seed=9)
    cases = list(dict.fromkeys(p.case for p in paired))
    counts = np.random.default_rng(9).multinomial(
        len(cases), np.full(len(cases), 1 / len(cases)), size=300
    )
    draws = []
    for row in counts:
        drawn = [
            p
            for k, case in enumerate(cases)
            for p in paired
            if p.case == case
            for _ in range(row[k])
        ]
        wrong = [p for p in drawn if not p.first]
        draws.append(sum(p.second for p in wrong) / len(wrong))
    low, high = np.percentile(draws, [2.5, 97.5])
    interval = result.rate("helped_of_wrong").intervals[0]
    assert interval.question == FIXED_READERS
    assert (interval.low, interval.high) == pytest.approx((low, high), rel=1e-12)


def test_changes_intervals_agree_with_an_independent_bootstrap_in_distribution():
    """A bootstrap by index (readers and cases drawn with rng.integers) gives endpoints close
    to the weighted one: the two differ only in their random draws."""
    paired = crossed_pairs(4, n_readers=8, n_cases=60)
    result = s.changes(paired, resamples=4000, seed=2)
    readers = sorted({p.reader for p in paired})
    cases = sorted({p.case for p in paired})
    cell = {(p.reader, p.case): p for p in paired}
    rng = np.random.default_rng(77)
    draws = []
    for _ in range(1500):
        rs = rng.integers(0, len(readers), len(readers))
        cs = rng.integers(0, len(cases), len(cases))
        drawn = [cell[(readers[i], cases[j])] for i in rs for j in cs]
        draws.append(sum(p.second and not p.first for p in drawn) / len(drawn))
    low, high = np.percentile(draws, [2.5, 97.5])
    both = result.rate("helped").intervals[1]
    assert both.question == RANDOM_BOTH
    assert both.low == pytest.approx(low, abs=0.015)
    assert both.high == pytest.approx(high, abs=0.015)
    # Readers differ in their lift, so also drawing readers widens the interval.
    cases_only = result.rate("helped").intervals[0]
    assert both.high - both.low > cases_only.high - cases_only.low


def helped_study(rng, readers: np.ndarray, n_cases: int) -> list[s.Pair]:
    """Pairs in which reader r is helped on case c with probability expit(-1.5 + r's effect
    + c's), and otherwise right both times."""
    cases = rng.normal(0, 1.0, n_cases)
    helped = rng.random((len(readers), n_cases)) < expit(-1.5 + readers[:, None] + cases)
    return [
        s.Pair(f"R{r}", f"c{c}", not helped[r, c], True)
        for r, c in itertools.product(range(len(readers)), range(n_cases))
    ]


def test_changes_interval_coverage_by_simulation():
    """200 simulated studies of 8 readers and 40 cases. Cases resampled: covers the helped
    rate of these readers (drawn once) over all cases. Readers and cases resampled: covers the
    rate over all readers and cases (readers drawn anew). Each in 0.91 to 0.99 of the studies
    (0.95 give or take three standard errors; the second errs wide by construction)."""
    rng = np.random.default_rng(11)
    population = rng.normal(0, 0.6, 1_000_000) + rng.normal(0, 1.0, 1_000_000)
    everyone = expit(-1.5 + population).mean()
    these = rng.normal(0, 0.6, 8)
    case_draws = rng.normal(0, 1.0, 200_000)
    these_truth = np.mean([expit(-1.5 + u + case_draws).mean() for u in these])
    covered = {FIXED_READERS: 0, RANDOM_BOTH: 0}
    for rep in range(200):
        fixed = s.changes(helped_study(rng, these, 40), resamples=400, seed=rep)
        interval = fixed.rate("helped").intervals[0]
        covered[FIXED_READERS] += interval.low <= these_truth <= interval.high
        drawn = s.changes(helped_study(rng, rng.normal(0, 0.6, 8), 40), resamples=400, seed=rep)
        interval = drawn.rate("helped").intervals[1]
        covered[RANDOM_BOTH] += interval.low <= everyone <= interval.high
    assert 0.91 <= covered[FIXED_READERS] / 200 <= 0.99
    assert 0.91 <= covered[RANDOM_BOTH] / 200 <= 0.99


def test_changes_are_seeded():
    paired = crossed_pairs(5)
    assert s.changes(paired, resamples=100, seed=4) == s.changes(paired, resamples=100, seed=4)
    assert s.changes(paired, resamples=100, seed=4) != s.changes(paired, resamples=100, seed=5)


def test_a_rate_without_a_denominator_has_no_value_and_says_so():
    result = s.changes(table(6, 0, 0, 0), resamples=50, seed=0)  # every unassisted read right
    rate = result.rate("helped_of_wrong")
    assert (rate.count, rate.of, rate.value) == (0, 0, None)
    assert rate.intervals[0].undefined == 50
    assert rate.intervals[0].low is None
    with pytest.raises(DataError, match="no paired reads"):
        s.changes([])


# --- MRMC on accuracy per arm ----------------------------------------------------------------


def vandyke_reads() -> list[s.Read]:
    """Van Dyke's 5 readers x 114 cases x 2 modalities, a rating of 3 or more read as calling
    the disease present: right when that agrees with the truth."""
    with VANDYKE.open() as handle:
        records = list(csv.DictReader(handle))
    return [
        read(r["reader"], r["case"], r["modality"], (int(r["rating"]) >= 3) == (r["truth"] == "1"))
        for r in records
    ]


def hand_or(values: np.ndarray, level: float = 0.95) -> dict:
    """The Obuchowski-Rockette-Hillis analysis of proportions written out: values[t, r, k] are
    0/1. For a mean, the jackknife covariance of two figures over cases is the sample covariance
    of their per-case values (divisor K - 1) over K."""
    n_t, n_r, n_k = values.shape
    theta = values.mean(axis=2)
    flat = values.reshape(n_t * n_r, n_k)
    cov = np.cov(flat) / n_k
    var = cov1 = cov2 = cov3 = 0.0
    n1 = n2 = n3 = 0
    for (t, r), (u, q) in itertools.product(itertools.product(range(n_t), range(n_r)), repeat=2):
        c = cov[t * n_r + r, u * n_r + q]
        if t == u and r == q:
            var += c / (n_t * n_r)
        elif r == q:
            cov1, n1 = cov1 + c, n1 + 1
        elif t == u:
            cov2, n2 = cov2 + c, n2 + 1
        else:
            cov3, n3 = cov3 + c, n3 + 1
    cov1, cov2, cov3 = cov1 / n1, cov2 / n2, cov3 / n3
    grand = theta.mean()
    ms_t = n_r * ((theta.mean(axis=1) - grand) ** 2).sum() / (n_t - 1)
    resid = theta - theta.mean(axis=1, keepdims=True) - theta.mean(axis=0, keepdims=True) + grand
    ms_tr = (resid**2).sum() / ((n_t - 1) * (n_r - 1))
    denominator = ms_tr + n_r * max(cov2 - cov3, 0)
    ddf = denominator**2 / (ms_tr**2 / ((n_t - 1) * (n_r - 1)))
    f = ms_t / denominator
    difference = theta[0].mean() - theta[1].mean()
    se = math.sqrt(2 * denominator / n_r)
    half = stats.t.ppf((1 + level) / 2, ddf) * se
    return {
        "theta": theta,
        "parts": (var, cov1, cov2, cov3, ms_t, ms_tr),
        "f": f,
        "ddf": ddf,
        "p": stats.f.sf(f, n_t - 1, ddf),
        "ci": (difference - half, difference + half),
        "difference": difference,
        "fixed_readers_chi2": (n_t - 1) * ms_t / (var - cov1 + (n_r - 1) * max(cov2 - cov3, 0)),
    }


def test_mrmc_by_arm_on_van_dyke_accuracy_matches_the_formulas_written_out():
    reads = vandyke_reads()
    result = s.mrmc_by_arm(reads, arms=["T0", "T1"])
    readers = sorted({r.reader for r in reads})
    cases = sorted({r.case for r in reads})
    values = np.zeros((2, len(readers), len(cases)))
    for r in reads:
        values[["T0", "T1"].index(r.arm), readers.index(r.reader), cases.index(r.case)] = r.right
    expected = hand_or(values)
    assert result.figure == "proportion"
    assert result.modalities == ("T0", "T1")
    assert np.allclose(result.figures, expected["theta"])
    c = result.components
    assert (c.var, c.cov1, c.cov2, c.cov3, c.ms_t, c.ms_tr) == pytest.approx(expected["parts"])
    random_both = next(a for a in result.analyses if a.question == RANDOM_BOTH)
    assert random_both.test.value == pytest.approx(expected["f"])
    assert random_both.test.df2 == pytest.approx(expected["ddf"])
    assert random_both.test.p == pytest.approx(expected["p"])
    (difference,) = random_both.differences
    assert (difference.first, difference.second) == ("T0", "T1")
    assert difference.estimate == pytest.approx(expected["difference"])
    assert difference.ci == pytest.approx(expected["ci"])
    fixed = next(a for a in result.analyses if a.question == FIXED_READERS)
    assert fixed.test.value == pytest.approx(expected["fixed_readers_chi2"])
    assert {a.question for a in result.analyses} == {RANDOM_BOTH, FIXED_READERS, FIXED_CASES}


def test_mrmc_by_arm_orders_arms_as_asked_and_uses_top_j():
    reads = []
    for r, c in itertools.product(range(3), range(6)):
        # Unassisted: right on c0 and c1 at rank 1, and R1 on c2 at rank 2.
        right = c < 2 + r % 2
        rank = 1 if c < 2 else 2 if right else None
        reads.append(read(f"R{r}", f"c{c}", UNASSISTED, right, rank=rank))
        reads.append(read(f"R{r}", f"c{c}", "llm", c < 4, rank=(c % 3) + 1 if c < 4 else None))
    result = s.mrmc_by_arm(reads, arms=["llm", UNASSISTED])
    assert result.modalities == ("llm", UNASSISTED)
    assert np.allclose(result.figures[0], 4 / 6)
    top1 = s.mrmc_by_arm(reads, arms=["llm", UNASSISTED], top=1)
    assert np.allclose(top1.figures[0], 2 / 6)  # c0 and c3 are right at rank 1
    assert np.allclose(top1.figures[1], 2 / 6)


def test_mrmc_by_arm_needs_every_reader_on_every_case_in_every_arm():
    reads = [read("R1", "c1", UNASSISTED, 1), read("R1", "c2", UNASSISTED, 0)]
    reads += [read("R2", "c1", UNASSISTED, 1), read("R1", "c1", "llm", 1)]
    with pytest.raises(DataError, match="not fully crossed"):
        s.mrmc_by_arm(reads, arms=[UNASSISTED, "llm"])
    with pytest.raises(DataError, match=r"none in \['search'\]"):
        s.mrmc_by_arm(reads, arms=[UNASSISTED, "search"])
    with pytest.raises(DataError, match="two or more arms"):
        s.mrmc_by_arm(reads, arms=[UNASSISTED])


# --- time per case ---------------------------------------------------------------------------


def test_time_by_arm_median_and_quartiles_match_python_statistics():
    times = {UNASSISTED: [30.0, 45.0, 61.0, 80.0, 95.5, 120.0], "llm": [50.0, 52.0, 90.0, 200.0]}
    reads = [read("R1", f"c{n}", arm, 1, t) for arm, ts in times.items() for n, t in enumerate(ts)]
    reads.append(read("R2", "c0", "llm", 1, None))
    result = {t.arm: t for t in s.time_by_arm(reads)}
    for arm, ts in times.items():
        q1, median, q3 = pystats.quantiles(ts, n=4, method="inclusive")
        got = result[arm]
        assert (got.median, got.q1, got.q3) == pytest.approx((median, q1, q3))
        assert got.timed == len(ts)
    assert result["llm"].reads == 5
    assert s.time_by_arm([read("R1", "c1", "x", 1)])[0].median is None


# --- arm x experience ------------------------------------------------------------------------

GROUPS = ("resident", "attending")


def simulated_groups(rng, *, shift: dict, n_readers: int, n_cases: int):
    """Readers and cases with random logit effects; assistance adds `shift[group]` to the
    logit. Returns the pairs, the groups, and the true interaction over the populations of
    readers and cases (by Monte Carlo over a million draws)."""
    cases = rng.normal(0, 1.0, n_cases)
    paired, groups = [], {}
    for group in GROUPS:
        for r in range(n_readers):
            reader = f"{group}{r}"
            groups[reader] = group
            skill = rng.normal(0, 0.5)
            first = rng.random(n_cases) < expit(skill + cases)
            second = rng.random(n_cases) < expit(skill + shift[group] + cases)
            paired += [
                s.Pair(reader, f"c{c}", bool(first[c]), bool(second[c])) for c in range(n_cases)
            ]
    return paired, groups


def true_interaction(shift: dict) -> float:
    draws = np.random.default_rng(0)
    logit = draws.normal(0, 0.5, 1_000_000) + draws.normal(0, 1.0, 1_000_000)
    gain = {g: (expit(logit + shift[g]) - expit(logit)).mean() for g in GROUPS}
    return gain["resident"] - gain["attending"]


def test_interaction_by_hand_welch():
    paired = pairs_from(
        [
            ("A1", "c1", 0, 1),
            ("A1", "c2", 1, 1),
            ("A2", "c1", 0, 1),
            ("A2", "c2", 0, 1),
            ("A3", "c1", 1, 1),
            ("A3", "c2", 0, 0),
            ("B1", "c1", 1, 1),
            ("B1", "c2", 1, 0),
            ("B2", "c1", 0, 0),
            ("B2", "c2", 0, 1),
            ("B2", "c3", 0, 1),
            ("B2", "c4", 1, 1),
        ]
    )
    groups = {"A1": "resident", "A2": "resident", "A3": "resident"}
    groups |= {"B1": "attending", "B2": "attending"}
    result = s.experience_interaction(paired, groups=groups, order=GROUPS)
    # Reader gains: A 1/2, 1, 0; B -1/2, 1/2 (B2 over its 4 pairs): reader means, not pooled.
    a, b = [0.5, 1.0, 0.0], [-0.5, 0.5]
    assert result.first == s.GroupGain("resident", 3, 6, 0.5, pystats.stdev(a))
    assert result.second == s.GroupGain("attending", 2, 6, 0.0, pystats.stdev(b))
    assert result.difference == pytest.approx(0.5)
    va, vb = pystats.variance(a) / 3, pystats.variance(b) / 2
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 1)
    assert (result.se, result.df) == pytest.approx((se, df))
    half = stats.t.ppf(0.975, df) * se
    assert (result.interval.low, result.interval.high) == pytest.approx((0.5 - half, 0.5 + half))
    assert result.p == pytest.approx(2 * stats.t.sf(0.5 / se, df))
    assert result.interval.question == RANDOM_BOTH
    scipy_welch = stats.ttest_ind(a, b, equal_var=False)
    assert result.p == pytest.approx(scipy_welch.pvalue)


def test_interaction_interval_coverage_by_simulation():
    """Over 400 simulated studies (6 readers per group, 40 cases, readers and cases drawn
    anew), the 95% interval covers the true interaction in 0.92 to 0.98 of them (at 0.95,
    three standard errors of a proportion over 400 either side)."""
    shift = {"resident": 1.0, "attending": 0.4}
    truth = true_interaction(shift)
    rng = np.random.default_rng(2026)
    covered = 0
    for _ in range(400):
        paired, groups = simulated_groups(rng, shift=shift, n_readers=6, n_cases=40)
        interval = s.experience_interaction(paired, groups=groups, order=GROUPS).interval
        covered += interval.low <= truth <= interval.high
    assert 0.92 <= covered / 400 <= 0.98


def test_interaction_without_variability_has_no_interval_and_says_why():
    paired = pairs_from([(r, "c1", 0, 1) for r in ("A1", "A2", "B1", "B2")])
    groups = {"A1": "a", "A2": "a", "B1": "b", "B2": "b"}
    result = s.experience_interaction(paired, groups=groups, order=("a", "b"))
    assert result.difference == 0.0
    assert (result.p, result.interval.low) == (None, None)
    assert "no variability" in result.reason


def test_interaction_refuses_groups_it_cannot_compare():
    paired = pairs_from([("A1", "c1", 0, 1), ("A2", "c1", 0, 0), ("B1", "c1", 1, 1)])
    groups = {"A1": "a", "A2": "a", "B1": "b"}
    with pytest.raises(DataError, match="'b' needs at least two readers"):
        s.experience_interaction(paired, groups=groups, order=("a", "b"))
    with pytest.raises(DataError, match="no experience group"):
        s.experience_interaction(paired, groups={"A1": "a"}, order=("a", "b"))
    with pytest.raises(DataError, match="two different groups"):
        s.experience_interaction(paired, groups=groups, order=("a", "a"))
