"""The seeded unit bootstrap, done by patterns.

Resampling N units with replacement is the same, in distribution, as drawing multinomial counts
over the distinct kinds of unit ("patterns": a unit's category counts, or its row of values)
with probabilities proportional to how often each occurs. A coefficient written as a function
of pattern weights then gives its point estimate from the observed weights and its bootstrap
distribution from the drawn ones, in a few matrix products rather than one full computation per
resample (STATISTICS.md). Resamples are drawn in chunks so memory stays bounded.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 1000
CHUNK_CELLS = 4_000_000  # resamples x patterns held at once
RARE_WEIGHT = 3  # patterns of this many units or fewer are drawn as a group


@dataclass(frozen=True)
class Bootstrap:
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    level: float = 0.95

    def describe(self) -> str:
        return (
            f"percentile bootstrap resampling units, {self.resamples} resamples, seed {self.seed}"
        )


@dataclass(frozen=True)
class Patterns:
    """Distinct rows of `rows` (units x anything) and how many units share each."""

    rows: np.ndarray
    weights: np.ndarray  # units per pattern
    n: int  # units

    @classmethod
    def of(cls, rows: np.ndarray) -> "Patterns":
        if len(rows) == 0:
            return cls(rows, np.zeros(0, dtype=np.int64), 0)
        distinct, weights = np.unique(rows, axis=0, return_counts=True)
        return cls(distinct, weights, len(rows))

    def observed(self) -> np.ndarray:
        """The observed weights as a single "resample" (1 x patterns)."""
        return self.weights[None, :].astype(float)

    def draws(self, bootstrap: Bootstrap) -> Iterator[np.ndarray]:
        """Resampled weights, `bootstrap.resamples` rows in all, a chunk at a time.

        Patterns shared by few units (most of them, in real data) are drawn as one group: its
        multinomial count, then that many units picked uniformly from the group, which is the
        same distribution at a fraction of the cost of one binomial per pattern per resample.
        """
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
                picked = rare_units[rng.integers(0, len(rare_units), in_rare.sum())]
                cells = np.repeat(np.arange(size) * n_patterns, in_rare) + picked
                weights += np.bincount(cells, minlength=size * n_patterns).reshape(size, -1)
            yield weights
            left -= size


def percentile_interval(
    statistic: Callable[[np.ndarray], np.ndarray], patterns: Patterns, bootstrap: Bootstrap
) -> tuple[tuple[float, float] | None, int]:
    """The percentile interval of `statistic` (weights -> one value per row, NaN where the
    resample defines none) over the bootstrap, and how many resamples defined it."""
    if patterns.n == 0 or bootstrap.resamples <= 0:
        return None, 0
    values = np.concatenate([statistic(weights) for weights in patterns.draws(bootstrap)])
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None, 0
    tail = (1 - bootstrap.level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return (float(low), float(high)), len(values)


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
        yield np.bincount(drawn.ravel(), minlength=size * n_cases).reshape(size, n_cases)
        left -= size
