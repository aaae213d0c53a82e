"""Inter-rater agreement coefficients over checked long data, each with its exact method name, a
seeded unit-bootstrap interval (percentile or BCa), the analytic standard error where one is
standard, and for ICC (in `icc`, re-exported here) the F-based intervals of McGraw & Wong
(1996). Every interval says how it was made and which question it answers (`estimate`).

Every coefficient is written as a function of unit-pattern weights (see `resampling`), so its
point estimate and its bootstrap come from the same code. Krippendorff's alpha takes its point
estimate from the `krippendorff` package; the pattern form is used for its bootstrap and is
tested to give the package's value.

A coefficient the data cannot define (no unit with two ratings, every rating the same value,
one category) has value None and a `reason`; nothing returns a silent NaN.
"""

import math
from collections.abc import Collection
from dataclasses import dataclass, replace

import krippendorff
import numpy as np

from annotation.core.stats.data import DataError, Ratings, category_label
from annotation.core.stats.estimate import (  # noqa: F401 (re-exported: the coefficients' result)
    Estimate,
    interval_dict,
    point,
    with_bootstrap,
)
from annotation.core.stats.icc import (  # noqa: F401 (re-exported beside the other coefficients)
    ICC_FORMS,
    MeanSquares,
    icc,
    icc_f_interval,
)
from annotation.core.stats.names import (  # noqa: F401 (re-exported: what the intervals answer)
    ASYMPTOTIC,
    F_INTERVAL,
    RATERS_LIKE_THESE,
    THESE_RATERS,
)
from annotation.core.stats.resampling import Bootstrap, Patterns

Z_95 = 1.959963984540054
PACKAGE_MAX_VALUES = 30  # above this many scale values, alpha's point estimate uses patterns
ORDINAL_BLOCK_CELLS = 4_000_000  # resamples x values x values held at once (ordinal alpha)
CHANCE_TOLERANCE = 1e-12  # chance agreement this close to 1 is 1 (kappa undefined)

# --- counts-based coefficients: alpha, percent agreement, Fleiss, Gwet ------------------------


@dataclass(frozen=True)
class _Counted:
    """Per-unit category counts as patterns; `pairable` marks patterns with two or more."""

    ratings: Ratings
    patterns: Patterns
    m: np.ndarray
    pairable: np.ndarray

    @classmethod
    def of(cls, ratings: Ratings) -> "_Counted":
        """Once per data set: every counts-based coefficient of it shares the patterns."""
        found = ratings.derived.get("patterns")  # not the _Counted itself: no reference cycle
        if found is None:
            counts = ratings.counts
            patterns = Patterns.of(counts[counts.sum(axis=1) > 0])
            found = ratings.derived["patterns"] = (patterns, patterns.rows.sum(axis=1))
        patterns, m = found
        return cls(ratings, patterns, m, m >= 2)

    def sizes(self) -> tuple[int, int, int]:
        """(units with two or more ratings, raters among them, ratings in them)."""
        found = self.ratings.derived.get("sizes")
        if found is None:
            pairable = self.ratings.counts.sum(axis=1) >= 2
            in_pairable = pairable[self.ratings.unit_index]
            raters = np.count_nonzero(np.bincount(self.ratings.rater_index[in_pairable]))
            found = (int(pairable.sum()), int(raters), int(in_pairable.sum()))
            self.ratings.derived["sizes"] = found
        return found

    def estimate(self, method: str) -> Estimate:
        """An estimate not yet computed, sized; with its reason when no unit is pairable."""
        n_units, n_raters, n_ratings = self.sizes()
        estimate = Estimate(method, None, n_units, n_raters, n_ratings)
        if n_units == 0:
            estimate.reason = "no unit has two or more ratings"
        return estimate

    def agreeing_share(self, weights: np.ndarray) -> np.ndarray:
        """Percent agreement / Fleiss' P-bar: the share of agreeing rater pairs, averaged over
        units with two or more ratings."""
        rows, m = self.patterns.rows[self.pairable], self.m[self.pairable]
        share = (rows * (rows - 1)).sum(axis=1) / (m * (m - 1))
        w = weights[:, self.pairable]
        return (w @ share) / w.sum(axis=1)


def _distance(level: str, ratings: Ratings, marginals: np.ndarray | None = None) -> np.ndarray:
    """Krippendorff's squared distances between categories (K x K; with `marginals`,
    r x K x K for the ordinal metric, which depends on them)."""
    k = len(ratings.categories)
    if level == "nominal":
        return 1.0 - np.eye(k)
    if level == "ordinal":
        cumulative = np.cumsum(marginals, axis=1)
        between = cumulative[:, None, :] - cumulative[:, :, None]  # S[k] - S[c] at [r, c, k]
        half_gap = (marginals[:, :, None] - marginals[:, None, :]) / 2
        return (between + half_gap) ** 2
    values = ratings.numbers
    diff = values[:, None] - values[None, :]
    if level == "interval":
        return diff**2
    total = values[:, None] + values[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total == 0, 0.0, (diff / total) ** 2)


def _alpha_statistic(counted: _Counted, level: str):
    rows = counted.patterns.rows[counted.pairable].astype(float)
    m = counted.m[counted.pairable].astype(float)
    ratings = counted.ratings
    if level != "ordinal":
        distance = _distance(level, ratings)
        # Observed disagreement per pattern: sum over c, k of o_ck d_ck (d_cc = 0).
        disagreement = np.einsum("pc,ck,pk->p", rows, distance, rows) / (m - 1)

    def alpha(weights: np.ndarray) -> np.ndarray:
        if level == "ordinal":
            # Its distances and coincidences are resamples x K x K: a few resamples at a time.
            block = max(1, ORDINAL_BLOCK_CELLS // rows.shape[1] ** 2)
            if len(weights) > block:
                return np.concatenate(
                    [in_block(weights[i : i + block]) for i in range(0, len(weights), block)]
                )
        return in_block(weights)

    # Not `alpha` calling itself: a function whose closure holds itself is a reference cycle,
    # which keeps the ratings it was made for (tens of MB at a million ratings, once per
    # rater left out) until the garbage collector happens to run.
    def in_block(weights: np.ndarray) -> np.ndarray:
        w = weights[:, counted.pairable]
        marginals = w @ rows  # n_c
        n = marginals.sum(axis=1)
        if level == "ordinal":
            d = _distance(level, ratings, marginals)
            coincidences = _coincidences(w, rows, m)
            observed = np.einsum("rck,rck->r", coincidences, d)
            expected = np.einsum("rc,rck,rk->r", marginals, d, marginals)
        else:
            observed = w @ disagreement
            expected = np.einsum("rc,ck,rk->r", marginals, distance, marginals)
        return np.where(expected > 0, 1 - (n - 1) * observed / expected, np.nan)

    return alpha


def _coincidences(w: np.ndarray, rows: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Coincidence matrices (r x K x K) from pattern weights, a block of patterns at a time."""
    k = rows.shape[1]
    total = np.zeros((w.shape[0], k, k))
    block = max(1, 2_000_000 // (k * k))
    for start in range(0, len(rows), block):
        part = rows[start : start + block]
        per = np.einsum("pc,pk->pck", part, part)
        per[:, np.arange(k), np.arange(k)] -= part
        per /= (m[start : start + block] - 1)[:, None, None]
        total += (w[:, start : start + block] @ per.reshape(len(part), k * k)).reshape(-1, k, k)
    return total


def krippendorff_alpha(
    ratings: Ratings, *, level: str | None = None, bootstrap: Bootstrap | None = None
) -> Estimate:
    level = level or ratings.level
    counted = _Counted.of(ratings)
    estimate = counted.estimate(f"Krippendorff's alpha, {level} metric")
    if estimate.reason:
        return estimate
    # The categories used in units with two or more ratings.
    used = np.count_nonzero(ratings.counts[ratings.counts.sum(axis=1) >= 2].sum(axis=0))
    if used < 2:
        # Every rating is the same value: expected disagreement is zero and alpha is 0/0.
        estimate.reason = "all ratings share one value"
        return estimate
    statistic = _alpha_statistic(counted, level)
    if len(ratings.categories) <= PACKAGE_MAX_VALUES:
        estimate.value = _package_alpha(ratings, level)
    else:
        # The package holds units x values x values numbers: with hundreds of distinct values
        # that is gigabytes. The pattern form gives the same value (tested to 1e-9).
        estimate.value = point(statistic, counted.patterns)
    return with_bootstrap(estimate, statistic, counted.patterns, bootstrap)


def _package_alpha(ratings: Ratings, level: str) -> float:
    """The point estimate from the `krippendorff` package, given each unit's count of each
    category with the categories' positions (nominal and ordinal: only order matters) or
    values (interval and ratio) as its domain.

    The package's first step from a raters x units matrix is exactly these counts (units in the
    same order, as integers), and the rest of its arithmetic is the same, so the value is the
    same to the bit (tested); without the matrix and its units x raters x values comparison,
    the one-rater-left-out values of the jackknife over raters cost a fraction of the time."""
    numeric = level in ("interval", "ratio")
    if numeric and ratings.numbers is None:
        raise DataError("these categories are not numbers")
    domain = list(ratings.numbers) if numeric else list(range(len(ratings.categories)))
    return float(
        krippendorff.alpha(
            value_counts=ratings.counts, level_of_measurement=level, value_domain=domain
        )
    )


def percent_agreement(ratings: Ratings, *, bootstrap: Bootstrap | None = None) -> Estimate:
    counted = _Counted.of(ratings)
    estimate = counted.estimate("percent agreement: share of agreeing rater pairs, mean over units")
    if estimate.reason:
        return estimate
    estimate.value = point(counted.agreeing_share, counted.patterns)
    return with_bootstrap(estimate, counted.agreeing_share, counted.patterns, bootstrap)


def fleiss_kappa(ratings: Ratings, *, bootstrap: Bootstrap | None = None) -> Estimate:
    """Fleiss' kappa, with each category's kappa, and the z test under H0 (kappa = 0) with the
    Fleiss, Nee & Landis (1979) variance when every unit has the same number of ratings.
    Units with unequal numbers of ratings take each unit's own number of rater pairs in P_i,
    and category shares over all their ratings."""
    counted = _Counted.of(ratings)
    estimate = counted.estimate("Fleiss' kappa (Fleiss 1971)")
    if estimate.reason:
        return estimate
    rows = counted.patterns.rows[counted.pairable].astype(float)

    def kappa(weights: np.ndarray) -> np.ndarray:
        w = weights[:, counted.pairable]
        shares = (w @ rows) / (w @ rows).sum(axis=1, keepdims=True)
        chance = (shares**2).sum(axis=1)
        agreement = counted.agreeing_share(weights)
        return np.where(chance < 1, (agreement - chance) / (1 - chance), np.nan)

    estimate.value = point(kappa, counted.patterns)
    if estimate.value is None:
        estimate.reason = "every rating falls in one category, so chance agreement is 1"
        return estimate
    estimate.extra = _fleiss_detail(counted, rows)
    return with_bootstrap(estimate, kappa, counted.patterns, bootstrap)


def _fleiss_detail(counted: _Counted, rows: np.ndarray) -> dict:
    weights = counted.patterns.weights[counted.pairable].astype(float)
    m = counted.m[counted.pairable].astype(float)
    n_units = weights.sum()
    p = (weights @ rows) / (weights @ rows).sum()
    q = 1 - p
    disagreeing = weights @ (rows * (m[:, None] - rows) / (m * (m - 1))[:, None])
    per_category = {}
    for j, category in enumerate(counted.ratings.categories):
        if 0 < p[j] < 1:
            per_category[str(category_label(category))] = float(
                1 - disagreeing[j] / (n_units * p[j] * q[j])
            )
        else:
            per_category[str(category_label(category))] = (
                None  # never or always chosen: no kappa of its own
            )
    detail: dict = {
        "per_category": per_category,
        "category_shares": {
            str(c): float(share) for c, share in zip(counted.ratings.categories, p, strict=True)
        },
        "p_bar": float(weights @ ((rows * (rows - 1)).sum(axis=1) / (m * (m - 1))) / n_units),
        "p_e": float((p**2).sum()),
    }
    if len(np.unique(m)) == 1:
        raters = m[0]
        pq = (p * q).sum()
        variance = 2 / (n_units * raters * (raters - 1)) * (pq**2 - (p * q * (q - p)).sum()) / pq**2
        kappa = (detail["p_bar"] - detail["p_e"]) / (1 - detail["p_e"])
        z = kappa / math.sqrt(variance)
        detail["z"] = float(z)
        detail["p_value"] = float(0.5 * math.erfc(z / math.sqrt(2)))  # one-sided, kappa > 0
        detail["z_method"] = "z under H0 (kappa = 0), Fleiss, Nee & Landis (1979) variance"
    return detail


WEIGHTINGS = ("unweighted", "linear", "quadratic")


def category_weights(k: int, weighting: str) -> np.ndarray:
    """Agreement weights by position in the declared category list (1 on the diagonal)."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}")
    if weighting == "unweighted" or k < 2:
        return np.eye(k)
    gap = np.abs(np.arange(k)[:, None] - np.arange(k)[None, :]) / (k - 1)
    return 1 - gap if weighting == "linear" else 1 - gap**2


def gwet_ac(
    ratings: Ratings, *, weighting: str = "unweighted", bootstrap: Bootstrap | None = None
) -> Estimate:
    """Gwet's AC1 (unweighted) or AC2 (linear or quadratic weights by category position).
    Agreement over units with two or more ratings; the chance term from category prevalence
    over every rated unit, with q the number of declared categories (Gwet 2014)."""
    counted = _Counted.of(ratings)
    name = "Gwet's AC1" if weighting == "unweighted" else f"Gwet's AC2, {weighting} weights"
    estimate = counted.estimate(name)
    q = len(ratings.categories)
    if estimate.reason:
        return estimate
    if q < 2:
        estimate.reason = "one category: chance agreement is undefined"
        return estimate
    weights_kl = category_weights(q, weighting)
    all_rows = counted.patterns.rows.astype(float)
    prevalence_rows = all_rows / counted.m[:, None]
    rows = all_rows[counted.pairable]
    m = counted.m[counted.pairable].astype(float)
    weighted = rows @ weights_kl
    agreeing = (rows * (weighted - 1)).sum(axis=1) / (m * (m - 1))
    chance_factor = weights_kl.sum() / (q * (q - 1))

    def ac(weights: np.ndarray) -> np.ndarray:
        w = weights[:, counted.pairable]
        p_a = (w @ agreeing) / w.sum(axis=1)
        prevalence = (weights @ prevalence_rows) / weights.sum(axis=1, keepdims=True)
        p_e = chance_factor * (prevalence * (1 - prevalence)).sum(axis=1)
        return np.where(p_e < 1, (p_a - p_e) / (1 - p_e), np.nan)

    estimate.value = point(ac, counted.patterns)
    return with_bootstrap(estimate, ac, counted.patterns, bootstrap)


# --- Cohen's kappa: two raters --------------------------------------------------------------


def cohen_kappa(
    ratings: Ratings, *, weighting: str = "unweighted", bootstrap: Bootstrap | None = None
) -> Estimate:
    """Cohen's kappa for exactly two raters over the units both rated; weights by position in
    the declared categories. Standard error: Fleiss, Cohen & Everitt (1969)."""
    if len(ratings.raters) != 2:
        raise ValueError(f"Cohen's kappa needs exactly two raters, not {len(ratings.raters)}")
    name = "Cohen's kappa" if weighting == "unweighted" else f"Cohen's kappa, {weighting} weights"
    matrix = ratings.matrix
    both = ~np.isnan(matrix).any(axis=0)
    pairs = matrix[:, both].T.astype(np.int64)  # units x (first rater, second rater)
    estimate = Estimate(
        method=name,
        value=None,
        n_units=len(pairs),
        n_raters=2 if len(pairs) else 0,
        n_ratings=2 * len(pairs),
    )
    if len(pairs) == 0:
        estimate.reason = "no unit was rated by both raters"
        return estimate
    k = len(ratings.categories)
    agreement_weights = category_weights(k, weighting)
    patterns = Patterns.of(pairs)
    kappa = cohen_kappa_statistic(patterns.rows, k, weighting)
    estimate.value = point(kappa, patterns)
    if estimate.value is None:
        estimate.reason = "both raters used a single category: chance agreement is 1"
        return estimate
    table = np.zeros((k, k))
    np.add.at(table, (pairs[:, 0], pairs[:, 1]), 1)
    estimate.se = _cohen_se(table, agreement_weights, estimate.value)
    asymptotic = (estimate.value - Z_95 * estimate.se, estimate.value + Z_95 * estimate.se)
    estimate.extra = {
        "ci_asymptotic": list(asymptotic),
        "se_method": "asymptotic, Fleiss, Cohen & Everitt (1969)",
    }
    estimate.other_intervals.append(
        interval_dict(
            asymptotic,
            ASYMPTOTIC,
            THESE_RATERS,
            "kappa ± 1.96 SE, the SE of Fleiss, Cohen & Everitt (1969)",
        )
    )
    return with_bootstrap(estimate, kappa, patterns, bootstrap)


def cohen_kappa_statistic(pairs: np.ndarray, k: int, weighting: str):
    """Cohen's kappa as a function of weights over `pairs` (rows of the two raters' category
    positions, of k categories): weights (resamples x rows) -> one kappa per resample, NaN
    where chance agreement is 1."""
    agreement_weights = category_weights(k, weighting)
    first, second = pairs[:, 0], pairs[:, 1]
    first_is, second_is = np.eye(k)[first], np.eye(k)[second]  # rows x categories

    def kappa(weights: np.ndarray) -> np.ndarray:
        p = weights / weights.sum(axis=1, keepdims=True)
        rows, cols = p @ first_is, p @ second_is
        observed = p @ agreement_weights[first, second]
        expected = np.einsum("ri,ij,rj->r", rows, agreement_weights, cols)
        # Every reading in one category sums to 1 only up to rounding (24 shares of 1/24):
        # without the tolerance such a resample would get 0/0's rounding error as its kappa.
        defined = expected < 1 - CHANCE_TOLERANCE
        return np.where(defined, (observed - expected) / (1 - expected), np.nan)

    return kappa


def _cohen_se(table: np.ndarray, w: np.ndarray, kappa: float) -> float:
    n = table.sum()
    p = table / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    expected = rows @ w @ cols
    row_mean = w @ cols  # w-bar_i. = sum_j p_.j w_ij
    col_mean = rows @ w  # w-bar_.j = sum_i p_i. w_ij
    spread = (w - (row_mean[:, None] + col_mean[None, :]) * (1 - kappa)) ** 2
    variance = ((p * spread).sum() - (kappa - expected * (1 - kappa)) ** 2) / (
        n * (1 - expected) ** 2
    )
    return float(math.sqrt(max(variance, 0.0)))


# --- all that apply -------------------------------------------------------------------------


def all_coefficients(
    ratings: Ratings, *, bootstrap: Bootstrap | None = None, bca: Collection[str] = ()
) -> dict:
    """Every coefficient that applies to the data: alpha at its level, percent agreement,
    Fleiss' kappa and Gwet's AC1 always; Cohen's kappa with exactly two raters (weighted too
    for ordinal and higher levels); Gwet's AC2 for ordinal and higher; ICC for numbers.
    The coefficients keyed in `bca` take the BCa bootstrap, the others `bootstrap` as given."""

    def unit_bootstrap(key: str) -> Bootstrap | None:
        return replace(bootstrap, kind="bca") if bootstrap and key in bca else bootstrap

    ordered = ratings.level != "nominal"
    result: dict = {
        "krippendorff_alpha": krippendorff_alpha(
            ratings, bootstrap=unit_bootstrap("krippendorff_alpha")
        ),
        "percent_agreement": percent_agreement(
            ratings, bootstrap=unit_bootstrap("percent_agreement")
        ),
        "fleiss_kappa": fleiss_kappa(ratings, bootstrap=unit_bootstrap("fleiss_kappa")),
        "gwet_ac1": gwet_ac(ratings, bootstrap=unit_bootstrap("gwet_ac1")),
    }
    if ordered:
        for weighting in ("linear", "quadratic"):
            key = f"gwet_ac2_{weighting}"
            result[key] = gwet_ac(ratings, weighting=weighting, bootstrap=unit_bootstrap(key))
    if len(ratings.raters) == 2:
        result["cohen_kappa"] = cohen_kappa(ratings, bootstrap=unit_bootstrap("cohen_kappa"))
        if ordered:
            for weighting in ("linear", "quadratic"):
                key = f"cohen_kappa_{weighting}"
                result[key] = cohen_kappa(
                    ratings, weighting=weighting, bootstrap=unit_bootstrap(key)
                )
    if ratings.level in ("interval", "ratio"):
        result["icc"] = icc(ratings, bootstrap=unit_bootstrap("icc"))
    return result
