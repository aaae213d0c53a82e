"""How much raters corrected each source's outputs: the mean edit distance in characters and in
words, the word edit rate (word edits per word of the original), and the share of outputs
accepted unchanged. Plain data in, plain data out; no Django.

The intervals answer for these raters, on cases like these: the case bootstrap (percentile),
resampling cases with all their ratings, as the rest of the per-source summaries do. The share
accepted unchanged also has Wilson's score interval beside it, which treats every rating as
independent (it ignores that one case's raters agree more than two cases'), so it is the
narrower of the two where cases differ.
"""

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from annotation.core.stats.bootstrap import Bootstrap
from annotation.core.stats.names import THESE_RATERS
from annotation.core.stats.resampling import case_weights

WILSON = "Wilson score interval, ratings treated as independent"
MEASURES = {
    "mean_chars": "mean Levenshtein distance in characters",
    "mean_words": "mean Levenshtein distance in words",
    "edit_rate": "mean word edit rate (word edits per word of the original)",
    "share_unchanged": "share of outputs accepted unchanged",
}


@dataclass(frozen=True)
class CorrectionRow:
    """One rater's correction of one output."""

    case: Hashable
    rater: Hashable
    chars: int
    words: int
    rate: float | None  # None where the original has no words to divide by
    unchanged: bool


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """Wilson's (1927) score interval for a proportion."""
    if n == 0:
        return None
    z = float(ndtri((1 + level) / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def correction_summary(rows: Sequence[CorrectionRow], *, bootstrap: Bootstrap) -> dict:
    """Each measure of MEASURES as {"value", "ci", "method", ...}, over one source's rows,
    with the sizes; the share unchanged with Wilson's interval beside its bootstrap one."""
    cases = sorted({row.case for row in rows}, key=str)
    index = {case: k for k, case in enumerate(cases)}
    at = np.array([index[row.case] for row in rows], dtype=np.int64)
    rated = np.array([row.rate is not None for row in rows], dtype=bool)
    columns = {
        "mean_chars": (np.array([row.chars for row in rows], dtype=float), None),
        "mean_words": (np.array([row.words for row in rows], dtype=float), None),
        "edit_rate": (np.array([row.rate or 0.0 for row in rows], dtype=float), rated),
        "share_unchanged": (np.array([row.unchanged for row in rows], dtype=float), None),
    }
    summary: dict = {
        "n_cases": len(cases),
        "n_raters": len({row.rater for row in rows}),
        "n_ratings": len(rows),
    }
    for key, (values, kept) in columns.items():
        summary[key] = _measure(key, values, at, len(cases), kept, bootstrap)
    unchanged = sum(row.unchanged for row in rows)
    summary["share_unchanged"]["other_intervals"] = [
        {
            "ci": _listed(wilson_interval(unchanged, len(rows), bootstrap.level)),
            "interval_method": WILSON,
            "interval_question": "these ratings, each independent",
        }
    ]
    return summary


def _measure(key, values, at, n_cases, kept, bootstrap: Bootstrap) -> dict:
    """The mean of `values` (those `kept`) and its case-bootstrap percentile interval: per
    resample, each case's sum and count weighted by how often the case was drawn."""
    if kept is not None:
        values, at = values[kept], at[kept]
    sums = np.bincount(at, weights=values, minlength=n_cases)
    counts = np.bincount(at, minlength=n_cases).astype(float)
    value = float(sums.sum() / counts.sum()) if counts.sum() else None
    ci, used = None, 0
    if value is not None and bootstrap.resamples > 0:
        drawn = []
        for weights in case_weights(n_cases, bootstrap):
            with np.errstate(invalid="ignore", divide="ignore"):
                drawn.append((weights @ sums) / (weights @ counts))
        means = np.concatenate(drawn)
        means = means[np.isfinite(means)]
        used = len(means)
        tail = (1 - bootstrap.level) / 2 * 100
        ci = tuple(float(q) for q in np.percentile(means, [tail, 100 - tail])) if used else None
    return {
        "value": value,
        "ci": _listed(ci),
        "method": MEASURES[key],
        "interval_method": "percentile bootstrap over cases" if ci else "",
        "interval_question": THESE_RATERS if ci else "",
        "ci_method": bootstrap.describe().replace("units", "cases") if ci else "",
        "resamples": bootstrap.resamples,
        "resamples_used": used,
        "seed": bootstrap.seed,
        "n_ratings": int(counts.sum()),
    }


def _listed(ci) -> list | None:
    return list(ci) if ci else None
