"""Krippendorff's alpha and percent agreement as the checklist pages use them: long
observations in, one small result out. The computation is `annotation.core.stats`; this keeps the
shape those callers read (value, interval and why a value is missing)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from annotation.core.stats import coefficients
from annotation.core.stats.data import LEVELS, DataError, Observation, ratings_from
from annotation.core.stats.resampling import Bootstrap

__all__ = ["LEVELS", "AlphaResult", "Observation", "krippendorff_alpha", "percent_agreement"]


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
    method: str = ""
    ci_method: str = ""


def krippendorff_alpha(
    observations: Iterable[Observation],
    *,
    level: str,
    value_domain: Sequence[float] | None,
    resamples: int = 0,
    seed: int = 0,
) -> AlphaResult:
    """Alpha at the given level over the declared scale points (`value_domain`; None takes the
    values observed, as for numbers), with a 95% unit-bootstrap interval when `resamples` > 0."""
    observations = list(observations)
    if not observations:
        return AlphaResult(None, level, 0, 0, 0, reason="no unit has two or more ratings")
    try:
        ratings = ratings_from(observations, level=level, categories=value_domain)
    except DataError as exc:
        if exc.index is not None:
            raise  # one rating at fault (a second rating of a unit): a bug upstream, not data
        # The scale itself, e.g. a ratio-level question whose scale has negative points: that
        # question has no alpha, and says why; the other questions' statistics go on.
        return AlphaResult(None, level, 0, 0, 0, reason=str(exc))
    bootstrap = Bootstrap(resamples=resamples, seed=seed) if resamples > 0 else None
    estimate = coefficients.krippendorff_alpha(ratings, bootstrap=bootstrap)
    return AlphaResult(
        alpha=estimate.value,
        level=level,
        n_units=estimate.n_units,
        n_raters=estimate.n_raters,
        n_ratings=estimate.n_ratings,
        reason=estimate.reason,
        ci=estimate.ci,
        resamples=estimate.resamples,
        resamples_used=estimate.resamples_used,
        seed=estimate.seed,
        method=estimate.method,
        ci_method=estimate.ci_method,
    )


def percent_agreement(observations: Iterable[Observation]) -> float | None:
    """Mean over units with two or more ratings of the share of rater pairs that agree exactly;
    None when no unit has two ratings. On Krippendorff's (2011) example data this gives 0.818."""
    observations = list(observations)
    if not observations:
        return None
    return coefficients.percent_agreement(ratings_from(observations, level="nominal")).value
