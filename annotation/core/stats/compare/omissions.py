"""Omissions against a case's source facts (MED-OMIT): each source's importance-weighted omission
rate, and how far raters agree on which facts an output omits.

A rating gives, for one output, the share of its case's fact importance the output omits and
the share it states wrongly (`rubric.omission_rate`). A source has one output per case, so a
mean over its outputs is a mean over cases: each case's raters are averaged first, so that a
case read by more raters weighs no more than another. Intervals resample cases.
"""

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np

from annotation.core.stats import agreement
from annotation.core.stats.compare.common import Statistic, _estimate, _Result, _rows
from annotation.core.stats.data import Observation
from annotation.core.stats.resampling import Bootstrap

OMISSION_RATE = (
    "importance-weighted omission rate: the importance of the facts an output omits over that "
    "of all its case's facts, raters averaged per output, mean over outputs"
)
WRONG_RATE = (
    "importance-weighted share of facts stated wrongly, raters averaged per output, mean over "
    "outputs"
)
POOLED_ALPHA = (
    "Krippendorff's alpha, nominal metric, on omitted yes / no, each (output, fact) a unit"
)


@dataclass(frozen=True)
class OmissionRates(_Result):
    n_cases: int
    n_raters: int
    n_ratings: int
    omission_rate: Statistic
    wrong_rate: Statistic
    reason: str = ""


def omission_rates(
    rows: Iterable[tuple[Hashable, Hashable, float, float]], *, bootstrap: Bootstrap
) -> OmissionRates:
    """One source's rates from (case, rater, omitted share, wrong share) rows."""
    data = _rows(rows, numbers=2)
    sizes = (len(data.cases), data.n_raters, data.n)
    if data.n == 0:
        empty = (Statistic(m, None, reason="no ratings") for m in (OMISSION_RATE, WRONG_RATE))
        return OmissionRates(*sizes, *empty, reason="no ratings")
    counts = data.per_case(np.ones(data.n))
    by_case = np.column_stack([data.per_case(column) / counts for column in data.numbers.T])

    def statistic(weights: np.ndarray) -> np.ndarray:
        return (weights @ by_case) / weights.sum(axis=1)[:, None]

    rate, wrong = _estimate([OMISSION_RATE, WRONG_RATE], statistic, len(data.cases), bootstrap)
    return OmissionRates(*sizes, rate, wrong)


# A rater's mark of one fact of one output: case, output (its source), fact id, rater, and
# 1 when they ticked it omitted, else 0 (present, or present but stated wrongly).
FactMark = tuple[Hashable, Hashable, str, Hashable, int]


@dataclass(frozen=True)
class OneFact:
    """Agreement on one fact of one case, across that case's outputs."""

    case: str
    fact: str
    n_outputs: int  # outputs with two or more raters' marks
    omitted_share: float  # of every mark of the fact, the share ticked omitted
    alpha: float | None
    percent_agreement: float | None
    reason: str = ""  # why alpha is None (e.g. every mark the same)

    def as_dict(self) -> dict:
        data = {key: getattr(self, key) for key in self.__dataclass_fields__}
        return data if self.reason else {k: v for k, v in data.items() if k != "reason"}


@dataclass(frozen=True)
class FactAgreement(_Result):
    n_cases: int
    n_units: int  # (output, fact) units with two or more marks
    n_raters: int
    n_ratings: int
    alpha: Statistic  # pooled over every (output, fact)
    percent_agreement: float | None
    facts: tuple[OneFact, ...]
    reason: str = ""


def fact_agreement(marks: Iterable[FactMark], *, bootstrap: Bootstrap) -> FactAgreement:
    """Whether raters agree on which facts an output omits: per fact of each case, alpha over
    that case's outputs (percent agreement beside it, for the many facts too few outputs or
    too uniform marks leave alpha undefined on); pooled, alpha over every (output, fact) unit,
    its interval resampling cases (a case's facts and outputs drawn together)."""
    marks = sorted(marks, key=lambda m: tuple(map(str, m)))
    units: dict[tuple, dict[Hashable, int]] = {}
    for case, output, fact, rater, omitted in marks:
        units.setdefault((str(case), str(output), fact), {})[rater] = int(omitted)
    shared = {unit: marked for unit, marked in units.items() if len(marked) >= 2}
    raters = {rater for marked in shared.values() for rater in marked}
    by_fact: dict[tuple[str, str], dict] = {(case, fact): {} for case, _, fact in units}
    # The omitted share counts every mark, also those on outputs only one rater read.
    every_mark: dict[tuple[str, str], list[int]] = {key: [] for key in by_fact}
    for unit, marked in units.items():
        every_mark[(unit[0], unit[2])].extend(marked.values())
        if unit in shared:
            by_fact[(unit[0], unit[2])][unit] = marked
    facts = tuple(_one_fact(*key, by_fact[key], every_mark[key]) for key in sorted(by_fact))
    sizes = (len({u[0] for u in shared}), len(shared), len(raters))
    n_ratings = sum(len(marked) for marked in shared.values())
    if not shared:
        empty = Statistic(POOLED_ALPHA, None, reason="no fact was marked by two raters")
        return FactAgreement(*sizes, n_ratings, empty, None, facts, reason=empty.reason)
    observations = _observations(shared)
    pooled = agreement.krippendorff_alpha(observations, level="nominal", value_domain=[0, 1])
    alpha = _pooled_interval(shared, pooled, bootstrap)
    percent = agreement.percent_agreement(observations)
    return FactAgreement(*sizes, n_ratings, alpha, percent, facts)


def _observations(units: dict[tuple, dict]) -> list[Observation]:
    return [
        Observation("\x1f".join(unit), str(rater), float(omitted))
        for unit, marked in units.items()
        for rater, omitted in marked.items()
    ]


def _one_fact(case: str, fact: str, mine: dict[tuple, dict], values: list[int]) -> OneFact:
    """`mine`: the fact's units (one per output of the case) marked by two raters or more;
    `values`: every mark of the fact, on any of the case's outputs (never empty)."""
    share = sum(values) / len(values)
    if not mine:
        return OneFact(case, fact, 0, share, None, None, "no output was marked by two raters")
    observations = _observations(mine)
    result = agreement.krippendorff_alpha(observations, level="nominal", value_domain=[0, 1])
    percent = agreement.percent_agreement(observations)
    return OneFact(case, fact, len(mine), share, result.alpha, percent, result.reason)


def case_coincidences(shared: dict[tuple, dict]) -> tuple[list[str], np.ndarray]:
    """Per case, over its (output, fact) units marked by two raters or more: o01, the
    coincidences of unlike marks (each unit's n0 * n1 / (m - 1)), and n0 and n1, the marks of
    each value."""
    cases = sorted({unit[0] for unit in shared})
    index = {case: k for k, case in enumerate(cases)}
    sums = np.zeros((len(cases), 3))
    for unit, marked in shared.items():
        ones = sum(marked.values())
        zeros, m = len(marked) - ones, len(marked)
        sums[index[unit[0]]] += (zeros * ones / (m - 1), zeros, ones)
    return cases, sums


def binary_alpha(sums: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Nominal alpha on two values in closed form, 1 - (n - 1) * o01 / (n0 * n1), for each
    row of case weights (resamples x cases) over `case_coincidences`' sums."""
    o01, n0, n1 = (weights @ sums).T
    return 1 - (n0 + n1 - 1) * o01 / (n0 * n1)


def _pooled_interval(
    shared: dict[tuple, dict], pooled: agreement.AlphaResult, bootstrap: Bootstrap
) -> Statistic:
    """The pooled alpha (from the agreement code) with a case-bootstrap interval from
    `binary_alpha`, which gives the same value at the observed data (tested)."""
    if pooled.alpha is None:
        return Statistic(POOLED_ALPHA, None, reason=pooled.reason)
    cases, sums = case_coincidences(shared)
    [estimate] = _estimate(
        [POOLED_ALPHA], lambda w: binary_alpha(sums, w)[:, None], len(cases), bootstrap
    )
    return Statistic(
        POOLED_ALPHA,
        pooled.alpha,
        estimate.ci,
        estimate.ci_method,
        estimate.resamples,
        estimate.resamples_used,
        estimate.seed,
        ci_reason=estimate.ci_reason,
    )
