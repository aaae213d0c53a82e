"""The rows of ratings.sav and ratings.dta laid out with NumPy, for a study of any size.

pyreadstat writes a file a row at a time through Python objects, some 10 µs a row: 20 s for each
file of a million ratings. The rest of each file (the dictionary, labels, formats, value labels)
depends on the rows only through each variable's type, each text variable's width and the number
of rows. So pyreadstat writes the file of a few rows that have the same types and widths, with
the same options, and the whole frame's rows take the place of those few, as ReadStat lays them
out (both files uncompressed):

- SPSS: a number is an 8-byte double, system missing -DBL_MAX; a text is its UTF-8 bytes padded
  with spaces to its width rounded up to 8 bytes. The row count is in the header (offset 80)
  and in the record just before the dictionary's end.
- Stata 118 and 119: a number is an 8-byte double, `.` 2**1023 and `.a`, `.b`... the steps above it;
  a text is its bytes padded with NUL to its width. The row count is in `<N>`, and the `<map>`
  gives the offset of each section after the rows.

Before anything is spliced, the few rows pyreadstat wrote are laid out here too and must match
its bytes exactly; where they do not, or a column is of a kind not covered here (a text past
SPSS's 255 bytes or Stata's 2045, a true/false column), pyreadstat writes the whole file."""

import struct
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pandas as pd

SAV, DTA = "sav", "dta"
SAV_MISSING = 0xFFEFFFFFFFFFFFFF  # -DBL_MAX: system missing
DTA_MISSING = 0x7FE0000000000000  # Stata's `.`; `.a` is one TAG_STEP above it
TAG_STEP = 1 << 40
SAV_ROWS_AT = 80  # the header's case count, an int32
SAV_CASES = struct.pack("<4i", 7, 16, 8, 2) + struct.pack("<q", 1)  # then the count, 64-bit
SAV_END = struct.pack("<2i", 999, 0)
SAV_TEXT_LIMIT, DTA_TEXT_LIMIT = 255, 2045  # longer texts: SPSS segments, Stata strL
DTA_LARGEST = 2.0**1023  # Stata reads a double this large or larger as missing
NUMBER, TEXT = "number", "text"
# Rows laid out at a time: a few MB, where a whole file of a million ratings is 70 to 90 MB
# held beside the frame it is made from (the bundle worker's peak, issue 22).
PART_ROWS = 65_536


def written(
    write: Callable[[pd.DataFrame], bytes],
    frame: pd.DataFrame,
    fmt: str,
    *,
    tags: dict[str, list[str]],
    value_labels: dict,
) -> bytearray | None:
    """The file `write(frame)` (pyreadstat's, SAV or DTA) gives, its rows laid out here; None
    where this cannot be sure of the same bytes. `tags` are the Stata missing values (`.a`) per
    column and `value_labels` the value labels, as `write` is given them."""
    parts = written_parts(write, frame, fmt, tags=tags, value_labels=value_labels)
    return None if parts is None else bytearray(b"".join(parts))


def written_parts(
    write: Callable[[pd.DataFrame], bytes],
    frame: pd.DataFrame,
    fmt: str,
    *,
    tags: dict[str, list[str]],
    value_labels: dict,
) -> Iterator[bytes] | None:
    """`written`'s file in parts, to be written one after another: the head (a bytearray,
    everything before the rows), the rows `PART_ROWS` at a time, then the tail. Everything
    that can say None is checked before this returns; the rows are laid out as the parts are
    taken."""
    layout = _layout(frame, fmt, tags, value_labels)
    if layout is None or not len(frame):
        return None
    if fmt == DTA and not _stata_numbers(frame, layout):
        return None
    sample = frame.iloc[_sample_rows(frame, layout, tags)].reset_index(drop=True)
    small = write(sample)
    rows = _rows(sample, layout, fmt, tags)
    splice = _sav_splice if fmt == SAV else _dta_splice
    found = splice(small, rows, len(sample), len(frame))
    if found is None:
        return None
    head, tail = found
    return _file(head, tail, frame, lambda rows: _rows(rows, layout, fmt, tags))


def _layout(frame: pd.DataFrame, fmt: str, tags: dict, value_labels: dict) -> list | None:
    """(NUMBER, 8) or (TEXT, width in bytes) per column, as pyreadstat types it; None for a
    column it would type otherwise or that is not covered here."""
    layout = []
    limit = SAV_TEXT_LIMIT if fmt == SAV else DTA_TEXT_LIMIT - 1
    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind in "fi":
            layout.append((NUMBER, 8))
            continue
        if column.dtype.kind == "b":
            return None
        found = _Objects.of(column)
        if found is None:
            found = _layout_slowly(column, tags.get(name, ()), name in tags)
        else:
            found = found.layout(tags.get(name, ()), name in tags)
        if found is None or (found[0] == TEXT and (name in value_labels or found[1] > limit)):
            return None
        layout.append(found)
    return layout


def _layout_slowly(column: pd.Series, tagged: Sequence[str], has_tags: bool) -> tuple | None:
    """`_layout` of one object column, value by value: for values of other types than
    `_Objects` covers."""
    values = [v for v in column.tolist() if not _missing(v) and v not in tagged]
    if has_tags and all(type(v) is float for v in values):
        return (NUMBER, 8)
    if values and len(values) == len(column) and all(type(v) is str for v in values):
        return (TEXT, max(1, max(len(v.encode()) for v in set(values))))
    return None


class _Objects:
    """An object column whose values are floats, texts and None only, read through its
    distinct values (pandas' factorize: codes by first appearance, -1 for None and NaN), so
    that a million rows holding a few hundred texts take milliseconds. Only these types:
    a float never equals a text, so no two values of different types share a code (an int
    and a float might, 1 == 1.0, and -0.0 == 0.0 share one, which `_numbers` does not read
    through codes)."""

    TYPES = frozenset((float, str, type(None)))

    def __init__(self, codes: np.ndarray, uniques: list) -> None:
        self.codes, self.uniques = codes, uniques

    @classmethod
    def of(cls, column: pd.Series) -> "_Objects | None":
        if isinstance(column.dtype, pd.CategoricalDtype):  # codes already: nothing to hash
            codes, uniques = _categories(column)
            return cls(codes, uniques) if set(map(type, uniques)) <= cls.TYPES else None
        values = column.to_numpy(dtype=object)
        if not set(map(type, values)) <= cls.TYPES:
            return None
        codes, uniques = pd.factorize(values)
        return cls(codes, list(uniques))

    def layout(self, tagged: Sequence[str], has_tags: bool) -> tuple | None:
        texts = [v for v in self.uniques if type(v) is str]
        if has_tags and all(v in tagged for v in texts):
            return (NUMBER, 8)  # the other values are floats or missing
        whole = len(self.codes) and len(texts) == len(self.uniques) and (self.codes >= 0).all()
        if whole and not any(v in tagged for v in texts):
            return (TEXT, max(1, max(len(v.encode()) for v in texts)))
        return None

    def first(self, test) -> int | None:
        """The first row whose value passes `test` (None for a missing value)."""
        wanted = [code for code, v in enumerate(self.uniques) if test(v)]
        rows = np.flatnonzero(np.isin(self.codes, wanted))
        if test(None):
            rows = np.concatenate([rows, np.flatnonzero(self.codes < 0)])
        return int(rows.min()) if len(rows) else None


def _categories(column: pd.Series) -> tuple[np.ndarray, list]:
    """A column of categories as codes (-1 for a missing value) and the categories the rows
    use, in the codes' order."""
    codes = column.cat.codes.to_numpy()
    present = codes >= 0
    used = np.zeros(len(column.cat.categories), dtype=bool)
    used[codes[present]] = True
    renumbered = np.cumsum(used) - 1
    codes = np.where(present, renumbered[np.where(present, codes, 0)], -1)
    return codes, column.cat.categories[used].tolist()


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each column of categories as the texts it holds (objects), as pyreadstat
    takes them."""
    frame = frame.copy(deep=False)
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def _stata_numbers(frame: pd.DataFrame, layout: list) -> bool:
    """Whether every number can be a Stata double: pyreadstat refuses one that is not."""
    for position, (kind, _) in enumerate(layout):
        if kind != NUMBER:
            continue
        column = frame.iloc[:, position]
        if column.dtype.kind in "fi":
            values = column.to_numpy(dtype="float64")
        else:
            values = np.array([v for v in column.tolist() if type(v) is float], dtype="float64")
        finite = values[~np.isnan(values)]
        if len(finite) and not (np.abs(finite) < DTA_LARGEST).all():
            return False
    return True


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _sample_rows(frame: pd.DataFrame, layout: list, tags: dict) -> list[int]:
    """The first row and, for each text column, a row holding its widest text; for each number
    column, a row holding a number where one does (the type pyreadstat then gives it), one
    holding a missing value and one holding each of its tags, so that the check against
    pyreadstat's bytes covers every code this layout writes."""
    rows = {0}
    for position, (kind, width) in enumerate(layout):
        column = frame.iloc[:, position]
        if kind == NUMBER and column.dtype.kind in "fi":  # numbers and NaN, no tag
            missing = np.isnan(column.to_numpy(dtype="float64"))
            rows.update(int(np.argmax(found)) for found in (~missing, missing) if found.any())
            continue
        objects = _Objects.of(column)
        if kind == TEXT:
            test = lambda v, w=width: _width(v) == w  # noqa: E731
            widest = _first_slowly(column, test) if objects is None else objects.first(test)
            rows.add(widest or 0)
            continue
        wanted = [lambda v: type(v) is float and v == v, _missing]
        wanted += [lambda v, t=tag: v == t for tag in tags.get(frame.columns[position], ())]
        for test in wanted:
            found = _first_slowly(column, test) if objects is None else objects.first(test)
            if found is not None:
                rows.add(found)
    return sorted(rows)


def _width(value: object) -> int:
    return len(value.encode()) if type(value) is str else -1


def _first_slowly(column: pd.Series, test) -> int | None:
    return next((i for i, v in enumerate(column.tolist()) if test(v)), None)


def _rows(frame: pd.DataFrame, layout: list, fmt: str, tags: dict) -> bytes:
    """The rows' bytes, column by column into one record array."""
    fields = [
        (f"c{position}", "<u8" if kind == NUMBER else f"S{_size(width, fmt)}")
        for position, (kind, width) in enumerate(layout)
    ]
    records = np.empty(len(frame), dtype=np.dtype(fields))
    for position, (kind, width) in enumerate(layout):
        column = frame.iloc[:, position]
        if kind == NUMBER:
            tagged = tags.get(frame.columns[position], ())
            records[f"c{position}"] = _numbers(column, fmt, tagged)
        else:
            records[f"c{position}"] = _texts(column, _size(width, fmt), fmt)
    return records.tobytes()


def _size(width: int, fmt: str) -> int:
    """A text's bytes in a row: SPSS rounds its width up to 8."""
    return -(-width // 8) * 8 if fmt == SAV else width


def _numbers(column: pd.Series, fmt: str, tags: Sequence[str]) -> np.ndarray:
    """Each number's double, missing and tagged values as the format codes them."""
    if column.dtype.kind in "fi":
        values = column.to_numpy(dtype="float64")
        tagged = {}
    else:
        objects = column.to_numpy(dtype=object)
        tagged = {tag: objects == tag for tag in tags}
        floats = np.array([type(v) is float for v in objects], dtype=bool)
        values = np.full(len(objects), np.nan)
        values[floats] = objects[floats].astype("float64")  # each float as it is, -0.0 too
    bits = values.view("<u8").copy()
    bits[np.isnan(values)] = SAV_MISSING if fmt == SAV else DTA_MISSING
    for tag, at in tagged.items():
        bits[at] = DTA_MISSING + (ord(tag) - ord("a") + 1) * TAG_STEP
    return bits


def _texts(column: pd.Series, size: int, fmt: str) -> np.ndarray:
    """Each text's UTF-8 bytes, padded to `size` (spaces in SPSS; NumPy's NUL in Stata), each
    distinct text encoded once."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes, uniques = _categories(column)
    else:
        codes, uniques = pd.factorize(column.to_numpy(dtype=object))
    pad = b" " if fmt == SAV else b"\0"
    padded = np.array([v.encode().ljust(size, pad) for v in uniques], dtype=f"S{size}")
    return padded[codes]


def _sav_splice(small: bytes, rows: bytes, k: int, n: int) -> tuple[bytearray, bytes] | None:
    """The head and tail of the .sav of `k` rows with all `n` rows in their place (the rows
    end the file)."""
    head = bytearray(small[: len(small) - len(rows)])
    # The last record before the dictionary's end (999) is the 64-bit case count: record type 7,
    # subtype 16, two 8-byte elements (1, then the count).
    at = len(head) - len(SAV_END) - 8
    count = head[at - len(SAV_CASES) : at]
    if not small.endswith(rows) or count != SAV_CASES or not head.endswith(SAV_END):
        return None
    if struct.unpack_from("<i", head, SAV_ROWS_AT)[0] != k or _q(head, at) != k:
        return None
    struct.pack_into("<i", head, SAV_ROWS_AT, n)
    struct.pack_into("<q", head, at, n)
    return head, b""


def _q(data: bytes, at: int) -> int:
    return struct.unpack_from("<q", data, at)[0]


def _dta_splice(small: bytes, rows: bytes, k: int, n: int) -> tuple[bytearray, bytes] | None:
    """The head and tail of the .dta of `k` rows with all `n` rows in their place: the row
    count and the map's offsets past the rows follow."""
    found = _dta_map(small)
    if found is None:
        return None
    at_n, at_map, offsets = found
    start, end = offsets[9] + len(b"<data>"), offsets[10] - len(b"</data>")
    if small[start:end] != rows or struct.unpack_from("<Q", small, at_n)[0] != k:
        return None
    shift = len(rows) // k * (n - k)
    moved = [o + shift if o > offsets[9] else o for o in offsets]
    head = bytearray(small[:start])
    struct.pack_into("<Q", head, at_n, n)
    struct.pack_into("<14Q", head, at_map, *moved)
    return head, small[end:]


def _file(
    head: bytearray, tail: bytes, frame: pd.DataFrame, lay_out: Callable[[pd.DataFrame], bytes]
) -> Iterator[bytes]:
    """head, the frame's rows laid out by `lay_out` `PART_ROWS` at a time, tail."""
    yield head
    for start in range(0, len(frame), PART_ROWS):
        yield lay_out(frame.iloc[start : start + PART_ROWS])
    if tail:
        yield tail


def _dta_map(data: bytes) -> tuple[int, int, list[int]] | None:
    """Where the row count is, where the map's offsets are, and the offsets, read in the
    header's order (<K> 2 bytes in release 118, 4 in 119; <N> 8; the label's length 2)."""
    release = b"<stata_dta><header><release>11"
    if not data.startswith(release) or data[len(release) : len(release) + 1] not in b"89":
        return None
    k_size = 2 if data[len(release)] == ord("8") else 4
    order = b"</release><byteorder>LSF</byteorder><K>"  # little-endian, as laid out here
    if data[len(release) + 1 : len(release) + 1 + len(order)] != order:
        return None
    at_n = len(release) + 1 + len(order) + k_size
    at_n += len(b"</K><N>")
    if data[at_n - len(b"<N>") : at_n] != b"<N>":
        return None
    at = at_n + 8 + len(b"</N><label>")
    at += 2 + struct.unpack_from("<H", data, at)[0] + len(b"</label><timestamp>")
    at += 1 + data[at] + len(b"</timestamp></header><map>")
    if data[at - len(b"<map>") : at] != b"<map>":
        return None
    offsets = list(struct.unpack_from("<14Q", data, at))
    if offsets[1] != at - len(b"<map>"):
        return None
    return at_n, at, offsets
