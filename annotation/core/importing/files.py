"""Reading an import file: its text and encoding, CSV dialect or JSON lines, the caps on its size
and rows, JSON nested too deep."""

import csv
import io
import json
from dataclasses import dataclass
from pathlib import PurePath

from annotation.core.importing.bounds import MAX_JSON_DEPTH, MAX_PROBLEMS, TOO_DEEP, nesting_over
from annotation.core.importing.rows import (
    COLUMN_NAMES,
    REQUIRED,
    ImportRejected,
    ImportRow,
    Problem,
    validate_records,
)


@dataclass(frozen=True)
class ImportLimits:
    """How much one import may hold, so that a small upload cannot take a web worker's memory.
    The service fills these from the IMPORT_* settings; the defaults are theirs."""

    data_bytes: int = 50 * 1024 * 1024  # the CSV or JSONL, as uploaded or unpacked from a zip
    rows: int = 100_000
    image_pixels: int = 50_000_000  # per image, every frame of an animation counted


DEFAULT_LIMITS = ImportLimits()


def decode_text(name: str, content: bytes) -> str:
    """An uploaded file as text (a byte-order mark is dropped), or ImportRejected saying why."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Not guessed as Windows-1252 or another code page: a wrong guess would change the
        # clinical text raters read (Central European files are Windows-1250, for one) and
        # nobody would notice. The line and byte let the admin find it.
        line = content[: exc.start].count(b"\n") + 1
        byte = content[exc.start]
        message = (
            f"not UTF-8 text (byte 0x{byte:02x} on line {line}, {exc.reason}); spreadsheets "
            'often save CSV as Windows-1252: save it as "CSV UTF-8" instead'
        )
        raise ImportRejected([Problem(name, None, None, message)]) from None


def parse_study_file(
    filename: str, content: bytes, *, shown_as: str = "", limits: ImportLimits = DEFAULT_LIMITS
) -> list[ImportRow]:
    """Every row of a CSV or JSONL file; problems name the file as `shown_as`, or by its name."""
    name = shown_as or PurePath(filename).name
    if len(content) > limits.data_bytes:
        raise ImportRejected([Problem(name, None, None, data_too_large(limits.data_bytes))])
    text = decode_text(name, content)
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".csv":
        records = _csv_records(name, text, limits.rows)
    elif suffix in (".jsonl", ".ndjson"):
        records = _jsonl_records(name, text, limits.rows)
    else:
        raise ImportRejected([Problem(name, None, None, "expected a .csv or .jsonl file")])
    return validate_records(name, records)


def size_text(size: int) -> str:
    """A byte count as a limit is set: in MB, or in bytes below one MB."""
    return f"{size / 1024**2:g} MB" if size >= 1024**2 else f"{size} bytes"


def data_too_large(limit: int) -> str:
    return (
        f"larger than the limit of {size_text(limit)} for a data file "
        "(IMPORT_MAX_DATA_BYTES); split it into several files"
    )


def _too_many_rows(name: str, limit: int) -> ImportRejected:
    message = f"more than the limit of {limit} rows (IMPORT_MAX_ROWS); split it into several files"
    return ImportRejected([Problem(name, None, None, message)])


def csv_delimiter(name: str, text: str) -> str:
    """A CSV's delimiter: a comma, or a semicolon, as spreadsheets write CSV where the comma is
    the decimal mark (much of Europe). Read from the header line alone, where that is safe: no
    column name holds either character, so a header with semicolons and no comma is
    semicolon-separated, and one with both is refused rather than guessed."""
    header = text.split("\n", 1)[0]
    if ";" not in header:
        return ","
    if "," not in header:
        return ";"
    message = (
        "this file looks semicolon-separated (its header has ';') but its header also has ','; "
        "save it with one separator throughout: commas, or semicolons"
    )
    raise ImportRejected([Problem(name, 1, None, message)])


def csv_dict_reader(name: str, text: str) -> csv.DictReader:
    """Rows of a comma- or semicolon-separated file as dicts; values beyond the header's
    columns are under the key "\\0extra"."""
    delimiter = csv_delimiter(name, text)
    return csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, restkey="\0extra")


def _csv_records(name: str, text: str, max_rows: int) -> list[tuple[int, dict]]:
    reader = csv_dict_reader(name, text)
    header = reader.fieldnames or []
    missing = [col for col in REQUIRED if col not in header]
    unknown = [col for col in header if col not in COLUMN_NAMES]
    problems = [Problem(name, None, col, "required column is missing") for col in missing]
    problems += [Problem(name, None, col, "unknown column") for col in unknown]
    if problems:
        raise ImportRejected(problems)
    try:
        # line_num is where the record ends in the file: the row a spreadsheet shows, even
        # after blank lines (which the reader skips).
        records = []
        for record in reader:
            if len(records) == max_rows:
                raise _too_many_rows(name, max_rows)
            records.append((reader.line_num, record))
        return records
    except csv.Error as exc:
        raise ImportRejected([Problem(name, reader.line_num, None, f"bad CSV: {exc}")]) from None


def _jsonl_records(name: str, text: str, max_rows: int) -> list[tuple[int, dict]]:
    records, problems, count = [], [], 0
    # Split on newlines only: str.splitlines() would also split inside JSON strings at U+2028.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        count += 1
        if count > max_rows:
            raise _too_many_rows(name, max_rows)
        # The row is an object: its fields' values may nest MAX_JSON_DEPTH levels below it.
        deep, key = nesting_over(line, MAX_JSON_DEPTH + 1)
        if deep:
            problems.append(Problem(name, number, key or None, TOO_DEEP))
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(name, number, None, f"not valid JSON ({exc.msg})"))
            continue
        except ValueError:
            # Python refuses integers of more than 4300 digits (int_max_str_digits).
            problems.append(Problem(name, number, None, "holds a number too long to read"))
            continue
        if not isinstance(record, dict):
            problems.append(Problem(name, number, None, "each line must be a JSON object"))
            continue
        problems += [
            Problem(name, number, key, "unknown field") for key in record if key not in COLUMN_NAMES
        ]
        records.append((number, record))
    if problems:
        raise ImportRejected(problems[:MAX_PROBLEMS])
    return records
