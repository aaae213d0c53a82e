"""Automatic metrics against reader scores: Spearman's rho and Kendall's tau-b with their
case-bootstrap intervals and p-values, and a Fisher z interval for rho."""

import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from annotation.core.stats.compare.common import Statistic, _estimate, _Result, _Rows, _rows
from annotation.core.stats.resampling import Bootstrap

SPEARMAN = "Spearman's rho"
KENDALL = "Kendall's tau-b"
FISHER_Z = "Fisher z interval with the Bonett-Wright (2000) variance (1 + rho^2 / 2) / (n - 3)"

KENDALL_EXACT_MAX = 33  # as scipy: the exact null distribution without ties up to this size


@dataclass(frozen=True)
class Correlation(_Result):
    n_outputs: int
    n_cases: int
    spearman: Statistic
    kendall: Statistic
    spearman_p: float | None = None
    spearman_p_method: str = ""
    fisher_z_ci: tuple[float, float] | None = None  # treats outputs as independent
    fisher_z_method: str = ""
    kendall_p: float | None = None
    kendall_p_method: str = ""
    reason: str = ""


def correlation(
    rows: Iterable[tuple[Hashable, float, float]], *, bootstrap: Bootstrap
) -> Correlation:
    """Spearman's rho and Kendall's tau-b between an automatic metric and the reader score,
    one (case, metric value, reader score) row per output, with scipy's two-sided p-values and
    intervals resampling cases (a case's outputs together). For rho, also the Fisher z
    interval with Bonett and Wright's variance, which treats outputs as independent."""
    data = _rows(rows, numbers=2, rated=False)
    metric, score = data.numbers[:, 0], data.numbers[:, 1]
    sizes = dict(n_outputs=data.n, n_cases=len(data.cases))
    reason = _correlation_reason(metric, score)
    if reason:
        spearman, kendall = (Statistic(m, None, reason=reason) for m in (SPEARMAN, KENDALL))
        return Correlation(**sizes, spearman=spearman, kendall=kendall, reason=reason)
    spearman, kendall = _estimate(
        [SPEARMAN, KENDALL], _rank_correlations(data), len(data.cases), bootstrap, width=8 * data.n
    )
    fisher, why = _fisher_z(spearman.value, data.n, bootstrap.level)
    exact = data.n <= KENDALL_EXACT_MAX and _untied(metric) and _untied(score)
    tau = stats.kendalltau(metric, score, method="exact" if exact else "asymptotic")
    return Correlation(
        **sizes,
        spearman=spearman,
        spearman_p=float(stats.spearmanr(metric, score).pvalue),
        spearman_p_method="two-sided, t approximation with n - 2 degrees of freedom",
        fisher_z_ci=fisher,
        fisher_z_method=FISHER_Z if fisher else f"{FISHER_Z}: {why}",
        kendall=kendall,
        kendall_p=float(tau.pvalue),
        kendall_p_method="two-sided, "
        + ("exact null distribution" if exact else "normal approximation, tie-corrected variance"),
    )


def _untied(values: np.ndarray) -> bool:
    return len(np.unique(values)) == len(values)


def _correlation_reason(metric: np.ndarray, score: np.ndarray) -> str:
    if len(metric) < 3:
        return "a correlation needs three or more outputs"
    constant = [name for name, v in (("metric", metric), ("reader score", score)) if np.ptp(v) == 0]
    return f"the {' and the '.join(constant)} never varies" if constant else ""


def _rank_correlations(data: _Rows) -> Callable[[np.ndarray], np.ndarray]:
    """(case weights) -> (rho, tau) per row. Rho is the weighted Pearson correlation of the
    weighted midranks, all resamples at once; tau-b comes from scipy, one resample at a time,
    on the expanded rows (its O(n log n) count has no matrix form)."""
    metric, score = data.numbers[:, 0], data.numbers[:, 1]

    def statistic(weights: np.ndarray) -> np.ndarray:
        counts = weights[:, data.case]
        rho = _weighted_pearson(_midranks(metric, counts), _midranks(score, counts), counts)
        tau = np.full(len(counts), np.nan)
        for k, repeat in enumerate(counts):
            x, y = np.repeat(metric, repeat), np.repeat(score, repeat)
            if np.ptp(x) > 0 and np.ptp(y) > 0:
                tau[k] = stats.kendalltau(x, y).statistic
        return np.column_stack([rho, tau])

    return statistic


def _midranks(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each row's rank (rows x n) when row k holds counts[:, k] copies of values[k], ties
    sharing the mean of their ranks, as scipy's rankdata does."""
    distinct, group = np.unique(values, return_inverse=True)
    order = np.argsort(group, kind="stable")
    starts = np.searchsorted(group[order], np.arange(len(distinct)))
    per_value = np.add.reduceat(counts[:, order], starts, axis=1).astype(float)
    below = np.cumsum(per_value, axis=1) - per_value
    return (below + (per_value + 1) / 2)[:, group]


def _weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    total = w.sum(axis=1, keepdims=True)
    x = x - (w * x).sum(axis=1, keepdims=True) / total
    y = y - (w * y).sum(axis=1, keepdims=True) / total
    r = (w * x * y).sum(axis=1) / np.sqrt((w * x * x).sum(axis=1) * (w * y * y).sum(axis=1))
    return np.clip(r, -1, 1)  # rounding can put a perfect correlation a hair past 1


def _fisher_z(rho: float, n: int, level: float) -> tuple[tuple[float, float] | None, str]:
    if n <= 3:
        return None, "needs four or more outputs"
    if abs(rho) >= 1:
        return None, "rho is +1 or -1, where z is infinite"
    half_width = stats.norm.ppf(0.5 + level / 2) * math.sqrt((1 + rho**2 / 2) / (n - 3))
    z = math.atanh(rho)
    return (math.tanh(z - half_width), math.tanh(z + half_width)), ""
