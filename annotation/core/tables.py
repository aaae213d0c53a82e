"""Tables as CSV, with no Django: formula-safe cells, rows to CSV in chunks, and the files that
describe them (the Markdown data dictionary and the Frictionless data package, both from
`annotation.core.columns`). Shared by the dashboard's downloads, the REST API, the paper bundle
and the checklists' exports."""

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

from annotation.core import columns as cols

# Cells that a spreadsheet would run as a formula. Model outputs and free text are untrusted.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A plain number a spreadsheet reads as that number, never as a formula: written as it is.
NUMBER_PATTERN = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
PLAIN_NUMBER = re.compile(NUMBER_PATTERN)


def safe_cell(value: object) -> object:
    """A text cell made inert: one starting with `=`, `+`, `-`, `@`, a tab or a carriage
    return gets a leading `'`, unless it is a plain number (`-3`, `+1.5`, `-2e-3`)."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and not PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def csv_value(value: object) -> object:
    """A cell as R's read.csv and pandas read it with their defaults: booleans as `TRUE` and
    `FALSE` (logical in R, bool in pandas), moments as `2026-12-04T19:00:58Z`, text made inert."""
    if isinstance(value, bool):
        return cols.TRUE if value else cols.FALSE
    if isinstance(value, datetime):
        return timestamp(value)
    return safe_cell(value)


def timestamp(moment: datetime) -> str:
    """A moment in UTC to the second, with a literal Z: `columns.TIMESTAMP_FORMAT`."""
    return moment.astimezone(UTC).strftime(cols.TIMESTAMP_FORMAT)


def to_csv(rows: Iterable[dict], columns: Sequence[str]) -> str:
    return "".join(csv_chunks(rows, columns))


def csv_chunks(
    rows: Iterable[dict | Sequence], columns: Sequence[str], *, every: int = 1000
) -> Iterator[str]:
    """CSV text `every` rows at a time: with an iterator of rows, an export of any size in
    constant memory. A row is a dict, its cells written as `csv_value` writes them (a column it
    lacks empty), or a sequence in `columns`' order whose cells are so written already (as
    `csv_cells` gives them), for a table of a million rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    batch: list = []
    for row in rows:
        if isinstance(row, dict):
            row = [csv_value(row.get(key, "")) for key in columns]
        batch.append(row)
        if len(batch) == every:
            writer.writerows(batch)
            batch.clear()
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(batch)
    yield buffer.getvalue()


def csv_cells(rows: Iterable[Sequence], columns: Sequence[cols.Column]) -> Iterator[list]:
    """Rows of values in `columns`' order with each cell as `csv_value` writes it, for
    `csv_chunks`; each text of a text column made inert once, as ids, keys, labels and answers
    repeat (past LIMIT texts a column's memory starts again)."""
    inert: list[dict | None] = [
        {} if column.type in (cols.STRING, cols.ANY) else None for column in columns
    ]
    words = {True: cols.TRUE, False: cols.FALSE}
    for row in rows:
        cells = []
        for value, known in zip(row, inert, strict=True):
            kind = type(value)
            if kind is str:
                if known is None:
                    cells.append(safe_cell(value))
                    continue
                cell = known.get(value)
                if cell is None:
                    if len(known) >= LIMIT:
                        known.clear()
                    cell = known[value] = safe_cell(value)
                cells.append(cell)
            elif kind is bool:
                cells.append(words[value])
            elif value is None or kind is int or kind is float:
                cells.append(value)
            else:
                cells.append(csv_value(value))
        yield cells


LIMIT = 10_000  # texts a column of `csv_cells` remembers


def csv_header(columns: Sequence[str]) -> str:
    """The header line `csv_chunks` writes first."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(columns)
    return buffer.getvalue()


# What the csv module quotes a cell for (`QUOTE_MINIMAL`, line end "\r\n").
QUOTED = re.compile('[,"\r\n]')


def csv_cell(value: object) -> str:
    """One cell's text as `csv_chunks` writes `csv_value(value)` beside other cells, without a
    csv writer per cell (ratings.csv's lines write each distinct value's cell this way): a
    float as its repr, anything else as its text, quoted where it holds a comma, a quote or a
    line break, as the csv module does."""
    value = csv_value(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    text = value if isinstance(value, str) else str(value)
    if QUOTED.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


INTRO = (
    "Every CSV file of the paper bundle, column by column. The API's tables `ratings` and "
    "`unblinding-key` with `?format=csv` have the same columns, written the same way."
)
READING = f"""## Reading the files

Every file is UTF-8 CSV with a header row, commas between cells and double quotes around a
cell that needs them (RFC 4180), so base R's `read.csv(path)` and pandas' `pd.read_csv(path)`
read them with their default settings.

- **Missing values** are empty cells: `NA` in R, `NaN` in pandas.
- **Booleans** are `{cols.TRUE}` and `{cols.FALSE}`: logical in R (whose `read.csv` leaves
  `true` and `false` as text), `bool` in pandas.
- **Timestamps** are UTC to the second with a literal `Z` (`2026-12-04T19:00:58Z`). Both
  packages read them as text; turn a column into moments with, in R,
  `{cols.R_TIMESTAMP}`, and in pandas `{cols.PANDAS_TIMESTAMP}`.
- **Text that looks like numbers** (case ids `1`, `2`, `3`) reads as numbers in both; give
  the column's type (`colClasses` in R, `dtype` in pandas) where that matters.
- **Integers** with an empty cell are `float64` in pandas, which has no missing integer by
  default. A column empty in every row reads as logical `NA` in R and `float64` in pandas;
  `datapackage.json` gives its declared type.
- **Text** a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`) is written
  with a leading `'`; a plain number (`-3`, `+1.5`) is written as it is.
- **Answers as text** (the `answer` column of ratings.csv and reads.csv: what raters typed)
  can be `NA`, `None`, `null` or `n/a`, which both packages read as missing by default. Every
  missing value in these files is an empty cell, so read with only the empty cell missing and
  the answer as text: in R `read.csv(path, na.strings = "", colClasses = c(answer =
  "character"))`, in pandas `pd.read_csv(path, keep_default_na=False, na_values=[""],
  dtype={{"answer": str}})`.
- `datapackage.json` describes the same files as a Frictionless data package (a Table Schema
  per file: types, allowed values, missing values); `frictionless validate datapackage.json`
  checks the files against it.
"""


def data_dictionary(files: Sequence[cols.Table] = cols.DICTIONARY_TABLES) -> str:
    """Every column of `files` in Markdown: its type and what it means, after how to read them."""
    parts = ["# Data dictionary", "", INTRO, "", READING]
    for table in files:
        parts += [f"## `{table.path}`: {table.title}", "", table.description, ""]
        parts += ["| column | type | meaning |", "|---|---|---|"]
        for column in table.columns:
            parts.append(f"| `{column.name}` | {column.type} | {_meaning(column)} |")
        parts.append("")
    return "\n".join(parts)


def _meaning(column: cols.Column) -> str:
    text = column.description.replace("|", "\\|")
    if column.enum:
        text += "; one of " + ", ".join(f"`{value}`" for value in column.enum)
    return text


def data_package(files: Sequence[cols.Table], *, name: str, title: str) -> str:
    """A Frictionless data package (datapackage.json) describing `files`: a tabular data
    resource with its Table Schema each."""
    package = {
        "profile": "tabular-data-package",
        "name": name,
        "title": title,
        "description": "See data_dictionary.md for how to read the files in R and pandas.",
        "resources": [_resource(table) for table in files],
    }
    return json.dumps(package, indent=2, ensure_ascii=False) + "\n"


def _resource(table: cols.Table) -> dict:
    return {
        "profile": "tabular-data-resource",
        "name": table.stem,
        "path": table.path,
        "title": table.title,
        "description": table.description,
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "schema": {
            "fields": [_field(column) for column in table.columns],
            "missingValues": [cols.MISSING],
        },
    }


def _field(column: cols.Column) -> dict:
    field = {"name": column.name, "type": column.type, "description": column.description}
    if column.type == cols.BOOLEAN:
        field.update(trueValues=[cols.TRUE], falseValues=[cols.FALSE])
    if column.type == cols.DATETIME:
        field["format"] = cols.TIMESTAMP_FORMAT
    if column.enum:
        field["constraints"] = {"enum": list(column.enum)}
    return field
