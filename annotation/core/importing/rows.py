"""The rows of an import: the columns an import file may have (`COLUMNS`, which the import form's
help reads too, so the two cannot drift apart), and the check of every record against them and
against the rows before it (a case's input, a source's kind, one output per case and source).
"""

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from annotation.core.importing.bounds import MAX_JSON_DEPTH, MAX_PROBLEMS, TOO_DEEP, nesting_over
from annotation.core.reading import answers as reading_answers
from annotation.core.rubric import NA, NONE, contains_nul

ROLES = ("study", "training", "attention")


SOURCE_KINDS = ("model", "human_reference")


MAX_IMAGES_PER_CASE = 8


MAX_IMAGE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Problem:
    file: str
    # CSV rows are numbered as a spreadsheet shows them (the header is row 1); JSONL rows are
    # line numbers. None means the problem concerns the whole file.
    row: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"


class ImportRejected(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class ImportRow:
    row: int
    case_id: str
    input: str
    source: str
    output: str
    source_kind: str
    reference: str = ""
    metadata: dict = field(default_factory=dict)
    criteria: list = field(default_factory=list)
    facts: list = field(default_factory=list)
    images: tuple[str, ...] = ()
    role: str = ""  # blank: not given (a new case is then a study case)
    expected: dict = field(default_factory=dict)
    feedback: str = ""
    metrics: dict = field(default_factory=dict)
    # Assisted reading: the case's accepted answers ([{"answer", "synonyms"}]), or a number's
    # expected value and tolerance (core.reading.answers).
    accepted_answers: list = field(default_factory=list)
    expected_value: float | None = None
    tolerance: float | None = None


def validate_records(name: str, records: list[tuple[int, dict]]) -> list[ImportRow]:
    """Every record (row number, fields) of file `name` as an ImportRow, checked alone and
    against the rows before it, or ImportRejected listing the problems."""
    problems: list[Problem] = []
    rows: list[ImportRow] = []
    case_firsts: dict[tuple[str, str], tuple[int, object]] = {}
    source_kinds: dict[str, tuple[int, str]] = {}
    seen_outputs: dict[tuple[str, str], int] = {}
    for number, record in records:
        row_problems, row = _validate_record(name, number, record)
        problems += row_problems
        if row is None:
            continue
        problems += _case_conflicts(name, number, row, case_firsts)
        if row.source:
            kind_first = source_kinds.setdefault(row.source, (number, row.source_kind))
            if kind_first[1] != row.source_kind:
                msg = f"source kind differs from row {kind_first[0]} for the same source"
                problems.append(Problem(name, number, "source_kind", msg))
            earlier = seen_outputs.setdefault((row.case_id, row.source), number)
            if earlier != number:
                msg = f"a second output for this case and source (first at row {earlier})"
                problems.append(Problem(name, number, "source", msg))
        rows.append(row)
    if not records:
        problems.append(Problem(name, None, None, "the file has no rows"))
    if problems:
        raise ImportRejected(problems[:MAX_PROBLEMS])
    return rows


def _case_conflicts(
    name: str, number: int, row: ImportRow, firsts: dict[tuple[str, str], tuple[int, object]]
) -> list[Problem]:
    """Every row of a case gives the same input; reference and metadata, where given, agree."""
    problems = []
    given = (
        ("input", row.input),
        ("reference", row.reference),
        ("metadata", row.metadata),
        ("criteria", row.criteria),
        ("facts", row.facts),
        ("images", row.images),
        ("role", row.role),
        ("expected", row.expected),
        ("feedback", row.feedback),
        ("accepted_answers", row.accepted_answers),
        ("expected_value", row.expected_value),
        ("tolerance", row.tolerance),
    )
    for column, value in given:
        # None, not falsiness: an expected value of 0 is given.
        if column != "input" and (value is None or (not value and value != 0)):
            continue
        first = firsts.setdefault((row.case_id, column), (number, value))
        if first[1] != value:
            msg = f"differs from row {first[0]} for the same case_id"
            problems.append(Problem(name, number, column, msg))
    return problems


def _validate_record(
    name: str, number: int, record: dict
) -> tuple[list[Problem], ImportRow | None]:
    problems = []
    if "\0extra" in record:
        problems.append(Problem(name, number, None, "more values than columns"))
    problems += [
        Problem(name, number, column, "holds a NUL character, which cannot be stored")
        for column, value in record.items()
        if column != "\0extra" and contains_nul(value)
    ]
    values = {}
    for column in COLUMNS:
        value = record.get(column.name)
        if column.parse is not None:
            values[column.name], problem = column.parse(value)
            if problem:
                problems.append(Problem(name, number, column.name, problem))
            continue
        if value is None:
            value = ""
        if not isinstance(value, str):
            problems.append(Problem(name, number, column.name, "must be text"))
            value = ""
        values[column.name] = value.strip() if column.name in STRIPPED else value
        if column.required and not value.strip():
            problems.append(Problem(name, number, column.name, "is empty"))
        if column.max_length and len(values[column.name]) > column.max_length:
            message = f"longer than {column.max_length} characters"
            problems.append(Problem(name, number, column.name, message))
    metrics, expected = values["metrics"], values["expected"]
    if values["source"] and not values["output"].strip():
        problems.append(Problem(name, number, "output", "is empty but a source is given"))
    if values["output"].strip() and not values["source"]:
        problems.append(Problem(name, number, "source", "is empty but an output is given"))
    if metrics and not values["source"]:
        problems.append(Problem(name, number, "metrics", "are about an output: give its source"))
    kind = values["source_kind"] or "model"
    if kind not in SOURCE_KINDS:
        problems.append(Problem(name, number, "source_kind", f"must be one of {SOURCE_KINDS}"))
    # A blank role on a later row of a case (or a later file) means "as given before".
    given_role = values["role"].strip()
    role = given_role or "study"
    if role not in ROLES:
        problems.append(Problem(name, number, "role", f"must be one of {ROLES}"))
    elif role == "study" and expected:
        msg = "expected answers are for training and attention-check cases (set role)"
        problems.append(Problem(name, number, "expected", msg))
    elif role != "training" and values["feedback"].strip():
        msg = "feedback is shown after training cases only (set role to training)"
        problems.append(Problem(name, number, "feedback", msg))
    elif role == "attention" and not expected:
        msg = "an attention check needs the expected answer to check against"
        problems.append(Problem(name, number, "expected", msg))
    if problems:
        return problems, None
    fields = {key: values[key] for key in ("case_id", "input", "source", "output", "reference")}
    return [], ImportRow(
        row=number,
        source_kind=kind,
        metadata=values["metadata"],
        criteria=values["criteria"],
        facts=values["facts"],
        images=values["images"],
        role=given_role,
        expected=expected,
        feedback=values["feedback"].strip(),
        metrics=metrics,
        accepted_answers=values["accepted_answers"],
        expected_value=values["expected_value"],
        tolerance=values["tolerance"],
        **fields,
    )


def _accepted_answers(raw: object) -> tuple[list, str]:
    """A case's accepted answers, stored as [{"answer", "synonyms"}] (core.reading.answers)."""
    accepted, problem = reading_answers.parse_accepted(raw)
    return [{"answer": a.answer, "synonyms": list(a.synonyms)} for a in accepted], problem


def _tolerance(raw: object) -> tuple[float | None, str]:
    value, problem = reading_answers.parse_number(raw)
    if value is not None and value < 0:
        return None, "must be 0 or more"
    return value, problem


def _metadata(raw: object) -> tuple[dict, str]:
    """A case's metadata: a JSON object (given as one in JSONL, as JSON text in CSV)."""
    if raw is None or raw == "":
        return {}, ""
    raw, problem = _json_cell(raw)
    if problem:
        return {}, problem
    if not isinstance(raw, dict):
        return {}, 'must be a JSON object, e.g. {"age": 54}'
    return raw, ""


METRIC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,37}")


def _metrics(raw: object) -> tuple[dict, str]:
    """An output's automatic metrics: a JSON object of name (a letter, then letters, digits or
    _.:-, 38 at most) to a finite number."""
    if raw is None or raw == "":
        return {}, ""
    raw, problem = _json_cell(raw)
    if problem:
        return {}, problem
    if not isinstance(raw, dict):
        return {}, 'must be a JSON object of metric name to number, e.g. {"rougeL": 0.31}'
    for key, value in raw.items():
        if not METRIC_NAME.fullmatch(key):
            return {}, f"{key!r} is not a metric name (a letter, then letters, digits or _.:-)"
        if _finite(value) is None:
            return {}, f"{key!r} must be a finite number, not {_shown(value)}"
    return {key: float(value) for key, value in raw.items()}, ""


def _finite(value: object) -> float | None:
    """A JSON number as a finite float; None for anything else, including an integer too
    large for a float (float() raises OverflowError on it)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _shown(value: object) -> str:
    # A number of hundreds of digits would fill the message.
    text = repr(value)
    return text if len(text) <= 40 else text[:20] + "..."


def _criteria(raw: object) -> tuple[list, str]:
    """A case's criteria: a list of {"id", "text", "points"} with unique ids and whole,
    non-zero points (negative for behaviour to penalise), at least one positive, as
    HealthBench writes them."""
    if raw is None or raw == "":
        return [], ""
    raw, problem = _json_cell(raw)
    if problem:
        return [], problem
    if not isinstance(raw, list) or not raw:
        return [], "must be a non-empty JSON list of criteria"
    seen = set()
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) - {"id", "text", "points", "axis"}:
            return [], f"criterion {index + 1}: give id, text, points (and optionally axis)"
        ident, text, points = item.get("id"), item.get("text"), item.get("points")
        if not isinstance(ident, str) or not ident.strip() or ident in seen:
            return [], f"criterion {index + 1}: needs an id of its own"
        if ident in (NONE, NA):
            # These are answers of their own ("no criterion met", "not applicable").
            return [], f"criterion {index + 1}: the id {ident!r} is reserved; choose another"
        if not isinstance(text, str) or not text.strip():
            return [], f"criterion {index + 1}: needs a text"
        if type(points) is not int or points == 0:
            return [], f"criterion {index + 1}: points must be a whole number other than 0"
        seen.add(ident)
    if not any(item["points"] > 0 for item in raw):
        # The score is points earned over positive points possible: with none, no score exists.
        return [], "give at least one criterion positive points: the score is out of them"
    return raw, ""


# Importances are summed per case: bounded, so the sum and the weighted rates stay finite.
MAX_IMPORTANCE = 1_000_000


def _importance_problem(value: object) -> str:
    # `value > 0` is False for NaN, and holds for an integer too large for a float.
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return "importance must be a positive number"
    number = _finite(value)
    if number is None or number > MAX_IMPORTANCE:
        return f"importance must be at most {MAX_IMPORTANCE:,}"
    return ""


def _facts(raw: object) -> tuple[list, str]:
    """A case's source facts, MED-OMIT style: a list of {"id", "text", "importance"} with
    unique ids; importance is a positive number, 1 where not given (and stored so)."""
    if raw is None or raw == "":
        return [], ""
    raw, problem = _json_cell(raw)
    if problem:
        return [], problem
    if not isinstance(raw, list) or not raw:
        return [], "must be a non-empty JSON list of facts"
    facts, seen = [], set()
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) - {"id", "text", "importance"}:
            return [], f"fact {index + 1}: give id, text (and optionally importance)"
        ident, text = item.get("id"), item.get("text")
        importance = item.get("importance", 1)
        if not isinstance(ident, str) or not ident.strip() or ident in seen:
            return [], f"fact {index + 1}: needs an id of its own"
        if not isinstance(text, str) or not text.strip():
            return [], f"fact {index + 1}: needs a text"
        if problem := _importance_problem(importance):
            return [], f"fact {index + 1}: {problem}"
        seen.add(ident)
        facts.append({"id": ident, "text": text, "importance": importance})
    return facts, ""


def _expected(raw: object) -> tuple[dict, str]:
    """Expected answers: {question key: answer or [acceptable answers]}, stored as lists."""
    if raw is None or raw == "":
        return {}, ""
    raw, problem = _json_cell(raw)
    if problem:
        return {}, problem
    if not isinstance(raw, dict) or not raw:
        return {}, 'must be a JSON object of question key to answer, e.g. {"overall": [1, 2]}'
    expected = {}
    for key, answers in raw.items():
        answers = answers if isinstance(answers, list) else [answers]
        if not answers or not all(isinstance(a, str | int | float) for a in answers):
            return {}, f"{key!r}: give an answer, or a list of acceptable answers"
        expected[key] = answers
    return expected, ""


def _images(raw: object) -> tuple[tuple[str, ...], str]:
    """A case's image names: "a.png; b.png" (CSV) or ["a.png", "b.png"] (JSONL)."""
    if raw is None or raw == "":
        return (), ""
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(";")]
    if not isinstance(raw, list) or not all(isinstance(n, str) and n.strip() for n in raw):
        return (), 'must name image files: "a.png; b.png", or a JSON list of names'
    if len(raw) > MAX_IMAGES_PER_CASE:
        return (), f"at most {MAX_IMAGES_PER_CASE} images per case"
    names = tuple(n.strip().replace("\\", "/") for n in raw)  # Windows writes backslashes
    if len(set(names)) != len(names):
        return (), "names an image twice"
    if any(len(n) > MAX_NAME for n in names):
        return (), f"an image name longer than {MAX_NAME} characters"
    return names, ""


@dataclass(frozen=True)
class Column:
    """A column of an import file: what the parser accepts under its name, and what the
    import help says about it."""

    name: str
    required: bool
    format: str  # how a value is written, as the import help shows it
    # A column holding structured data: the cell as given (JSONL value, CSV text) to its value
    # and a problem, "" if none. None for a text column.
    parse: Callable[[object], tuple[object, str]] | None = None
    max_length: int | None = None


COLUMNS = (
    Column(
        "case_id",
        True,
        "text, at most 100 characters: the case's identifier in your own data",
        max_length=100,
    ),
    Column(
        "input",
        True,
        "text: what the outputs respond to (the patient's question, the report to summarise); "
        "the same on every row of a case",
    ),
    Column(
        "source",
        False,
        "text, at most 100 characters: the label of the model or human reference that wrote "
        "the output; given together with output. Raters never see it",
        max_length=100,
    ),
    Column(
        "output",
        False,
        "text: the output to rate; given together with source. Leave both empty for a case "
        "whose outputs a model endpoint will generate",
    ),
    Column(
        "source_kind",
        False,
        f"{' or '.join(SOURCE_KINDS)}; empty means {SOURCE_KINDS[0]}",
    ),
    Column(
        "reference",
        False,
        "text: a reference answer for the case; the same on every row that gives it",
    ),
    Column(
        "metadata",
        False,
        'a JSON object of facts about the case, e.g. {"age": 54}; a prompt template reads '
        "them as {{ metadata.age }}",
        _metadata,
    ),
    Column(
        "criteria",
        False,
        "the case's own rubric, HealthBench style: a JSON list of "
        '{"id": "c1", "text": "...", "points": 5} (and optionally "axis"); points are whole '
        "numbers, negative for harms, at least one positive. A study with a criteria "
        "question opens only once every case has its criteria; a draft's cases imported "
        "without criteria take them from a later import",
        _criteria,
    ),
    Column(
        "facts",
        False,
        "the facts of the case's source, for omission questions (MED-OMIT): a JSON list of "
        '{"id": "f1", "text": "...", "importance": 2}; ids unique within the case, importance '
        f"a positive number up to {MAX_IMPORTANCE:,} (1 if left out). A study with an omission "
        "question opens only once every case has its facts; a draft's cases imported without "
        "facts take them from a later import",
        _facts,
    ),
    Column(
        "images",
        False,
        "the case's image files inside the zip the file comes in (PNG, JPEG, GIF or WebP; "
        f"at most {MAX_IMAGES_PER_CASE} per case, {MAX_IMAGE_BYTES // 1024**2} MB each): "
        "names separated by ';' in CSV (in quotes in a semicolon-separated file), a JSON "
        "list in JSONL",
        _images,
    ),
    Column(
        "role",
        False,
        f"{', '.join(ROLES)}; empty means {ROLES[0]}. Training cases come first, with "
        "feedback; attention checks are hidden among the study items",
    ),
    Column(
        "expected",
        False,
        "training and attention-check cases: a JSON object of question key to the acceptable "
        'answer or a list of them, e.g. {"overall": [4, 5]}; pairwise answers in canonical '
        "order (sources sorted by label)",
        _expected,
    ),
    Column(
        "feedback",
        False,
        "text, training cases only: what the rater reads after answering",
    ),
    Column(
        "metrics",
        False,
        "automatic metrics of this row's output, computed elsewhere (ROUGE, BERTScore): a "
        'JSON object of metric name to number, e.g. {"rougeL": 0.31}; correlated with the '
        "raters' scores, never shown to raters",
        _metrics,
    ),
    Column(
        "accepted_answers",
        False,
        "assisted reading: what counts as right for the case's answer question, a JSON list "
        'of answers, each text or {"answer": "...", "synonyms": ["...", ...]}; for a choice '
        "answer, the accepted choice values; the same on every row that gives it",
        _accepted_answers,
    ),
    Column(
        "expected_value",
        False,
        "assisted reading, number answers: the expected value",
        reading_answers.parse_number,
    ),
    Column(
        "tolerance",
        False,
        "assisted reading, number answers: how far from the expected value is still right "
        "(absolute, inclusive); empty means 0",
        _tolerance,
    ),
)


COLUMN_NAMES = tuple(column.name for column in COLUMNS)


REQUIRED = tuple(column.name for column in COLUMNS if column.required)


STRIPPED = ("case_id", "source", "source_kind")  # identifiers: spaces around them are slips


MAX_NAME = 255


def _json_cell(raw: object) -> tuple[object, str]:
    """A JSON value as given in JSONL, or parsed from a CSV cell's text; a problem if not JSON."""
    if not isinstance(raw, str):
        return raw, ""
    if nesting_over(raw, MAX_JSON_DEPTH)[0]:
        return None, TOO_DEEP
    try:
        return json.loads(raw, parse_constant=_refuse_constant), ""
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg}){_decimal_comma_hint(raw)}"
    except ValueError as exc:
        return None, str(exc)


def _decimal_comma_hint(raw: str) -> str:
    # A spreadsheet set to a decimal comma writes {"rougeL": 0,31}: say so when that is all
    # that is wrong.
    dotted = re.sub(r"(\d),(\d)", r"\1.\2", raw)
    try:
        json.loads(dotted)
    except ValueError:
        return ""
    return "; JSON numbers take a decimal point, not a comma (0.31, not 0,31)"


def _refuse_constant(name: str) -> None:
    # json.loads accepts NaN and Infinity, which are not JSON and which PostgreSQL refuses.
    raise ValueError(f"{name} is not a JSON value")
