"""What every agreement coefficient returns (`Estimate`): its value, sizes, interval, and what
the interval is: how it was made (`interval_method`), which question it answers
(`interval_question`), and any interval offered beside it (`other_intervals`). The unit
bootstrap that most coefficients carry is attached here (`with_bootstrap`)."""

import math
from dataclasses import dataclass, field

import numpy as np

from annotation.core.stats.resampling import Bootstrap, Patterns, bootstrap_interval

# The two questions an agreement interval can answer. Resampling units holds the raters fixed:
# it says how the coefficient would vary over new cases rated by these same raters. An interval
# whose model also draws the raters (ICC(2,1)'s F interval, a two-way bootstrap) says how it
# would vary over new cases and new raters like these.
THESE_RATERS = "these raters, cases like these"
RATERS_LIKE_THESE = "raters like these, cases like these"
F_INTERVAL = "McGraw-Wong F"
ASYMPTOTIC = "asymptotic"


@dataclass
class Estimate:
    method: str
    value: float | None
    n_units: int  # units the coefficient used
    n_raters: int
    n_ratings: int
    ci: tuple[float, float] | None = None
    ci_method: str = ""  # how `ci` was made, in full (resamples, seed, formula)
    resamples: int = 0  # of the bootstrap run for this estimate, `ci` or one of `other_intervals`
    resamples_used: int = 0
    seed: int | None = None
    reason: str = ""
    se: float | None = None
    extra: dict = field(default_factory=dict)
    interval_method: str = ""  # short: "percentile bootstrap over cases", "McGraw-Wong F", ...
    interval_question: str = ""  # THESE_RATERS or RATERS_LIKE_THESE
    other_intervals: list[dict] = field(default_factory=list)  # as `interval_dict` gives them

    def as_dict(self) -> dict:
        data = {
            "value": self.value,
            "ci": list(self.ci) if self.ci else None,
            "method": self.method,
            "ci_method": self.ci_method if self.ci else "",
            "interval_method": self.interval_method if self.ci else "",
            "interval_question": self.interval_question if self.ci else "",
            "n_units": self.n_units,
            "n_raters": self.n_raters,
            "n_ratings": self.n_ratings,
        }
        if self.resamples:
            data.update(
                resamples=self.resamples, resamples_used=self.resamples_used, seed=self.seed
            )
        if self.other_intervals:
            data["other_intervals"] = self.other_intervals
        if self.reason:
            data["reason"] = self.reason
        if self.se is not None:
            data["se"] = self.se
        data.update(self.extra)
        return data


def interval_dict(
    ci: tuple[float, float] | None, method: str, question: str, description: str, **more
) -> dict:
    """An interval beside the headline one, as `Estimate.other_intervals` holds it."""
    return {
        "ci": list(ci) if ci else None,
        "interval_method": method,
        "interval_question": question,
        "ci_method": description,
        **more,
    }


def resampled_interval(
    statistic, patterns: Patterns, bootstrap: Bootstrap
) -> tuple[tuple[float, float] | None, int, str]:
    """The interval `bootstrap.kind` asks for, with resamples used and a note (see resampling)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ci, used, note = bootstrap_interval(statistic, patterns, bootstrap)
    return ci, used, note


def with_bootstrap(
    estimate: Estimate, statistic, patterns: Patterns, bootstrap: Bootstrap | None
) -> Estimate:
    """The estimate with its unit-bootstrap interval as the headline one."""
    if estimate.value is None or bootstrap is None or bootstrap.resamples <= 0:
        return estimate
    ci, used, note = resampled_interval(statistic, patterns, bootstrap)
    estimate.ci, estimate.resamples_used = ci, used
    estimate.ci_method = bootstrap.describe() + (f" ({note})" if note else "")
    estimate.interval_method, estimate.interval_question = bootstrap.interval_method, THESE_RATERS
    estimate.resamples, estimate.seed = bootstrap.resamples, bootstrap.seed
    return estimate


def point(statistic, patterns: Patterns) -> float | None:
    """The statistic at the observed weights; None where it is undefined (never a NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(statistic(patterns.observed())[0])
    return value if math.isfinite(value) else None
