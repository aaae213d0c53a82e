"""Adjudication in the paper bundle: adjudications.csv's rows, ratings.csv's reference
columns and the methods paragraph, read from what `annotation.selectors.adjudication` gives."""

import json

from annotation.models import Study
from annotation.selectors.adjudication import (
    JudgeReferenceRow,
    adjudication_rows,
    adjudication_summary,
    reference_questions,
)


def adjudication_export_rows(*, study: Study) -> list[dict]:
    """adjudications.csv's rows: `adjudication_rows` with a list answer as JSON text, as
    ratings.csv writes one."""
    return [
        {
            **row,
            "reference_answer": _cell(row["reference_answer"]),
            "majority": _cell(row["majority"]),
        }
        for row in adjudication_rows(study=study)
    ]


def reference_cells(*, study: Study) -> dict[tuple[int, str], tuple[object, float | None]]:
    """Each decided reference as adjudications.csv writes it (`reference_answer`,
    `reference_value`) by (item id, question key): ratings.csv's reference columns. One query
    where nothing is decided, so a study without adjudication exports as fast as before."""
    decided = list(
        study.adjudications.filter(decided_at__isnull=False).values_list(
            "item_id", "answers", "values"
        )
    )
    if not decided:
        return {}
    keys = [q.key for q in reference_questions(study=study)]
    return {
        (item, key): (_cell(answers[key]), values.get(key))
        for item, answers, values in decided
        for key in keys
        if key in answers
    }


def _cell(answer: object) -> object:
    return json.dumps(answer, ensure_ascii=False) if isinstance(answer, list | dict) else answer


def adjudication_methods_text(*, study: Study) -> list[str]:
    """The methods paragraph on adjudication (empty when no item was chosen): how items were
    chosen, by whom, how many, and how often the reference sided with the majority."""
    summary = adjudication_summary(study=study)
    if not summary.selected:
        return []
    chosen = "; ".join(f"{run.described} ({run.chosen} items)" for run in summary.runs)
    text = (
        f"Items were chosen for adjudication once every rater had submitted them: {chosen}. "
        f"{summary.selected} item{'s' if summary.selected != 1 else ''} needed adjudication and "
        f"{summary.decided} received a reference answer from a senior clinician "
        f"({summary.adjudicators} adjudicator{'s' if summary.adjudicators != 1 else ''}, none "
        "of whom adjudicated an item they rated), who saw the raters' answers and comments "
        "under anonymous labels (Reader 1, 2, ... in a seeded order per item) and recorded a "
        "reason. Agreement statistics are the raters' own, before adjudication."
    )
    sidings = [
        f"'{row.key}': {row.siding.sided} of {row.siding.with_majority} "
        f"({row.siding.no_majority} without a majority)"
        for row in summary.siding
        if row.siding.adjudicated
    ]
    if sidings:
        text += " The reference equalled the raters' majority answer for " + "; ".join(sidings)
        text += "."
    judged = [_judge_words(row) for row in summary.judges if row.value is not None]
    if judged:
        text += (
            " Each LLM judge was also scored against the adjudicated reference (exact "
            "agreement, 95% percentile bootstrap interval resampling cases): "
            + "; ".join(judged)
            + "."
        )
    return ["## Adjudication", "", text, ""]


def _judge_words(row: JudgeReferenceRow) -> str:
    interval = f" ({row.ci[0]:.2f} to {row.ci[1]:.2f})" if row.ci else ""
    return f"{row.judge} on '{row.question}' {row.value:.2f}{interval}, {row.n_units} items"
