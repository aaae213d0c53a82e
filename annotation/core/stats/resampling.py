"""The seeded unit bootstrap, done by patterns.

Resampling N units with replacement is the same, in distribution, as drawing multinomial counts
over the distinct kinds of unit ("patterns": a unit's category counts, or its row of values)
with probabilities proportional to how often each occurs. A coefficient written as a function
of pattern weights then gives its point estimate from the observed weights and its bootstrap
distribution from the drawn ones, in a few matrix products rather than one full computation per
resample (STATISTICS.md). Resamples are drawn in chunks so memory stays bounded.

Two intervals come from the resamples: the percentile interval, and the bias-corrected and
accelerated (BCa) interval of Efron (1987), whose acceleration is the jackknife over units. By
patterns, leaving out one unit of pattern p is the observed weights less one at p: one
statistic evaluation per distinct pattern, each counted as often as units share it.
"""

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr, ndtri

from annotation.core.stats.bootstrap import Bootstrap

CHUNK_CELLS = 4_000_000  # resamples x patterns held at once
RARE_WEIGHT = 3  # patterns of this many units or fewer are drawn as a group

Statistic = Callable[[np.ndarray], np.ndarray]  # weights (rows x patterns) -> one value per row


@dataclass(frozen=True)
class Patterns:
    """Distinct rows of `rows` (units x anything) and how many units share each."""

    rows: np.ndarray
    weights: np.ndarray  # units per pattern
    n: int  # units
    # Resampled weights already drawn, by (seed, resamples), where they are one chunk: each
    # coefficient of the same data draws the same seeded resamples.
    drawn: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    @classmethod
    def of(cls, rows: np.ndarray) -> "Patterns":
        if len(rows) == 0:
            return cls(rows, np.zeros(0, dtype=np.int64), 0)
        keys = _row_keys(rows)
        if keys is None:
            distinct, weights = np.unique(rows, axis=0, return_counts=True)
            return cls(distinct, weights, len(rows))
        _, first, weights = np.unique(keys, return_index=True, return_counts=True)
        return cls(rows[first], weights, len(rows))

    def observed(self) -> np.ndarray:
        """The observed weights as a single "resample" (1 x patterns)."""
        return self.weights[None, :].astype(float)

    def draws(self, bootstrap: Bootstrap) -> Iterator[np.ndarray]:
        """Resampled weights, `bootstrap.resamples` rows in all, a chunk at a time.

        Patterns shared by few units (most of them, in real data) are drawn as one group: its
        multinomial count, then that many units picked uniformly from the group, which is the
        same distribution at a fraction of the cost of one binomial per pattern per resample.

        Seeded resamples that fit in one chunk are drawn once and kept (read-only): every
        coefficient of these data draws them again, identically, from the same seed.
        """
        key = (bootstrap.seed, bootstrap.resamples)
        if key in self.drawn:
            yield self.drawn[key]
            return
        chunks = self._draws(bootstrap)
        cells = bootstrap.resamples * len(self.weights)
        if bootstrap.seed is None or not 0 < cells <= CHUNK_CELLS:
            yield from chunks
            return
        (weights,) = chunks  # one chunk, as CHUNK_CELLS allows
        weights.flags.writeable = False
        self.drawn[key] = weights
        yield weights

    def _draws(self, bootstrap: Bootstrap) -> Iterator[np.ndarray]:
        rng = np.random.default_rng(bootstrap.seed)
        n_patterns = len(self.weights)
        per_chunk = max(1, CHUNK_CELLS // max(1, n_patterns))
        rare = self.weights <= RARE_WEIGHT
        if rare.sum() < 2:
            rare[:] = False
        frequent = np.flatnonzero(~rare)
        rare_units = np.repeat(np.flatnonzero(rare), self.weights[rare])
        probabilities = np.append(self.weights[frequent], len(rare_units)) / self.n
        left = bootstrap.resamples
        while left > 0:
            size = min(per_chunk, left)
            counts = rng.multinomial(self.n, probabilities, size=size)
            weights = np.zeros((size, n_patterns))
            weights[:, frequent] = counts[:, :-1]
            in_rare = counts[:, -1]
            if in_rare.sum():
                drawn = rng.integers(0, len(rare_units), in_rare.sum())
                # Counted resample by resample: the draws of a chunk are a whole resample's
                # units times its rows (50 million at 1,000 x 50,000), so no second array as
                # long as them, and the same counts.
                ends = np.cumsum(in_rare).tolist()
                for row, (start, end) in enumerate(zip([0, *ends[:-1]], ends, strict=True)):
                    picked = rare_units[drawn[start:end]]
                    weights[row] += np.bincount(picked, minlength=n_patterns)
            yield weights
            left -= size


def _row_keys(rows: np.ndarray) -> np.ndarray | None:
    """Each row of small non-negative integers as one integer that sorts as the row does
    (the first column most significant), so that distinct rows are a 1-D `np.unique` rather
    than a sort of whole rows: the same patterns in the same order, several times faster.
    None where the rows are not such integers or their keys would not fit in 63 bits."""
    if rows.ndim != 2 or rows.dtype.kind not in "iu" or rows.shape[1] == 0:
        return None
    low, high = int(rows.min()), int(rows.max())
    base = high + 1
    if low < 0 or rows.shape[1] * math.log2(base + 1) >= 62:
        return None
    keys = np.zeros(len(rows), dtype=np.int64)
    for column in rows.T:
        keys *= base
        keys += column
    return keys


def resampled_values(statistic: Statistic, patterns: Patterns, bootstrap: Bootstrap) -> np.ndarray:
    """`statistic` over every resample, those it leaves undefined (NaN) dropped."""
    values = np.concatenate([statistic(weights) for weights in patterns.draws(bootstrap)])
    return values[np.isfinite(values)]


def percentile_interval(
    statistic: Statistic, patterns: Patterns, bootstrap: Bootstrap
) -> tuple[tuple[float, float] | None, int]:
    """The percentile interval of `statistic` (weights -> one value per row, NaN where the
    resample defines none) over the bootstrap, and how many resamples defined it."""
    if patterns.n == 0 or bootstrap.resamples <= 0:
        return None, 0
    values = resampled_values(statistic, patterns, bootstrap)
    if len(values) == 0:
        return None, 0
    tail = (1 - bootstrap.level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return (float(low), float(high)), len(values)


def bootstrap_interval(
    statistic: Statistic, patterns: Patterns, bootstrap: Bootstrap
) -> tuple[tuple[float, float] | None, int, str]:
    """The interval `bootstrap.kind` asks for, how many resamples defined it, and a note when
    BCa could not be had (then the interval is None)."""
    if bootstrap.kind == "percentile":
        return (*percentile_interval(statistic, patterns, bootstrap), "")
    return bca_interval(statistic, patterns, bootstrap)


def bca_interval(
    statistic: Statistic, patterns: Patterns, bootstrap: Bootstrap
) -> tuple[tuple[float, float] | None, int, str]:
    """Efron's (1987) BCa interval: the percentiles of the bootstrap distribution at the levels
    `bca_levels` gives from the bias correction z0 and the jackknife acceleration a."""
    if patterns.n == 0 or bootstrap.resamples <= 0:
        return None, 0, ""
    estimate = float(statistic(patterns.observed())[0])
    values = resampled_values(statistic, patterns, bootstrap)
    if len(values) == 0 or not math.isfinite(estimate):
        return None, len(values), ""
    z0 = bias_correction(values, estimate)
    acceleration = jackknife_acceleration(statistic, patterns)
    if acceleration is None:
        return None, len(values), "BCa undefined: leaving out a unit leaves it undefined"
    if not math.isfinite(z0):
        return None, len(values), "BCa undefined: the estimate lies outside every resample"
    low, high = bca_levels(z0, acceleration, bootstrap.level)
    if not (math.isfinite(low) and math.isfinite(high)):
        return None, len(values), "BCa undefined: the acceleration is too large for the tails"
    bounds = np.percentile(values, [low * 100, high * 100])
    return (float(bounds[0]), float(bounds[1])), len(values), ""


def bias_correction(values: np.ndarray, estimate: float) -> float:
    """z0 = Phi^-1(share of resamples below the estimate), a tie counting half (as scipy's
    `bootstrap` does: with discrete coefficients many resamples equal the estimate)."""
    below = np.count_nonzero(values < estimate) + np.count_nonzero(values <= estimate)
    return float(ndtri(below / (2 * len(values))))


def jackknife_values(statistic: Statistic, patterns: Patterns) -> np.ndarray:
    """The statistic with one unit of each pattern left out (one value per pattern)."""
    n_patterns = len(patterns.weights)
    per_chunk = max(1, CHUNK_CELLS // max(1, n_patterns))
    observed = patterns.observed()
    values = []
    for start in range(0, n_patterns, per_chunk):
        rows = np.arange(start, min(start + per_chunk, n_patterns))
        weights = np.repeat(observed, len(rows), axis=0)
        weights[np.arange(len(rows)), rows] -= 1
        values.append(statistic(weights))
    return np.concatenate(values)


def jackknife_acceleration(statistic: Statistic, patterns: Patterns) -> float | None:
    """a = sum (mean - theta_(i))^3 / (6 (sum (mean - theta_(i))^2)^1.5) over the n units left
    out one at a time; None when leaving out some unit leaves the statistic undefined, 0 when
    no unit moves it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        left_out = jackknife_values(statistic, patterns)
    if not np.isfinite(left_out).all():
        return None
    weights = patterns.weights.astype(float)
    deviation = (weights @ left_out) / patterns.n - left_out
    spread = weights @ deviation**2
    if spread <= 0:
        return 0.0
    return float((weights @ deviation**3) / (6 * spread**1.5))


def bca_levels(z0: float, acceleration: float, level: float) -> tuple[float, float]:
    """The bootstrap distribution's quantiles (as shares) that bound the BCa interval:
    Phi(z0 + (z0 + z) / (1 - a (z0 + z))) for z at either tail of `level`."""
    tails = []
    for z in (ndtri((1 - level) / 2), ndtri((1 + level) / 2)):
        shifted = z0 + z
        tails.append(float(ndtr(z0 + shifted / (1 - acceleration * shifted))))
    return tails[0], tails[1]


def case_weights(n_cases: int, bootstrap: Bootstrap, *, width: int = 0) -> Iterator[np.ndarray]:
    """The plain case bootstrap, `bootstrap.resamples` rows in all, a chunk at a time: each row
    counts how often each of `n_cases` cases was drawn (n_cases draws with replacement), so a
    statistic over the cases' rows becomes the same statistic with those rows weighted.
    `width` is how many cells per resample the caller expands the weights to (one per rating,
    say), so that a chunk stays within CHUNK_CELLS either way."""
    rng = np.random.default_rng(bootstrap.seed)
    per_chunk = max(1, CHUNK_CELLS // max(1, n_cases, width))
    left = bootstrap.resamples
    while left > 0:
        size = min(per_chunk, left)
        drawn = rng.integers(0, n_cases, size=(size, n_cases))
        drawn += n_cases * np.arange(size)[:, None]  # one bincount for the whole chunk
        weights = np.bincount(drawn.ravel(), minlength=size * n_cases).reshape(size, n_cases)
        # Not held while the caller works on the weights: a chunk's draws are as large again.
        del drawn
        yield weights
        left -= size


def cluster_weights(clusters: np.ndarray, bootstrap: Bootstrap) -> Iterator[np.ndarray]:
    """The cluster bootstrap as unit weights: `case_weights` over the clusters (`clusters[u]`
    is unit u's cluster, 0 to n - 1), each unit weighted by how often its cluster was drawn,
    so that a drawn cluster brings all its units together."""
    n_clusters = int(clusters.max()) + 1 if len(clusters) else 0
    for counts in case_weights(n_clusters, bootstrap, width=len(clusters)):
        yield counts[:, clusters].astype(float)


def cluster_intervals(
    statistic: Statistic, clusters: np.ndarray, bootstrap: Bootstrap
) -> tuple[tuple[float, float] | None, tuple[float, float] | None, int, str]:
    """The cluster bootstrap, resampling clusters of units whole (`statistic` takes unit
    weights, resamples x units; `clusters[u]` is unit u's cluster, 0 to n - 1), as
    `estimate._bca_and_percentile` gives the unit bootstrap: (the interval `bootstrap.kind`
    asks for, the percentile interval from the same resamples, how many resamples defined
    them, why BCa is undefined where it is). BCa's acceleration is the jackknife over clusters
    (each left out whole), as the resampling is over clusters."""
    if len(clusters) == 0 or bootstrap.resamples <= 0:
        return None, None, 0, ""
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.concatenate([statistic(w) for w in cluster_weights(clusters, bootstrap)])
        values = values[np.isfinite(values)]
        estimate = float(statistic(np.ones((1, len(clusters))))[0])
    if len(values) == 0:
        return None, None, 0, "no resample of the clusters defined it"
    tail = (1 - bootstrap.level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    plain = (float(low), float(high))
    if bootstrap.kind == "percentile":
        return plain, plain, len(values), ""
    acceleration = _cluster_acceleration(statistic, clusters)
    if acceleration is None:
        return None, plain, len(values), "BCa undefined: leaving out a cluster leaves it undefined"
    z0 = bias_correction(values, estimate) if math.isfinite(estimate) else math.nan
    if not math.isfinite(z0):
        return None, plain, len(values), "BCa undefined: the estimate lies outside every resample"
    low, high = bca_levels(z0, acceleration, bootstrap.level)
    if not (math.isfinite(low) and math.isfinite(high)):
        return None, plain, len(values), "BCa undefined: the acceleration is too large for tails"
    bounds = np.percentile(values, [low * 100, high * 100])
    return (float(bounds[0]), float(bounds[1])), plain, len(values), ""


def cluster_jackknife(statistic: Statistic, clusters: np.ndarray) -> np.ndarray:
    """The statistic with each cluster left out whole in turn (one value per cluster), a
    chunk of clusters at a time so that clusters x units stays within CHUNK_CELLS."""
    n_clusters = int(clusters.max()) + 1
    per_chunk = max(1, CHUNK_CELLS // max(1, len(clusters)))
    values = []
    for start in range(0, n_clusters, per_chunk):
        left_out = np.arange(start, min(start + per_chunk, n_clusters))
        weights = (clusters[None, :] != left_out[:, None]).astype(float)
        values.append(statistic(weights))
    return np.concatenate(values)


def _cluster_acceleration(statistic: Statistic, clusters: np.ndarray) -> float | None:
    """Efron's acceleration from the statistic with each cluster left out in turn."""
    with np.errstate(divide="ignore", invalid="ignore"):
        left_out = cluster_jackknife(statistic, clusters)
    if not np.isfinite(left_out).all():
        return None
    deviation = left_out.mean() - left_out
    spread = (deviation**2).sum()
    return 0.0 if spread <= 0 else float((deviation**3).sum() / (6 * spread**1.5))
