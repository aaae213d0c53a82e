"""A case's expected answer as an import file gives it: the `accepted_answers`,
`expected_value` and `tolerance` columns, checked against the study's answer question (its
kind, k, and for a choice its choices). Each parser returns the value and a problem ("" if
none), as the import's columns do (annotation.core.importing.rows), so the importer names the
file, row and column; `expected_for` raises a ScoringError whose `field` is the column."""

import json
import math
from collections.abc import Sequence

from annotation.core.reading.scoring import (
    CHOICE,
    NUMBER,
    Accepted,
    Expected,
    ScoringError,
)

# Expected's fields, as the import file names them.
COLUMN_OF = {"accepted": "accepted_answers", "value": "expected_value", "tolerance": "tolerance"}


def parse_accepted(raw: object) -> tuple[tuple[Accepted, ...], str]:
    """A JSON list (as JSONL gives it, or a CSV cell's JSON text) of accepted answers, each a
    string or {"answer": "...", "synonyms": ["...", ...]}. Empty: none."""
    if raw is None or raw == "":
        return (), ""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return (), 'must be a JSON list, e.g. ["Pulmonary embolism", "PE"]'
    if not isinstance(raw, list) or not raw:
        return (), "must be a non-empty JSON list of accepted answers"
    accepted = []
    for n, entry in enumerate(raw, start=1):
        parsed, problem = _accepted(entry)
        if problem:
            return (), f"answer {n}: {problem}"
        accepted.append(parsed)
    return tuple(accepted), ""


def _accepted(entry: object) -> tuple[Accepted | None, str]:
    if isinstance(entry, str):
        return Accepted(entry), ""
    if not isinstance(entry, dict) or set(entry) - {"answer", "synonyms"}:
        return None, 'must be text or {"answer": "...", "synonyms": [...]}'
    answer, synonyms = entry.get("answer"), entry.get("synonyms", [])
    if not isinstance(answer, str):
        return None, '"answer" must be text'
    if not isinstance(synonyms, list) or not all(isinstance(s, str) for s in synonyms):
        return None, '"synonyms" must be a list of text'
    return Accepted(answer, tuple(synonyms)), ""


def parse_number(raw: object) -> tuple[float | None, str]:
    """A finite number (JSONL) or its text (CSV); empty: None."""
    if raw is None or raw == "":
        return None, ""
    if isinstance(raw, bool):
        return None, "must be a number"
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return None, f"must be a number, not {raw!r}"
    if not math.isfinite(number):
        return None, "must be a finite number"
    return number, ""


def expected_for(
    *,
    kind: str,
    accepted: tuple[Accepted, ...],
    value: float | None,
    tolerance: float | None,
    k: int | None = None,
    choices: Sequence[str] = (),
) -> Expected:
    """The case's Expected for the study's answer question, or a ScoringError naming the
    import column at fault."""
    try:
        if kind == NUMBER:
            if accepted:
                raise ScoringError("a number answer takes expected_value, not answers", "accepted")
            return Expected(kind, value=value, tolerance=tolerance or 0.0)
        if value is not None or tolerance is not None:
            field = "value" if value is not None else "tolerance"
            raise ScoringError("only a number answer takes a value and tolerance", field)
        expected = Expected(kind, accepted, k=k)
    except ScoringError as error:
        raise ScoringError(str(error), COLUMN_OF.get(error.field, error.field)) from error
    if kind == CHOICE:
        _check_choices(accepted, choices)
    return expected


def _check_choices(accepted: tuple[Accepted, ...], choices: Sequence[str]) -> None:
    for entry in accepted:
        if entry.synonyms:
            raise ScoringError("a choice has no synonyms: list the values", COLUMN_OF["accepted"])
        if entry.answer not in choices:
            listed = ", ".join(choices)
            message = f"{entry.answer!r} is not one of the question's choices ({listed})"
            raise ScoringError(message, COLUMN_OF["accepted"])
