"""Parse a study's cases and outputs from CSV or JSONL. Plain data, no Django.

The parser either returns every row or raises `ImportRejected` listing every problem it found,
each naming the file, the row and the field, so an admin can fix the file in one pass. Nothing
is written here; the service writes the parsed rows in one transaction.

Columns (CSV header or JSONL keys):
  case_id      required  the case's identifier in the admin's own data
  input        required  the text the output responds to (the same for every row of a case)
  source       optional  label of the model or human reference that wrote the output
  output       optional  the output text; required when `source` is given, and vice versa
  source_kind  optional  "model" (default) or "human_reference"
  reference    optional  a reference answer for the case (the same for every row of a case)
  metadata     optional  a JSON object of facts about the case (in CSV, written as JSON text)
  criteria     optional  the case's own rubric, HealthBench style: a JSON list of
                         {"id": "c1", "text": "...", "points": 5}; negative points for harms

A row with only case_id and input adds a case whose outputs a model endpoint will generate.
"""

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import PurePath

REQUIRED = ("case_id", "input")
OPTIONAL = ("source", "output", "source_kind", "reference", "metadata", "criteria")
SOURCE_KINDS = ("model", "human_reference")
LIMITS = {"case_id": 100, "source": 100}
MAX_PROBLEMS = 50


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


def decode_text(name: str, content: bytes) -> str:
    """An uploaded file as text (a byte-order mark is dropped), or ImportRejected saying why."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected(
            [Problem(name, None, None, f"not UTF-8 text ({exc.reason})")]
        ) from None


def parse_study_file(filename: str, content: bytes) -> list[ImportRow]:
    name = PurePath(filename).name
    text = decode_text(name, content)
    suffix = PurePath(name).suffix.lower()
    if suffix == ".csv":
        records = _csv_records(name, text)
    elif suffix in (".jsonl", ".ndjson"):
        records = _jsonl_records(name, text)
    else:
        raise ImportRejected([Problem(name, None, None, "expected a .csv or .jsonl file")])
    return _validate(name, records)


def _csv_records(name: str, text: str) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\0extra")
    header = reader.fieldnames or []
    missing = [col for col in REQUIRED if col not in header]
    unknown = [col for col in header if col not in REQUIRED + OPTIONAL]
    problems = [Problem(name, None, col, "required column is missing") for col in missing]
    problems += [Problem(name, None, col, "unknown column") for col in unknown]
    if problems:
        raise ImportRejected(problems)
    try:
        # line_num is where the record ends in the file: the row a spreadsheet shows, even
        # after blank lines (which the reader skips).
        return [(reader.line_num, record) for record in reader]
    except csv.Error as exc:
        raise ImportRejected([Problem(name, reader.line_num, None, f"bad CSV: {exc}")]) from None


def _jsonl_records(name: str, text: str) -> list[tuple[int, dict]]:
    records, problems = [], []
    # Split on newlines only: str.splitlines() would also split inside JSON strings at U+2028.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(name, number, None, f"not valid JSON ({exc.msg})"))
            continue
        if not isinstance(record, dict):
            problems.append(Problem(name, number, None, "each line must be a JSON object"))
            continue
        problems += [
            Problem(name, number, key, "unknown field")
            for key in record
            if key not in REQUIRED + OPTIONAL
        ]
        records.append((number, record))
    if problems:
        raise ImportRejected(problems[:MAX_PROBLEMS])
    return records


def _validate(name: str, records: list[tuple[int, dict]]) -> list[ImportRow]:
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
    )
    for column, value in given:
        if column != "input" and not value:
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
    metadata, problem = _metadata(record.get("metadata"))
    if problem:
        problems.append(Problem(name, number, "metadata", problem))
    criteria, problem = _criteria(record.get("criteria"))
    if problem:
        problems.append(Problem(name, number, "criteria", problem))
    values = {}
    for column in REQUIRED + OPTIONAL:
        if column in ("metadata", "criteria"):
            continue
        value = record.get(column)
        if value is None:
            value = ""
        if not isinstance(value, str):
            problems.append(Problem(name, number, column, "must be text"))
            value = ""
        values[column] = value.strip() if column in ("case_id", "source", "source_kind") else value
    for column in REQUIRED:
        if not values[column].strip():
            problems.append(Problem(name, number, column, "is empty"))
    for column, limit in LIMITS.items():
        if len(values[column]) > limit:
            problems.append(Problem(name, number, column, f"longer than {limit} characters"))
    if values["source"] and not values["output"].strip():
        problems.append(Problem(name, number, "output", "is empty but a source is given"))
    if values["output"].strip() and not values["source"]:
        problems.append(Problem(name, number, "source", "is empty but an output is given"))
    kind = values["source_kind"] or "model"
    if kind not in SOURCE_KINDS:
        problems.append(Problem(name, number, "source_kind", f"must be one of {SOURCE_KINDS}"))
    if problems:
        return problems, None
    fields = {key: values[key] for key in ("case_id", "input", "source", "output", "reference")}
    return [], ImportRow(
        row=number, source_kind=kind, metadata=metadata, criteria=criteria, **fields
    )


def _metadata(raw: object) -> tuple[dict, str]:
    """A case's metadata: a JSON object (given as one in JSONL, as JSON text in CSV)."""
    if raw is None or raw == "":
        return {}, ""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            return {}, f"not valid JSON ({exc.msg})"
        except ValueError as exc:
            return {}, str(exc)
    if not isinstance(raw, dict):
        return {}, 'must be a JSON object, e.g. {"age": 54}'
    return raw, ""


def _criteria(raw: object) -> tuple[list, str]:
    """A case's criteria: a list of {"id", "text", "points"} with unique ids and whole,
    non-zero points (negative for behaviour to penalise), as HealthBench writes them."""
    if raw is None or raw == "":
        return [], ""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            return [], f"not valid JSON ({exc.msg})"
        except ValueError as exc:
            return [], str(exc)
    if not isinstance(raw, list) or not raw:
        return [], "must be a non-empty JSON list of criteria"
    seen = set()
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) - {"id", "text", "points", "axis"}:
            return [], f"criterion {index + 1}: give id, text, points (and optionally axis)"
        ident, text, points = item.get("id"), item.get("text"), item.get("points")
        if not isinstance(ident, str) or not ident.strip() or ident in seen:
            return [], f"criterion {index + 1}: needs an id of its own"
        if not isinstance(text, str) or not text.strip():
            return [], f"criterion {index + 1}: needs a text"
        if type(points) is not int or points == 0:
            return [], f"criterion {index + 1}: points must be a whole number other than 0"
        seen.add(ident)
    return raw, ""


def _refuse_constant(name: str) -> None:
    # json.loads accepts NaN and Infinity, which are not JSON and which PostgreSQL refuses.
    raise ValueError(f"{name} is not a JSON value")
