"""A judge against an adjudicated reference (docs/adjudication.md): on the units a senior
clinician adjudicated, how often the judge's answer equals the reference, with a percentile
bootstrap interval over cases (the reference fixed, cases random: a case's units resampled
together), and for numeric scales the mean absolute difference. Plain data, no Django."""

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np

from annotation.core.stats.names import THESE_RATERS
from annotation.core.stats.resampling import Bootstrap, cluster_intervals

METHOD = "exact agreement of the judge with the adjudicated reference"


@dataclass(frozen=True)
class VersusReference:
    accuracy: float | None
    n_units: int
    n_cases: int
    ci: tuple[float, float] | None
    resamples: int
    mean_absolute_difference: float | None
    interval_method: str

    def as_dict(self) -> dict:
        return {
            "method": METHOD,
            "reference": "adjudicated reference",
            "ci": list(self.ci) if self.ci else None,
            "interval_method": self.interval_method,
            "interval_question": THESE_RATERS,
            "resamples": self.resamples,
            "n_cases": self.n_cases,
            "mean_absolute_difference": self.mean_absolute_difference,
        }


def judge_vs_reference(
    judge: Mapping[Hashable, float],
    reference: Mapping[Hashable, float],
    cases: Mapping[Hashable, Hashable],
    *,
    bootstrap: Bootstrap,
    numeric: bool,
) -> VersusReference:
    """`judge` and `reference`: codes by unit; `cases`: each unit's case (the cluster)."""
    units = sorted((u for u in reference if u in judge), key=repr)
    method = (
        f"percentile bootstrap resampling cases, {bootstrap.resamples} resamples, "
        f"seed {bootstrap.seed}"
    )
    if not units:
        return VersusReference(None, 0, 0, None, 0, None, method)
    hits = np.array([float(judge[u] == reference[u]) for u in units])
    case_ids = {case: i for i, case in enumerate(sorted({cases[u] for u in units}, key=repr))}
    clusters = np.array([case_ids[cases[u]] for u in units])

    def share(weights: np.ndarray) -> np.ndarray:
        totals = weights.sum(axis=1)
        return np.where(totals > 0, weights @ hits / np.where(totals > 0, totals, 1), np.nan)

    interval, _, resamples, _ = cluster_intervals(
        share, clusters, Bootstrap(bootstrap.resamples, bootstrap.seed, bootstrap.level)
    )
    difference = None
    if numeric:
        difference = float(np.mean([abs(judge[u] - reference[u]) for u in units]))
    return VersusReference(
        float(hits.mean()), len(units), len(case_ids), interval, resamples, difference, method
    )
