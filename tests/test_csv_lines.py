"""ratings.csv's lines laid out by NumPy (core.csv_lines) are what the csv module writes for the
same values, cell by cell (`tables.csv_cell`, without a csv writer): texts that need quoting
or a guard against formulas, doubles of every magnitude, moments and times on task of every
size; and a few long cells among short ones cost their own length, not their length in every
row."""

import csv
import datetime
import io
import math
import random
import tracemalloc

import numpy as np

from annotation.core import csv_lines, tables
from tests.test_bundle_speed_csv import ANSWERS

# The tricky answers of the lines' byte-for-byte test, and plain numbers a guard leaves alone.
TEXTS = [answer for answer in ANSWERS if isinstance(answer, str)] + ["-3", "+1.5", "-2e-3"]
VALUES = [None, True, False, 0, -5, 2**70, 0.1, -0.0, float("nan"), float("inf"), 1e-7, 1e16]
ANY = tables.cols.Column("x", tables.cols.ANY, "")


def _written(rows: list[list]) -> str:
    """The rows as the csv module writes the cells `tables.csv_cells` makes of them."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(tables.csv_cells(rows, [ANY] * len(rows[0])))
    return buffer.getvalue()


def _column(values: list, last: bool) -> csv_lines.Column:
    written = csv_lines.cells(values, end="\r\n" if last else ",")
    return csv_lines.Column(written, np.arange(len(written)))


def _cells(column: csv_lines.Column) -> list[bytes]:
    return column.table()[column.at].tolist()


def test_a_cell_is_the_csv_modules():
    row = [*TEXTS, *VALUES]
    for value in row:
        # Beside an empty cell: the csv module quotes an empty row's only cell.
        written = _written([[value, ""]])
        assert tables.csv_cell(value) + ",\r\n" == written, repr(value)
    columns = [_column([value], n == len(row) - 1) for n, value in enumerate(row)]
    assert csv_lines.lines(columns).decode() == _written([row])


def test_doubles_are_their_repr_and_missing_is_empty():
    rng = random.Random(3)
    doubles = [0.1 * n for n in range(-50, 50)] + [1.0 / n for n in range(1, 200)]
    doubles += [10.0**k for k in range(-12, 22)] + [-(10.0**k) * 1.5 for k in range(-12, 22)]
    doubles += [5e-324, 1.7976931348623157e308, 2.0**53, 2.0**53 + 2, 0.30000000000000004]
    doubles += [-0.0, 0.0, math.nan, math.inf, -math.inf]
    doubles += [rng.uniform(-1e6, 1e6) for _ in range(500)]
    missing = np.zeros(len(doubles), dtype=bool)
    missing[::7] = True
    written = _cells(csv_lines.numbers(np.array(doubles), missing, end=";"))
    for value, gone, text in zip(doubles, missing, written, strict=True):
        assert text.decode() == ("" if gone else repr(value)) + ";", value


def test_moments_of_python_years_are_tables_timestamp():
    # Years 1000 to 9999, where Python's strftime and PostgreSQL's to_char agree (the rest,
    # against to_char itself: test_bundle_speed_csv).
    rng = random.Random(5)
    start = datetime.datetime(1000, 1, 1, tzinfo=datetime.UTC)
    end = datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.UTC)
    epoch = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    moments = [start, end, datetime.datetime(2024, 2, 29, 23, 59, 59, 5, tzinfo=datetime.UTC)]
    moments += [epoch + datetime.timedelta(microseconds=n) for n in (-1, 0, 1, -(10**6) - 1)]
    moments += [start + (end - start) * rng.random() for _ in range(3000)]
    micros = np.array([(m - epoch) // datetime.timedelta(microseconds=1) for m in moments])
    day, time_of_day = csv_lines.moments(micros, end="|")
    for moment, a, b in zip(moments, _cells(day), _cells(time_of_day), strict=True):
        assert (a + b).decode() == tables.timestamp(moment) + "|", moment


def test_days_past_pythons_calendar_are_the_proleptic_gregorian():
    for days in range(-800_000, 800_000, 997):
        ordinal = csv_lines.EPOCH_ORDINAL + days
        if 1 <= ordinal <= datetime.date.max.toordinal():
            date = datetime.date.fromordinal(ordinal)
            assert csv_lines._civil(days) == (date.year, date.month, date.day), days
    assert csv_lines._civil(-730_119) == (1, 1, 1)  # 0001-01-01
    assert csv_lines._civil(-730_120) == (0, 12, 31)  # the day before: 1 BC
    assert csv_lines._day(-730_120) == "0001-12-31T"


def test_times_on_task_are_pythons_ms_over_1000():
    ms = list(range(0, 200_001)) + [2**31 - 1, 2**31, 10**12, 2**62, -1, -1500, -(2**40)]
    whole, rest = csv_lines.seconds(np.array(ms), end=",")
    for n, a, b in zip(ms, _cells(whole), _cells(rest), strict=True):
        assert (a + b).decode() == ("" if n == 0 else repr(n / 1000)) + ",", n


def test_a_long_cell_among_short_ones_costs_its_own_length():
    """A long free-text answer in a batch of short ones, all different: laid out as a record
    array, every row (and every distinct answer) would be padded to its width (10,000 x
    240 KB, 2.4 GB). Each row is as long as its own text instead, and the lines are the
    same."""
    rows = 10_000
    answers = [f"short {n}" for n in range(rows)]
    answers[rows // 2] = "word, " * 40_000
    tokens = [f"T{n % 7}" for n in range(rows)]
    tracemalloc.start()
    try:
        columns = [
            _column(tokens, False),
            csv_lines.Column(csv_lines.cells(answers, end="\r\n"), np.arange(rows)),
        ]
        written = csv_lines.lines(columns)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert written.decode() == _written([list(pair) for pair in zip(tokens, answers, strict=True)])
    assert peak < 20 * 2**20
    short = csv_lines.lines(columns[:1] + [_column(["a"] * rows, True)])
    assert short.decode() == _written([[token, "a"] for token in tokens])
