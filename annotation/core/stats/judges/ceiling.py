"""Can an LLM judge stand in for the clinicians? Three answers for one question:

- `judge_vs_humans`: the judge's agreement with each clinician and with the clinicians'
  majority, beside the clinicians' own leave-one-rater-out ceiling on the same units;
- `alternative_annotator_test`: the Alternative Annotator Test of Calderon, Reichart & Dror
  (ACL 2025, arXiv 2501.10970), and `aat_across` to correct several questions' tests together;
- `consistency`: how often the judge repeats its own modal answer (Pangakis et al. 2023).

Clinicians' ratings come as long data (`Observation(unit, rater, value)`), the judge's answers
as unit -> value (a mapping, or (unit, value) pairs), values already in canonical orientation
and "not applicable" left out. Plain data in, plain data out: no Django here.
"""

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import stats

from annotation.core.stats.coefficients import Estimate, krippendorff_alpha, percent_agreement
from annotation.core.stats.data import DataError, Observation, category_label, ratings_from
from annotation.core.stats.resampling import Bootstrap

# Calderon et al.'s rule of thumb for epsilon, the cost-benefit allowance the judge is given:
# experts (reliable but expensive) 0.2, skilled annotators 0.15, crowd workers 0.1.
EPSILON_EXPERTS = 0.2
EPSILON_SKILLED = 0.15
EPSILON_CROWD = 0.1
MIN_INSTANCES = 30  # the paper's floor for the t-test's normality assumption
MIN_ANNOTATORS = 3  # the paper's minimum: with two, "the others" is a single person
TIE_TOLERANCE = 1e-9  # scores or distances equal up to rounding are ties

Value = float | str
JudgeAnswers = Mapping[str, Value] | Iterable[tuple[str, Value]]

MAJORITY_RULE = (
    "nominal: the modal category, none when two or more categories share the highest count; "
    "ordinal: the median of the category positions, interval and ratio: the median of the "
    "values, then the nearest declared category (by position or value), none when the median "
    "lies exactly halfway between two categories. Units without a majority are left out and "
    "counted."
)


def _judge_answers(judge: JudgeAnswers) -> dict[str, Value]:
    """unit -> the judge's answer; answering a unit twice is a DataError."""
    pairs = judge.items() if isinstance(judge, Mapping) else judge
    answers: dict[str, Value] = {}
    for n, (unit, value) in enumerate(pairs):
        if unit in answers:
            raise DataError(f"the judge answered unit {unit!r} twice", n)
        answers[unit] = value
    return answers


# --- majority --------------------------------------------------------------------------------


def _scale(level: str, categories: tuple, numbers: np.ndarray | None) -> np.ndarray | None:
    """Where a median is taken: category positions (ordinal), values (interval, ratio), or
    nowhere (nominal: the mode)."""
    if level == "nominal":
        return None
    return np.arange(len(categories), dtype=float) if level == "ordinal" else numbers


def _majority_position(positions: Sequence[int], scale: np.ndarray | None) -> int | None:
    if scale is None:
        ranked = Counter(positions).most_common(2)
        if len(ranked) == 2 and ranked[0][1] == ranked[1][1]:
            return None  # a tied mode: no category is the majority
        return ranked[0][0]
    median = float(np.median(scale[list(positions)]))
    distance = np.abs(scale - median)
    # Rounding can make two equal distances differ in the last bit: compare with a tolerance.
    nearest = np.flatnonzero(distance <= distance.min() + TIE_TOLERANCE * (1 + abs(median)))
    return int(nearest[0]) if len(nearest) == 1 else None


def majority(values: Sequence[Value], *, level: str, categories: Sequence) -> Value | None:
    """The clinicians' majority answer on one unit by `MAJORITY_RULE`, as a declared category,
    or None when there is none (a tie). Needs at least one value."""
    if not values:
        raise DataError("a majority needs at least one value")
    observed = [Observation("unit", str(n), value) for n, value in enumerate(values)]
    ratings = ratings_from(observed, level=level, categories=categories)
    scale = _scale(level, ratings.categories, ratings.numbers)
    position = _majority_position([int(p) for p in ratings.position], scale)
    return None if position is None else ratings.categories[position]


# --- the judge against the clinicians --------------------------------------------------------


@dataclass(frozen=True)
class _Positions:
    """One question's checked answers as positions in the declared categories."""

    level: str
    categories: tuple
    scale: np.ndarray | None
    humans: dict[str, dict[str, int]]  # rater -> unit -> position
    judge: dict[str, int]  # unit -> position


def _positions(
    humans: Iterable[Observation], judge: JudgeAnswers, *, level: str, categories: Sequence
) -> _Positions:
    ratings = ratings_from(humans, level=level, categories=categories)
    answers = _judge_answers(judge)
    judged = ratings_from(
        [Observation(unit, "judge", value) for unit, value in answers.items()],
        level=level,
        categories=ratings.categories,
    )
    by_rater: dict[str, dict[str, int]] = {}
    for u, r, p in zip(ratings.unit_index, ratings.rater_index, ratings.position, strict=True):
        by_rater.setdefault(ratings.raters[r], {})[ratings.units[u]] = int(p)
    judge_at = {
        judged.units[u]: int(p) for u, p in zip(judged.unit_index, judged.position, strict=True)
    }
    scale = _scale(level, ratings.categories, ratings.numbers)
    return _Positions(level, ratings.categories, scale, by_rater, judge_at)


@dataclass
class Agreement:
    """Two sets of answers over the units both gave: percent agreement and Krippendorff's alpha
    at the question's level, the same two coefficients wherever judge and clinicians meet."""

    n_units: int
    percent_agreement: Estimate
    alpha: Estimate

    def as_dict(self) -> dict:
        return {
            "n_units": self.n_units,
            "percent_agreement": self.percent_agreement.as_dict(),
            "krippendorff_alpha": self.alpha.as_dict(),
        }


def _agreement(
    answers: dict[str, int],
    reference: dict[str, int],
    data: _Positions,
    bootstrap: Bootstrap | None,
) -> Agreement:
    units = [unit for unit in reference if unit in answers]
    observed = [Observation(u, "answers", data.categories[answers[u]]) for u in units]
    observed += [Observation(u, "reference", data.categories[reference[u]]) for u in units]
    ratings = ratings_from(observed, level=data.level, categories=data.categories)
    return Agreement(
        len(units),
        percent_agreement(ratings, bootstrap=bootstrap),
        krippendorff_alpha(ratings, bootstrap=bootstrap),
    )


def _majorities(
    raters: list[dict[str, int]], units: Iterable[str], scale: np.ndarray | None
) -> tuple[dict[str, int], int]:
    """The majority of `raters` on each of `units` they rated at least twice, and how many of
    those units had no majority."""
    found: dict[str, int] = {}
    missing = 0
    for unit in units:
        positions = [rated[unit] for rated in raters if unit in rated]
        if len(positions) < 2:
            continue
        position = _majority_position(positions, scale)
        if position is None:
            missing += 1
        else:
            found[unit] = position
    return found, missing


@dataclass
class CeilingRow:
    """One clinician, and the judge, each against the majority of the *other* clinicians, on
    the same units (rated by this clinician, the judge, and two or more others)."""

    n_units: int
    n_without_majority: int
    human: Agreement
    judge: Agreement

    def as_dict(self) -> dict:
        return {
            "n_units": self.n_units,
            "n_units_without_majority": self.n_without_majority,
            "human": self.human.as_dict(),
            "judge": self.judge.as_dict(),
        }


def _mean_pair(rows: Iterable[CeilingRow], pick: Callable[[Agreement], Estimate]) -> dict:
    """Mean human and mean judge value over the clinicians where both are defined, so the two
    means cover the same clinicians."""
    pairs = [(pick(row.human).value, pick(row.judge).value) for row in rows]
    pairs = [(h, j) for h, j in pairs if h is not None and j is not None]
    if not pairs:
        reason = "no clinician has a defined value for both"
        return {"human": None, "judge": None, "n_humans": 0, "reason": reason}
    humans, judges = zip(*pairs, strict=True)
    return {
        "human": float(np.mean(humans)),
        "judge": float(np.mean(judges)),
        "n_humans": len(pairs),
    }


@dataclass
class JudgeVsHumans:
    level: str
    per_human: dict[str, Agreement]  # the judge against each clinician
    majority: Agreement  # the judge against the clinicians' majority
    n_without_majority: int  # units with 2+ clinicians and the judge, but no majority
    ceiling: dict[str, CeilingRow]  # leave-one-rater-out
    majority_rule: str = MAJORITY_RULE

    def ceiling_mean(self) -> dict:
        rows = self.ceiling.values()
        return {
            "percent_agreement": _mean_pair(rows, lambda a: a.percent_agreement),
            "krippendorff_alpha": _mean_pair(rows, lambda a: a.alpha),
        }

    def as_dict(self) -> dict:
        return {
            "level": self.level,
            "majority_rule": self.majority_rule,
            "per_human": {rater: a.as_dict() for rater, a in self.per_human.items()},
            "majority": {
                **self.majority.as_dict(),
                "n_units_without_majority": self.n_without_majority,
            },
            "ceiling": {
                "method": "leave one clinician out: each clinician and the judge against the "
                "majority of the other clinicians, on the same units",
                "per_human": {rater: row.as_dict() for rater, row in self.ceiling.items()},
                "mean": self.ceiling_mean(),
            },
        }


def _ceiling_row(data: _Positions, rater: str, bootstrap: Bootstrap | None) -> CeilingRow:
    others = [rated for other, rated in data.humans.items() if other != rater]
    units = [unit for unit in data.humans[rater] if unit in data.judge]
    reference, missing = _majorities(others, units, data.scale)
    return CeilingRow(
        n_units=len(reference),
        n_without_majority=missing,
        human=_agreement(data.humans[rater], reference, data, bootstrap),
        judge=_agreement(data.judge, reference, data, bootstrap),
    )


def judge_vs_humans(
    humans: Iterable[Observation],
    judge: JudgeAnswers,
    *,
    level: str,
    categories: Sequence,
    bootstrap: Bootstrap | None = None,
) -> JudgeVsHumans:
    """The judge against each clinician, against the clinicians' majority (units with two or
    more clinicians; `MAJORITY_RULE`), and the leave-one-rater-out ceiling beside it."""
    data = _positions(humans, judge, level=level, categories=categories)
    reference, missing = _majorities(list(data.humans.values()), data.judge, data.scale)
    return JudgeVsHumans(
        level=level,
        per_human={
            rater: _agreement(data.judge, rated, data, bootstrap)
            for rater, rated in data.humans.items()
        },
        majority=_agreement(data.judge, reference, data, bootstrap),
        n_without_majority=missing,
        ceiling={rater: _ceiling_row(data, rater, bootstrap) for rater in data.humans},
    )


# --- the Alternative Annotator Test ----------------------------------------------------------


@dataclass
class AnnotatorTest:
    """One clinician h_j's test: does the judge represent the other clinicians at least as well
    as h_j does, allowing the judge epsilon? Tested rows have rho, and t and p unless d has
    zero variance (then `reason` says so and H0 stands); skipped rows have only n and reason."""

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
            "one-sided one-sample t-test of d = W_h - W_f against epsilon per clinician, "
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


def _normalised(value: Value, numeric: bool) -> Value:
    """Numbers as floats; categories as `category_label` so 1, 1.0 and "1" are one answer."""
    if value is None:
        raise DataError("None is not a value; leave a missing answer out")
    if not numeric:
        return category_label(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise DataError(f"{value!r} is not a value; leave a missing answer out")
    return number


def _by_unit(humans: Iterable[Observation], numeric: bool) -> dict[str, dict[str, Value]]:
    table: dict[str, dict[str, Value]] = {}
    for n, obs in enumerate(humans):
        rated = table.setdefault(obs.unit, {})
        if obs.rater in rated:
            raise DataError(f"rater {obs.rater!r} rated unit {obs.unit!r} twice", n)
        rated[obs.rater] = _normalised(obs.value, numeric)
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
        # scipy would divide by a zero standard deviation (t = -inf, p = 0 below epsilon);
        # STATISTICS.md: a zero-variance d gives no rejection.
        reason = f"every instance has d = {d[0]:g}: zero variance, no t-test, H0 not rejected"
        return None, None, reason
    result = stats.ttest_1samp(d, popmean=epsilon, alternative="less")
    return float(result.statistic), float(result.pvalue), ""


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
    """Adjusted p and rejection at q over `rows`. A zero-variance row enters as p = 1: it is
    one of the hypotheses tested (so it counts in m) and is never rejected."""
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
    answers = {u: _normalised(v, numeric) for u, v in _judge_answers(judge).items()}
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


# --- consistency -----------------------------------------------------------------------------


@dataclass
class Consistency:
    """Pangakis et al. (2023): per unit, the share of the judge's repeated runs that give the
    modal label (a tied mode gives the same share whichever label is taken)."""

    per_unit: dict[str, float]
    n_skipped: int  # units with fewer than two runs
    method: str = "share of repeated runs equal to the modal label, mean over units"

    @property
    def mean(self) -> float | None:
        return float(np.mean(list(self.per_unit.values()))) if self.per_unit else None

    def distribution(self) -> list[dict]:
        """How many units had each share, lowest share first."""
        counts = Counter(self.per_unit.values())
        return [{"share": share, "n_units": counts[share]} for share in sorted(counts)]

    def as_dict(self) -> dict:
        data = {
            "method": self.method,
            "mean": self.mean,
            "n_units": len(self.per_unit),
            "n_units_skipped": self.n_skipped,
            "distribution": self.distribution(),
        }
        if self.mean is None:
            data["reason"] = "no unit has two or more runs"
        return data


def consistency(samples_by_unit: Mapping[str, Sequence[Value]]) -> Consistency:
    """The judge's self-consistency from unit -> its labels over repeated runs."""
    per_unit: dict[str, float] = {}
    for unit, labels in samples_by_unit.items():
        if len(labels) < 2:
            continue
        keys = [_normalised(label, numeric=False) for label in labels]
        per_unit[unit] = Counter(keys).most_common(1)[0][1] / len(keys)
    return Consistency(per_unit, len(samples_by_unit) - len(per_unit))
