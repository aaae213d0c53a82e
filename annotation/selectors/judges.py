"""LLM judges as their study's admins see them (the overview, a judge's consistency, which are
running), and what a judge run reads: the questions and items it judges, the orders it shows,
the units it still has to do."""

import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Prefetch

from annotation.core import judging
from annotation.core.stats.names import (
    CALIBRATION,
    JUDGE_DIAGNOSTICS,
    LENGTH_BIAS,
    SELF_PREFERENCE,
)
from annotation.models import (
    Case,
    Item,
    ItemOutput,
    Judge,
    JudgeRating,
    JudgeVerdict,
    Output,
    Question,
    Result,
    Study,
    TaskRun,
)
from annotation.selectors.task_runs import task_runs_live


def judged_questions(study: Study) -> list[Question]:
    return [q for q in study.questions.all() if q.kind in judging.JUDGED_KINDS]


def judge_items(study: Study):
    """The items a judge rates: the study's own, not training or attention checks."""
    outputs = Output.objects.select_related("case")
    return (
        Item.objects.filter(study=study, output__case__role=Case.Role.STUDY)
        .select_related("output__case", "output_b")
        .prefetch_related(
            Prefetch(
                "members",
                queryset=ItemOutput.objects.prefetch_related(Prefetch("output", queryset=outputs)),
            )
        )
        .order_by("pk")
    )


def orders_for(judge: Judge, item: Item) -> list[list[int]]:
    """The orders an item is shown in: a seeded shuffle, as a rater's would be, so that no
    source always comes first; and, when the judge judges both orders, that order rotated by
    half, which moves every output (for a pair, the other way round)."""
    n = len(item.canonical_outputs())
    order = list(range(n))
    random.Random(f"{judge.study.seed}\x1fjudge\x1f{judge.pk}\x1f{item.pk}").shuffle(order)
    if not (judge.both_orders and n > 1):
        return [order]
    half = n // 2
    return [order, order[half:] + order[:half]]


@dataclass(frozen=True)
class Unit:
    item: Item
    variant: int
    order: list[int]
    sample: int


def judge_units_missing(judge: Judge) -> list[Unit]:
    """Every (item, order, sample) the judge has no parsed verdict for yet, failed ones too."""
    done = set(
        judge.verdicts.filter(outcome=JudgeVerdict.Outcome.OK).values_list(
            "item_id", "variant", "sample"
        )
    )
    return [
        Unit(item, variant, order, sample)
        for item in judge_items(judge.study)
        for variant, order in enumerate(orders_for(judge, item))
        for sample in range(judge.samples)
        if (item.pk, variant, sample) not in done
    ]


def judge_consistency(*, judge: Judge) -> list[dict]:
    """How consistent a judge was with itself, per question.

    Position: of the pairs judged in both orders (sample by sample), the share where it
    preferred the same source, or called both a tie, once the sides are put back in canonical
    order. Samples: with more than one sample, for each item, order and response, the share of
    samples giving the most common answer, averaged (1 = always the same answer)."""
    rows = JudgeRating.objects.filter(
        verdict__judge=judge, verdict__outcome=JudgeVerdict.Outcome.OK
    ).values_list(
        "question__key",
        "question__kind",
        "verdict__item_id",
        "verdict__variant",
        "verdict__sample",
        "output_id",
        "answer",
        "value",
    )
    by_order: dict = defaultdict(dict)  # (key, item, sample) -> variant -> canonical value
    by_sample: dict = defaultdict(list)  # (key, item, variant, output) -> answers
    kinds: dict[str, str] = {}
    for key, kind, item, variant, sample, output, answer, value in rows:
        kinds[key] = kind
        if kind == Question.Kind.PAIRWISE and value is not None:
            by_order[(key, item, sample)][variant] = value
        by_sample[(key, item, variant, output)].append(
            value if kind == Question.Kind.PAIRWISE else json.dumps(answer, sort_keys=True)
        )
    summary = []
    for key in sorted(kinds):
        pairs = [v for (k, _, _), v in by_order.items() if k == key and len(v) == 2]
        same = sum((v[0] > 0) - (v[0] < 0) == (v[1] > 0) - (v[1] < 0) for v in pairs)
        groups = [a for (k, *_), a in by_sample.items() if k == key and len(a) > 1]
        shares = [Counter(a).most_common(1)[0][1] / len(a) for a in groups]
        summary.append(
            {
                "question": key,
                "position_pairs": len(pairs),
                "position_consistency": same / len(pairs) if pairs else None,
                "sampled_units": len(groups),
                "sample_consistency": sum(shares) / len(shares) if shares else None,
            }
        )
    return summary


def study_judges_overview(*, study: Study) -> list[Judge]:
    """Each judge with its progress (`n_done` of `n_units`), units whose last try failed, and
    its consistency per question."""
    judges = list(study.judges.all())
    for judge in judges:
        missing = judge_units_missing(judge) if study.status != Study.Status.DRAFT else []
        judge.n_done = judge.verdicts.filter(outcome=JudgeVerdict.Outcome.OK).count()
        judge.n_units = judge.n_done + len(missing)
        judge.n_remaining = len(missing)
        failed = set(
            judge.verdicts.filter(outcome=JudgeVerdict.Outcome.FAILED).values_list(
                "item_id", "variant", "sample"
            )
        )
        judge.n_failed = sum((u.item.pk, u.variant, u.sample) in failed for u in missing)
        judge.consistency = judge_consistency(judge=judge)
        judge.diagnostics = judge_diagnostics(study=study, judge=judge.label)
    return judges


def judges_running(*, study: Study) -> list[str]:
    """The labels of the study's judges with a live run (queued or running, not dead)."""
    runs = task_runs_live().filter(study=study, kind=TaskRun.Kind.RUN_JUDGE)
    return sorted(set(runs.values_list("judge__label", flat=True)))


DIAGNOSTIC_NAMES = {
    LENGTH_BIAS: "Length bias",
    SELF_PREFERENCE: "Self-preference",
    CALIBRATION: "Calibration",
}
DIAGNOSTIC_COLUMNS = [
    "judge",
    "question",
    "diagnostic",
    "value",
    "ci_low",
    "ci_high",
    "judge_figure",
    "raters_figure",
    "n_units",
    "n_cases",
    "method",
    "ci_method",
    "interval_question",
    "reading",
]


def judge_diagnostics(*, study: Study, judge: str | None = None) -> list[dict]:
    """Each stored judge diagnostic (length bias, self-preference, calibration) per judge and
    question, as a flat row with its interval and a one-line plain reading; a diagnostic not
    computed has no value and its reason as the reading. Admin data: never shown to raters."""
    results = Result.objects.filter(study=study, statistic__in=JUDGE_DIAGNOSTICS)
    if judge is not None:
        results = results.filter(judge=judge)
    results = results.select_related("question").order_by(
        "judge", "question__order", "question__key", "statistic"
    )
    return [_diagnostic_row(result) for result in results]


def _diagnostic_row(result: Result) -> dict:
    detail = result.detail
    ci = detail.get("ci") or [None, None]
    return {
        "judge": result.judge,
        "question": result.question.key,
        "diagnostic": DIAGNOSTIC_NAMES.get(result.statistic, result.statistic),
        "value": result.value,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "judge_figure": detail.get("judge"),
        "raters_figure": detail.get("clinicians"),
        "n_units": result.n_units,
        "n_cases": detail.get("n_cases"),
        "method": detail.get("method", ""),
        "ci_method": detail.get("ci_method", ""),
        "interval_question": detail.get("interval_question", ""),
        "reading": diagnostic_reading(result.statistic, result.value, detail),
    }


def diagnostic_reading(statistic: str, value: float | None, detail: dict) -> str:
    """One plain sentence: which way the judge departs from the raters, and whether the
    interval leaves room for no difference at all."""
    if value is None:
        return detail.get("reason", "not computed")
    ci = detail.get("ci")
    if not ci:
        settled = "with no interval (too few cases to resample)"
    elif ci[0] <= 0 <= ci[1]:
        settled = "though the interval includes 0 (no difference)"
    else:
        settled = "and the interval excludes 0"
    judge, raters = detail.get("judge"), detail.get("clinicians")
    more = "more" if value > 0 else "less"
    if statistic == LENGTH_BIAS and detail.get("kind") == "side_bias":
        return (
            f"The judge prefers the longer output in {_share(judge)} of pairs, the raters in "
            f"{_share(raters)}, {settled}."
        )
    if statistic == LENGTH_BIAS:
        return (
            f"The judge's score follows output length {more} than the raters' does "
            f"(Spearman {_number(judge)} against {_number(raters)}), {settled}."
        )
    if detail.get("kind") == "side_bias":
        return (
            f"The judge prefers its own family's output in {_share(judge)} of pairs where only "
            f"one is its family's, the raters in {_share(raters)}, {settled}."
        )
    family = detail.get("judge_family", "its own family")
    direction = "higher" if value > 0 else "lower"
    if not detail.get("n_other"):
        return (
            f"The judge scores {family} outputs (the only ones rated) {abs(value):.2f} points "
            f"{direction} than the raters do, {settled}."
        )
    return (
        f"Relative to the raters, the judge scores {family} outputs {abs(value):.2f} points "
        f"{direction} than it scores the others, {settled}."
    )


def _share(value: float | None) -> str:
    return "an undefined share" if value is None else f"{value:.0%}"


def _number(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}"
