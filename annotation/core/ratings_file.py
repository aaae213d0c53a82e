"""Parse ratings collected elsewhere, in long format, so a finished study can be reproduced.
Plain data, no Django.

CSV columns:
  rater      required  the rater's name in the source data (kept as their pseudonym)
  case_id    required  the case
  question   required  a question key of the study
  value      required  the answer as the rater gave it (a scale point, a choice, ...; "na" for
                       not applicable; "none" for no errors found / no criterion met / nothing
                       omitted); criteria met as a JSON list of ids, omissions as
                       {"omitted": [ids], "wrong": [ids]}, checked against the case's lists
  source     absolute studies: the source of the rated output
  source_a   pairwise studies: the source shown as A
  source_b   pairwise studies: the source shown as B

Every problem names the file, the row and the field; a file with any problem is refused whole.
"""

import csv
import io
import json
from dataclasses import dataclass
from pathlib import PurePath

from annotation.core import rubric
from annotation.core.importing import MAX_PROBLEMS, ImportRejected, Problem, decode_text

COMMON = ("rater", "case_id", "question", "value")
RATER_MAX = 20  # the length of a pseudonym


@dataclass(frozen=True)
class RatingRow:
    row: int
    rater: str
    case_id: str
    question: str
    answer: object  # canonical, as shown to the rater
    shown: tuple[str, ...]  # (source,) or (source shown as A, source shown as B)


def parse_ratings_file(
    filename: str, content: bytes, *, questions: dict[str, rubric.QuestionSpec], pairwise: bool
) -> list[RatingRow]:
    name = PurePath(filename).name
    text = decode_text(name, content)
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\0extra")
    sides = ("source_a", "source_b") if pairwise else ("source",)
    expected = COMMON + sides
    header = reader.fieldnames or []
    problems = [
        Problem(name, None, c, "required column is missing") for c in expected if c not in header
    ]
    problems += [Problem(name, None, c, "unknown column") for c in header if c not in expected]
    problems += [
        Problem(name, None, c, "appears twice") for c in sorted(set(header)) if header.count(c) > 1
    ]
    if problems:
        raise ImportRejected(problems)
    rows, seen, sides_seen = [], {}, {}
    for record in reader:
        number = reader.line_num
        row_problems, row = _row(name, number, record, questions, sides)
        problems += row_problems
        if row is None:
            continue
        key = (row.rater, row.case_id, row.question, tuple(sorted(row.shown)))
        if key in seen:
            msg = f"a second answer by this rater to this question (first at row {seen[key]})"
            problems.append(Problem(name, number, "value", msg))
        seen.setdefault(key, number)
        # One rater saw one pair one way round: every question about it shares the sides.
        first = sides_seen.setdefault((row.rater, row.case_id, key[3]), (number, row.shown))
        if first[1] != row.shown:
            msg = f"this rater saw this pair the other way round at row {first[0]}"
            problems.append(Problem(name, number, sides[0], msg))
        rows.append(row)
    if not rows and not problems:
        problems.append(Problem(name, None, None, "the file has no rows"))
    if problems:
        raise ImportRejected(problems[:MAX_PROBLEMS])
    return rows


def _row(
    name: str, number: int, record: dict, questions: dict, sides: tuple[str, ...]
) -> tuple[list[Problem], RatingRow | None]:
    values = {k: (record.get(k) or "").strip() for k in COMMON + sides}
    problems = [Problem(name, number, k, "is empty") for k, v in values.items() if not v]
    if "\0extra" in record:
        problems.append(Problem(name, number, None, "more values than columns"))
    if values["value"].lower() in ("na", "n/a"):
        values["value"] = rubric.NA  # however the source data spelled "not applicable"
    if len(values["rater"]) > RATER_MAX:
        problems.append(Problem(name, number, "rater", f"longer than {RATER_MAX} characters"))
    if len(sides) == 2 and values["source_a"] and values["source_a"] == values["source_b"]:
        problems.append(Problem(name, number, "source_b", "is the same as source_a"))
    spec = questions.get(values["question"])
    if values["question"] and spec is None:
        known = ", ".join(sorted(questions))
        problems.append(Problem(name, number, "question", f"not a question of the study ({known})"))
    answer = None
    if spec is not None and values["value"]:
        try:
            answer = _answer(spec, values["value"])
        except rubric.AnswerError as exc:
            problems.append(Problem(name, number, "value", str(exc)))
    if problems:
        return problems, None
    shown = tuple(values[side] for side in sides)
    fields = {k: values[k] for k in ("rater", "case_id", "question")}
    return [], RatingRow(row=number, answer=answer, shown=shown, **fields)


# Kinds whose answers are checked against the case's own criteria or facts, which this file
# does not carry: read as JSON here, checked by the importer that knows the case.
CASE_KINDS = (rubric.CRITERIA, rubric.OMISSION)


def _answer(spec: rubric.QuestionSpec, value: str) -> object:
    """A cell's answer. For span, criteria and omission questions, "none" (in any case) or an
    empty list is the answer "no errors found" / "no criterion met" / "none omitted": a row in
    the file is an answer given, never the unanswered state an emptied list is on the rater's
    page."""
    if spec.kind in rubric.NONE_KINDS and value.lower() in (rubric.NONE, "[]"):
        return rubric.NONE
    if spec.kind in CASE_KINDS and value != rubric.NA:
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            example = '["c1", "c3"]' if spec.kind == rubric.CRITERIA else '{"omitted": ["f2"]}'
            raise rubric.AnswerError(f'not JSON: give the ids as {example}, or "none"') from None
    return rubric.parse_answer(spec, value)
