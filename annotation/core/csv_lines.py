"""CSV lines laid out by NumPy, many rows at a time, as `tables.csv_chunks(tables.csv_cells())`
writes them: the paper bundle's ratings.csv at a million ratings (issue 22). No Django.

Each column comes as its distinct cells, each with the comma or line end that follows it and
written once by Python (`tables.csv_cell`), and each row's place among them (`Column`): ids,
keys and answers repeat, so a million rows hold few distinct texts.
Moments and times on task, which rarely repeat, are written from their numbers by NumPy. Rows
of short cells are one record array whose bytes, less the padding (NUL, which no text holds:
PostgreSQL's texts cannot), are the lines; where a few long cells would pad every row to their
width (a long free-text answer among short ones), the rows are joined one by one instead."""

import datetime
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from annotation.core import tables

TRUE_FALSE = np.array([b"FALSE", b"TRUE"])
SECONDS_A_DAY = 86_400
# timestamptz_send's microseconds count from 2000-01-01, day 730,120 of the proleptic
# Gregorian calendar (`date.toordinal`); its infinities are the extremes of a 64-bit integer.
EPOCH_ORDINAL = datetime.date(2000, 1, 1).toordinal()
INFINITIES = (np.iinfo(np.int64).min, np.iinfo(np.int64).max)
# Times on task below this many ms (PostgreSQL's int) are written from their digits, exactly
# as Python's repr of ms / 1000: a double below 2**31 / 1000 holds each thousandth exactly.
FAST_MS = 2**31
# Rows are laid out as a record array while its padding is at most this many times the text.
PADDING_LIMIT = 4


@dataclass(frozen=True)
class Column:
    """A column of cells: its distinct cells (each with what follows it; bytes, or NumPy's
    fixed-width bytes) and each row's place among them."""

    cells: Sequence[bytes] | np.ndarray
    at: np.ndarray

    def lengths(self) -> np.ndarray:
        if isinstance(self.cells, np.ndarray):
            return np.strings.str_len(self.cells)
        return np.fromiter(map(len, self.cells), dtype=np.int64, count=len(self.cells))

    def table(self) -> np.ndarray:
        """The distinct cells as fixed-width bytes."""
        if isinstance(self.cells, np.ndarray):
            return self.cells
        return np.array(self.cells, dtype=bytes)

    def texts(self) -> list[bytes]:
        return self.cells.tolist() if isinstance(self.cells, np.ndarray) else list(self.cells)

    @classmethod
    def of(cls, cells: np.ndarray) -> "Column":
        """A column whose rows each have a cell of their own."""
        return cls(cells, np.arange(len(cells)))


def cells(
    values: Iterable, text: Callable[[object], str] = tables.csv_cell, end: str = ","
) -> list[bytes]:
    """Each value's cell (`text`) followed by `end`, as UTF-8 bytes."""
    return [(text(value) + end).encode() for value in values]


def picked(
    values: np.ndarray, text: Callable[[object], str] = tables.csv_cell, end: str = ","
) -> Column:
    """Each value's cell followed by `end`, each distinct value written once."""
    found, at = np.unique(values, return_inverse=True)
    return Column(cells(found.tolist(), text, end), at.reshape(-1))


def flags(values: np.ndarray, end: str = ",") -> Column:
    """`TRUE` or `FALSE` (0 or 1) followed by `end`."""
    return Column(np.char.add(TRUE_FALSE, end.encode()), values.astype(bool).astype(np.intp))


def numbers(values: np.ndarray, missing: np.ndarray, end: str = ",") -> Column:
    """Doubles as the csv module writes them (repr), an empty cell where `missing`; each
    distinct double written once (by its bits: -0.0 is not 0.0)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    found, at = np.unique(bits, return_inverse=True)
    written = cells([*found.view(np.float64).tolist(), None], end=end)
    return Column(written, np.where(missing, len(found), at.reshape(-1)))


def moments(microseconds: np.ndarray, end: str = ",") -> tuple[Column, Column]:
    """Moments given as PostgreSQL sends a timestamptz (microseconds since 2000-01-01 UTC) as
    its `to_char(moment AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')` writes them
    (ratings.csv's other path, `ratings_rows.UtcSecond`): the year in at least four digits, an
    infinity as an empty cell. Two columns: the day, each distinct day written by Python, and
    the time of day."""
    microseconds = microseconds.astype(np.int64)
    infinite = np.isin(microseconds, INFINITIES)
    seconds = np.floor_divide(np.where(infinite, 0, microseconds), 1_000_000)
    days, time_of_day = np.divmod(seconds, SECONDS_A_DAY)
    found, at = np.unique(days, return_inverse=True)
    written = [_day(day).encode() for day in found.tolist()] + [b""]
    day = Column(np.array(written, dtype=bytes), np.where(infinite, len(found), at.reshape(-1)))
    return day, Column(_times_of_day(end), np.where(infinite, SECONDS_A_DAY, time_of_day))


def _day(days: int) -> str:
    """`YYYY-MM-DDT` of the day `days` after 2000-01-01, as PostgreSQL's to_char writes it,
    past Python's years 1 to 9999 too: years before 1 are BC, numbered 1, 2... back."""
    ordinal = EPOCH_ORDINAL + days
    if 1 <= ordinal <= datetime.date.max.toordinal():
        date = datetime.date.fromordinal(ordinal)
        year, month, day = date.year, date.month, date.day
    else:
        year, month, day = _civil(days)
    return f"{year if year > 0 else 1 - year:04d}-{month:02d}-{day:02d}T"


def _civil(days: int) -> tuple[int, int, int]:
    """The proleptic Gregorian (year, month, day) `days` after 2000-01-01, year 0 being 1 BC
    (H. Hinnant's days-to-civil, from 1970-01-01)."""
    z = days + 10_957 + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


@functools.cache
def _times_of_day(end: str) -> np.ndarray:
    """`HH:MM:SSZ` and `end` for each second of a day, then `end` alone."""
    times = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in range(SECONDS_A_DAY)]
    return np.array([(time + end).encode() for time in [*times, ""]], dtype=bytes)


def seconds(ms: np.ndarray, end: str = ",") -> tuple[Column, Column]:
    """Times on task in ms as `study_ratings_rows` gives them to the csv module (ms / 1000,
    none for 0), in two columns: the whole seconds and the rest."""
    ms = ms.astype(np.int64)
    fast = (ms > 0) & (ms < FAST_MS)
    whole = np.where(fast, ms // 1000, 0).astype("S24")
    whole[ms == 0] = b""
    rest = Column(_thousandths(end), np.where(fast, ms % 1000, 1000))
    slow = np.flatnonzero(~fast & (ms != 0))
    if len(slow):
        found, at = np.unique(ms[slow], return_inverse=True)
        texts = [tables.csv_cell(value / 1000).encode() for value in found.tolist()]
        whole[slow] = np.array(texts, dtype="S24")[at.reshape(-1)]
    return Column.of(whole), rest


@functools.cache
def _thousandths(end: str) -> np.ndarray:
    """`.5`, `.001`... and `end` for each thousandth (0 to 999), then `end` alone."""
    rest = [f".{n:03d}".rstrip("0") if n else ".0" for n in range(1000)]
    return np.array([(text + end).encode() for text in [*rest, ""]], dtype=bytes)


def lines(columns: Sequence[Column]) -> bytes:
    """The rows whose cells `columns` hold (each cell with what follows it), as one text."""
    rows = len(columns[0].at)
    lengths = [column.lengths() for column in columns]
    text = sum(int(found[column.at].sum()) for found, column in zip(lengths, columns, strict=True))
    padded = rows * sum(int(found.max(initial=1)) for found in lengths)
    if padded > PADDING_LIMIT * text:  # a few long cells: each row as long as its own text
        picked = []
        for column in columns:
            cells = column.texts()
            picked.append([cells[n] for n in column.at.tolist()])
        return b"".join(map(b"".join, zip(*picked, strict=True)))
    # The cells side by side in a record array, its padding left out.
    distinct = [column.table() for column in columns]
    record = np.empty(rows, dtype=[(f"c{n}", t.dtype) for n, t in enumerate(distinct)])
    for n, (table, column) in enumerate(zip(distinct, columns, strict=True)):
        record[f"c{n}"] = table[column.at]
    flat = record.view(np.uint8)
    return flat[flat != 0].tobytes()
