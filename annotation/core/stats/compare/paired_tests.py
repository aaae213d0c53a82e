"""Paired tests on the cases two sources share: Wilcoxon's signed-rank test, the sign test,
McNemar's test, and the adjustment of a family of their p-values."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from annotation.core.stats.compare.common import _number, _Result
from annotation.core.stats.data import DataError

WILCOXON = "Wilcoxon signed-rank test, two-sided, zero differences dropped (zero_method 'wilcox')"
SIGN_TEST = (
    "exact sign test: two-sided binomial test (p = 0.5) of positive against negative "
    "differences, zero differences dropped"
)
MCNEMAR = "exact McNemar test: two-sided binomial test (p = 0.5) on the discordant pairs"
ADJUSTMENTS = {
    "holm": "Holm (1979) step-down adjustment",
    "bonferroni": "Bonferroni adjustment",
    "by": "Benjamini-Yekutieli (2001) false discovery rate adjustment",
}

WILCOXON_EXACT_MAX = 50  # nonzero pairs; beyond, the normal approximation (as scipy's "auto")
DIFFERENCE_DECIMALS = 12  # so 2/3 - 1/3 and 1/3, equal differences of means, rank as ties


def shared(a: Mapping, b: Mapping) -> list[tuple[float, float]]:
    """(a's value, b's value) for every case both have, in a's order."""
    return [(a[case], b[case]) for case in a if case in b]


def paired(a: Mapping, b: Mapping) -> list[float]:
    """a's value minus b's for every case both have, in a's order."""
    return [first - second for first, second in shared(a, b)]


def _differences(differences: Iterable[float]) -> np.ndarray:
    values = np.array([_number(d, n) for n, d in enumerate(differences)], dtype=float)
    return np.round(values, DIFFERENCE_DECIMALS)


@dataclass(frozen=True)
class Wilcoxon(_Result):
    method: str
    statistic: float | None  # scipy's two-sided statistic: the smaller signed-rank sum
    p_value: float | None
    n_pairs: int
    n_used: int  # nonzero differences
    n_zero: int
    median_difference: float | None  # of all differences, zeros included
    rank_biserial: float | None  # (T+ - T-) / (T+ + T-): > 0 when the first source is higher
    reason: str = ""


def wilcoxon(differences: Iterable[float]) -> Wilcoxon:
    """Wilcoxon's signed-rank test of paired differences (first minus second source)."""
    d = _differences(differences)
    nonzero = d[d != 0]
    sizes = dict(n_pairs=len(d), n_used=len(nonzero), n_zero=len(d) - len(nonzero))
    median = float(np.median(d)) if len(d) else None
    if len(nonzero) == 0:
        reason = "every difference is zero" if len(d) else "no pairs"
        return Wilcoxon(
            WILCOXON,
            None,
            None,
            **sizes,
            median_difference=median,
            rank_biserial=None,
            reason=reason,
        )
    # Zeros are dropped ("wilcox", as in Wilcoxon 1945 and R's wilcox.test) rather than ranked
    # ("pratt"), so this test, the sign test and the effect size all use the same pairs, and
    # the dropped ties are reported as n_zero.
    ranks = stats.rankdata(np.abs(nonzero))
    plus, minus = ranks[nonzero > 0].sum(), ranks[nonzero < 0].sum()
    null, p = _wilcoxon_p(nonzero, ranks, plus)
    return Wilcoxon(
        f"{WILCOXON}, {null}",
        float(min(plus, minus)),
        p,
        **sizes,
        median_difference=median,
        rank_biserial=float((plus - minus) / (plus + minus)),
    )


def _wilcoxon_p(nonzero: np.ndarray, ranks: np.ndarray, plus: float) -> tuple[str, float]:
    """The p-value and the null distribution it came from, chosen here rather than by scipy's
    "auto" so that the method can name it."""
    if len(nonzero) > WILCOXON_EXACT_MAX:
        p = stats.wilcoxon(nonzero, method="asymptotic").pvalue
        return "normal approximation, tie-corrected variance, no continuity correction", float(p)
    if len(np.unique(ranks)) == len(ranks):
        return "exact null distribution", float(stats.wilcoxon(nonzero, method="exact").pvalue)
    return "exact null distribution given the tied ranks", _tied_exact_p(ranks, plus)


def _tied_exact_p(ranks: np.ndarray, plus: float) -> float:
    """Two-sided p of T+ when each rank is positive or negative with probability 1/2, all 2^n
    sign patterns counted by convolution (scipy enumerates them: half a second at n = 13).
    Doubled midranks are whole numbers, so a doubled T+ indexes the distribution."""
    doubled = np.rint(2 * ranks).astype(np.int64)
    probability = np.zeros(doubled.sum() + 1)
    probability[0] = 1.0
    for rank in doubled:
        shifted = np.zeros_like(probability)
        shifted[rank:] = probability[:-rank]
        probability = (probability + shifted) / 2
    observed = round(2 * plus)
    tail = min(probability[: observed + 1].sum(), probability[observed:].sum())
    return float(min(1.0, 2 * tail))


@dataclass(frozen=True)
class SignTest(_Result):
    method: str
    p_value: float | None
    n_positive: int
    n_negative: int
    n_ties: int
    reason: str = ""


def sign_test(differences: Iterable[float]) -> SignTest:
    d = _differences(differences)
    positive, negative = int((d > 0).sum()), int((d < 0).sum())
    counts = dict(n_positive=positive, n_negative=negative, n_ties=len(d) - positive - negative)
    if positive + negative == 0:
        reason = "every difference is zero" if len(d) else "no pairs"
        return SignTest(SIGN_TEST, None, **counts, reason=reason)
    p = stats.binomtest(positive, positive + negative, 0.5).pvalue
    return SignTest(SIGN_TEST, float(p), **counts)


@dataclass(frozen=True)
class McNemar(_Result):
    method: str
    p_value: float | None
    b: int  # first source yes, second no
    c: int  # first source no, second yes
    n_pairs: int
    reason: str = ""


def mcnemar(pairs: Iterable[tuple[float, float]]) -> McNemar:
    """McNemar's test of paired binary answers (1 yes, 0 no) on the same cases."""
    answers = np.array([[_binary(x, n), _binary(y, n)] for n, (x, y) in enumerate(pairs)])
    answers = answers.reshape(-1, 2)
    b = int(((answers[:, 0] == 1) & (answers[:, 1] == 0)).sum())
    c = int(((answers[:, 0] == 0) & (answers[:, 1] == 1)).sum())
    if b + c == 0:
        reason = "no discordant pairs" if len(answers) else "no pairs"
        return McNemar(MCNEMAR, None, b, c, len(answers), reason=reason)
    p = stats.binomtest(b, b + c, 0.5).pvalue
    return McNemar(MCNEMAR, float(p), b, c, len(answers))


def _binary(value: object, n: int) -> int:
    number = _number(int(value) if isinstance(value, bool) else value, n)
    if number not in (0.0, 1.0):
        raise DataError(f"McNemar's test needs answers of 0 or 1, got {number:g}", n)
    return int(number)


def adjust(p_values: Sequence[float | None], *, method: str) -> list[float | None]:
    """Family-wise ("holm", "bonferroni") or false-discovery ("by") adjusted p-values, in input
    order and capped at 1. A None (a test the data could not run) stays None and is not
    counted among the hypotheses."""
    if method not in ADJUSTMENTS:
        raise ValueError(f"unknown adjustment {method!r}: use one of {', '.join(ADJUSTMENTS)}")
    present = [k for k, p in enumerate(p_values) if p is not None]
    p = np.array([_number(p_values[k], k) for k in present], dtype=float)
    if ((p < 0) | (p > 1)).any():
        raise DataError("p-values lie between 0 and 1")
    adjusted = _ADJUSTERS[method](p) if len(p) else p
    result: list[float | None] = list(p_values)
    for k, value in zip(present, np.minimum(adjusted, 1.0).tolist(), strict=True):
        result[k] = value
    return result


def _holm(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = stepped
    return adjusted


_ADJUSTERS = {
    "holm": _holm,
    "bonferroni": lambda p: p * len(p),
    "by": lambda p: stats.false_discovery_control(p, method="by"),
}
