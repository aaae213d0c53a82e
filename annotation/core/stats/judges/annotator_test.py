"""The Alternative Annotator Test (Calderon, Reichart & Dror, ACL 2025): per clinician left out,
does the judge match the others as well as that clinician does; Benjamini-Yekutieli across
clinicians and across questions."""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import stats

from annotation.core.stats.data import DataError, Observation
from annotation.core.stats.judges.common import (
    EPSILON_EXPERTS,
    MIN_ANNOTATORS,
    MIN_INSTANCES,
    TIE_TOLERANCE,
    JudgeAnswers,
    Value,
    answers_by_unit,
    normalised_value,
)


@dataclass
class AnnotatorTest:
    """One clinician h_j's test: does the judge represent the other clinicians at least as well
    as h_j does, allowing the judge epsilon? Tested rows have rho, t and p; where d is the
    same on every instance there is no t, `reason` says why, and p is the exact bound
    (1 - epsilon)^n when d is below epsilon, else None (H0 stands). Skipped rows have only n
    and reason."""

    human: str
    n_instances: int
    rho_f: float | None = None  # the judge's advantage probability, mean W_f
    rho_h: float | None = None  # the clinician's, mean W_h
    t: float | None = None
    p: float | None = None
    p_adjusted: float | None = None  # Benjamini-Yekutieli
    rejected: bool = False  # H0 rejected: the judge wins against this clinician
    reason: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> "AnnotatorTest":
        """Back from `as_dict` (a stored result), to correct stored tests together."""
        fields = ("human", "n_instances", "rho_f", "rho_h", "t", "p", "p_adjusted", "rejected")
        return cls(**{name: data[name] for name in fields}, reason=data.get("reason", ""))

    def as_dict(self) -> dict:
        data = {
            "human": self.human,
            "n_instances": self.n_instances,
            "rho_f": self.rho_f,
            "rho_h": self.rho_h,
            "t": self.t,
            "df": self.n_instances - 1 if self.t is not None else None,
            "p": self.p,
            "p_adjusted": self.p_adjusted,
            "rejected": self.rejected,
        }
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclass
class AlternativeAnnotatorTest:
    epsilon: float
    q: float
    numeric: bool
    annotators: list[AnnotatorTest]  # tested
    skipped: list[AnnotatorTest] = field(default_factory=list)
    corrected_over: str = "this question's annotators"

    @property
    def omega(self) -> float | None:
        """The winning rate: rejected / tested."""
        if not self.annotators:
            return None
        return sum(row.rejected for row in self.annotators) / len(self.annotators)

    @property
    def passes(self) -> bool | None:
        """omega >= 0.5; undecided (None) with fewer than MIN_ANNOTATORS tested clinicians,
        where "the other clinicians" is too few people for the test to mean anything."""
        if self.omega is None or len(self.annotators) < MIN_ANNOTATORS:
            return None
        return self.omega >= 0.5

    @property
    def rho(self) -> float | None:
        """Mean rho_f over the tested clinicians: the paper's measure for ranking judges."""
        if not self.annotators:
            return None
        return float(np.mean([row.rho_f for row in self.annotators]))

    def notes(self) -> list[str]:
        notes = []
        if not self.annotators:
            notes.append("no clinician had enough instances to be tested")
        elif len(self.annotators) < MIN_ANNOTATORS:
            notes.append(
                f"only {len(self.annotators)} clinician(s) tested: the paper asks for at least "
                f"{MIN_ANNOTATORS}, or 'the other clinicians' is too few people to stand for all"
            )
        return notes

    def as_dict(self) -> dict:
        return {
            "method": "Alternative Annotator Test (Calderon, Reichart & Dror, ACL 2025): "
            "one-sided one-sample t-test of d = W_h - W_f against epsilon per clinician "
            "(d the same on every instance and below epsilon: p = (1 - epsilon)^n), "
            f"Benjamini-Yekutieli at q across {self.corrected_over}",
            "scoring": "negative RMSE" if self.numeric else "share of exact matches",
            "epsilon": self.epsilon,
            "q": self.q,
            "n_tested": len(self.annotators),
            "omega": self.omega,
            "passes": self.passes,
            "rho_f_mean": self.rho,
            "annotators": [row.as_dict() for row in self.annotators],
            "skipped": [row.as_dict() for row in self.skipped],
            "notes": self.notes(),
        }


def _by_unit(humans: Iterable[Observation], numeric: bool) -> dict[str, dict[str, Value]]:
    table: dict[str, dict[str, Value]] = {}
    for n, obs in enumerate(humans):
        rated = table.setdefault(obs.unit, {})
        if obs.rater in rated:
            raise DataError(f"rater {obs.rater!r} rated unit {obs.unit!r} twice", n)
        rated[obs.rater] = normalised_value(obs.value, numeric)
    return table


def _score(value: Value, others: list[Value], numeric: bool) -> float:
    """Alignment with the other clinicians on one instance (higher is better)."""
    if numeric:
        return -math.sqrt(sum((value - other) ** 2 for other in others) / len(others))
    return sum(value == other for other in others) / len(others)


def _wins(
    instances: list[tuple[Value, Value, list[Value]]], numeric: bool
) -> tuple[np.ndarray, np.ndarray]:
    """W_f and W_h per instance: (judge answer, clinician answer, other clinicians' answers)."""
    judge = np.array([_score(f, others, numeric) for f, _, others in instances])
    human = np.array([_score(h, others, numeric) for _, h, others in instances])
    tie = np.abs(judge - human) <= TIE_TOLERANCE  # a tie counts as a win for both
    return (judge > human) | tie, (human > judge) | tie


def _t_test(d: np.ndarray, epsilon: float) -> tuple[float | None, float | None, str]:
    """H0: mean(d) >= epsilon against H1: mean(d) < epsilon."""
    if np.ptp(d) == 0:
        return _constant_d(float(d[0]), len(d), epsilon)
    result = stats.ttest_1samp(d, popmean=epsilon, alternative="less")
    return float(result.statistic), float(result.pvalue), ""


def _constant_d(value: float, n: int, epsilon: float) -> tuple[None, float | None, str]:
    """d is the same on every instance, so a t statistic would divide by a zero standard
    deviation. As the paper's reference code does, d below epsilon throughout speaks against
    H0: d takes the values -1, 0 and 1, and under H0 P(d = 1) >= mean(d) >= epsilon, so n
    independent instances without a single d = 1 have probability at most (1 - epsilon)^n,
    which is the p value (exact, not asymptotic). d at or above epsilon is no evidence."""
    if value >= epsilon:
        reason = f"every instance has d = {value:g}, not below epsilon: no t-test, H0 stands"
        return None, None, reason
    reason = (
        f"every instance has d = {value:g}, below epsilon: no t-test (zero variance); "
        "p = (1 - epsilon)^n, the exact bound on n instances without d = 1 under H0"
    )
    return None, min(1.0, (1 - epsilon) ** n), reason


def _annotator_test(
    human: str, instances: list, *, numeric: bool, epsilon: float, min_instances: int
) -> AnnotatorTest:
    n = len(instances)
    if n < min_instances:
        reason = f"{n} instances with another clinician and the judge, fewer than {min_instances}"
        return AnnotatorTest(human, n, reason=reason)
    w_f, w_h = _wins(instances, numeric)
    t, p, reason = _t_test(w_h.astype(float) - w_f.astype(float), epsilon)
    return AnnotatorTest(human, n, float(w_f.mean()), float(w_h.mean()), t, p, reason=reason)


def _instances(table: dict, judge: dict, human: str) -> list[tuple[Value, Value, list[Value]]]:
    """The instances `human` rated that the judge and at least one other clinician rated too."""
    found = []
    for unit, rated in table.items():
        if human in rated and unit in judge and len(rated) >= 2:
            others = [value for rater, value in rated.items() if rater != human]
            found.append((judge[unit], rated[human], others))
    return found


def _benjamini_yekutieli(rows: list[AnnotatorTest], q: float) -> list[AnnotatorTest]:
    """Adjusted p and rejection at q over `rows`. A row without p (d at or above epsilon on
    every instance) enters as p = 1: it is one of the hypotheses tested (so it counts in m)
    and is never rejected."""
    if not rows:
        return []
    p = np.array([1.0 if row.p is None else row.p for row in rows])
    adjusted = stats.false_discovery_control(p, method="by")
    return [
        replace(
            row,
            p_adjusted=None if row.p is None else float(a),
            rejected=row.p is not None and bool(a <= q),
        )
        for row, a in zip(rows, adjusted, strict=True)
    ]


def alternative_annotator_test(
    humans: Iterable[Observation],
    judge: JudgeAnswers,
    *,
    numeric: bool,
    epsilon: float = EPSILON_EXPERTS,
    q: float = 0.05,
    min_instances: int = MIN_INSTANCES,
) -> AlternativeAnnotatorTest:
    """The alt-test for one question: per clinician, the judge's and the clinician's alignment
    with the other clinicians (`numeric`: negative RMSE, else share of exact matches), a
    one-sided t-test of d = W_h - W_f against epsilon, then Benjamini-Yekutieli at q."""
    if not 0 < q < 1:
        raise ValueError(f"q must be between 0 and 1, not {q}")
    if min_instances < 2:
        raise ValueError("a t-test needs min_instances of 2 or more")
    table = _by_unit(humans, numeric)
    answers = {u: normalised_value(v, numeric) for u, v in answers_by_unit(judge).items()}
    raters = list(dict.fromkeys(rater for rated in table.values() for rater in rated))
    rows = [
        _annotator_test(
            rater,
            _instances(table, answers, rater),
            numeric=numeric,
            epsilon=epsilon,
            min_instances=min_instances,
        )
        for rater in raters
    ]
    tested = [row for row in rows if row.rho_f is not None]
    skipped = [row for row in rows if row.rho_f is None]
    return AlternativeAnnotatorTest(epsilon, q, numeric, _benjamini_yekutieli(tested, q), skipped)


@dataclass
class AcrossQuestions:
    """Several questions' alt-tests with one Benjamini-Yekutieli correction over every
    (question, clinician) hypothesis; each question keeps its own omega and pass."""

    q: float
    results: dict[str, AlternativeAnnotatorTest]

    @property
    def n_tested(self) -> int:
        return sum(len(result.annotators) for result in self.results.values())

    @property
    def omega(self) -> float | None:
        """Rejected / tested over every (question, clinician) hypothesis."""
        if not self.n_tested:
            return None
        rejected = sum(row.rejected for r in self.results.values() for row in r.annotators)
        return rejected / self.n_tested

    def as_dict(self) -> dict:
        decided = self.omega is not None and self.n_tested >= MIN_ANNOTATORS
        return {
            "q": self.q,
            "n_questions": len(self.results),
            "n_tested": self.n_tested,
            "omega": self.omega,
            "passes": self.omega >= 0.5 if decided else None,
            "questions": {name: result.as_dict() for name, result in self.results.items()},
        }


def aat_across(
    results: Mapping[str, AlternativeAnnotatorTest], *, q: float = 0.05
) -> AcrossQuestions:
    """Redo the Benjamini-Yekutieli step of several questions' tests (question name -> result)
    as one family, as the paper does across domains. Each question's raw p values are kept;
    its adjusted p, rejections, omega and pass now account for every question's tests."""
    if not 0 < q < 1:
        raise ValueError(f"q must be between 0 and 1, not {q}")
    pooled = _benjamini_yekutieli([row for r in results.values() for row in r.annotators], q)
    corrected: dict[str, AlternativeAnnotatorTest] = {}
    start = 0
    for name, result in results.items():
        rows = pooled[start : start + len(result.annotators)]
        start += len(result.annotators)
        over = f"{len(pooled)} annotator tests over {len(results)} questions"
        corrected[name] = replace(result, q=q, annotators=rows, corrected_over=over)
    return AcrossQuestions(q, corrected)
