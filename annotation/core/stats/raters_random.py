"""An interval for "raters like these, cases like these": readers and cases both random.

The unit bootstrap holds the reader panel fixed. Its interval answers "how would the coefficient
move with other cases rated by these same readers?" A paper that reports agreement among
clinicians usually asks about clinicians in general, and then the readers are a sample too:
another panel, with its own leniencies, would give another value even on infinitely many cases.

Gwet (2008, Psychometrika 73:407-430) writes the variance of an agreement coefficient under
random selection of both subjects and raters as a subjects part plus a raters part. Here each
part is estimated by resampling rather than by Gwet's linearisation:

- the subjects (units) part is the variance the unit bootstrap already measures, read from the
  width of its percentile interval: ((high - low) / (2 z))^2;
- the raters part is the jackknife over raters: the coefficient recomputed with each rater left
  out, v_r = (r - 1) / r * sum_j (theta_(-j) - mean)^2 (Quenouille-Tukey), for raters drawn from
  a population much larger than the panel (no finite-population factor).

Each part also carries the residual (case x reader) noise once, so their sum counts it twice.
For pairwise agreement that term is not small: with interchangeable readers the jackknife over
raters is nearly all residual noise. Two ways of taking the raters part are offered:

- "jackknife": the plain jackknife over raters above (the sum uncorrected);
- "split-half": the residual noise removed. The units are split at random into two halves and
  the leave-one-rater-out values computed on each; a rater's effect on the coefficient is the
  same in both halves while the residual noise in them is independent, so the cross-product
  (r - 1) / r * sum_j (a_j - mean a)(b_j - mean b) estimates the raters part free of it.
  Brennan (2001, Generalizability Theory, ch. 6) corrects the two-way bootstrap's variance
  components for the same double counting; the split-half cross-product is our way of doing
  it for any coefficient, checked by `make bench-coverage`. It is averaged over SPLITS random
  splits and taken as zero when negative.

The interval is estimate +/- t sqrt(v_units + v_raters): Gwet's large-sample form, with t on
Welch-Satterthwaite degrees of freedom, (v_u + v_r)^2 / (v_u^2 / (n - 1) + v_r^2 / (r - 1)), as
McGraw & Wong's ICC(A,1) interval and Hillis's MRMC df do: with three to five readers the raters
part rests on two to four degrees of freedom, and a normal quantile would be too short.

The default is the plain jackknife. In `make bench-coverage` (docs/statistics.md, Coverage) it
covered the readers-in-general value of alpha, Fleiss' kappa and AC1 0.93-1.00 in every cell,
widest where readers are interchangeable (it counts the residual twice); the split-half form
was closer to 0.95 there but fell as low as 0.88 with biased readers and 100 cases. Too wide was
judged the lesser fault for a paper's interval.

The jackknife needs three raters or more: with two, leaving one out leaves no pair.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import norm
from scipy.stats import t as t_dist

from annotation.core.stats import coefficients
from annotation.core.stats.data import Ratings

Z_95 = 1.959963984540054
MIN_RATERS = 3
SPLITS = 2  # random half-splits of the units averaged for the split-half raters part
RATERS_PARTS = {
    "jackknife": "jackknife over raters",
    "split-half": "jackknife over raters, split-half cross-product, residual noise removed",
}
UNDEFINED_WITHOUT_ONE = "the coefficient is undefined with one of the raters left out"

Coefficient = Callable[[Ratings], float | None]


@dataclass(frozen=True)
class RandomRatersInterval:
    """Both parts of the variance and the interval they give; `ci` None with a `reason`."""

    ci: tuple[float, float] | None
    raters_part: str
    se_units: float | None = None
    se_raters: float | None = None
    reason: str = ""
    df: float | None = None  # Satterthwaite's, for the t quantile
    clipped: bool = False  # an end cut back to the coefficient's range

    @property
    def se(self) -> float | None:
        if self.se_units is None or self.se_raters is None:
            return None
        return math.hypot(self.se_units, self.se_raters)

    def describe(self) -> str:
        return (
            "raters and cases random: unit-bootstrap variance plus the raters' variance "
            f"({RATERS_PARTS[self.raters_part]}), t interval on Satterthwaite's df"
            + ("; cut back to the coefficient's range" if self.clipped else "")
        )


def without_rater(ratings: Ratings, rater: int) -> Ratings:
    """The same data with one rater's ratings left out (units and categories kept, so a unit
    left with one rating counts where the coefficient counts such units)."""
    keep = ratings.rater_index != rater
    index = ratings.rater_index[keep]
    return replace(
        ratings,
        raters=ratings.raters[:rater] + ratings.raters[rater + 1 :],
        unit_index=ratings.unit_index[keep],
        rater_index=np.where(index > rater, index - 1, index),
        position=ratings.position[keep],
    )


def only_units(ratings: Ratings, units: np.ndarray) -> Ratings:
    """The same data restricted to the units at the given indices (renumbered in that order)."""
    renumber = np.full(len(ratings.units), -1)
    renumber[units] = np.arange(len(units))
    keep = renumber[ratings.unit_index] >= 0
    return replace(
        ratings,
        units=tuple(ratings.units[i] for i in units),
        unit_index=renumber[ratings.unit_index[keep]],
        rater_index=ratings.rater_index[keep],
        position=ratings.position[keep],
    )


def leave_one_rater_out(ratings: Ratings, coefficient: Coefficient) -> list[float | None]:
    """The coefficient with each rater left out in turn, in the order of `ratings.raters`."""
    return [coefficient(without_rater(ratings, j)) for j in range(len(ratings.raters))]


def leave_each_rater_out(
    ratings: Ratings, coefficients: dict[str, Coefficient]
) -> dict[str, list[float | None]]:
    """`leave_one_rater_out` for several coefficients at once, each rater's ratings taken out
    of the data once for all of them (at a million ratings the copies are what costs)."""
    if not coefficients or len(ratings.raters) < MIN_RATERS:
        return {}
    found: dict[str, list[float | None]] = {key: [] for key in coefficients}
    for j in range(len(ratings.raters)):
        without = without_rater(ratings, j)
        for key, coefficient in coefficients.items():
            found[key].append(coefficient(without))
    return found


def jackknife_raters_variance(leave_outs: Sequence[float | None]) -> tuple[float | None, str]:
    """`raters_variance`'s jackknife part from the leave-one-rater-out values already had."""
    if not _all_defined(leave_outs):
        return None, UNDEFINED_WITHOUT_ONE
    return jackknife_variance(leave_outs), ""  # type: ignore[arg-type]


def jackknife_variance(leave_outs: Sequence[float]) -> float:
    """(g - 1) / g * sum (theta_(-j) - mean)^2 over the g leave-one-out values."""
    return cross_jackknife(leave_outs, leave_outs)


def cross_jackknife(first: Sequence[float], second: Sequence[float]) -> float:
    """(g - 1) / g * sum (a_j - mean a)(b_j - mean b): the jackknife's cross-product of two
    sets of leave-one-out values over the same g raters."""
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    g = len(a)
    return float((g - 1) / g * ((a - a.mean()) * (b - b.mean())).sum())


def raters_variance(
    ratings: Ratings,
    coefficient: Coefficient,
    *,
    part: str = "jackknife",
    splits: int = SPLITS,
    seed: int = 0,
) -> tuple[float | None, str]:
    """The raters part of the variance, and the reason when it cannot be had."""
    if part not in RATERS_PARTS:
        raise ValueError(f"unknown raters part {part!r}: use one of {', '.join(RATERS_PARTS)}")
    if len(ratings.raters) < MIN_RATERS:
        return None, "needs three or more raters (the jackknife leaves one out)"
    if part == "jackknife":
        return jackknife_raters_variance(leave_one_rater_out(ratings, coefficient))
    rng = np.random.default_rng(seed)
    n = len(ratings.units)
    products = []
    for _ in range(splits):
        order = rng.permutation(n)
        halves = [only_units(ratings, np.sort(half)) for half in (order[: n // 2], order[n // 2 :])]
        first, second = (leave_one_rater_out(half, coefficient) for half in halves)
        if _all_defined(first) and _all_defined(second):
            products.append(cross_jackknife(first, second))  # type: ignore[arg-type]
    if not products:
        return None, UNDEFINED_WITHOUT_ONE + " in a half of the units"
    return max(0.0, float(np.mean(products))), ""


def raters_and_cases_interval(
    *,
    estimate: float,
    unit_ci: tuple[float, float],
    raters_variance: float | None,
    n_units: int,
    n_raters: int,
    raters_part: str = "jackknife",
    reason: str = "",
    level: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> RandomRatersInterval:
    """The interval for raters and cases both random, from the point estimate, the unit
    bootstrap's interval at `level` (its width gives the units part) and the raters part:
    estimate +/- t sqrt(v_units + v_raters), t on Satterthwaite's df. With `bounds` (the
    coefficient's possible range, e.g. at most 1), an end beyond them is cut back to them and
    the description says so: with few raters the t quantile is large, and an interval reaching
    past what the coefficient can be says nothing more."""
    if raters_variance is None:
        return RandomRatersInterval(None, raters_part, reason=reason or "no raters part")
    low, high = unit_ci
    units_part = ((high - low) / (2 * _z(level))) ** 2
    df = satterthwaite_df(units_part, n_units - 1, raters_variance, n_raters - 1)
    half = float(t_dist.ppf((1 + level) / 2, df)) * math.sqrt(units_part + raters_variance)
    low, high = estimate - half, estimate + half
    clipped = False
    if bounds is not None:
        clipped = low < bounds[0] or high > bounds[1]
        # Never past the estimate itself, should it lie outside the range.
        low, high = max(low, min(bounds[0], estimate)), min(high, max(bounds[1], estimate))
    return RandomRatersInterval(
        (low, high),
        raters_part,
        math.sqrt(units_part),
        math.sqrt(raters_variance),
        df=df,
        clipped=clipped,
    )


def satterthwaite_df(first: float, first_df: int, second: float, second_df: int) -> float:
    """Welch-Satterthwaite df of a sum of two variance estimates with their own df."""
    denominator = first**2 / first_df + second**2 / second_df
    return (first + second) ** 2 / denominator if denominator > 0 else math.inf


def _all_defined(values: Sequence[float | None]) -> bool:
    return all(value is not None and math.isfinite(value) for value in values)


def _z(level: float) -> float:
    return Z_95 if level == 0.95 else float(norm.ppf((1 + level) / 2))


# The coefficients a raters-and-cases interval is offered for, by their stored names, as
# functions of the ratings (point estimates only: the jackknife recomputes them).
_POINTS: dict[str, Callable[[Ratings], coefficients.Estimate]] = {
    "krippendorff_alpha": lambda r: coefficients.krippendorff_alpha(r),
    "percent_agreement": lambda r: coefficients.percent_agreement(r),
    "fleiss_kappa": lambda r: coefficients.fleiss_kappa(r),
    "gwet_ac1": lambda r: coefficients.gwet_ac(r),
    "gwet_ac2_linear": lambda r: coefficients.gwet_ac(r, weighting="linear"),
    "gwet_ac2_quadratic": lambda r: coefficients.gwet_ac(r, weighting="quadratic"),
}


def coefficient_for(key: str) -> Coefficient | None:
    """The coefficient stored under `key` as a function of the ratings, for the jackknife over
    raters; None for one that has no raters-and-cases interval here."""
    call = _POINTS.get(key)
    return None if call is None else (lambda ratings: call(ratings).value)


def range_of(key: str) -> tuple[float, float]:
    """What the coefficient can be: a share from 0 to 1, the others at most 1."""
    return (0.0, 1.0) if key == "percent_agreement" else (-1.0, 1.0)
