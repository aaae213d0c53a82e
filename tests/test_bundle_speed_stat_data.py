"""ratings.sav and ratings.dta laid out through each column's distinct values (stat_data's
_Objects) are the bytes pyreadstat writes, on frames with texts of every width, unicode,
missing values of both kinds, Stata's tagged `.a`, and negative zeros among the numbers."""

import random
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from annotation.core import stat_data


def _frame(seed: int, rows: int = 1500) -> pd.DataFrame:
    rng = random.Random(seed)
    texts = ["a", "bb", "é😀", "x" * 40, 'comma, and "quote"', "中文字"]
    numbers = [1.0, -0.0, 0.0, 2.5, None, float("nan"), "a", -1e10]
    return pd.DataFrame(
        {
            "token": pd.Series([rng.choice(texts) for _ in range(rows)], dtype=object),
            "score": pd.Series([rng.choice(numbers) for _ in range(rows)], dtype=object),
            "plain": np.array([rng.choice([1.0, -0.0, float("nan")]) for _ in range(rows)]),
            "count": np.arange(rows, dtype="int64"),
        }
    )


def _pyreadstat(fmt: str, tags: dict):
    def whole(frame: pd.DataFrame) -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            path = str(Path(folder) / "f")
            if fmt == stat_data.DTA:
                pyreadstat.write_dta(frame, path, missing_user_values=tags)
            else:
                pyreadstat.write_sav(frame, path)
            return Path(path).read_bytes()

    return whole


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rows_laid_out_through_distinct_values_are_pyreadstats(seed):
    frame = _frame(seed)
    tags = {"score": ["a"]}
    write = _pyreadstat(stat_data.DTA, tags)
    laid_out = stat_data.written(write, frame, stat_data.DTA, tags=tags, value_labels={})
    assert laid_out is not None
    assert bytes(laid_out) == write(frame)
    # SPSS has no tags: the same frame without them, its numbers as doubles.
    frame["score"] = frame["score"].where(frame["score"] != "a", None).astype("float64")
    write = _pyreadstat(stat_data.SAV, {})
    laid_out = stat_data.written(write, frame, stat_data.SAV, tags={}, value_labels={})
    assert laid_out is not None
    whole = write(frame)
    assert bytes(laid_out)[:92] == whole[:92]  # and from 109: not the header's creation time
    assert bytes(laid_out)[109:] == whole[109:]


def test_a_column_of_other_types_is_read_value_by_value():
    frame = pd.DataFrame({"score": pd.Series([1, 2.0, None] * 400, dtype=object)})
    assert stat_data._Objects.of(frame["score"]) is None  # an int among the floats
    assert stat_data._layout(frame, stat_data.DTA, {"score": ["a"]}, {}) is None


@pytest.mark.parametrize("fmt", [stat_data.SAV, stat_data.DTA])
def test_a_column_of_categories_is_laid_out_as_its_texts(fmt, monkeypatch):
    """The bundle's key columns come as categories (codes, each text once: issue 22): the file
    is the one pyreadstat writes from the same texts as objects, though a category no row
    holds is wider than every text, and laid out a few rows at a time."""
    rng = random.Random(7)
    texts = ["a", "bb", "é😀", 'comma, and "quote"', "中文字"]
    tokens = [rng.choice(texts) for _ in range(1500)]
    categories = pd.Categorical(tokens, categories=[*reversed(texts), "w" * 60])
    frame = pd.DataFrame({"token": categories, "count": np.arange(1500, dtype="int64")})
    objects = frame.assign(token=pd.Series(tokens, dtype=object))
    write = _pyreadstat(fmt, {})
    monkeypatch.setattr(stat_data, "PART_ROWS", 7)
    parts = stat_data.written_parts(write, frame, fmt, tags={}, value_labels={})
    assert parts is not None  # laid out here, not by pyreadstat
    assert _timeless(b"".join(parts), fmt) == _timeless(write(objects), fmt)
    assert stat_data.plain(frame)["token"].tolist() == tokens


def _timeless(data: bytes, fmt: str) -> bytes:
    """The file without the moment it was written (the .sav's header, the .dta's timestamp)."""
    if fmt == stat_data.SAV:
        return data[:92] + data[109:]
    at = data.index(b"<timestamp>\x11") + len(b"<timestamp>\x11")
    return data[:at] + data[at + 17 :]
