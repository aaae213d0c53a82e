"""The judge against the clinicians: agreement with each clinician and with their majority, beside
the clinicians' leave-one-rater-out ceiling."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from annotation.core.stats.coefficients import Estimate, krippendorff_alpha, percent_agreement
from annotation.core.stats.data import Observation, ratings_from
from annotation.core.stats.judges.common import (
    MAJORITY_RULE,
    JudgeAnswers,
    answers_by_unit,
    majority_position,
    median_scale,
)
from annotation.core.stats.resampling import Bootstrap


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
    answers = answers_by_unit(judge)
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
    scale = median_scale(level, ratings.categories, ratings.numbers)
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
        position = majority_position(positions, scale)
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
