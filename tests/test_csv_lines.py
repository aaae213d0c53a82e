"""ratings.csv's lines laid out by NumPy (core.csv_lines) are what the csv module writes for the
same values, cell by cell: texts that need quoting or a guard against formulas, doubles of
every magnitude, moments from year 1 to 9999 and times on task of every size."""

import csv
import datetime
import io
import math
import random

import numpy as np

from annotation.core import csv_lines, tables

TEXTS = [
    "",
    "plain",
    "a,b",
    'say "hi"',
    "line\nbreak",
    "cr\rhere",
    "\ttab",
    "-negative",
    "-3",
    "+1.5",
    "-2e-3",
    "@at",
    "=SUM(A1)",
    "  spaced  ",
    "é 😀 中文",
    "'quoted already",
    '"',
    ",",
]
VALUES = [None, True, False, 0, -5, 2**70, 0.1, -0.0, float("nan"), float("inf"), 1e-7, 1e16]


def _written(values: list) -> str:
    """The row as the csv module writes the cells `tables.csv_cells` makes of it."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(next(tables.csv_cells([values], [_ANY] * len(values))))
    return buffer.getvalue()


_ANY = tables.cols.Column("x", tables.cols.ANY, "")


def test_a_cell_is_the_csv_modules():
    for value in [*TEXTS, *VALUES]:
        assert csv_lines.cell(value) == tables.csv_cell(value), repr(value)
    row = [*TEXTS, *VALUES]
    columns = [
        csv_lines.cells([value], end="," if n < len(row) - 1 else "\r\n")
        for n, value in enumerate(row)
    ]
    assert csv_lines.lines(columns).decode() == _written(row)


def test_doubles_are_their_repr_and_missing_is_empty():
    rng = random.Random(3)
    doubles = [0.1 * n for n in range(-50, 50)] + [1.0 / n for n in range(1, 200)]
    doubles += [10.0**k for k in range(-12, 22)] + [-(10.0**k) * 1.5 for k in range(-12, 22)]
    doubles += [5e-324, 1.7976931348623157e308, 2.0**53, 2.0**53 + 2, 0.30000000000000004]
    doubles += [-0.0, 0.0, math.nan, math.inf, -math.inf]
    doubles += [rng.uniform(-1e6, 1e6) for _ in range(500)]
    values = np.array(doubles)
    missing = np.zeros(len(values), dtype=bool)
    missing[::7] = True
    written = csv_lines.numbers(values, missing, end=";")
    for value, gone, text in zip(doubles, missing, written.tolist(), strict=True):
        assert text.decode() == ("" if gone else repr(value)) + ";", value


def test_moments_are_tables_timestamp():
    rng = random.Random(5)
    start = datetime.datetime(1, 1, 1, tzinfo=datetime.UTC)
    moments = [start, datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.UTC)]
    moments += [
        datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(microseconds=n)
        for n in (-1, 0, 1, -999_999, -1_000_000, -1_000_001, 999_999)
    ]
    moments += [datetime.datetime(2024, 2, 29, 23, 59, 59, 500000, tzinfo=datetime.UTC)]
    moments += [start + datetime.timedelta(seconds=rng.uniform(0, 3e11)) for _ in range(2000)]
    epoch = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    micros = np.array([(m - epoch) // datetime.timedelta(microseconds=1) for m in moments])
    day, time_of_day = csv_lines.moments(micros, end="|")
    for moment, a, b in zip(moments, day.tolist(), time_of_day.tolist(), strict=True):
        assert (a + b).decode() == tables.timestamp(moment) + "|", moment


def test_times_on_task_are_pythons_ms_over_1000():
    ms = list(range(0, 200_001)) + [2**31 - 1, 2**31, 10**12, 2**62, -1, -1500, -(2**40)]
    whole, rest = csv_lines.seconds(np.array(ms), end=",")
    for n, a, b in zip(ms, whole.tolist(), rest.tolist(), strict=True):
        assert (a + b).decode() == ("" if n == 0 else repr(n / 1000)) + ",", n


def test_lines_leave_out_only_the_padding():
    columns = [
        np.array([b"a,", b"longer cell,", b","]),
        np.array([b"\xc3\xa9\r\n", b"x\r\n", b"\r\n"]),
    ]
    assert csv_lines.lines(columns) == b"a,\xc3\xa9\r\nlonger cell,x\r\n,\r\n"
