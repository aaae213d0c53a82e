"""The paper bundle's files for statistics packages: `ratings.sav` (SPSS) and `ratings.dta`
(Stata) written by ReadStat through pyreadstat, with variable and value labels, and
`read_bundle.R`, which reads every CSV file with the types the data package declares. No Django:
ratings and questions come in as the rows of ratings.csv and questions.csv.

The layout of ratings.sav and ratings.dta (`STAT_FILES_TEXT` says it to the reader): one row
per rater, item, assignment kind and, for a side-by-side question asked about each response,
response slot; one variable per question. A long file, one row per rating, has a single value
column whose labels would differ from question to question, which neither format can label."""

import json
import re
import tempfile
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from annotation.core import columns as cols
from annotation.core import rubric, stat_data

SAV, DTA = "ratings.sav", "ratings.dta"
R_SCRIPT = "read_bundle.R"

# Kinds whose answer has no single number: their variable is text, the answer as in ratings.csv
# (an assisted read's answer too: it is scored right or wrong, in reads.csv, not coded).
TEXT_KINDS = (rubric.TEXT, rubric.MULTIPLE_CHOICE, rubric.RANKING, rubric.ANSWER)
# What identifies a row, from ratings.csv, with its description as the variable label.
KEYS = ("item_token", "rater", "kind", "output_slot")
# Assisted reading: a row per read, so the arm identifies it too (a reader's unassisted and
# assisted reads of a case can share an item). ratings.csv's last column there.
ARM = "arm"
# What a row carries beside the answers (the same for every answer of the row).
ROW_FACTS = ("flipped", "shown_order", "submitted", "time_on_task_seconds", "session")
YES_NO_LABELS = {0: "No", 1: "Yes"}
# "Not applicable": Stata's extended missing value .a; in SPSS a user-missing code, where one
# lies outside every value the question can take (for a number question, below its minimum).
NA_LABEL = "Not applicable"
STATA_NA = "a"
SPSS_NA = -99
NAN = float("nan")

# Stata's limits (SPSS allows more: 64-byte names, 256-byte labels), kept for both files so
# that the two name every variable alike.
NAME_LIMIT, LABEL_LIMIT = 32, 80
# Stata's reserved words, which no variable may be called.
STATA_RESERVED = frozenset(
    ("_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in", "int", "long")
    + ("_n", "_N", "_pi", "_pred", "_rc", "_skip", "strL", "using", "with")
)

STAT_FILES_TEXT = f"""## `{SAV}` and `{DTA}`: the ratings for SPSS and Stata

The ratings of ratings.csv, one row per rater and item (and assignment kind: a hidden repeat
and a re-read after the washout, `retest`, have their own rows), with one variable per question
holding the number statistics use (ratings.csv's `value`) and the scale's labels as value
labels; a side-by-side question asked about each response has a row per response slot
(`output_slot`), the whole-item questions a row with an empty slot; in an assisted-reading
study a row per read, its `arm` beside `kind` (a reader's unassisted and assisted reads of a
case can share an item), the answer as text (its score is in reads.csv). `session` is the rater's
reading session (2 for re-reads after the washout). Free-text, multiple-choice and ranking
questions are text variables holding the answer as ratings.csv writes it. Each question's
variable label is its prompt; the other variables' labels come from the data dictionary, cut
to {LABEL_LIMIT} characters (Stata's limit) at a word. `flipped` and `submitted` are 1 (Yes)
or 0 (No).

- **Variable names** are the question keys where Stata allows them: characters other than
  letters, digits and `_` become `_`; a name that does not start with a letter, is a Stata
  reserved word or is taken already (case ignored, as SPSS does) gets the prefix `q_`; names are
  cut to {NAME_LIMIT} characters, and a name taken after cutting ends in `_2`, `_3`... The
  label of every question's variable starts with its key in brackets: `[key] prompt`.
- **Not applicable** (`na`) is Stata's extended missing value `.a` and, in SPSS, the
  user-missing code {SPSS_NA}, both labelled "{NA_LABEL}" (a number question whose answers may
  go down to {SPSS_NA} has no such code: there `na` is system missing, as ratings.csv's `na`
  tells). An unanswered question and a cleared list are missing (system missing in SPSS, `.` in
  Stata).
- **Pairwise questions** hold the answer in the pair's canonical order (positive favours the
  unblinding key's `source`): the value labels read as if that source had been shown as A.
- Both files hold every rating, drafts and quality-control items included, as ratings.csv does:
  keep `submitted == 1` and `kind == "study"` for the statistics.

## `{R_SCRIPT}`: the CSV files in R

`Rscript {R_SCRIPT} <bundle folder>`, or `source("{R_SCRIPT}")` from the bundle's folder,
reads every CSV file with base R into `bundle$<file>` (`bundle$ratings`...), each column with
the class its type gives (`colClasses`: ids stay text), timestamps as `POSIXct` in UTC and
columns with a fixed set of values as factors. `bundle$scales` holds each question's scale
(codes and labels, exactly), and `bundle$rating_labels[[question]]` that question's ratings
with `label`, a factor of `value` labelled with the scale's labels.
"""


@dataclass(frozen=True)
class Variable:
    """One question's variable: its name, label, and value labels (code -> label)."""

    question: str
    name: str
    label: str
    numeric: bool
    value_labels: dict
    spss_na: int | None = None  # the user-missing code of "not applicable", where there is one


def question_variables(questions: Sequence[dict], *, reading: bool = False) -> list[Variable]:
    """A variable per question (rows of questions.csv), named as `STAT_FILES_TEXT` says;
    `reading`: an assisted-reading study's, whose rows have an `arm` too."""
    taken = {key.lower() for key in (*KEYS, *ROW_FACTS, *([ARM] if reading else []))}
    variables = []
    for question in questions:
        name = _name(question["question"], taken)
        taken.add(name.lower())
        numeric = question["kind"] not in TEXT_KINDS
        labels = {}
        if numeric:
            labels = {
                _code(point["value"]): point["label"]
                for point in json.loads(question["scale_json"])
                if point["value"] is not None
            }
        label = f"[{question['question']}] {question['prompt']}"
        if question["kind"] == rubric.PAIRWISE:
            label = f"[{question['question']}] canonical order, + favours the key's source"
        spss_na = _spss_na(question, labels) if numeric else None
        variables.append(
            Variable(question["question"], name, _cut(label), numeric, labels, spss_na)
        )
    return variables


def _spss_na(question: dict, labels: dict) -> int | None:
    """SPSS_NA where no answer can be it: not a scale point, and for a number question only
    above SPSS_NA (a minimum above it); else None ("not applicable" is then system missing).
    None too for a question that did not offer it."""
    if not question.get("na_offered"):
        return None
    if question["kind"] == rubric.NUMBER:
        minimum = question.get("minimum")
        return SPSS_NA if minimum is not None and float(minimum) > SPSS_NA else None
    if question["kind"] in (rubric.CRITERIA, rubric.SPAN, rubric.OMISSION):
        return SPSS_NA  # a score or rate from 0 to 1, a count of spans
    return None if SPSS_NA in labels else SPSS_NA


def _name(key: str, taken: set[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", key)
    if not re.match(r"[A-Za-z]", name) or name in STATA_RESERVED or name.lower() in taken:
        name = f"q_{name}"
    name = name[:NAME_LIMIT]
    n = 2
    while name.lower() in taken:
        suffix = f"_{n}"
        name = name[: NAME_LIMIT - len(suffix)] + suffix
        n += 1
    return name


def _code(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _cut(text: str, limit: int = LABEL_LIMIT) -> str:
    """`text` on one line, cut at a word to fit `limit` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 3].rsplit(" ", 1)[0] + "..."


def ratings_frame(ratings: Iterable[dict], variables: Sequence[Variable]) -> pd.DataFrame:
    """ratings.csv's rows (as `selectors.study_ratings_iter` gives them) one row per rater,
    item, kind and slot (and arm: an assisted-reading study's rows carry one, and a reader's
    two reads of a case can share an item), with a column per question."""
    names = cols.RATINGS_READING.names  # `arm` is None in other studies' rows
    columns = RatingsColumns(variables)
    for rating in ratings:
        columns.add(tuple(rating.get(name) for name in names))
    return columns.frame()


class RatingsColumns:
    """The frame of `ratings_frame`, gathered a rating at a time as ratings.csv's rows are
    written (values in `columns.RATINGS` order, as `selectors.study_ratings_rows` gives them):
    a few numbers per rating in arrays, each text once, the grouping and order by NumPy. A
    million ratings hold some 100 MB, where a dict per row held a gigabyte."""

    def __init__(self, variables: Sequence[Variable]) -> None:
        self.variables = list(variables)
        self.by_question = {v.question: at for at, v in enumerate(self.variables)}
        self.ids: dict[str, dict] = {name: {} for name in ("item", "rater", "kind", "shown", "arm")}
        # 4-byte ids and slots (array's "i"), 1-byte flags: some 30 bytes a rating in all.
        self.numbers = {
            name: array("i") for name in ("item", "rater", "kind", "shown", "slot", "arm")
        }
        self.numbers |= {"flipped": array("b"), "submitted": array("b"), "question": array("i")}
        self.numbers["session"] = array("i")
        self.seconds = array("d")
        # Each rating's cell: a float in `values` (8 bytes, where a float object and its place
        # in a list took 32); any other (a text, "na", None) in `others`, its rating in
        # `other_at`, and NaN in `values`.
        self.values = array("d")
        self.other_at = array("i")
        self.others: list = []

    def add(self, rating: Sequence) -> None:
        token, rater, question, answer, value, flipped, shown, slot, kind = rating[:9]
        submitted, seconds, session = rating[12], rating[13], rating[14]
        arm = rating[17] if len(rating) > 17 else None  # assisted reading's rows only
        numbers, ids = self.numbers, self.ids
        numbers["session"].append(session or 1)  # rows made before sessions: the first
        texts = (("item", token), ("rater", rater), ("kind", kind), ("shown", shown), ("arm", arm))
        for name, text in texts:
            found = ids[name].get(text)
            if found is None:
                found = ids[name][text] = len(ids[name])
            numbers[name].append(found)
        numbers["slot"].append(-1 if slot == "" else slot)
        numbers["flipped"].append(int(bool(flipped)))
        numbers["submitted"].append(int(bool(submitted)))
        self.seconds.append(float("nan") if seconds is None else seconds)
        at = self.by_question.get(question, -1)
        numbers["question"].append(at)
        self._keep([NAN if at < 0 else _cell(self.variables[at], answer, value)])

    def add_coded(self, coded: "CodedRatings") -> None:
        """`add` for many ratings at once, given as arrays (`CodedRatings`): a Python step per
        distinct text and per cell that is not a float, none per rating."""
        numbers, ids, n = self.numbers, self.ids, len(coded.question[1])
        texts = dict(coded.texts, arm=([None], np.zeros(n, dtype=np.intp)))
        for name, (distinct, at) in texts.items():
            found = ids[name]
            codes = np.array([found.setdefault(text, len(found)) for text in distinct], "i")
            _extend(numbers[name], codes[at] if n else codes[:0])
        _extend(numbers["slot"], coded.slot)
        _extend(numbers["flipped"], coded.flipped)
        _extend(numbers["submitted"], coded.submitted)
        _extend(numbers["session"], np.where(coded.session == 0, 1, coded.session))
        _extend(self.seconds, coded.seconds)
        keys, question_at = coded.question
        places = np.array([self.by_question.get(key, -1) for key in keys] + [-1], dtype="i")
        at = places[question_at] if n else places[:0]
        _extend(numbers["question"], at)
        # A cell that is not a float: a text question's answer, "na", or a number question's
        # missing value (None); each made by `_cell`, as `add` makes it.
        numeric = np.array([v.numeric for v in self.variables] + [True])
        answers = dict(zip(coded.answer_at.tolist(), coded.answers, strict=True))
        has_answer = np.zeros(n, dtype=bool)
        has_answer[coded.answer_at] = True
        other = (at >= 0) & (~numeric[at] | coded.value_missing | has_answer)
        values = np.where(at < 0, NAN, coded.values)
        start = len(self.values)
        local = np.flatnonzero(other)
        cells = []
        for row in local.tolist():
            value = coded.values[row]
            value = None if coded.value_missing[row] else float(value)
            cells.append(_cell(self.variables[at[row]], answers.get(row), value))
        keep = np.array([type(cell) is float for cell in cells], dtype=bool)
        values[local[~keep]] = NAN
        values[local[keep]] = [cell for cell in cells if type(cell) is float]
        _extend(self.values, values)
        self.other_at.extend((local[~keep] + start).tolist())
        self.others.extend(cell for cell in cells if type(cell) is not float)

    def _keep(self, cells: list) -> None:
        """The cells of the next ratings (NaN for a question that has no variable: never read)."""
        start = len(self.values)
        self.values.extend([cell if type(cell) is float else NAN for cell in cells])
        others = [(start + n, cell) for n, cell in enumerate(cells) if type(cell) is not float]
        if others:
            at, found = zip(*others, strict=True)
            self.other_at.extend(at)
            self.others.extend(found)

    def frame(self) -> pd.DataFrame:
        """One row per item, rater, kind and slot, in `_order`'s order: the row's facts from
        its first rating, each question's cell from its last."""
        texts = {name: _texts(found) for name, found in self.ids.items()}
        number = {name: _numbers(values) for name, values in self.numbers.items()}
        # The keys and their distinct values (8 bytes a rating each) let go at once.
        first, row_of = np.unique(
            self._keys(texts, number), return_index=True, return_inverse=True
        )[1:]
        slot = number["slot"][first].astype("float64")
        slot[slot < 0] = np.nan
        data = {
            "item_token": _category(texts["item"], number["item"][first]),
            "rater": _category(texts["rater"], number["rater"][first]),
            "kind": _category(texts["kind"], number["kind"][first]),
        }
        if self.has_arms:
            data[ARM] = _category(texts["arm"], number["arm"][first])
        data |= {
            "output_slot": slot,
            "flipped": number["flipped"][first].astype("int64"),
            "shown_order": _category(texts["shown"], number["shown"][first]),
            "submitted": number["submitted"][first].astype("int64"),
            "time_on_task_seconds": _numbers(self.seconds)[first],
            "session": number["session"][first].astype("int64"),
        }
        for at, variable in enumerate(self.variables):
            data[variable.name] = self._question(at, variable, row_of, len(first), number)
        # The arrays as they are, a block each: no copy of a million rows (nor one of them
        # all into a block per dtype) on the way in.
        frame = pd.DataFrame(data, copy=False)
        for name in (v.name for v in self.variables if not v.numeric):
            frame[name] = frame[name].astype(str)  # the dtype a frame made from rows gave them
        return frame

    @property
    def has_arms(self) -> bool:
        """Whether the ratings are an assisted-reading study's (their rows carry an arm)."""
        return any(arm is not None for arm in self.ids["arm"])

    def _keys(self, texts: dict, number: dict) -> np.ndarray:
        """Each rating's row as one integer whose order is `_order`'s: the rank of its item,
        rater, kind, arm (assisted reading) and slot."""
        ranks = {
            "item": _ranks(texts["item"], lambda token: token),
            "rater": _ranks(texts["rater"], _rater_order),
            "kind": _ranks(texts["kind"], lambda kind: kind),
            "arm": _ranks(texts["arm"], lambda arm: arm),
        }
        key = np.zeros(len(number["item"]), dtype="int64")
        for name in ("item", "rater", "kind", "arm"):
            key = key * len(ranks[name]) + ranks[name][number[name]]
        slots = number["slot"]
        return key * (int(slots.max(initial=-1)) + 2) + (slots + 1)

    def _question(self, at: int, variable: Variable, row_of, rows: int, number) -> np.ndarray:
        picked = np.flatnonzero(number["question"] == at)
        where = row_of[picked]
        rated = np.zeros(rows, dtype=bool)  # a byte a row, where a sort took 16 a rating
        rated[where] = True
        if np.count_nonzero(rated) != len(where):
            # Two ratings of one row and question (as ratings.csv can hold): the last wins.
            last = len(where) - 1 - np.unique(where[::-1], return_index=True)[1]
            picked, where = picked[last], where[last]
        other_at = _numbers(self.other_at)
        other = np.isin(picked, other_at)
        values = _numbers(self.values)[picked]
        if variable.numeric and not other.any():  # floats only: no object per cell
            column = np.full(rows, np.nan)
            column[where] = values
            return column
        cells = values.astype(object)
        found = np.searchsorted(other_at, picked[other])
        cells[other] = [self.others[n] for n in found]
        column = np.full(rows, None if variable.numeric else "", dtype=object)
        column[where] = cells
        if variable.numeric and all(cell is None or type(cell) is float for cell in column):
            return column.astype("float64")  # None as NaN: no object per cell
        return column


def _category(texts: np.ndarray, codes: np.ndarray) -> pd.Categorical:
    """The texts `codes` pick from `texts` (distinct ids' texts, two of which may read alike)
    as a column of categories: each distinct text once, whatever the rows, so that the files
    are laid out from the codes (`stat_data`) without a text object per row."""
    used, inverse = np.unique(codes, return_inverse=True)
    categories, back = np.unique(texts[used].astype(str), return_inverse=True)
    return pd.Categorical.from_codes(back[inverse], categories=categories)


def _numbers(values: array) -> np.ndarray:
    return np.frombuffer(values, dtype=values.typecode) if values else np.zeros(0, values.typecode)


def _extend(values: array, more: np.ndarray) -> None:
    values.frombytes(np.ascontiguousarray(more, dtype=values.typecode).tobytes())


@dataclass
class CodedRatings:
    """Some ratings' values in `columns.RATINGS` order as `RatingsColumns.add_coded` takes them,
    as arrays: each text column (item token, rater, kind, order shown, question key) as its
    distinct texts and each rating's place among them; the number columns (slot -1 for none,
    session 0 for the first, seconds NaN for none recorded); each rating's value with NaN and
    `value_missing` where it has none; and the answers where a cell needs one (a text
    question's, or "na"), by position."""

    texts: dict[str, tuple[list, np.ndarray]]
    question: tuple[list, np.ndarray]
    slot: np.ndarray
    flipped: np.ndarray
    submitted: np.ndarray
    session: np.ndarray
    seconds: np.ndarray
    values: np.ndarray
    value_missing: np.ndarray
    answer_at: np.ndarray
    answers: list


def _texts(found: dict[str, int]) -> np.ndarray:
    texts = np.empty(len(found), dtype=object)
    for text, at in found.items():
        texts[at] = "" if text is None else str(text)
    return texts


def _ranks(texts: np.ndarray, order) -> np.ndarray:
    ranks = np.empty(len(texts), dtype="int64")
    for rank, at in enumerate(sorted(range(len(texts)), key=lambda i: order(texts[i]))):
        ranks[at] = rank
    return ranks


def _rater_order(rater: str) -> tuple:
    digits = rater.removeprefix("R")
    return (int(digits) if digits.isdigit() else 0, rater)


def _cell(variable: Variable, answer: object, value: object) -> object:
    if variable.numeric:
        # "na" stays "na" until each file writes it its own way (`_numeric`).
        return rubric.NA if answer == rubric.NA else value
    return "" if answer == rubric.NA else str(answer)


def _labels(variables: Sequence[Variable], frame: pd.DataFrame) -> dict[str, str]:
    described = {column.name: column.description for column in cols.RATINGS_READING.columns}
    names = (*KEYS, *ROW_FACTS, *([ARM] if ARM in frame.columns else []))
    labels = {name: _cut(described[name]) for name in names}
    labels.update({variable.name: variable.label for variable in variables})
    return labels


def _value_labels(
    variables: Sequence[Variable], *, stata: bool, stata_na: Iterable[str] = ()
) -> dict:
    """Value labels by variable, "not applicable" included; Stata's attach to whole numbers
    only, and to .a in the variables `stata_na` names (those holding it)."""
    found = {"flipped": YES_NO_LABELS, "submitted": YES_NO_LABELS}
    for variable in variables:
        labels = dict(variable.value_labels)
        if stata and not all(isinstance(code, int) for code in labels):
            labels = {}
        na = (STATA_NA if variable.name in stata_na else None) if stata else variable.spss_na
        if variable.numeric and na is not None:
            labels[na] = NA_LABEL
        if labels:
            found[variable.name] = labels
    return found


def _numeric(frame: pd.DataFrame, variables: Sequence[Variable], *, stata: bool) -> pd.DataFrame:
    """The frame with each question's "na" written as the file writes it: Stata's .a, SPSS's
    user-missing code (or system missing where the question has none)."""
    frame = frame.copy(deep=False)  # copy-on-write: the columns changed below only
    for variable in (v for v in variables if v.numeric):
        if frame[variable.name].dtype == "float64":
            continue  # no "na": numbers and missing, as both files write them
        column = frame[variable.name].astype(object)
        na = column.eq(rubric.NA)
        if stata:
            frame[variable.name] = column.where(~na, STATA_NA).where(column.notna(), None)
            if not na.any():
                frame[variable.name] = frame[variable.name].astype("float64")
        else:
            code = float("nan") if variable.spss_na is None else float(variable.spss_na)
            frame[variable.name] = column.where(~na, code).astype("float64")
    return frame


def sav_bytes(frame: pd.DataFrame, variables: Sequence[Variable], *, file_label: str) -> bytearray:
    """ratings.sav: the frame with its variable labels, value labels and measures."""
    return bytearray(b"".join(sav_parts(frame, variables, file_label=file_label)))


def sav_parts(
    frame: pd.DataFrame, variables: Sequence[Variable], *, file_label: str
) -> Iterator[bytes]:
    """`sav_bytes` in parts, to be written one after another: a large file is never whole in
    memory."""
    measure = {v.name: "nominal" for v in variables if not v.numeric}
    measure.update({"kind": "nominal", "flipped": "nominal", "submitted": "nominal"})
    if ARM in frame.columns:
        measure[ARM] = "nominal"
    missing = {v.name: [v.spss_na] for v in variables if v.numeric and v.spss_na is not None}
    parts = _written(
        pyreadstat.write_sav,
        stat_data.SAV,
        _numeric(frame, variables, stata=False),
        file_label=_cut(file_label, 64),
        column_labels=_labels(variables, frame),
        variable_value_labels=_value_labels(variables, stata=False),
        missing_ranges=missing,
        variable_measure=measure,
    )
    # The header's creation date and time (fixed offsets 92 to 109 of every .sav), written as
    # a fixed moment: the same ratings give the same bytes, as every file of the bundle does.
    head = next(parts)
    head[92:109] = b"01 Jan 8000:00:00"
    yield head
    yield from parts


def dta_bytes(frame: pd.DataFrame, variables: Sequence[Variable], *, file_label: str) -> bytearray:
    """ratings.dta (Stata 14 and later, UTF-8): the frame with its labels."""
    return bytearray(b"".join(dta_parts(frame, variables, file_label=file_label)))


def dta_parts(
    frame: pd.DataFrame, variables: Sequence[Variable], *, file_label: str
) -> Iterator[bytes]:
    """`dta_bytes` in parts, to be written one after another."""
    frame = _numeric(frame, variables, stata=True)
    na = {v.name: [STATA_NA] for v in variables if v.numeric and frame[v.name].dtype == object}
    parts = _written(
        pyreadstat.write_dta,
        stat_data.DTA,
        frame,
        file_label=_cut(file_label),
        column_labels=_labels(variables, frame),
        variable_value_labels=_value_labels(variables, stata=True, stata_na=na),
        missing_user_values=na,
    )
    # The header's timestamp (17 characters after its length byte), fixed as for the .sav.
    head = next(parts)
    tag = b"<timestamp>\x11"
    at = head.index(tag) + len(tag)
    head[at : at + 17] = b"01 Jan 1980 00:00"
    yield head
    yield from parts


SPLICE_ROWS = 1000  # from this many rows on, the rows are laid out by `stat_data`


def _written(write, fmt: str, frame: pd.DataFrame, **options) -> Iterator[bytes]:
    """The file `write` (pyreadstat's) gives for `frame`, in parts whose first is a bytearray:
    for a large frame, pyreadstat writes a few rows of the same types and widths and the rest
    are laid out by `stat_data`, the same bytes in a fraction of the time."""

    def whole(rows: pd.DataFrame) -> bytearray:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "ratings"
            write(stat_data.plain(rows), str(path), **options)
            return bytearray(path.read_bytes())

    if len(frame) >= SPLICE_ROWS:
        tags = options.get("missing_user_values") or {}
        labels = options.get("variable_value_labels") or {}
        found = stat_data.written_parts(whole, frame, fmt, tags=tags, value_labels=labels)
        if found is not None:
            return found
    return iter([whole(frame)])


# --- read_bundle.R ---------------------------------------------------------------------------

R_CLASSES = {
    cols.STRING: "character",
    cols.INTEGER: "integer",
    cols.NUMBER: "numeric",
    cols.BOOLEAN: "logical",
    cols.DATETIME: "character",  # then as.POSIXct, below
    cols.ANY: "character",
}


def r_script(files: Sequence[cols.Table], questions: Sequence[dict], *, title: str) -> str:
    """read_bundle.R: reads each of `files` with the classes its Table Schema gives, moments as
    POSIXct, allowed values as factors, and for each question with a scale a factor of its
    ratings' values labelled with the scale's labels."""
    lines = [
        f"# read_bundle.R: reads the paper bundle of {_r_comment(title)}",
        "# with base R only, each column with the type datapackage.json declares.",
        "#   Rscript read_bundle.R [bundle folder]     (prints what it read)",
        '#   source("read_bundle.R")                   (from the bundle folder: gives `bundle`)',
        "# bundle$<file> is each CSV file (bundle$ratings, bundle$questions...); timestamps are",
        "# POSIXct in UTC; columns with a fixed set of values are factors. bundle$scales holds",
        "# each question's scale, and bundle$rating_labels[[question]] that question's ratings",
        "# with `label`, a factor of `value` labelled with the scale's labels (pairwise values",
        "# are in canonical order: the labels read as if the key's `source` had been shown as A).",
        "",
        "args <- commandArgs(trailingOnly = TRUE)",
        'bundle_dir <- if (length(args) > 0) args[[1]] else "."',
        "",
        "read_bundle_file <- function(name, classes, moments, levels) {",
        "  x <- read.csv(file.path(bundle_dir, name), colClasses = classes,",
        '                na.strings = "", encoding = "UTF-8", check.names = FALSE)',
        "  for (column in moments) {",
        f"    x[[column]] <- {cols.R_TIMESTAMP.replace('(x,', '(x[[column]],')}",
        "  }",
        "  for (column in names(levels)) {",
        "    x[[column]] <- factor(x[[column]], levels = levels[[column]])",
        "  }",
        "  x",
        "}",
        "",
        "bundle <- list()",
    ]
    for table in files:
        lines += _r_read(table)
    lines += ["", "bundle$scales <- list(", _r_scales(questions), ")", ""]
    lines += [
        "bundle$rating_labels <- list()",
        "for (question in names(bundle$scales)) {",
        "  scale <- bundle$scales[[question]]",
        "  rows <- bundle$ratings[bundle$ratings$question == question, ]",
        "  rows$label <- factor(rows$value, levels = scale$values, labels = scale$labels)",
        "  bundle$rating_labels[[question]] <- rows",
        "}",
        "",
        "if (!interactive() && sys.nframe() == 0) {",
        "  for (name in names(bundle)) {",
        '    cat(name, ":", if (is.data.frame(bundle[[name]])) nrow(bundle[[name]]) else',
        '        length(bundle[[name]]), "\\n")',
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _r_read(table: cols.Table) -> list[str]:
    classes = ",\n    ".join(
        f"{_r_string(c.name)} = {_r_string(R_CLASSES[c.type])}" for c in table.columns
    )
    moments = ", ".join(_r_string(c.name) for c in table.columns if c.type == cols.DATETIME)
    levels = ",".join(
        f"\n    {_r_string(c.name)} = c({', '.join(map(_r_string, c.enum))})"
        for c in table.columns
        if c.enum
    )
    return [
        f"bundle${_r_name(table.stem)} <- read_bundle_file(",
        f"  {_r_string(table.path)},",
        f"  classes = c(\n    {classes}\n  ),",
        f"  moments = c({moments}),",
        f"  levels = list({levels})",
        ")",
    ]


def _r_scales(questions: Sequence[dict]) -> str:
    entries = []
    for question in questions:
        if question["kind"] in TEXT_KINDS:
            continue
        scale = [p for p in json.loads(question["scale_json"]) if p["value"] is not None]
        if not scale:
            continue
        values = ", ".join(repr(float(p["value"])) for p in scale)
        labels = ", ".join(_r_string(str(p["label"])) for p in scale)
        entries.append(
            f"  {_r_string(question['question'])} = list(values = c({values}), "
            f"labels = c({labels}))"
        )
    return ",\n".join(entries)


R_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _r_string(text: str) -> str:
    """An R string literal in ASCII, whatever the reader's locale: other characters as R's
    `\\u{...}` and `\\U{...}` escapes."""
    out = []
    for char in text:
        if char in R_ESCAPES:
            out.append(R_ESCAPES[char])
        elif " " <= char <= "~":
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\u{{{code:04x}}}" if code <= 0xFFFF else f"\\U{{{code:08x}}}")
    return '"' + "".join(out) + '"'


def _r_name(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", stem)


def _r_comment(text: str) -> str:
    return " ".join(text.split())
