"""What a plan for the next study is made from, as plain data: the variance components an MRMC
analysis stores (`Components`), the pilot they give (`Pilot`), and the cases an interval of a
chosen width needs (`cases_for_width`). The study dashboard reads pilots from stored results
on every visit, so this needs no numpy or scipy; the power of a plan, which does, is
`planning.cases_for_power`."""

import math
from dataclasses import dataclass

MAX_CASES = 100_000  # the most cases a plan searches


@dataclass(frozen=True)
class Components:
    """The ANOVA mean squares of the figures (None where a factor has one level) and the
    covariances of their errors over cases."""

    ms_t: float | None
    ms_r: float | None
    ms_tr: float | None
    var: float
    cov1: float
    cov2: float
    cov3: float
    covariance_method: str


def interaction_variance(pilot: Components) -> float:
    """The reader x modality variance sigma2_TR from a pilot's components, at least 0."""
    if pilot.ms_tr is None:
        raise ValueError("the pilot needs two modalities and two readers")
    value = pilot.ms_tr - pilot.var + pilot.cov1 + pilot.cov2 - pilot.cov3
    return max(value, 0.0)


@dataclass(frozen=True)
class Pilot:
    """Variance components for a two-modality comparison: Var and Cov1-3 for `cases` cases
    (from an MRMC analysis of a pilot, or from the literature), and sigma2_TR."""

    cases: int
    var: float
    cov1: float
    cov2: float
    cov3: float
    interaction: float

    @classmethod
    def from_components(cls, components: Components, *, cases: int) -> "Pilot":
        c = components
        return cls(cases, c.var, c.cov1, c.cov2, c.cov3, interaction_variance(c))


def cases_for_width(*, pilot_cases: int, pilot_width: float, width: float) -> int:
    """Cases giving an interval `width` wide, from a pilot interval `pilot_width` wide on
    `pilot_cases` cases, the width shrinking as 1 / sqrt(cases) (an approximation)."""
    if not pilot_width > 0 or not width > 0 or pilot_cases < 1:
        raise ValueError("widths must be positive and the pilot needs cases")
    # Rounded before the ceiling: widths read off an interval (0.66 - 0.42 = 0.24000000000000005)
    # would otherwise ask for one case more than the exact ratio.
    return math.ceil(round(pilot_cases * (pilot_width / width) ** 2, 9))
