"""Whether an LLM judge can score undecided answers in the clinician scorer's place: their
agreement on the answers both scored (right or wrong).

Reported: the two-by-two table, the share on which they agree, Cohen's kappa (the existing
coefficient, with its asymptotic interval and a seeded bootstrap: both say how kappa would vary
over other answers like these, scored by this scorer and this judge), and the judge's
sensitivity and specificity taking the clinician as the reference. An answer only one of them
scored is left out and counted.

The answers are not independent: a reader answers a case twice in a sequential study (before
and after assistance, often the same words), and once per arm in a crossover. Given the
answers' clusters (reader and case), the bootstrap draws whole clusters, so that two copies of
one answer count as one draw, not two (the cluster bootstrap, Davison & Hinkley 1997, 3.8);
without them it draws answers, taken as independent, and says so.
"""

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np

from annotation.core.stats.bootstrap import Bootstrap
from annotation.core.stats.coefficients import cohen_kappa
from annotation.core.stats.data import DataError, Observation, ratings_from
from annotation.core.stats.estimate import Estimate
from annotation.core.stats.names import THESE_RATERS
from annotation.core.stats.resampling import case_weights

CLUSTER_INTERVAL = "percentile bootstrap over readers' answers to a case"

CLINICIAN, JUDGE = "clinician", "judge"


@dataclass(frozen=True)
class ScorerAgreement:
    both_right: int
    clinician_only_right: int  # the clinician said right, the judge wrong
    judge_only_right: int
    both_wrong: int
    only_one_scored: int
    agreement: float | None
    kappa: Estimate
    sensitivity: float | None  # of the answers the clinician called right, the judge's share
    specificity: float | None  # of the answers the clinician called wrong, the judge's share

    @property
    def n(self) -> int:
        return self.both_right + self.clinician_only_right + self.judge_only_right + self.both_wrong


def scorer_agreement(
    clinician: Mapping[Hashable, bool],
    judge: Mapping[Hashable, bool],
    *,
    bootstrap: Bootstrap | None = None,
    clusters: Mapping[Hashable, Hashable] | None = None,
) -> ScorerAgreement:
    """Agreement of the judge's decisions with the clinician scorer's, answer by answer (the
    mappings' keys: an answer's id). `clusters`, each answer's cluster (its reader and case):
    the kappa bootstrap resamples whole clusters; without it, answers."""
    shared = [key for key in clinician if key in judge]
    if not shared:
        raise DataError("no answer was scored by both the clinician and the judge")
    only_one = len(clinician) + len(judge) - 2 * len(shared)
    cells = [(bool(clinician[key]), bool(judge[key])) for key in shared]
    both_right = cells.count((True, True))
    clinician_only = cells.count((True, False))
    judge_only = cells.count((False, True))
    both_wrong = cells.count((False, False))
    observations = [
        Observation(str(key), rater, int(value))
        for key, pair in zip(shared, cells, strict=True)
        for rater, value in zip((CLINICIAN, JUDGE), pair, strict=True)
    ]
    ratings = ratings_from(observations, level="nominal", categories=(0, 1))
    if clusters is None:
        kappa = cohen_kappa(ratings, bootstrap=bootstrap)
    else:
        kappa = cohen_kappa(ratings)
        groups = [clusters[key] for key in shared]
        _with_cluster_interval(kappa, cells, groups, bootstrap)
    return ScorerAgreement(
        both_right,
        clinician_only,
        judge_only,
        both_wrong,
        only_one,
        _share(both_right + both_wrong, len(cells)),
        kappa,
        _share(both_right, both_right + clinician_only),
        _share(both_wrong, both_wrong + judge_only),
    )


def _share(count: int, of: int) -> float | None:
    return count / of if of else None


def _with_cluster_interval(
    kappa: Estimate, cells: list[tuple[bool, bool]], groups: list, bootstrap: Bootstrap | None
) -> None:
    """Kappa's percentile interval over resampled clusters: each resample draws as many
    clusters as there are, with replacement, and takes every answer of each drawn."""
    if kappa.value is None or bootstrap is None or bootstrap.resamples <= 0:
        return
    index = {group: n for n, group in enumerate(dict.fromkeys(groups))}
    tables = np.zeros((len(index), 4))  # per cluster: both right, c only, j only, both wrong
    for group, (clinician, judge) in zip(groups, cells, strict=True):
        tables[index[group], 2 * (not clinician) + (not judge)] += 1
    values = np.concatenate(
        [_kappa_of(weights @ tables) for weights in case_weights(len(index), bootstrap)]
    )
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return
    tail = (1 - bootstrap.level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    kappa.ci = (float(low), float(high))
    kappa.resamples, kappa.resamples_used, kappa.seed = (
        bootstrap.resamples,
        len(values),
        bootstrap.seed,
    )
    kappa.ci_method = (
        f"percentile bootstrap resampling (reader, case) clusters of answers ({len(index)} "
        f"clusters of {len(cells)} answers), {bootstrap.resamples} resamples, seed "
        f"{bootstrap.seed}"
    )
    kappa.interval_method, kappa.interval_question = CLUSTER_INTERVAL, THESE_RATERS


def _kappa_of(tables: np.ndarray) -> np.ndarray:
    """Cohen's kappa of each row's 2 x 2 table (both right, clinician only, judge only, both
    wrong); NaN where chance agreement is 1."""
    a, b, c, d = tables.T
    n = tables.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = (a + d) / n
        expected = ((a + b) * (a + c) + (c + d) * (b + d)) / n**2
        return np.where(expected < 1, (observed - expected) / (1 - expected), np.nan)
