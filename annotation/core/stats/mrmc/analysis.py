"""The Obuchowski-Rockette analysis of a multi-reader multi-case study, with Hillis's degrees of
freedom, for three questions:

- random readers, random cases: would readers like these, reading cases like these, do
  differently under the modalities? The answer a paper about clinicians in general reports.
  F = MS(T) / [MS(T x R) + R max(Cov2 - Cov3, 0)] on (T - 1, ddf_H) degrees of freedom, ddf_H
  = [MS(T x R) + R max(Cov2 - Cov3, 0)]^2 / {MS(T x R)^2 / [(T - 1)(R - 1)]} (Hillis 2007).
- fixed readers, random cases: would these readers, reading cases like these, do differently?
  Chi-square = (T - 1) MS(T) / [Var - Cov1 + (R - 1) max(Cov2 - Cov3, 0)] on T - 1 df.
- random readers, fixed cases: would readers like these, reading these very cases, do
  differently? F = MS(T) / MS(T x R) on (T - 1, (T - 1)(R - 1)) df.

Each also gives every modality's mean figure alone with its interval, and each pair's
difference with its interval, the pairs sharing the analysis's pooled error term (Hillis 2007).

With three readers the random-readers, random-cases test runs above its level: in
`make bench-coverage` it rejected 0.062-0.079 of null studies at 0.05 (0.056-0.062 with five).
Hillis's ddf is computed from the observed MS(T x R), on (T - 1)(R - 1) = 2 df with two
modalities, so a small MS(T x R) makes both F and ddf large; with the ddf from the expected
MS(T x R) the size would be 0.029-0.048. This is the published method, kept as published
(docs/statistics.md, Coverage).
"""

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from annotation.core.stats.mrmc.readings import Covariances
from annotation.core.stats.names import FIXED_CASES, FIXED_READERS, RANDOM_BOTH
from annotation.core.stats.pilots import Components


@dataclass(frozen=True)
class Test:
    """The global test that every modality has the same mean figure. df2 None: the statistic
    is chi-square on df1 (fixed readers), or its denominator df is infinite."""

    statistic: str
    value: float
    df1: int
    df2: float | None
    p: float


@dataclass(frozen=True)
class Difference:
    """first minus second; df None: a normal (z) reference."""

    first: str
    second: str
    estimate: float
    se: float
    df: float | None
    ci: tuple[float, float] | None
    p: float | None


@dataclass(frozen=True)
class Alone:
    """One modality's mean figure over readers; df None: a normal (z) reference."""

    modality: str
    value: float
    se: float
    df: float | None
    ci: tuple[float, float] | None
    reason: str = ""  # why ci is None


@dataclass(frozen=True)
class Analysis:
    question: str
    readers: str  # "random" or "fixed"
    cases: str
    test: Test | None
    differences: tuple[Difference, ...]
    modalities: tuple[Alone, ...]
    reason: str = ""  # why test and differences are missing


def components(figures: np.ndarray, covariances: Covariances) -> Components:
    """Mean squares of the modalities x readers figures (Obuchowski & Rockette 1995)."""
    n_t, n_r = figures.shape
    grand = figures.mean()
    by_t, by_r = figures.mean(axis=1), figures.mean(axis=0)
    ms_t = n_r * ((by_t - grand) ** 2).sum() / (n_t - 1) if n_t > 1 else None
    ms_r = n_t * ((by_r - grand) ** 2).sum() / (n_r - 1) if n_r > 1 else None
    interaction = figures - by_t[:, None] - by_r[None, :] + grand
    ms_tr = (interaction**2).sum() / ((n_t - 1) * (n_r - 1)) if n_t > 1 and n_r > 1 else None
    c = covariances
    ms_t, ms_r, ms_tr = (None if ms is None else float(ms) for ms in (ms_t, ms_r, ms_tr))
    return Components(ms_t, ms_r, ms_tr, c.var, c.cov1, c.cov2, c.cov3, c.method)


def analyses(
    figures: np.ndarray,
    modalities: tuple,
    covariances: Covariances,
    *,
    level: float = 0.95,
) -> tuple[Analysis, ...]:
    """The three analyses of the figures (modalities x readers), in the order above."""
    parts = components(figures, covariances)
    alone = _alone_parts(figures, covariances)
    return tuple(
        _analysis(kind, figures, modalities, parts, alone, level)
        for kind in (RANDOM_BOTH, FIXED_READERS, FIXED_CASES)
    )


def _alone_parts(figures: np.ndarray, covariances: Covariances) -> list[tuple[float, float, float]]:
    """Per modality: MS(R) of its readers' figures, and its own Var and Cov2."""
    n_t, n_r = figures.shape
    blocks = covariances.matrix.reshape(n_t, n_r, n_t, n_r)
    parts = []
    for t in range(n_t):
        block = blocks[t, :, t, :]
        ms_r = float(figures[t].var(ddof=1)) if n_r > 1 else math.nan
        off = block[~np.eye(n_r, dtype=bool)]
        parts.append((ms_r, float(np.diag(block).mean()), float(off.mean()) if off.size else 0.0))
    return parts


def _analysis(
    kind: str,
    figures: np.ndarray,
    modalities: tuple,
    parts: Components,
    alone: list[tuple[float, float, float]],
    level: float,
) -> Analysis:
    n_t, n_r = figures.shape
    readers = "fixed" if kind == FIXED_READERS else "random"
    cases = "fixed" if kind == FIXED_CASES else "random"
    singles = tuple(
        _alone(kind, str(name), float(figures[t].mean()), alone[t], n_r, level)
        for t, name in enumerate(modalities)
    )
    error, reason = _error(kind, parts, n_t, n_r)
    if error is None:
        return Analysis(kind, readers, cases, None, (), singles, reason)
    variance, df = error
    if kind == FIXED_READERS:
        chi2 = float((n_t - 1) * parts.ms_t / variance)
        test = Test("chi-square", chi2, n_t - 1, None, float(stats.chi2.sf(chi2, n_t - 1)))
    else:
        f = float(parts.ms_t / variance)
        test = Test("F", f, n_t - 1, df, _f_sf(f, n_t - 1, df))
    means = figures.mean(axis=1)
    se = math.sqrt(2 * variance / n_r)
    differences = tuple(
        _difference(str(modalities[a]), str(modalities[b]), means[a] - means[b], se, df, level)
        for a in range(n_t)
        for b in range(a + 1, n_t)
    )
    return Analysis(kind, readers, cases, test, differences, singles)


def _error(
    kind: str, parts: Components, n_t: int, n_r: int
) -> tuple[tuple[float, float | None] | None, str]:
    """The error term (its value, and its df: None for normal) of the analysis, or a reason."""
    if n_t < 2:
        return None, "one modality: nothing to compare"
    if kind != FIXED_READERS and n_r < 2:
        return None, "one reader: reader variability cannot be estimated"
    case_part = max(parts.cov2 - parts.cov3, 0.0)
    if kind == RANDOM_BOTH:
        variance = parts.ms_tr + n_r * case_part
        df = _satterthwaite(variance, parts.ms_tr, (n_t - 1) * (n_r - 1))
    elif kind == FIXED_READERS:
        variance, df = parts.var - parts.cov1 + (n_r - 1) * case_part, None
    else:
        variance, df = parts.ms_tr, float((n_t - 1) * (n_r - 1))
    if not variance > 0:
        return None, "the error variance is zero: no test or interval"
    return (variance, df), ""


def _satterthwaite(variance: float, mean_square: float, df: int) -> float | None:
    """Hillis's ddf: variance^2 / (mean_square^2 / df); None (infinite) when mean_square is 0."""
    if mean_square <= 0:
        return None
    return variance**2 / (mean_square**2 / df)


def _alone(
    kind: str, name: str, value: float, part: tuple[float, float, float], n_r: int, level: float
) -> Alone:
    ms_r, var, cov2 = part
    if kind == RANDOM_BOTH:
        variance = ms_r + n_r * max(cov2, 0.0) if n_r > 1 else math.nan
        df = _satterthwaite(variance, ms_r, n_r - 1) if n_r > 1 else None
    elif kind == FIXED_READERS:
        variance, df = var + (n_r - 1) * max(cov2, 0.0), None
    else:
        variance, df = ms_r, float(n_r - 1) if n_r > 1 else None
    if n_r < 2 and kind != FIXED_READERS:
        why = "one reader: reader variability cannot be estimated"
        return Alone(name, value, math.nan, None, None, why)
    if not variance > 0:
        return Alone(name, value, 0.0, df, None, "no variability at all: no interval")
    se = math.sqrt(variance / n_r)
    return Alone(name, value, se, df, _interval(value, se, df, level))


def _difference(
    first: str, second: str, estimate: float, se: float, df: float | None, level: float
) -> Difference:
    statistic = estimate / se
    p = 2 * (stats.norm.sf(abs(statistic)) if df is None else stats.t.sf(abs(statistic), df))
    ci = _interval(float(estimate), se, df, level)
    return Difference(first, second, float(estimate), se, df, ci, float(p))


def _interval(value: float, se: float, df: float | None, level: float) -> tuple[float, float]:
    tail = (1 + level) / 2
    quantile = stats.norm.ppf(tail) if df is None else stats.t.ppf(tail, df)
    return (value - quantile * se, value + quantile * se)


def _f_sf(f: float, df1: int, df2: float | None) -> float:
    if df2 is None:
        return float(stats.chi2.sf(f * df1, df1))
    return float(stats.f.sf(f, df1, df2))


def plain(result: object) -> dict:
    """A result dataclass as plain data (NaN as None, tuples as lists)."""
    return _clean(asdict(result))


def _clean(value: object) -> object:
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_clean(item) for item in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return None
    if isinstance(value, np.floating | np.integer):
        return value.item()
    return value
