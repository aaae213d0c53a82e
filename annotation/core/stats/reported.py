"""What a study and the `agreement` command report for each agreement coefficient: its value,
its interval for these raters (cases random), and beside it the interval for raters like these
(raters and cases random) or why there is none. One place, so both say the same.

The interval for these raters is the unit (case) bootstrap. It is BCa (Efron 1987) for the
coefficients where `make bench-coverage` shows BCa brings coverage closer to 95% at 30 cases
(docs/statistics.md, Coverage): Fleiss' kappa most (0.886-0.934 to 0.922-0.952), Krippendorff's
alpha and Gwet's AC1 a little; Cohen's kappa and Gwet's AC2 are the same kind of coefficient and
take it too. Percent agreement keeps the percentile interval (BCa did not help it), and ICC keeps
its model-based headline: the generalized confidence interval (Tian & Cappelleri 2004) for
ICC(A,1) and ICC(A,k), McGraw & Wong's F interval for the other forms (`icc`).

The raters-and-cases interval (`raters_random`) reads the cases' variance from the width of the
percentile interval, as benchmarked, so a BCa coefficient carries that one beside it too.
"""

import math

from annotation.core.stats import coefficients, raters_random
from annotation.core.stats.data import Ratings
from annotation.core.stats.estimate import Estimate, units_interval
from annotation.core.stats.names import RATERS_AND_CASES, RATERS_LIKE_THESE
from annotation.core.stats.resampling import Bootstrap

BCA_COEFFICIENTS = frozenset(
    {
        "krippendorff_alpha",
        "fleiss_kappa",
        "gwet_ac1",
        "gwet_ac2_linear",
        "gwet_ac2_quadratic",
        "cohen_kappa",
        "cohen_kappa_linear",
        "cohen_kappa_quadratic",
    }
)
TWO_RATERS = "needs three or more raters (the jackknife over raters leaves one out)"


def reported_coefficients(
    ratings: Ratings, *, bootstrap: Bootstrap | None, no_raters_like_these: str = ""
) -> dict:
    """Every coefficient that applies (as `coefficients.all_coefficients`, ICC a dict of its
    forms), each interval for these raters as chosen above, and each coefficient but ICC with
    the raters-and-cases interval beside it, or, with `no_raters_like_these` a reason, none,
    saying that reason."""
    estimates = coefficients.all_coefficients(ratings, bootstrap=bootstrap, bca=BCA_COEFFICIENTS)
    # Each rater is left out once for every coefficient that needs it, not once per coefficient.
    wanted = {
        key: raters_random.coefficient_for(key)
        for key, estimate in estimates.items()
        if key != "icc"
        and not no_raters_like_these
        and not _no_interval_reason(estimate, units_interval(estimate), ratings, key)
    }
    leave_outs = raters_random.leave_each_rater_out(ratings, wanted)  # type: ignore[arg-type]
    for key, estimate in estimates.items():
        if key != "icc":
            add_raters_like_these(
                estimate,
                ratings,
                key,
                no_interval=no_raters_like_these,
                leave_outs=leave_outs.get(key),
            )
    return estimates


def add_raters_like_these(
    estimate: Estimate,
    ratings: Ratings,
    key: str,
    *,
    no_interval: str = "",
    leave_outs: list | None = None,
) -> None:
    """Append to `estimate.other_intervals` the interval for raters like these on cases like
    these (raters_random, its default raters part), or an entry with no interval and why.
    `leave_outs`, the coefficient with each rater left out, when already computed."""
    units = units_interval(estimate)
    reason = no_interval or _no_interval_reason(estimate, units, ratings, key)
    interval = None
    if not reason and units is not None:
        if leave_outs is None:
            variance, reason = raters_random.raters_variance(
                ratings,
                raters_random.coefficient_for(key),  # type: ignore[arg-type]
            )
        else:
            variance, reason = raters_random.jackknife_raters_variance(leave_outs)
        interval = raters_random.raters_and_cases_interval(
            estimate=estimate.value,  # type: ignore[arg-type]
            unit_ci=units[0],
            raters_variance=variance,
            n_units=estimate.n_units,
            n_raters=estimate.n_raters,
            reason=reason,
            bounds=raters_random.range_of(key),
        )
        reason = interval.reason
    if interval is None or interval.ci is None:
        entry = coefficients.interval_dict(None, RATERS_AND_CASES, RATERS_LIKE_THESE, "")
        estimate.other_intervals.append({**entry, "reason": reason})
        return
    estimate.other_intervals.append(
        coefficients.interval_dict(
            interval.ci,
            RATERS_AND_CASES,
            RATERS_LIKE_THESE,
            interval.describe() + f" ({units[1]}; {interval.df:.1f} df)",
            se_units=interval.se_units,
            se_raters=interval.se_raters,
            df=interval.df if interval.df is not None and math.isfinite(interval.df) else None,
        )
    )


def _no_interval_reason(estimate: Estimate, units: tuple | None, ratings: Ratings, key: str) -> str:
    if estimate.value is None:
        return "the coefficient is undefined"
    if units is None:
        return "no interval over cases to add the raters' part to"
    if len(ratings.raters) < raters_random.MIN_RATERS:
        return TWO_RATERS
    if raters_random.coefficient_for(key) is None:
        return "not offered for this coefficient"
    return ""
