"""CSV lines laid out by NumPy, many rows at a time, as `tables.csv_chunks(tables.csv_cells())`
writes them: the paper bundle's ratings.csv at a million ratings (issue 22). No Django.

Each column comes as an array of cells, NumPy's fixed-width bytes (`S`), each cell with the
comma or line end that follows it, picked from the column's distinct values, each written once
by Python (`cells`): ids, keys and answers repeat, so a million rows hold few distinct texts.
Moments and times on task, which rarely repeat, are written from their numbers by NumPy. The
rows are then one record array whose bytes, less the padding (NUL, which no text holds:
PostgreSQL's texts cannot), are the lines."""

import datetime
import functools
import re
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from annotation.core import tables

# What the csv module quotes a cell for (`QUOTE_MINIMAL`, line end "\r\n").
QUOTED = re.compile('[,"\r\n]')
TRUE_FALSE = np.array([b"FALSE", b"TRUE"])
POSTGRES_EPOCH = datetime.datetime(2000, 1, 1)  # timestamptz_send's microseconds count from it
SECONDS_A_DAY = 86_400
# Times on task below this many ms (PostgreSQL's int) are written from their digits, exactly
# as Python's repr of ms / 1000: a double below 2**31 / 1000 holds each thousandth exactly.
FAST_MS = 2**31


def cell(value: object) -> str:
    """`tables.csv_cell(value)`, without a csv writer per cell: made inert (`tables.csv_value`),
    then quoted where it holds a comma, a quote or a line break, as the csv module does."""
    value = tables.csv_value(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    text = value if isinstance(value, str) else str(value)
    if QUOTED.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def cells(values: Iterable, text: Callable[[object], str] = cell, end: str = ",") -> np.ndarray:
    """Each value's cell (`text`) followed by `end`, as UTF-8 bytes."""
    return np.array([(text(value) + end).encode() for value in values], dtype=bytes)


def picked(values: np.ndarray, text: Callable[[object], str] = cell, end: str = ",") -> np.ndarray:
    """Each value's cell followed by `end`, each distinct value written once."""
    found, at = np.unique(values, return_inverse=True)
    return cells(found.tolist(), text, end)[at]


def flags(values: np.ndarray, end: str = ",") -> np.ndarray:
    """`TRUE` or `FALSE` (0 or 1) followed by `end`."""
    return np.char.add(TRUE_FALSE, end.encode())[values.astype(bool).astype(np.intp)]


def numbers(values: np.ndarray, missing: np.ndarray, end: str = ",") -> np.ndarray:
    """Doubles as the csv module writes them (repr), an empty cell where `missing`; each
    distinct double written once (by its bits: -0.0 is not 0.0)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    found, at = np.unique(bits, return_inverse=True)
    written = cells([*found.view(np.float64).tolist(), None], end=end)
    return written[np.where(missing, len(found), at)]


def moments(microseconds: np.ndarray, end: str = ",") -> tuple[np.ndarray, np.ndarray]:
    """Moments given as PostgreSQL sends a timestamptz (microseconds since 2000-01-01 UTC)
    as `tables.timestamp` writes them (`2026-12-04T19:00:58Z`), in two columns: the day
    (each distinct day written by Python's strftime) and the time of day."""
    seconds = np.floor_divide(microseconds.astype(np.int64), 1_000_000)
    days, time_of_day = np.divmod(seconds, SECONDS_A_DAY)
    found, at = np.unique(days, return_inverse=True)
    written = [
        (POSTGRES_EPOCH + datetime.timedelta(days=day)).strftime("%Y-%m-%dT").encode()
        for day in found.tolist()
    ]
    return np.array(written, dtype=bytes)[at], _times_of_day(end)[time_of_day]


@functools.cache
def _times_of_day(end: str) -> np.ndarray:
    """`HH:MM:SSZ` and `end` for each second of a day."""
    return np.array(
        [
            f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z{end}".encode()
            for s in range(SECONDS_A_DAY)
        ],
        dtype=bytes,
    )


def seconds(ms: np.ndarray, end: str = ",") -> tuple[np.ndarray, np.ndarray]:
    """Times on task in ms as `study_ratings_rows` gives them to the csv module (ms / 1000,
    none for 0), in two columns: the whole seconds and the rest."""
    ms = ms.astype(np.int64)
    fast = (ms > 0) & (ms < FAST_MS)
    whole = np.where(fast, ms // 1000, 0).astype("S24")
    rest = _thousandths(end)[np.where(fast, ms % 1000, 1000)]
    slow = np.flatnonzero(~fast)
    if len(slow):
        found, at = np.unique(ms[slow], return_inverse=True)
        texts = [cell(value / 1000 if value else None) for value in found.tolist()]
        whole[slow] = np.array([text.encode() for text in texts], dtype="S24")[at]
    return whole, rest


@functools.cache
def _thousandths(end: str) -> np.ndarray:
    """`.5`, `.001`... and `end` for each thousandth (0 to 999), then `end` alone."""
    rest = [f".{n:03d}".rstrip("0") if n else ".0" for n in range(1000)]
    return np.array([(text + end).encode() for text in [*rest, ""]], dtype=bytes)


def lines(columns: Sequence[np.ndarray]) -> bytes:
    """The rows whose cells `columns` hold (each column's cells with what follows them), as
    one text: the cells side by side in a record array, its padding left out."""
    rows = np.empty(len(columns[0]), dtype=[(f"c{n}", c.dtype) for n, c in enumerate(columns)])
    for n, column in enumerate(columns):
        rows[f"c{n}"] = column
    flat = rows.view(np.uint8)
    return flat[flat != 0].tobytes()
