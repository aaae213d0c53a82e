"""The intraclass correlation in the six forms of Shrout & Fleiss (1979), from the two-way ANOVA
of the units every rater rated, with an interval for each.

ICC(1) and ICC(3) (one-way; consistency) carry the F-based interval of McGraw & Wong (1996,
Table 7), exact under their normal models. The absolute-agreement forms, ICC(A,1) = ICC(2,1) and
ICC(A,k), carry the generalized confidence interval (GCI) of Tian & Cappelleri (2004, Statistics
in Medicine 23:2125-2135; compared by Ionan et al. 2014, BMC Med Res Methodol 14:121), with
McGraw & Wong's F interval beside it: the F interval rests on a Satterthwaite approximation that
undercovers when raters differ systematically and there are few of them (0.86-0.90 at 100 cases
x 3-5 biased readers in `make bench-coverage`), where the GCI keeps 0.95. A unit bootstrap,
when asked for, is offered beside them."""

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from annotation.core.stats.data import Ratings
from annotation.core.stats.estimate import (
    Estimate,
    interval_dict,
    point,
    resampled_interval,
)
from annotation.core.stats.names import (
    F_INTERVAL,
    GCI_INTERVAL,
    RATERS_LIKE_THESE,
    THESE_RATERS,
)
from annotation.core.stats.resampling import Bootstrap, Patterns

ICC_FORMS = {
    "ICC1": "ICC(1,1): one-way random effects, single rater",
    "ICC2": "ICC(2,1): two-way random effects, absolute agreement, single rater",
    "ICC3": "ICC(3,1): two-way mixed effects, consistency, single rater",
    "ICC1k": "ICC(1,k): one-way random effects, mean of k raters",
    "ICC2k": "ICC(2,k): two-way random effects, absolute agreement, mean of k raters",
    "ICC3k": "ICC(3,k): two-way mixed effects, consistency, mean of k raters",
}


def icc(
    ratings: Ratings, *, bootstrap: Bootstrap | None = None, level: float = 0.95
) -> dict[str, Estimate]:
    """The six Shrout & Fleiss (1979) forms from the two-way ANOVA mean squares, over the units
    every rater rated (ICC needs a complete targets x raters table). Each carries the F-based
    interval of McGraw & Wong (1996); with `bootstrap`, the unit-bootstrap interval beside it."""
    values = ratings.values_matrix()
    complete = values[:, ~np.isnan(values).any(axis=0)].T  # targets x raters
    n, k = complete.shape
    patterns = Patterns.of(complete)
    estimates = {}
    for form, method in ICC_FORMS.items():
        estimate = Estimate(
            method=f"{method} (Shrout & Fleiss 1979)",
            value=None,
            n_units=n,
            n_raters=k if n else 0,
            n_ratings=n * k,
        )
        estimates[form] = estimate
        if k < 2 or n < 2:
            estimate.reason = "needs two or more units rated by every one of two or more raters"
            continue
        statistic = icc_statistic(patterns.rows, k, form)
        estimate.value = point(statistic, patterns)
        if estimate.value is None:
            estimate.reason = (
                "every rating is the same"
                if np.ptp(patterns.rows) == 0
                else f"the {form} denominator is zero (no variation it can compare against)"
            )
            continue
        squares = MeanSquares.of(complete)
        if form in AGREEMENT_FORMS:
            _with_gci_interval(estimate, squares, form, level)
        else:
            _with_f_interval(estimate, squares, form, level)
        if bootstrap is not None and bootstrap.resamples > 0:
            _with_bootstrap_beside(estimate, statistic, patterns, bootstrap)
    return estimates


def _with_f_interval(estimate: Estimate, squares: "MeanSquares", form: str, level: float) -> None:
    estimate.ci = icc_f_interval(squares, form, level=level)
    estimate.interval_method = F_INTERVAL
    estimate.interval_question = ICC_F_QUESTIONS[form]
    df = f" with Satterthwaite df {squares.satterthwaite_df():.2f}" if form[:4] == "ICC2" else ""
    if estimate.ci is None:
        estimate.ci_method = ""
        estimate.extra["ci_note"] = "the F-based interval is undefined for these mean squares"
        return
    estimate.ci_method = (
        f"F-based {level:.0%} interval of McGraw & Wong (1996), {ICC_MCGRAW_WONG[form]}{df}"
    )


def _with_gci_interval(estimate: Estimate, squares: "MeanSquares", form: str, level: float) -> None:
    """The GCI as the headline, McGraw & Wong's F interval beside it (both raters like these)."""
    _with_f_interval(estimate, squares, form, level)
    if estimate.ci is not None:
        estimate.other_intervals.append(
            interval_dict(estimate.ci, F_INTERVAL, estimate.interval_question, estimate.ci_method)
        )
    estimate.ci = icc_gci_interval(squares, form, level=level)
    estimate.interval_method, estimate.ci_method = GCI_INTERVAL, ""
    estimate.extra.pop("ci_note", None)
    if estimate.ci is None:
        estimate.extra["ci_note"] = (
            "the generalized confidence interval is undefined or unbounded for these mean squares"
        )
        return
    estimate.ci_method = (
        f"generalized confidence interval ({level:.0%}) of Tian & Cappelleri (2004) for "
        f"{ICC_MCGRAW_WONG[form]}, raters and cases random, computed by quadrature"
    )


def _with_bootstrap_beside(
    estimate: Estimate, statistic, patterns: Patterns, bootstrap: Bootstrap
) -> None:
    ci, used, note = resampled_interval(statistic, patterns, bootstrap)
    description = bootstrap.describe() + (f" ({note})" if note else "")
    estimate.other_intervals.append(
        interval_dict(
            ci,
            bootstrap.interval_method,
            THESE_RATERS,
            description,
            resamples=bootstrap.resamples,
            resamples_used=used,
            seed=bootstrap.seed,
        )
    )
    estimate.resamples, estimate.resamples_used = bootstrap.resamples, used
    estimate.seed = bootstrap.seed


# The absolute-agreement forms, whose headline interval is the GCI (see the module docstring).
AGREEMENT_FORMS = ("ICC2", "ICC2k")

# McGraw & Wong's names for Shrout & Fleiss's forms, and the question each F interval answers.
# ICC(1): each case's raters a fresh draw, so raters are random; ICC(2): the same raters on every
# case, drawn from raters like them; ICC(3): these raters, fixed.
ICC_MCGRAW_WONG = {
    "ICC1": "ICC(1)",
    "ICC2": "ICC(A,1)",
    "ICC3": "ICC(C,1)",
    "ICC1k": "ICC(k)",
    "ICC2k": "ICC(A,k)",
    "ICC3k": "ICC(C,k)",
}
ICC_F_QUESTIONS = {
    "ICC1": RATERS_LIKE_THESE + " (one-way model: each case's raters a fresh draw)",
    "ICC2": RATERS_LIKE_THESE,
    "ICC3": THESE_RATERS,
    "ICC1k": RATERS_LIKE_THESE + " (one-way model: each case's raters a fresh draw)",
    "ICC2k": RATERS_LIKE_THESE,
    "ICC3k": THESE_RATERS,
}


@dataclass(frozen=True)
class MeanSquares:
    """The two-way ANOVA of a complete targets x raters table (n targets, k raters): between
    targets (BMS, McGraw & Wong's MSR), within targets (WMS), between raters (JMS, MSC) and
    residual (EMS, MSE)."""

    n: int
    k: int
    bms: float
    wms: float
    jms: float
    ems: float

    @classmethod
    def of(cls, table: np.ndarray) -> "MeanSquares":
        n, k = table.shape
        grand = table.mean()
        between_rows = k * ((table.mean(axis=1) - grand) ** 2).sum()
        between_cols = n * ((table.mean(axis=0) - grand) ** 2).sum()
        error = ((table - grand) ** 2).sum() - between_rows - between_cols
        return cls(
            n=n,
            k=k,
            bms=between_rows / (n - 1),
            wms=(between_cols + error) / (n * (k - 1)),
            jms=between_cols / (k - 1),
            ems=error / ((n - 1) * (k - 1)),
        )

    def icc_agreement(self) -> float:
        """ICC(A,1) = ICC(2,1), the point estimate the Satterthwaite df is built on."""
        n, k = self.n, self.k
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(
                np.float64(self.bms - self.ems)
                / (self.bms + (k - 1) * self.ems + k * (self.jms - self.ems) / n)
            )

    def satterthwaite_df(self) -> float:
        """McGraw & Wong's (1996, Table 7) df for a*MSC + b*MSE, with a = k rho / (n (1 - rho))
        and b = 1 + k rho (n - 1) / (n (1 - rho)), rho the ICC(A,1) estimate; both are scaled
        by n (1 - rho) here, which leaves the df unchanged and stays finite at rho = 1."""
        with np.errstate(divide="ignore", invalid="ignore"):
            n, k, rho = self.n, self.k, self.icc_agreement()
            a = k * rho * self.jms
            b = (n * (1 + (k - 1) * rho) - k * rho) * self.ems
            return float((a + b) ** 2 / (a**2 / (k - 1) + b**2 / ((n - 1) * (k - 1))))


def icc_f_interval(
    squares: MeanSquares, form: str, *, level: float = 0.95
) -> tuple[float, float] | None:
    """McGraw & Wong's (1996, Table 7) F-based interval for one of the six forms (Shrout &
    Fleiss names); None where the mean squares leave it undefined."""
    upper_tail = (1 + level) / 2
    n, k = squares.n, squares.k
    with np.errstate(divide="ignore", invalid="ignore"):
        if form in ("ICC2", "ICC2k"):
            bounds = _agreement_bounds(squares, upper_tail)
            if form == "ICC2k":  # the mean of k raters: Spearman-Brown of ICC(A,1)'s bounds
                if bounds[0] <= -1 / (k - 1):
                    return None  # the step-up's pole: ICC(A,k) unbounded below
                bounds = tuple(k * b / (1 + (k - 1) * b) for b in bounds)
        else:
            one_way = form in ("ICC1", "ICC1k")
            within, df_within = (
                (squares.wms, n * (k - 1)) if one_way else (squares.ems, (n - 1) * (k - 1))
            )
            observed = squares.bms / within
            f_low = observed / stats.f.ppf(upper_tail, n - 1, df_within)
            f_high = observed * stats.f.ppf(upper_tail, df_within, n - 1)
            if form.endswith("k"):
                bounds = (1 - 1 / f_low, 1 - 1 / f_high)
            else:  # (F - 1) / (F + k - 1), written to stay finite as F grows
                bounds = (1 - k / (f_low + k - 1), 1 - k / (f_high + k - 1))
    low, high = (float(b) for b in bounds)
    return (low, high) if math.isfinite(low) and math.isfinite(high) else None


def icc_interval(
    squares: MeanSquares, form: str, *, method: str = "f", level: float = 0.95
) -> tuple[float, float] | None:
    """The interval `method` names for one form: "f", McGraw & Wong's F-based interval (every
    form), or "gci", the generalized confidence interval (ICC2 and ICC2k only)."""
    if method == "f":
        return icc_f_interval(squares, form, level=level)
    if method == "gci":
        return icc_gci_interval(squares, form, level=level)
    raise ValueError(f"unknown ICC interval method {method!r}: use 'f' or 'gci'")


def icc_gci_interval(
    squares: MeanSquares, form: str, *, level: float = 0.95
) -> tuple[float, float] | None:
    """The generalized confidence interval of Tian & Cappelleri (2004) for ICC(A,1) (Shrout &
    Fleiss's ICC2) or ICC(A,k) (ICC2k) under the two-way random-effects model.

    Each expected mean square theta = E(MS) has the generalized pivotal quantity
    df * MS / W, with W chi-square on df (independent for targets, raters and error); putting
    them into ICC(A,1) = n (t1 - t3) / (n t1 + k t2 + (nk - n - k) t3) gives a pivot whose
    (1 - level)/2 and (1 + level)/2 quantiles are the bounds (no truncation at zero). The
    quantiles are found without simulation: given the targets' and the error's W, the chance
    that the pivot is at most x is a chi-square probability for the raters' W, averaged over the
    other two by Gauss-Legendre quadrature in probability, and solved for x. ICC(A,k) is the
    Spearman-Brown step-up of ICC(A,1), so its bounds are those of ICC(A,1) stepped up; where
    ICC(A,1)'s lower bound is -1/(k-1) or below, ICC(A,k)'s is unbounded and there is no
    interval. None where undefined."""
    if form not in AGREEMENT_FORMS:
        raise ValueError(
            f"the generalized confidence interval here is for ICC2 and ICC2k, not {form}"
        )
    k = squares.k
    if squares.jms == 0 and squares.ems == 0:
        return 1.0, 1.0  # every rater gave every case the same value
    tail = (1 - level) / 2
    below = _gci_distribution(squares)
    bounds = [_gci_quantile(below, p) for p in (tail, 1 - tail)]
    if any(b is None for b in bounds):
        return None
    low, high = bounds
    if form == "ICC2k":
        # The step-up runs to minus infinity as ICC(A,1) falls to -1/(k-1): a bound of ICC(A,1)
        # there or below leaves ICC(A,k)'s interval unbounded below.
        if low <= -1 / (k - 1):
            return None
        low, high = (k * b / (1 + (k - 1) * b) for b in (low, high))
    return (float(low), float(high)) if math.isfinite(low) and math.isfinite(high) else None


def _legendre_in_probability(count: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(count)
    return (nodes + 1) / 2, weights / 2  # on (0, 1), the weights summing to 1


# Nodes over the targets' and the error's chi-square (in probability); 64 x 32 puts the bounds
# within 5e-4 of the exact quantiles in the worst case tried (2 raters, 14 targets).
_GCI_TARGET_NODES = _legendre_in_probability(64)
_GCI_ERROR_NODES = _legendre_in_probability(32)


def _gci_distribution(squares: MeanSquares):
    """x -> P(pivot <= x). The pivot is at most x when x k t2 >= r, with r = n (1 - x) t1 -
    (n + x c) t3 and c = nk - n - k. Given the targets' and the error's chi-square that is a
    chi-square probability for the raters' W2 (few df, so it is done exactly), averaged over the
    other two by quadrature."""
    n, k = squares.n, squares.k
    df1, df2, df3 = n - 1, k - 1, (n - 1) * (k - 1)
    (u1, w1), (u3, w3) = _GCI_TARGET_NODES, _GCI_ERROR_NODES
    t1 = (df1 * squares.bms / stats.chi2.ppf(u1, df1))[:, None]
    t3 = (df3 * squares.ems / stats.chi2.ppf(u3, df3))[None, :]
    weights = np.outer(w1, w3)
    c = n * k - n - k

    def below(x: float) -> float:
        if x >= 1:
            return 1.0
        r = n * (1 - x) * t1 - (n + x * c) * t3
        with np.errstate(divide="ignore", invalid="ignore"):
            w2_limit = df2 * squares.jms * x * k / r  # t2 >= r / (x k)  <=>  W2 vs this
            if x > 0:
                chance = np.where(r > 0, special.chdtr(df2, w2_limit), 1.0)
            elif x < 0:
                chance = np.where(r < 0, special.chdtrc(df2, w2_limit), 0.0)
            else:
                chance = (r <= 0).astype(float)
        return float((weights * chance).sum())

    return below


def _gci_quantile(below, p: float) -> float | None:
    """The x where below(x) = p, below rising from 0 to 1 as x rises to 1."""
    high = 1 - 1e-12
    if below(high) < p:
        return high
    low = -1.0
    while below(low) > p:
        low *= 2
        if low < -1e6:
            return None
    return float(optimize.brentq(lambda x: below(x) - p, low, high, xtol=1e-10))


def _agreement_bounds(squares: MeanSquares, upper_tail: float) -> tuple[float, float]:
    n, k = squares.n, squares.k
    msr, msc, mse = squares.bms, squares.jms, squares.ems
    if msc == 0 and mse == 0:
        return 1.0, 1.0  # every rater gave every case the same value: both bounds are 1 for any F
    df = squares.satterthwaite_df()
    f_low = stats.f.ppf(upper_tail, n - 1, df)
    f_high = stats.f.ppf(upper_tail, df, n - 1)
    rater_terms = k * msc + (k * n - k - n) * mse
    low = n * (msr - f_low * mse) / (f_low * rater_terms + n * msr)
    high = n * (f_high * msr - mse) / (rater_terms + n * f_high * msr)
    return low, high


def icc_statistic(rows: np.ndarray, k: int, form: str):
    """ICC of `form` as a function of weights over `rows` (targets x k raters' values):
    weights (resamples x rows) -> one ICC per resample, NaN where its denominator is zero."""
    # ICC does not change with the unit of measurement: work in units of the data's own spread,
    # so that "zero" below means zero relative to the data, whether it is in mol/L or in km.
    spread = rows.std()
    centred = (rows - rows.mean()) / (spread if spread > 0 else 1.0)
    row_means = centred.mean(axis=1)
    row_squares = (centred**2).sum(axis=1)

    def value(weights: np.ndarray) -> np.ndarray:
        n = weights.sum(axis=1)
        grand = (weights @ row_means) / n
        total = weights @ row_squares - n * k * grand**2
        between_rows = k * (weights @ row_means**2) - n * k * grand**2
        col_means = (weights @ centred) / n[:, None]
        between_cols = n * (col_means**2).sum(axis=1) - n * k * grand**2
        error = total - between_rows - between_cols
        bms = between_rows / (n - 1)
        jms = between_cols / (k - 1)
        ems = error / ((n - 1) * (k - 1))
        wms = (between_cols + error) / (n * (k - 1))
        numerator, denominator = {
            "ICC1": (bms - wms, bms + (k - 1) * wms),
            "ICC2": (bms - ems, bms + (k - 1) * ems + k * (jms - ems) / n),
            "ICC3": (bms - ems, bms + (k - 1) * ems),
            "ICC1k": (bms - wms, bms),
            "ICC2k": (bms - ems, bms + (jms - ems) / n),
            "ICC3k": (bms - ems, bms),
        }[form]
        return np.where(np.abs(denominator) > 1e-9, numerator / denominator, np.nan)

    return value
