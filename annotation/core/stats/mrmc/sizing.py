"""Study sizing for a two-modality MRMC comparison: the power of the random-readers,
random-cases test (Obuchowski-Rockette with Hillis's degrees of freedom) for a planned number of
readers and cases, from pilot variance components (Hillis, Obuchowski & Berbaum 2011).

The pilot gives Var, Cov1, Cov2, Cov3 for its own number of cases K0; for K cases they scale by
K0 / K (they are variances of a mean over cases). The reader x modality variance sigma2_TR does
not depend on cases; from a pilot it is MS(T x R) - Var + Cov1 + Cov2 - Cov3, at least 0
(`interaction_variance`). With J readers and a true difference d:

  denominator = sigma2_TR + Var - Cov1 + (J - 1) max(Cov2 - Cov3, 0)
  lambda = J d^2 / (2 denominator)
  ddf = denominator^2 / ([sigma2_TR + Var - Cov1 - max(Cov2 - Cov3, 0)]^2 / (J - 1))

and the power is P(F'(1, ddf, lambda) > F_{1 - alpha}(1, ddf)), F' the noncentral F.
"""

import math
from dataclasses import dataclass

from scipy import stats

from annotation.core.stats.pilots import interaction_variance  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class Power:
    power: float
    readers: int
    cases: int
    difference: float
    alpha: float
    noncentrality: float
    ddf: float
    critical_f: float


def mrmc_power(
    *,
    difference: float,
    readers: int,
    cases: int,
    var: float,
    cov1: float,
    cov2: float,
    cov3: float,
    interaction: float,
    pilot_cases: int | None = None,
    alpha: float = 0.05,
) -> Power:
    """Power to detect `difference` between two modalities with `readers` readers and `cases`
    cases. Var and Cov1-3 are for `pilot_cases` cases (scaled to `cases`; None: already for
    `cases`); `interaction` is sigma2_TR."""
    if readers < 2 or cases < 1:
        raise ValueError("at least two readers and one case")
    scale = 1.0 if pilot_cases is None else pilot_cases / cases
    within = (var - cov1) * scale
    across = max(cov2 - cov3, 0.0) * scale
    denominator = interaction + within + (readers - 1) * across
    expected_ms_tr = interaction + within - across
    if not denominator > 0 or not expected_ms_tr > 0:
        raise ValueError("the variance components give no error variance")
    # In floats throughout: an enormous difference gives lambda = inf (power 1), not an error.
    noncentrality = readers * float(difference) * float(difference) / (2 * denominator)
    ddf = denominator**2 / (expected_ms_tr**2 / (readers - 1))
    critical = float(stats.f.isf(alpha, 1, ddf))
    power = float(stats.ncf.sf(critical, 1, ddf, noncentrality))
    if not math.isfinite(power):
        # scipy's noncentral F gives nan far out (a difference huge against the variances, or
        # lambda overflowing): there F' is the square of a noncentral t whose centre sqrt(lambda)
        # dwarfs its spread, and the power is that of the normal approximation, which is 1.
        power = float(stats.norm.sf(math.sqrt(critical) - math.sqrt(noncentrality)))
    return Power(power, readers, cases, difference, alpha, noncentrality, ddf, critical)
