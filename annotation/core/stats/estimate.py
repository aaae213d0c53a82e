"""What every agreement coefficient returns (`Estimate`): its value, sizes, interval, and what
the interval is: how it was made (`interval_method`), which question it answers
(`interval_question`), and any interval offered beside it (`other_intervals`). The unit
bootstrap that most coefficients carry is attached here (`with_bootstrap`)."""

import math
from dataclasses import dataclass, field, replace

import numpy as np

from annotation.core.stats.bootstrap import KINDS
from annotation.core.stats.names import THESE_RATERS
from annotation.core.stats.resampling import (
    Bootstrap,
    Patterns,
    bca_levels,
    bias_correction,
    bootstrap_interval,
    jackknife_acceleration,
    resampled_values,
)


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
    """The estimate with its unit-bootstrap interval as the headline one. A BCa headline has
    the percentile interval from the same resamples beside it (the raters-and-cases interval
    reads the units' variance from its width), and gives way to it, saying why, where BCa is
    undefined (a unit whose leaving out leaves the coefficient undefined, say)."""
    if estimate.value is None or bootstrap is None or bootstrap.resamples <= 0:
        return estimate
    if bootstrap.kind == "percentile":
        ci, used, note = resampled_interval(statistic, patterns, bootstrap)
    else:
        ci, plain, used, note = _bca_and_percentile(statistic, patterns, bootstrap)
        percentile = replace(bootstrap, kind="percentile")
        if ci is None and plain is not None:
            ci, bootstrap, note = plain, percentile, f"{note}, so the percentile interval"
        elif plain is not None:
            estimate.other_intervals.append(
                interval_dict(
                    plain, percentile.interval_method, THESE_RATERS, percentile.describe()
                )
            )
    estimate.ci, estimate.resamples_used = ci, used
    estimate.ci_method = bootstrap.describe() + (f" ({note})" if note else "")
    estimate.interval_method, estimate.interval_question = bootstrap.interval_method, THESE_RATERS
    estimate.resamples, estimate.seed = bootstrap.resamples, bootstrap.seed
    return estimate


def _bca_and_percentile(statistic, patterns: Patterns, bootstrap: Bootstrap):
    """(BCa interval, percentile interval, resamples that defined them, why BCa is undefined)
    from one set of resamples: `resampling.bca_interval`'s steps, the resamples kept for the
    percentile interval so the bootstrap runs once."""
    if patterns.n == 0:
        return None, None, 0, ""
    with np.errstate(divide="ignore", invalid="ignore"):
        values = resampled_values(statistic, patterns, bootstrap)
    if len(values) == 0:
        return None, None, 0, ""
    tail = (1 - bootstrap.level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    plain = (float(low), float(high))
    estimate = point(statistic, patterns)
    z0 = bias_correction(values, estimate) if estimate is not None else math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        acceleration = jackknife_acceleration(statistic, patterns)
    if acceleration is None:
        return None, plain, len(values), "BCa undefined: leaving out a unit leaves it undefined"
    if not math.isfinite(z0):
        return None, plain, len(values), "BCa undefined: the estimate lies outside every resample"
    low, high = bca_levels(z0, acceleration, bootstrap.level)
    if not (math.isfinite(low) and math.isfinite(high)):
        return None, plain, len(values), "BCa undefined: the acceleration is too large for tails"
    bounds = np.percentile(values, [low * 100, high * 100])
    return (float(bounds[0]), float(bounds[1])), plain, len(values), ""


def units_interval(estimate: Estimate) -> tuple[tuple[float, float], str] | None:
    """The percentile bootstrap interval over cases and how it was made: the headline one, or
    the one beside a BCa headline; None when there is neither."""
    if estimate.ci is not None and estimate.interval_method == KINDS["percentile"]:
        return estimate.ci, estimate.ci_method
    for other in estimate.other_intervals:
        if other.get("ci") and other.get("interval_method") == KINDS["percentile"]:
            return (other["ci"][0], other["ci"][1]), other["ci_method"]
    return None


def point(statistic, patterns: Patterns) -> float | None:
    """The statistic at the observed weights; None where it is undefined (never a NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(statistic(patterns.observed())[0])
    return value if math.isfinite(value) else None
