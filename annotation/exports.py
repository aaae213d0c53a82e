"""Tabular exports shared by the dashboard's downloads and the REST API."""

import csv
import io
from collections.abc import Iterable, Sequence

from django.http import HttpResponse

# Cells that a spreadsheet would run as a formula. Model outputs and free text are untrusted.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def to_csv(rows: Iterable[dict], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: safe_cell(value) for key, value in row.items()})
    return buffer.getvalue()


def csv_response(*, rows: Iterable[dict], columns: Sequence[str], filename: str) -> HttpResponse:
    response = HttpResponse(to_csv(rows, columns), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
