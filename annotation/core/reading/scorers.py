"""Whether an LLM judge can score undecided answers in the clinician scorer's place: their
agreement on the answers both scored (right or wrong).

Reported: the two-by-two table, the share on which they agree, Cohen's kappa (the existing
coefficient, with its asymptotic interval and a seeded bootstrap over answers: both say how
kappa would vary over other answers like these, scored by this scorer and this judge), and the
judge's sensitivity and specificity taking the clinician as the reference. An answer only one
of them scored is left out and counted.
"""

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from annotation.core.stats.bootstrap import Bootstrap
from annotation.core.stats.coefficients import cohen_kappa
from annotation.core.stats.data import DataError, Observation, ratings_from
from annotation.core.stats.estimate import Estimate

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
) -> ScorerAgreement:
    """Agreement of the judge's decisions with the clinician scorer's, answer by answer (the
    mappings' keys: an answer's id)."""
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
    return ScorerAgreement(
        both_right,
        clinician_only,
        judge_only,
        both_wrong,
        only_one,
        _share(both_right + both_wrong, len(cells)),
        cohen_kappa(ratings, bootstrap=bootstrap),
        _share(both_right, both_right + clinician_only),
        _share(both_wrong, both_wrong + judge_only),
    )


def _share(count: int, of: int) -> float | None:
    return count / of if of else None
