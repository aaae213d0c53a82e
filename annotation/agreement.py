"""Inter-rater agreement over long data (unit, rater, value). Plain data, no Django.

Krippendorff's alpha comes from the `krippendorff` package, which wants a raters x units matrix
with NaN for missing; building that matrix the right way round is this module's job (the
transpose gives a silently wrong answer).
"""

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
    observations: Iterable[Observation], *, level: str, value_domain: Sequence[float]
) -> AlphaResult:
    """Krippendorff's alpha at the given level of measurement over the declared scale points."""
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
    alpha = krippendorff.alpha(
        reliability_data=pairable, level_of_measurement=level, value_domain=list(value_domain)
    )
    return AlphaResult(alpha=float(alpha), **common)
