"""Tables as CSV, with no Django: formula-safe cells, rows to CSV in chunks, and the data
dictionary. Shared by the dashboard's downloads, the REST API, the paper bundle and the
checklists' exports."""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

# Cells that a spreadsheet would run as a formula. Model outputs and free text are untrusted.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def to_csv(rows: Iterable[dict], columns: Sequence[str]) -> str:
    return "".join(csv_chunks(rows, columns))


def csv_chunks(rows: Iterable[dict], columns: Sequence[str], *, every: int = 1000) -> Iterator[str]:
    """CSV text `every` rows at a time, formula-like cells made inert: with an iterator of rows,
    an export of any size in constant memory."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for n, row in enumerate(rows, start=1):
        writer.writerow({key: safe_cell(value) for key, value in row.items()})
        if n % every == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
DICTIONARY_SECTIONS = ("## Ratings (long format)", "## Unblinding key")


def ratings_dictionary() -> str:
    """What every column of the ratings and unblinding files means: the sections of
    docs/api.md that describe them, so the bundle and the docs never disagree."""
    text = API_DOC.read_text(encoding="utf-8")
    parts = ["# Data dictionary", ""]
    for heading in DICTIONARY_SECTIONS:
        start = text.index(heading)
        end = text.find("\n## ", start + len(heading))
        parts.append("#" + text[start : end if end >= 0 else len(text)].strip())
        parts.append("")
    return "\n".join(parts)
