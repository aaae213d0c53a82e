"""The pooled washout interval's clusters (annotation.core.stats.retest over
resampling.cluster_intervals): cases, not items, as the clusters, checked against the case
bootstrap written out as a loop; BCa giving way to the percentile interval where it is
undefined, saying why; the jackknife over clusters chunked without changing a value."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import cohen_kappa_score

from annotation.core.stats import resampling, retest
from annotation.core.stats.bootstrap import Bootstrap
from tests.test_washout_statistics import SCALE, icc_a1

SOURCES = ("A", "B", "C")


def _outputs_of_cases_changed_alike(seed: int = 2, cases: int = 16, raters: int = 4):
    """Several outputs per case (one per source), read by every rater twice. Most readings
    come back the same; every fourth case is ambiguous: every rater reads every output of it
    differently the second time. The ambiguity belongs to the case, not to an output."""
    rng = np.random.default_rng(seed)
    pairs = []
    for c in range(cases):
        case = f"c{c:02d}"
        for r in range(raters):
            for source in SOURCES:
                first = float(rng.integers(1, 6))
                second = first
                if c % 4 == 0:
                    second = float(min(5, max(1, first + rng.choice([-2, -1, 1, 2]))))
                unit = f"{case}\x1f{source}\x1f"
                pairs.append(retest.RetestPair(f"R{r + 1}", unit, first, second, case=case))
    return pairs


def _cases_resampled_by_hand(pairs, statistic, bootstrap):
    """The case bootstrap written out: per resample draw as many cases as there are (the same
    seeded draws, one resample at a time), take every rater's pair of every output of each
    drawn case, compute."""
    cases = list(dict.fromkeys(p.case or p.unit for p in pairs))  # no case: its own
    of_case = {case: [p for p in pairs if (p.case or p.unit) == case] for case in cases}
    rng = np.random.default_rng(bootstrap.seed)
    values = []
    for _ in range(bootstrap.resamples):
        drawn = [p for n in rng.integers(0, len(cases), len(cases)) for p in of_case[cases[n]]]
        values.append(statistic([p.first for p in drawn], [p.second for p in drawn]))
    return np.nanpercentile(values, [2.5, 97.5])  # a resample with kappa undefined dropped


def _weighted_kappa(first, second):
    return cohen_kappa_score(first, second, labels=SCALE, weights="quadratic")


def test_the_pooled_interval_resamples_cases_with_all_their_outputs_as_a_loop_does():
    pairs = _outputs_of_cases_changed_alike()
    boot = Bootstrap(resamples=400, seed=7)
    found = retest.washout_retest(pairs, level="ordinal", categories=SCALE, bootstrap=boot)
    kappa, icc = found["kappa"][0], found["icc"][0]
    assert kappa.ci == pytest.approx(_cases_resampled_by_hand(pairs, _weighted_kappa, boot))
    assert icc.ci == pytest.approx(_cases_resampled_by_hand(pairs, icc_a1, boot))
    for estimate in (kappa, icc):
        assert estimate.n_units == 16 * 4 * 3
        assert (estimate.extra["n_items"], estimate.extra["n_cases"]) == (48, 16)
        assert "resampling the 16 re-read cases" in estimate.ci_method
        assert estimate.interval_method == retest.OVER_CASES["percentile"]
        assert estimate.interval_question == retest.THESE_OCCASIONS_CASES


def test_outputs_of_one_case_resampled_apart_give_too_narrow_an_interval():
    pairs = _outputs_of_cases_changed_alike()
    # The same pairs with no case named: each output (item) is its own cluster.
    by_output = [retest.RetestPair(p.rater, p.unit, p.first, p.second) for p in pairs]
    boot = Bootstrap(resamples=1000, seed=3)
    for key in ("kappa", "icc"):
        cases = retest.washout_retest(pairs, level="ordinal", categories=SCALE, bootstrap=boot)
        outputs = retest.washout_retest(
            by_output, level="ordinal", categories=SCALE, bootstrap=boot
        )
        (by_case, _), (by_item, _) = cases[key], outputs[key]
        assert by_case.value == pytest.approx(by_item.value)
        assert by_item.extra["n_cases"] == 48
        by_case_width = by_case.ci[1] - by_case.ci[0]
        assert by_case_width > 1.3 * (by_item.ci[1] - by_item.ci[0])
        # The output-clustered interval matches the loop over outputs, so the width is the
        # clusters' doing, not the code's.
        statistic = _weighted_kappa if key == "kappa" else icc_a1
        as_items = [retest.RetestPair(p.rater, p.unit, p.first, p.second, p.unit) for p in pairs]
        assert by_item.ci == pytest.approx(_cases_resampled_by_hand(as_items, statistic, boot))


def _one_case_in_disagreement(cases: int = 12):
    """Every reading is 1 but on one case, read 2 then 3: leaving that case out leaves kappa
    undefined (every reading in one category), so BCa has no acceleration."""
    pairs = [
        retest.RetestPair(f"R{r}", f"c{c:02d}", 1.0, 1.0) for c in range(cases) for r in (1, 2)
    ]
    pairs += [retest.RetestPair("R1", "odd", 2.0, 3.0), retest.RetestPair("R2", "odd", 3.0, 2.0)]
    return pairs


def test_a_bca_pooled_interval_that_is_undefined_gives_way_to_the_percentile_one_saying_why():
    pairs = _one_case_in_disagreement()
    bca = Bootstrap(resamples=300, seed=5, kind="bca")
    percentile = Bootstrap(resamples=300, seed=5)
    found = retest.retest_kappa(
        pairs, level="ordinal", categories=SCALE, bootstrap=bca, by_item=True
    )
    plain = retest.retest_kappa(
        pairs, level="ordinal", categories=SCALE, bootstrap=percentile, by_item=True
    )
    # Resamples without the odd case have every reading in one category: kappa undefined,
    # dropped (not 0/0's rounding error), as the loop with scikit-learn's kappa drops them.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        by_hand = _cases_resampled_by_hand(pairs, _weighted_kappa, percentile)
    assert plain.ci == pytest.approx(by_hand)
    assert plain.ci[1] < 1
    assert found.resamples_used == plain.resamples_used < 300
    assert found.ci == pytest.approx(plain.ci)
    assert found.interval_method == retest.OVER_CASES["percentile"]
    assert found.interval_question == retest.THESE_OCCASIONS_CASES
    assert found.ci_method.startswith("percentile bootstrap resampling the 13 re-read cases")
    assert "(BCa undefined: leaving out a cluster leaves it undefined, so the percentile " in (
        found.ci_method
    )
    assert found.as_dict()["ci_method"] == found.ci_method
    assert "interval_note" not in found.extra


def _clusters_of(sizes) -> np.ndarray:
    return np.repeat(np.arange(len(sizes)), sizes)


def test_cluster_intervals_say_why_bca_is_undefined_each_reason_its_own():
    # Twelve clusters: a resample drawing each once (and so equal to the observed) is rare.
    clusters = _clusters_of([2, 3, 1, 2, 4, 2, 1, 1, 3, 2, 2, 1])
    boot = Bootstrap(resamples=200, seed=1, kind="bca")

    def only_the_observed(weights):
        # 1 at the observed weights, 0 at any other: the estimate lies above every resample.
        return np.all(weights == 1, axis=1).astype(float)

    ci, plain, used, note = resampling.cluster_intervals(only_the_observed, clusters, boot)
    assert ci is None
    assert (plain, used) == ((0.0, 0.0), 200)
    assert note == "BCa undefined: the estimate lies outside every resample"

    values = np.arange(len(clusters), dtype=float)

    def undefined_without_cluster_two(weights):
        mean = weights @ values / weights.sum(axis=1)
        return np.where(weights[:, 5] > 0, mean, np.nan)  # unit 5 is cluster 2's only unit

    ci, plain, used, note = resampling.cluster_intervals(
        undefined_without_cluster_two, clusters, boot
    )
    assert ci is None
    assert plain is not None
    assert 0 < used < 200
    assert note == "BCa undefined: leaving out a cluster leaves it undefined"

    def never_defined(weights):
        return np.full(len(weights), np.nan)

    assert resampling.cluster_intervals(never_defined, clusters, boot) == (
        None,
        None,
        0,
        "no resample of the clusters defined it",
    )


def test_the_jackknife_over_clusters_in_chunks_equals_it_in_one_array(monkeypatch):
    rng = np.random.default_rng(8)
    clusters = rng.permutation(_clusters_of(rng.integers(1, 6, 900)))
    values = rng.normal(size=len(clusters))

    def mean(weights):
        # Summed row by row (not a matrix product, whose rounding can depend on the rows'
        # number): any difference would be the chunking's.
        return (weights * values).sum(axis=1) / weights.sum(axis=1)

    n_clusters = int(clusters.max()) + 1
    dense = (clusters[None, :] != np.arange(n_clusters)[:, None]).astype(float)
    whole = mean(dense)  # the jackknife as one clusters x units array
    boot = Bootstrap(resamples=300, seed=4, kind="bca")
    at_once = resampling.cluster_intervals(mean, clusters, boot)
    monkeypatch.setattr(resampling, "CHUNK_CELLS", 7 * len(clusters))  # 7 clusters a chunk
    chunked = resampling.cluster_jackknife(mean, clusters)
    assert chunked.shape == (n_clusters,)
    assert np.array_equal(chunked, whole)
    assert resampling.cluster_intervals(mean, clusters, boot)[0] == at_once[0]
