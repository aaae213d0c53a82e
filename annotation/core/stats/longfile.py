"""Read long rating data collected anywhere: a CSV with the header `unit,rater,value`.

An empty value, "NA" or "." is a missing rating and is left out, as "not applicable" is. Any
other problem (a missing column, an empty unit or rater, a value outside the declared categories
or not a number where the level needs numbers, a rater rating a unit twice) refuses the file
with an error naming the file, the row (the header is row 1) and the field.
"""

import csv
import io
from collections.abc import Sequence
from pathlib import PurePath

from annotation.core.stats.data import DataError, Observation, Ratings, ratings_from

COLUMNS = ("unit", "rater", "value")
MISSING = ("", "na", "n/a", ".")


def read_long_csv(
    filename: str, content: bytes, *, level: str, categories: Sequence | None = None
) -> Ratings:
    name = PurePath(filename).name
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\0extra")
    header = [column.strip() for column in reader.fieldnames or []]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise DataError(
            f"{name}, row 1: the header needs the columns unit,rater,value "
            f"({', '.join(missing)} missing)"
        )
    reader.fieldnames = header
    observations, rows_of = [], {}
    for record in reader:
        row = reader.line_num
        if "\0extra" in record:
            raise DataError(f"{name}, row {row}: more values than columns")
        if None in record.values():
            raise DataError(f"{name}, row {row}: fewer values than columns")
        unit, rater, value = ((record.get(c) or "").strip() for c in COLUMNS)
        for column, text_value in (("unit", unit), ("rater", rater)):
            if not text_value:
                raise DataError(f"{name}, row {row}, field '{column}': is empty")
        if value.lower() in MISSING:
            continue
        first = rows_of.setdefault((unit, rater), row)
        if first != row:
            raise DataError(
                f"{name}, row {row}, field 'value': rater {rater!r} already rated unit "
                f"{unit!r} at row {first}"
            )
        observations.append(Observation(unit, rater, value))
    if not observations:
        raise DataError(f"{name}: no ratings (every row is missing its value, or none)")
    try:
        return ratings_from(observations, level=level, categories=categories)
    except DataError as exc:
        if exc.index is None:
            # Not one row's fault: the declared categories, or the data as a whole.
            where = "--categories" if categories is not None else name
            raise DataError(f"{where}: {exc}") from None
        obs = observations[exc.index]
        row = rows_of[(obs.unit, obs.rater)]
        raise DataError(f"{name}, row {row}, field 'value': {exc}") from None
