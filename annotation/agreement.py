"""Inter-rater agreement over long data (unit, rater, value). Plain data, no Django.

Krippendorff's alpha comes from the `krippendorff` package, which wants a raters x units matrix
with NaN for missing; building that matrix the right way round is this module's job (the
transpose gives a silently wrong answer).
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import krippendorff
import numpy as np

LEVELS = ("nominal", "ordinal", "interval", "ratio")


@dataclass(frozen=True)
class Observation:
    unit: str
    rater: str
    value: float


@dataclass(frozen=True)
class AlphaResult:
    alpha: float | None  # None when the data cannot define alpha (see `reason`)
    level: str
    n_units: int  # units with two or more ratings: the only ones that carry information
    n_raters: int
    n_ratings: int  # ratings in those units
    reason: str = ""
    # Percentile interval from resampling units; None when not asked for or not defined.
    ci: tuple[float, float] | None = None
    resamples: int = 0  # resamples asked for
    resamples_used: int = 0  # those in which alpha was defined (not every value equal)
    seed: int | None = None


def reliability_matrix(
    observations: Iterable[Observation],
) -> tuple[np.ndarray, list[str], list[str]]:
    """Raters x units matrix (NaN where a rater did not rate a unit), with row and column keys."""
    cells: dict[tuple[str, str], float] = {}
    for obs in observations:
        if (obs.rater, obs.unit) in cells:
            raise ValueError(f"rater {obs.rater!r} rated unit {obs.unit!r} twice")
        cells[(obs.rater, obs.unit)] = obs.value
    raters = sorted({rater for rater, _ in cells})
    units = sorted({unit for _, unit in cells})
    row = {rater: i for i, rater in enumerate(raters)}
    col = {unit: j for j, unit in enumerate(units)}
    matrix = np.full((len(raters), len(units)), np.nan)
    for (rater, unit), value in cells.items():
        matrix[row[rater], col[unit]] = value
    return matrix, raters, units


def krippendorff_alpha(
    observations: Iterable[Observation],
    *,
    level: str,
    value_domain: Sequence[float] | None,
    resamples: int = 0,
    seed: int = 0,
) -> AlphaResult:
    """Krippendorff's alpha at the given level of measurement over the declared scale points
    (`value_domain`; None takes the values observed, as for numbers),
    with a 95% percentile bootstrap interval over units when `resamples` > 0."""
    if level not in LEVELS:
        raise ValueError(f"unknown level of measurement {level!r}")
    matrix, _, _ = reliability_matrix(observations)
    # Units rated by fewer than two raters carry no information about agreement.
    pairable = matrix[:, (~np.isnan(matrix)).sum(axis=0) >= 2] if matrix.size else matrix
    n_ratings = int((~np.isnan(pairable)).sum()) if pairable.size else 0
    raters_seen = int((~np.isnan(pairable)).any(axis=1).sum()) if pairable.size else 0
    n_units = pairable.shape[1] if pairable.size else 0
    common = {"level": level, "n_units": n_units, "n_raters": raters_seen, "n_ratings": n_ratings}
    if n_units == 0:
        return AlphaResult(alpha=None, reason="no unit has two or more ratings", **common)
    if len(np.unique(pairable[~np.isnan(pairable)])) < 2:
        # Every rating is the same value: expected disagreement is zero and alpha is 0/0.
        return AlphaResult(alpha=None, reason="all ratings share one value", **common)
    alpha = _alpha(pairable, level, value_domain)
    if resamples <= 0:
        return AlphaResult(alpha=alpha, **common)
    ci, used = _bootstrap_ci(pairable, level, value_domain, resamples=resamples, seed=seed)
    return AlphaResult(
        alpha=alpha, ci=ci, resamples=resamples, resamples_used=used, seed=seed, **common
    )


def _alpha(matrix: np.ndarray, level: str, value_domain: Sequence[float] | None) -> float:
    # Without a declared domain (numbers) the package takes the values observed.
    domain = None if value_domain is None else list(value_domain)
    return float(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement=level, value_domain=domain)
    )


def _bootstrap_ci(
    matrix: np.ndarray,
    level: str,
    value_domain: Sequence[float] | None,
    *,
    resamples: int,
    seed: int,
) -> tuple[tuple[float, float] | None, int]:
    """Resample units (columns) with replacement; the 2.5th and 97.5th percentiles of alpha.

    A resample in which every rating is the same value has no alpha and is left out; how many
    were used is reported beside the interval. This recomputes alpha per resample, which is
    plenty for a study's few hundred units (STATISTICS.md describes the faster pattern method).
    """
    rng = np.random.default_rng(seed)
    n_units = matrix.shape[1]
    estimates = []
    for _ in range(resamples):
        sample = matrix[:, rng.integers(0, n_units, n_units)]
        if len(np.unique(sample[~np.isnan(sample)])) < 2:
            continue
        estimates.append(_alpha(sample, level, value_domain))
    if not estimates:
        return None, 0
    low, high = np.percentile(estimates, [2.5, 97.5])
    return (float(low), float(high)), len(estimates)


def percent_agreement(observations: Iterable[Observation]) -> float | None:
    """Mean over units with two or more ratings of the share of rater pairs that agree exactly.

    None when no unit has two ratings. On Krippendorff's (2011) example data this gives 0.818.
    """
    by_unit: dict[str, list[float]] = {}
    for obs in observations:
        by_unit.setdefault(obs.unit, []).append(obs.value)
    shares = []
    for values in by_unit.values():
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        agreeing_pairs = sum(n * (n - 1) for n in counts.values())
        shares.append(agreeing_pairs / (m * (m - 1)))
    return sum(shares) / len(shares) if shares else None
