"""Krippendorff's alpha: the published worked example and an independent implementation."""

import itertools
import random

import krippendorff
import numpy as np
import pytest

from annotation.core.stats.agreement import Observation, krippendorff_alpha, percent_agreement

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", 4 coders x 12 units.
KRIPPENDORFF_2011 = """
A: 1 2 3 3 2 1 4 1 2 . . .
B: 1 2 3 3 2 2 4 1 2 5 . 3
C: . 3 3 3 2 3 4 2 2 5 1 .
D: 1 2 3 3 2 4 4 1 2 5 1 .
"""


def parse_coders(text: str) -> list[Observation]:
    observations = []
    for line in text.strip().splitlines():
        coder, values = line.split(":")
        for unit, value in enumerate(values.split(), start=1):
            if value != ".":
                observations.append(Observation(f"u{unit}", coder, float(value)))
    return observations


@pytest.mark.parametrize(
    ("level", "expected"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_alpha_matches_krippendorff_2011(level, expected):
    result = krippendorff_alpha(
        parse_coders(KRIPPENDORFF_2011), level=level, value_domain=[1, 2, 3, 4, 5]
    )
    assert result.alpha == pytest.approx(expected, abs=5e-4)
    # Unit 12 has one rating and carries no information about agreement.
    assert result.n_units == 11
    assert result.n_ratings == 40
    assert result.n_raters == 4


def coincidence_alpha(observations: list[Observation], level: str, domain: list[int]) -> float:
    """Alpha straight from the coincidence-matrix definition, written independently of the
    `krippendorff` package: o_ck = sum_u (pairs of c,k in u)/(m_u - 1)."""
    units: dict[str, list[float]] = {}
    for obs in observations:
        units.setdefault(obs.unit, []).append(obs.value)
    index = {v: i for i, v in enumerate(domain)}
    o = np.zeros((len(domain), len(domain)))
    for values in units.values():
        if len(values) < 2:
            continue
        for a, b in itertools.permutations(range(len(values)), 2):
            o[index[values[a]], index[values[b]]] += 1 / (len(values) - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()

    def d2(c: int, k: int) -> float:
        if level == "nominal":
            return float(c != k)
        if level == "interval":
            return float((domain[c] - domain[k]) ** 2)
        lo, hi = min(c, k), max(c, k)  # ordinal
        return float((n_c[lo : hi + 1].sum() - (n_c[c] + n_c[k]) / 2) ** 2)

    size = len(domain)
    observed = sum(o[c, k] * d2(c, k) for c in range(size) for k in range(size))
    expected = sum(n_c[c] * n_c[k] * d2(c, k) for c in range(size) for k in range(size))
    return 1 - (n - 1) * observed / expected


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_alpha_agrees_with_independent_coincidence_implementation(level, seed):
    rng = random.Random(seed)
    observations = []
    for unit in range(40):
        truth = rng.randint(1, 5)
        for rater in rng.sample(["r1", "r2", "r3", "r4", "r5"], k=rng.randint(1, 4)):
            value = min(5, max(1, truth + rng.choice([-1, 0, 0, 1])))
            observations.append(Observation(f"u{unit}", rater, value))
    ours = krippendorff_alpha(observations, level=level, value_domain=[1, 2, 3, 4, 5]).alpha
    assert ours == pytest.approx(coincidence_alpha(observations, level, [1, 2, 3, 4, 5]), abs=1e-9)


def test_alpha_is_undefined_without_pairable_units():
    result = krippendorff_alpha(
        [Observation("u1", "a", 1), Observation("u2", "b", 2)], level="ordinal", value_domain=[1, 2]
    )
    assert result.alpha is None
    assert "two or more ratings" in result.reason


def test_alpha_is_undefined_when_every_rating_is_the_same():
    observations = [Observation(u, r, 3) for u in ("u1", "u2") for r in ("a", "b")]
    result = krippendorff_alpha(observations, level="interval", value_domain=[1, 2, 3])
    assert result.alpha is None
    assert result.n_units == 2


def test_a_rater_rating_a_unit_twice_is_an_error():
    with pytest.raises(ValueError, match="twice"):
        krippendorff_alpha(
            [Observation("u1", "a", 1), Observation("u1", "a", 2)],
            level="nominal",
            value_domain=[1, 2],
        )


def test_percent_agreement_matches_krippendorff_2011():
    # Pairs that agree within each unit with two or more ratings, averaged over those units.
    assert percent_agreement(parse_coders(KRIPPENDORFF_2011)) == pytest.approx(0.818, abs=5e-4)


def test_percent_agreement_is_undefined_without_pairable_units():
    assert percent_agreement([Observation("u1", "a", 1), Observation("u2", "a", 1)]) is None


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_each_bootstrap_resample_gives_the_alpha_of_the_units_drawn(level):
    # The bootstrap draws how many of each kind of unit a resample holds, not the units one by
    # one; for any multiset of units, its alpha must be krippendorff.alpha of those units.
    from annotation.core.stats import coefficients as stats_agreement
    from annotation.core.stats.data import ratings_from

    ratings = ratings_from(parse_coders(KRIPPENDORFF_2011), level=level, categories=[1, 2, 3, 4, 5])
    counted = stats_agreement._Counted.of(ratings)
    statistic = stats_agreement._alpha_statistic(counted, level)
    rated = ratings.counts[ratings.counts.sum(axis=1) > 0]
    pattern_of = [
        next(i for i, row in enumerate(counted.patterns.rows) if (row == unit).all())
        for unit in rated
    ]
    rng = np.random.default_rng(11)
    for _ in range(25):
        drawn = rng.integers(0, len(rated), len(rated))
        weights = np.bincount(
            [pattern_of[u] for u in drawn], minlength=len(counted.patterns.weights)
        )
        sample = ratings.values_matrix()[:, drawn]
        if len(np.unique(sample[~np.isnan(sample)])) < 2:
            continue
        expected = krippendorff.alpha(
            reliability_data=sample, level_of_measurement=level, value_domain=[1, 2, 3, 4, 5]
        )
        ours = statistic(weights[None, :].astype(float))[0]
        assert ours == pytest.approx(expected, abs=1e-9)


def test_bootstrap_interval_is_seeded_and_stated():
    result = krippendorff_alpha(
        parse_coders(KRIPPENDORFF_2011),
        level="ordinal",
        value_domain=[1, 2, 3, 4, 5],
        resamples=200,
        seed=7,
    )
    assert result.ci[0] < result.alpha < result.ci[1]
    assert (result.resamples, result.seed) == (200, 7)
    assert 190 <= result.resamples_used <= 200  # a resample of all-equal values has no alpha
    assert result.ci_method == "percentile bootstrap resampling units, 200 resamples, seed 7"


def test_bootstrap_interval_is_reproducible_and_changes_with_the_seed():
    observations = parse_coders(KRIPPENDORFF_2011)

    def ci(seed: int) -> tuple[float, float]:
        return krippendorff_alpha(
            observations, level="interval", value_domain=[1, 2, 3, 4, 5], resamples=100, seed=seed
        ).ci

    assert ci(1) == ci(1)
    assert ci(1) != ci(2)


def test_no_interval_is_computed_unless_asked():
    result = krippendorff_alpha(
        parse_coders(KRIPPENDORFF_2011), level="nominal", value_domain=[1, 2, 3, 4, 5]
    )
    assert (result.ci, result.resamples) == (None, 0)


def test_bootstrap_interval_of_perfect_agreement_is_a_point():
    # Every unit rated the same by both raters: every defined resample has alpha exactly 1.
    observations = [
        Observation(f"u{unit}", rater, value)
        for unit, value in enumerate([1, 2, 3, 1, 2, 3, 3, 2])
        for rater in ("a", "b")
    ]
    result = krippendorff_alpha(
        observations, level="nominal", value_domain=[1, 2, 3], resamples=300, seed=3
    )
    assert result.alpha == 1.0
    assert result.ci == (1.0, 1.0)
    assert 290 < result.resamples_used <= 300
