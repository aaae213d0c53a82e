"""Planning a study from a pilot: how many cases, for each number of readers, give a chosen
power to detect a chosen difference between two modalities; and how many cases give an
agreement interval of a chosen width.

Power (`cases_for_power`): the Obuchowski-Rockette test with readers and cases random, its power
from `mrmc.mrmc_power` (Hillis, Obuchowski & Berbaum 2011). The pilot's Var and Cov1-3 scale as
K_pilot / K; the reader x modality variance does not shrink with cases, so with few readers a
difference smaller than the readers' own disagreement is out of reach at any number of cases,
and the plan says so. The power rises with K, but with few readers it can peak and then fall a
little towards its limit, as Hillis's ddf falls towards J - 1. So the smallest K is found by
scanning numbers of cases 5% apart up to MAX_CASES and bisecting below the first that reaches
the power (exact while the power rises until it first reaches the target, as it does for a
single peak); a window of reach narrower than 5% could be missed, at the edge of feasibility.

Interval width (`pilots.cases_for_width`, beside the pilot itself): a case-bootstrap interval's
width shrinks about as 1 / sqrt(K), so K = K_pilot (w_pilot / w)^2 cases give width w. An
approximation: it treats the pilot's width as exact and the interval as symmetric; it holds for
intervals over cases with these raters, not for those that also draw the raters, whose raters
part does not shrink with cases.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from annotation.core.stats.coefficients import krippendorff_alpha
from annotation.core.stats.data import Ratings
from annotation.core.stats.mrmc.analysis import plain
from annotation.core.stats.mrmc.sizing import mrmc_power
from annotation.core.stats.names import RANDOM_BOTH
from annotation.core.stats.pilots import MAX_CASES, Pilot, cases_for_width
from annotation.core.stats.resampling import Bootstrap


@dataclass(frozen=True)
class Row:
    """For `readers` readers: the fewest cases reaching the power (None: none up to
    MAX_CASES) and the power there; when out of reach, `best` is the most power seen."""

    readers: int
    cases: int | None
    power: float | None
    best: float


@dataclass(frozen=True)
class PowerPlan:
    question: str
    difference: float
    power: float
    alpha: float
    pilot: Pilot
    rows: tuple[Row, ...]

    def as_dict(self) -> dict:
        return plain(self)


def power_at(pilot: Pilot, *, difference: float, readers: int, cases: int, alpha: float) -> float:
    """The power of the readers-and-cases-random test with `readers` readers and `cases` cases."""
    return mrmc_power(
        difference=difference,
        readers=readers,
        cases=cases,
        var=pilot.var,
        cov1=pilot.cov1,
        cov2=pilot.cov2,
        cov3=pilot.cov3,
        interaction=pilot.interaction,
        pilot_cases=pilot.cases,
        alpha=alpha,
    ).power


def case_grid(most: int = MAX_CASES) -> list[int]:
    """Numbers of cases 5% apart (every number up to 20), 1 to `most`."""
    grid, k = [], 1.0
    while k < most:
        grid.append(math.ceil(k))
        k = max(k * 1.05, k + 1)
    return sorted(set(grid)) + [most]


def smallest_cases(
    pilot: Pilot, *, difference: float, readers: int, power: float, alpha: float
) -> Row:
    """The fewest cases whose power reaches `power` with `readers` readers: the first number on
    a grid 5% apart that does, then bisection below it."""

    def power_with(cases: int) -> float:
        return power_at(pilot, difference=difference, readers=readers, cases=cases, alpha=alpha)

    best, below = 0.0, 0
    for cases in case_grid():
        reached = power_with(cases)
        if reached >= power:
            return _bisect(power_with, power, below, cases, readers)
        best, below = max(best, reached), cases
    return Row(readers, None, None, best)


def _bisect(power_with, power: float, low: int, high: int, readers: int) -> Row:
    """Narrow (low, high], power_with(high) >= power and power_with(low) < power (low 0: none)."""
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if power_with(middle) >= power else (middle, high)
    reached = power_with(high)
    return Row(readers, high, reached, reached)


def cases_for_power(
    pilot: Pilot,
    *,
    difference: float,
    readers: Sequence[int],
    power: float = 0.8,
    alpha: float = 0.05,
) -> PowerPlan:
    """For each number of readers, the fewest cases giving `power` to detect `difference`."""
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise ValueError("power and alpha must lie between 0 and 1")
    if difference == 0:
        raise ValueError("a difference of 0 cannot be detected: choose the smallest that matters")
    if min(readers) < 2:
        raise ValueError("at least two readers")
    rows = tuple(
        smallest_cases(pilot, difference=difference, readers=j, power=power, alpha=alpha)
        for j in readers
    )
    return PowerPlan(RANDOM_BOTH, difference, power, alpha, pilot, rows)


@dataclass(frozen=True)
class WidthPlan:
    """Cases for a Krippendorff's alpha interval `width` wide, from the pilot's interval."""

    question: str
    width: float
    pilot_cases: int
    pilot_value: float
    pilot_ci: tuple[float, float]
    pilot_method: str
    cases: int
    approximation: str = "the interval's width shrinking as 1 / sqrt(cases)"

    def as_dict(self) -> dict:
        return plain(self)


def alpha_width_plan(ratings: Ratings, *, width: float, bootstrap: Bootstrap) -> WidthPlan:
    """Cases giving Krippendorff's alpha a case-bootstrap interval `width` wide (these raters,
    cases like these), scaled from the pilot `ratings`' own interval."""
    estimate = krippendorff_alpha(ratings, bootstrap=bootstrap)
    if estimate.ci is None:
        raise ValueError(f"the pilot gives alpha no interval: {estimate.reason or 'too few units'}")
    low, high = estimate.ci
    cases = cases_for_width(pilot_cases=len(ratings.units), pilot_width=high - low, width=width)
    question = estimate.interval_question
    return WidthPlan(
        question, width, len(ratings.units), estimate.value, estimate.ci, estimate.ci_method, cases
    )
