"""The pilots a study offers for planning the next one, and the plans made from them.

A power pilot is a stored MRMC comparison of two sources (statistic "mrmc", source "A vs B"):
its variance components (`detail["components"]`, `detail["n_cases"]`) size a study that compares
the same two sources again. A width pilot is a question's Krippendorff's alpha over every source
and the raters alone, with its interval over cases for these raters. A stored result that cannot
serve says why (`reason`), in the words the statistics stored.
"""

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db.models import Q

from annotation.core.stats.names import RANDOM_BOTH, THESE_RATERS
from annotation.core.stats.pilots import Components, Pilot, cases_for_width
from annotation.models import Question, Result, Study
from annotation.selectors.results import intervals_by_question

if TYPE_CHECKING:
    from annotation.core.stats.planning import PowerPlan

MRMC = "mrmc"
ALPHA = "krippendorff_alpha"
# What each MRMC figure of merit is measured in, for the difference to detect.
FIGURE_UNITS = {"mean": "scale points", "proportion": "share, 0-1", "auc": "AUC"}


@dataclass
class PowerPilot:
    """One pair of sources on one question: its components as a `Pilot`, or why there is none."""

    result: Result
    pilot: Pilot | None = None
    observed: float | None = None  # the pilot's difference, first minus second, both random
    reason: str = ""

    @property
    def question(self) -> Question:
        return self.result.question

    @property
    def pair(self) -> str:
        return self.result.source

    @property
    def largest_difference(self) -> float | None:
        """1 for a share or an AUC; None for a score, whose scale the figure does not carry."""
        return 1.0 if self.result.detail.get("figure") in ("proportion", "auc") else None

    @property
    def readers(self) -> int:
        return self.result.n_raters

    @property
    def units(self) -> str:
        return FIGURE_UNITS.get(self.result.detail.get("figure", ""), "")


@dataclass
class WidthPilot:
    """One question's alpha with its interval for these raters over cases, or why none."""

    result: Result
    ci: tuple[float, float] | None = None
    method: str = ""
    reason: str = ""

    @property
    def question(self) -> Question:
        return self.result.question

    @property
    def width(self) -> float | None:
        return self.ci[1] - self.ci[0] if self.ci else None

    @property
    def cases(self) -> int:
        """The pilot's cases (results stored before cases were counted: its units)."""
        return self.result.detail.get("n_cases") or self.result.n_units

    @property
    def units_per_case(self) -> float:
        return self.result.n_units / self.cases if self.cases else 1.0


@dataclass
class PlanningPilots:
    power: list[PowerPilot] = field(default_factory=list)
    width: list[WidthPilot] = field(default_factory=list)

    @property
    def power_usable(self) -> list[PowerPilot]:
        return [p for p in self.power if p.pilot]

    @property
    def width_usable(self) -> list[WidthPilot]:
        return [p for p in self.width if p.ci]


def study_planning_pilots(*, study: Study) -> PlanningPilots:
    ordered = (
        study.results.filter(Q(statistic=MRMC) | Q(statistic=ALPHA, source=""), judge="")
        .select_related("question")
        .order_by("question__order", "question__key", "source")
    )
    return PlanningPilots(
        power=[_power_pilot(r) for r in ordered if r.statistic == MRMC],
        width=[_width_pilot(r) for r in ordered if r.statistic == ALPHA],
    )


def _power_pilot(result: Result) -> PowerPilot:
    detail = result.detail
    if result.value is None or "components" not in detail or not detail.get("n_cases"):
        return PowerPilot(result, reason=detail.get("reason") or "no variance components stored")
    try:
        components = Components(**detail["components"])
        pilot = Pilot.from_components(components, cases=detail["n_cases"])
    except (TypeError, ValueError) as exc:
        return PowerPilot(result, reason=str(exc))
    return PowerPilot(result, pilot, _observed(detail))


def _observed(detail: dict) -> float | None:
    """The random-readers, random-cases analysis' difference (first minus second)."""
    for analysis in detail.get("analyses", []):
        if analysis.get("question") == RANDOM_BOTH and analysis.get("differences"):
            return analysis["differences"][0].get("estimate")
    return None


def _width_pilot(result: Result) -> WidthPilot:
    these_raters, _ = intervals_by_question(result.detail)
    ci = these_raters["ci"]
    if not ci or not ci[1] > ci[0]:
        return WidthPilot(result, reason=these_raters.get("reason") or "the interval has no width")
    return WidthPilot(result, (ci[0], ci[1]), these_raters.get("ci_method", ""))


def plan_power(
    pilot: PowerPilot, *, difference: float, readers: list[int], power: float, alpha: float
) -> "PowerPlan":
    """For each number of readers, the fewest cases reaching `power` (ValueError: none can)."""
    # Imported here: the power needs scipy, which only a plan asked for loads, not the
    # dashboard that lists the pilots (issue 22).
    from annotation.core.stats.planning import cases_for_power

    if pilot.pilot is None:
        raise ValueError(f"this pilot cannot size a study: {pilot.reason}")
    return cases_for_power(
        pilot.pilot, difference=difference, readers=readers, power=power, alpha=alpha
    )


@dataclass(frozen=True)
class WidthAnswer:
    """`units` for the width, and the cases they make at the pilot's units per case (a unit is
    one case's output from one source, so over every source a case is several units)."""

    pilot: WidthPilot
    width: float
    cases: int
    units: int
    question: str = THESE_RATERS


def plan_width(pilot: WidthPilot, *, width: float) -> WidthAnswer:
    """The cases giving alpha's interval for these raters `width` wide, from the pilot's."""
    if pilot.width is None:
        raise ValueError(f"this pilot has no interval to scale: {pilot.reason}")
    units = cases_for_width(pilot_cases=pilot.result.n_units, pilot_width=pilot.width, width=width)
    cases = math.ceil(round(units * pilot.cases / pilot.result.n_units, 9))
    return WidthAnswer(pilot, width, cases, units)
