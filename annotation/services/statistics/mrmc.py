"""The multi-reader multi-case (MRMC) comparison of each pair of a study's sources on one
question: the Obuchowski-Rockette analysis with Hillis's degrees of freedom, jackknife
covariances over cases, on the largest crossed block of the ratings that `largest_block` finds
(readers who all read the block's cases under both sources), chosen from who read what, never
from the ratings' values. Stored beside the paired tests, one result per pair and figure of
merit: the mean score (a proportion for yes/no: the share answering yes) and, where the study's
cases carry expected answers for the question, the accuracy against them.

The analysis itself is the pure `annotation.core.stats.mrmc`."""

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from itertools import combinations
from operator import itemgetter
from typing import TYPE_CHECKING

from annotation.core import rubric
from annotation.core.stats.data import DataError, columns_of
from annotation.core.stats.mrmc import FIXED_CASES, FIXED_READERS, RANDOM_BOTH, Mrmc, Readings, mrmc
from annotation.core.stats.mrmc.analysis import plain
from annotation.core.stats.names import MRMC, MRMC_ACCURACY, MRMC_TESTS
from annotation.models import Case, Question, Result, Study
from annotation.services.statistics.rows import Ranked, Row, rows_digest
from annotation.services.statistics.store import Figure, store_by_source

if TYPE_CHECKING:
    import numpy as np

METHOD = (
    "Obuchowski-Rockette MRMC with Hillis (2007) degrees of freedom, jackknife covariances "
    "over cases; readers and cases random"
)
# How the crossed block is chosen (`largest_block`): part of the inputs, so that a change of
# the choice recomputes stored results.
BLOCK = "largest crossed block by a greedy over who read what (1)"
# Which question each analysis answers, by the key the dashboard and the bundle read it under.
QUESTIONS = {"random_both": RANDOM_BOTH, "fixed_readers": FIXED_READERS, "fixed_cases": FIXED_CASES}
NOT_CROSSED = (
    "MRMC needs a crossed block, in which every reader read the same cases under each source: "
    "at least two such readers and two such cases"
)

Reading = tuple[str, str, str, float]  # reader, case, source, value


def compares_scores(question: Question) -> bool:
    """Whether the question scores each output on an ordered scale (or yes/no), which MRMC
    compares between sources: Likert, number, single choice with an order, yes/no."""
    if question.kind == Question.Kind.YES_NO:
        return True
    ordered = question.level not in ("", "nominal")
    scored = (Question.Kind.LIKERT, Question.Kind.NUMBER, Question.Kind.SINGLE_CHOICE)
    return ordered and question.kind in scored


def question_mrmc(
    study: Study,
    question: Question,
    rows: list[Row] | None,
    *,
    pair_label: Callable[[str, str], str],
    digest: str = "",
    ranked: "tuple[Ranked, np.ndarray] | None" = None,
) -> list[Result]:
    """Per pair of sources (labels in order, first minus second), the MRMC results stored under
    `pair_label(first, second)` as the paired tests are; `rows` are the first-pass answers
    about one output each (`rows.about_one_output`), sorted; or, with `rows` None, `ranked`
    gives them: ranked rows and which of them (the digest then given too)."""
    if not compares_scores(question):
        return []
    expected = expected_answers(study, question)
    what = digest or rows_digest(rows)  # `rows_digest(rows)`, when the caller has it already
    inputs = [what, question.kind, question.level, sorted(expected.items()), METHOD, BLOCK]

    def compute() -> dict:
        scores = (
            _Coded.of_ranked(*ranked)  # type: ignore[misc]
            if rows is None
            else _Coded.of_rows(rows, (3, 0, 1, 4))  # (case, source, _, rater, value) rows
        )
        return _figures(question, scores, expected, pair_label)

    return store_by_source(study, question, MRMC_TESTS, inputs, compute)


def expected_answers(study: Study, question: Question) -> dict[str, list]:
    """The expected answers to the question of the study's own cases that carry one (the
    importer gives them to training and attention cases only today)."""
    cases = Case.objects.filter(study=study, role=Case.Role.STUDY).exclude(expected={})
    found = {}
    for case_id, expected in cases.values_list("external_id", "expected"):
        if expected.get(question.key):
            found[case_id] = list(expected[question.key])
    return found


def _figures(question: Question, scores: "_Coded", expected: dict[str, list], pair_label) -> dict:
    yes_no = question.kind == Question.Kind.YES_NO
    figures = {}
    for first, second in combinations(scores.sources, 2):
        pair = pair_label(first, second)
        label = "share answering yes" if yes_no else "mean score"
        figure = "proportion" if yes_no else "mean"
        figures[(MRMC, pair)] = pair_figure(scores, first, second, figure=figure, label=label)
        if expected:
            correct = _accuracy_readings(question, scores, expected)
            figures[(MRMC_ACCURACY, pair)] = pair_figure(
                correct, first, second, figure="proportion", label="accuracy"
            )
    return figures


@dataclass(frozen=True)
class _Coded:
    """Readings as columns rather than a tuple each (a million readings in a few arrays): each
    column's distinct labels, sorted, and each reading's position among them; the values as
    floats."""

    raters: list
    cases: list
    sources: list
    rater: "np.ndarray"
    case: "np.ndarray"
    source: "np.ndarray"
    value: "np.ndarray"

    @classmethod
    def of(cls, raters: list, cases: list, sources: list, values: list) -> "_Coded":
        import numpy as np  # the worker's: the web process that imports this module needs none

        (rater_labels, rater), (case_labels, case), (source_labels, source) = (
            _sorted_codes(column) for column in (raters, cases, sources)
        )
        value = np.fromiter(map(float, values), float, len(values))
        return cls(rater_labels, case_labels, source_labels, rater, case, source, value)

    @classmethod
    def of_rows(cls, rows: list, at: tuple[int, int, int, int]) -> "_Coded":
        """`of` the rows' columns at positions `at` (rater, case, source, value), each column
        coded before the next is taken, so that one list of a million entries is held at once."""
        import numpy as np

        coded = []
        for k in at[:3]:
            coded.append(_sorted_codes(list(map(itemgetter(k), rows))))
        value = np.fromiter(map(float, map(itemgetter(at[3]), rows)), float, len(rows))
        (raters, rater), (cases, case), (sources, source) = coded
        return cls(raters, cases, sources, rater, case, source, value)

    @classmethod
    def of_ranked(cls, ranked: Ranked, keep: "np.ndarray") -> "_Coded":
        """`of_rows` of `ranked.sorted(keep)`'s rows, from their codes: each column's labels
        narrowed to those its rows have, its codes renumbered among them, in the same order."""
        import numpy as np

        at = np.flatnonzero(keep)
        coded = [ranked.narrowed(column, at) for column in (3, 0, 1)]
        value = np.array(ranked.labels[4], dtype=float)[ranked.codes[4][at]]
        (raters, rater), (cases, case), (sources, source) = coded
        return cls(raters, cases, sources, rater, case, source, value)

    def where(self, keep: "np.ndarray", value: "np.ndarray | None" = None) -> "_Coded":
        """The readings `keep` picks (with `value` for them, when given), labels as they are."""
        picked = self.value[keep] if value is None else value
        return _Coded(self.raters, self.cases, self.sources, *(c[keep] for c in self.codes), picked)

    @property
    def codes(self) -> tuple:
        return self.rater, self.case, self.source

    def pair(self, first: str, second: str) -> "_Coded":
        import numpy as np

        wanted = [self.sources.index(s) for s in (first, second) if s in self.sources]
        if len(wanted) == len(self.sources):
            return self  # every reading is under one of the two: no copy
        return self.where(np.isin(self.source, wanted))

    def tuples(self) -> list[Reading]:
        """The readings as (reader, case, source, value) tuples."""
        rater, case, source = (c.tolist() for c in self.codes)
        return [
            (self.raters[r], self.cases[c], self.sources[s], v)
            for r, c, s, v in zip(rater, case, source, self.value.tolist(), strict=True)
        ]


def _sorted_codes(column: list) -> tuple[list, "np.ndarray"]:
    """A column's distinct values sorted, and each entry's position among them."""
    import numpy as np

    labels = sorted(set(column))
    at = {label: i for i, label in enumerate(labels)}
    return labels, np.fromiter(map(at.__getitem__, column), np.int64, len(column))


def _accuracy_readings(question: Question, scores: _Coded, expected: dict[str, list]) -> _Coded:
    """Each answer about a case with an expected answer as 1 when it is one of them, else 0."""
    import numpy as np

    spec = question.spec
    answers = {}  # code -> the answer it codes, for `rubric.matches_expected`
    for point in spec.points:
        answer = rubric.parse_answer(spec, point["value"])
        answers[rubric.numeric_code(spec, answer)] = answer
    known = np.array([case in expected for case in scores.cases], dtype=bool)
    keep = known[scores.case] if len(scores.cases) else np.zeros(0, dtype=bool)
    cases, values = scores.case[keep].tolist(), scores.value[keep].tolist()
    correct = [
        float(rubric.matches_expected(spec, answers.get(v, v), v, expected[scores.cases[c]]))
        for c, v in zip(cases, values, strict=True)
    ]
    return scores.where(keep, np.array(correct, dtype=float))


def crossed(readings: list[Reading], first: str, second: str) -> tuple[list[str], list[str]]:
    """The crossed block of a pair's readings that MRMC is run on: readers who all read every
    one of the block's cases under both sources (`largest_block`). Chosen from who read what
    under which source, never from the values read, so the choice cannot favour a source."""
    if not readings:
        return [], []
    coded = _Coded.of(*columns_of(readings, 4))
    return largest_block(_read_under_both(coded.pair(first, second), first, second))


def _read_under_both(pair: _Coded, first: str, second: str) -> dict[str, set[str]]:
    """Each reader's cases read under both sources (readers who read none left out); `pair`
    holds the readings under the two sources."""
    import numpy as np

    if not len(pair.value):
        return {}
    under_first = pair.source == pair.sources.index(first)
    found = {}
    for r in np.unique(pair.rater).tolist():
        mine = pair.rater == r
        both = np.intersect1d(pair.case[mine & under_first], pair.case[mine & ~under_first])
        if len(both):
            found[pair.raters[r]] = {pair.cases[c] for c in both.tolist()}
    return found


class _Best:
    """The best block offered so far: most readers x cases, then more readers, then the reader
    and case labels that sort first. A block is named by its cases, a bit mask over `cases`;
    its readers are every reader who read all of them, so no reader who fits is left out."""

    def __init__(self, masks: dict[str, int], cases: list[str]):
        self.masks = masks  # reader -> the cases they read, in label order
        self.cases = cases
        self.key: tuple | None = None  # smallest is best: (-size, -readers, readers, cases)

    @property
    def size(self) -> int:
        return -self.key[0] if self.key else 0

    @property
    def block(self) -> tuple[list[str], list[str]]:
        return (list(self.key[2]), list(self.key[3])) if self.key else ([], [])

    def offer(self, cases: int) -> None:
        n_cases = cases.bit_count()
        readers = tuple(r for r, mine in self.masks.items() if mine & cases == cases)
        if len(readers) < 2 or n_cases < 2:
            return
        head = (-len(readers) * n_cases, -len(readers))
        if self.key is not None and head > self.key[:2]:
            return
        named = tuple(self.cases[i] for i in _bits(cases))
        if self.key is None or (*head, readers, named) < self.key:
            self.key = (*head, readers, named)


def largest_block(read: Mapping[str, Collection[str]]) -> tuple[list[str], list[str]]:
    """A large fully crossed block of readers and cases: at least two readers and two cases,
    every reader of the block having read every case of it; ([], []) when no two readers read
    the same two cases. `read` is what each reader read (under both sources).

    The largest block (most readers x cases) is a maximum-biclique problem, hard in general.
    This deterministic greedy is cheap, and found the largest block in every design its tests
    compare with an exhaustive search (crossed, k of n, random, planted, nearly complete):

    - dropping readers: start from every reader and drop, one at a time, the reader whose going
      leaves the most cases read by all who remain (ties: the reader whose cases the others
      read least, then the first label); this finds a nearly complete design's block;
    - growing from pairs: for each two readers, the cases both read, then every reader who read
      all of them, then add the reader who keeps the most of those cases, and so on; this finds
      the raters who share cases in a "k raters per case" design, and a block planted among
      scattered readings. A start that cannot beat the best found is skipped.

    Every block met is offered; the largest wins, ties going to more readers, then to the
    labels that sort first. Only who read what is looked at, never what they answered.
    """
    cases = sorted({case for mine in read.values() for case in mine})
    at = {case: i for i, case in enumerate(cases)}
    masks = {
        reader: _mask([at[case] for case in set(mine)], len(cases))
        for reader, mine in sorted(read.items())
        if len(set(mine)) >= 2
    }
    best = _Best(masks, cases)
    _dropping(masks, len(cases), best)
    starts = {masks[a] & masks[b] for a, b in combinations(masks, 2)}
    for start in sorted(starts, key=lambda mask: (-mask.bit_count(), mask)):
        if start.bit_count() * len(masks) < best.size:
            break  # sorted by size: no later start can beat the best either
        if _bound(masks, start) >= best.size:
            _growing(masks, start, best)
    return best.block


def _bits(mask: int) -> list[int]:
    """The positions of the mask's set bits, lowest first (by numpy: a mask of 25,000 cases
    bit by bit is quadratic in Python's integers)."""
    import numpy as np  # the worker's: the web process that imports this module needs none

    data = np.frombuffer(mask.to_bytes((mask.bit_length() + 7) // 8, "little"), dtype=np.uint8)
    return np.flatnonzero(np.unpackbits(data, bitorder="little")).tolist()


def _mask(positions, n: int) -> int:
    """The mask with the bits at `positions` (of `n`) set: the inverse of `_bits`."""
    import numpy as np

    flags = np.zeros(n, dtype=bool)
    flags[positions] = True
    return int.from_bytes(np.packbits(flags, bitorder="little").tobytes(), "little")


def _bound(masks: dict[str, int], cases: int) -> int:
    """The most readers x cases of any block within `cases`: t of them can be read by no more
    readers than read at least t."""
    counts = sorted(((cases & mine).bit_count() for mine in masks.values()), reverse=True)
    return max((i * n for i, n in enumerate(counts, start=1) if n >= 2), default=0)


def _dropping(masks: dict[str, int], n_cases: int, best: _Best) -> None:
    import numpy as np

    readers = list(masks)
    count = np.zeros(n_cases, dtype=np.int64)  # how many remaining readers read each case
    for mine in masks.values():
        count[_bits(mine)] += 1
    shared = {r: int(count[_bits(masks[r])].sum()) for r in readers}
    while len(readers) >= 2:
        best.offer(_mask(np.flatnonzero(count == len(readers)), n_cases))
        # Cases all but one reader read become complete when that reader goes.
        one_short = _mask(np.flatnonzero(count == len(readers) - 1), n_cases)
        drop = _to_drop(readers, masks, one_short, shared)
        readers.remove(drop)
        count[_bits(masks[drop])] -= 1
        for r in readers:
            shared[r] -= (masks[r] & masks[drop]).bit_count()


def _to_drop(readers: list[str], masks: dict[str, int], one_short: int, shared: dict) -> str:
    return min(readers, key=lambda r: (-(one_short & ~masks[r]).bit_count(), shared[r], r))


def _growing(masks: dict[str, int], cases: int, best: _Best) -> None:
    while cases.bit_count() >= 2 and cases.bit_count() * len(masks) >= best.size:
        best.offer(cases)
        outside = [r for r, mine in masks.items() if mine & cases != cases]
        if not outside:
            return
        cases &= masks[_joining(outside, masks, cases)]


def _joining(outside: list[str], masks: dict[str, int], cases: int) -> str:
    return min(outside, key=lambda r: (-(cases & masks[r]).bit_count(), r))


def pair_figure(readings: _Coded, first: str, second: str, *, figure: str, label: str) -> Figure:
    """The MRMC result of one pair, first minus second, on its largest crossed block
    (`crossed`, chosen from the design alone); a reader's repeated readings of one output are
    averaged first."""
    import numpy as np

    pair = readings.pair(first, second)
    read = _read_under_both(pair, first, second)
    readers, cases = largest_block(read)
    sizes = {
        "readers_used": len(readers),
        "readers_total": len(np.unique(pair.rater)),
        "cases_used": len(cases),
        "cases_total": len(np.unique(pair.case)),
    }
    detail = {"method": METHOD, "figure_of_merit": label, "differences": "first minus second"}
    detail.update(sizes, questions=QUESTIONS, crossed=_crossed_note(sizes))
    detail["block"] = {"readers": readers, "cases": cases}
    if not readers:
        detail["reason"] = _not_crossed(read)
        return Figure(None, 0, 0, detail=detail)
    del read
    cells = _block_readings(pair, readers, cases, first, second)
    if cells is None:  # some output read twice by one reader: averaged, as tuples
        cells = _averaged(pair.tuples(), set(readers), set(cases))
        values = [value for *_, value in cells]
        n_ratings = len(cells)
    else:
        values, n_ratings = cells.values.reshape(-1), cells.values.size
    if figure == "proportion" and not np.isin(values, (0.0, 1.0)).all():
        figure = "mean"  # repeated readings averaged: the mean of their shares is the share
    try:
        result = mrmc(cells, figure=figure)
    except DataError as exc:
        detail["reason"] = str(exc)
        return Figure(None, len(cases), len(readers), detail=detail)
    return _figure(result, detail, n_ratings)


def _block_readings(
    pair: _Coded, readers: list[str], cases: list[str], first: str, second: str
) -> Readings | None:
    """The block's readings as the crossed array `mrmc` reads (modalities x readers x cases,
    each axis in label order, as `readings_from` orders the sorted readings of `_averaged`),
    where every reader read every case of the block once under each source and every value
    is finite; None otherwise (the readings then go as tuples, averaged and checked)."""
    import numpy as np

    axes = []
    for labels, chosen, code in (
        (pair.raters, readers, pair.rater),
        (pair.cases, cases, pair.case),
    ):
        at = np.full(len(labels), -1, dtype=np.int64)
        positions = {label: i for i, label in enumerate(labels)}
        at[[positions[label] for label in chosen]] = np.arange(len(chosen))
        axes.append(at[code])
    reader, case = axes
    modality = np.where(pair.source == pair.sources.index(first), 0, 1)
    keep = (reader >= 0) & (case >= 0)
    shape = (2, len(readers), len(cases))
    cell = ((modality * shape[1] + reader) * shape[2] + case)[keep]
    value = pair.value[keep]
    size = shape[0] * shape[1] * shape[2]
    if len(cell) != size or not (np.bincount(cell, minlength=size) == 1).all():
        return None
    if not np.isfinite(value).all():
        return None
    grid = np.empty(shape)
    grid.reshape(-1)[cell] = value
    return Readings((first, second), tuple(readers), tuple(cases), grid)


def _averaged(readings: list[Reading], readers: set, cases: set) -> list[Reading]:
    kept = [reading for reading in readings if reading[0] in readers and reading[1] in cases]
    once = _read_once(kept)
    if once is not None:
        return once
    values: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for rater, case, source, value in readings:
        if rater in readers and case in cases:
            values[(rater, case, source)].append(value)
    return [(*key, sum(found) / len(found)) for key, found in sorted(values.items())]


def _read_once(readings: list[Reading]) -> list[Reading] | None:
    """`_averaged` where every reader read every output once (nothing to average): the
    readings sorted, by ranking each column's labels rather than comparing tuples; None
    where some output was read twice by one reader."""
    import numpy as np

    if not readings:
        return []
    columns = columns_of(readings, 4)
    labels, codes = [], []
    for column in columns[:3]:
        distinct = sorted(set(column))
        at = {label: i for i, label in enumerate(distinct)}
        labels.append(distinct)
        codes.append(np.fromiter(map(at.__getitem__, column), np.int64, len(readings)))
    cell = (codes[0] * len(labels[1]) + codes[1]) * len(labels[2]) + codes[2]
    order = np.argsort(cell, kind="stable")
    if len(order) > 1 and not (np.diff(cell[order]) > 0).all():
        return None
    ordered = order.tolist()
    rater, case, source = (np.asarray(c)[order] for c in codes)
    return [
        (labels[0][r], labels[1][c], labels[2][s], _float(columns[3][i]))
        for r, c, s, i in zip(rater.tolist(), case.tolist(), source.tolist(), ordered, strict=True)
    ]


def _float(value: float) -> float:
    """The value as a float, the same object when it is one (one per code, not per reading)."""
    return value if type(value) is float else float(value)


# Below this many readers, Hillis's test with readers random rejects a true null more often than
# its level: its degrees of freedom rest on the observed reader x source mean square.
FEW_READERS = 5


def _few_readers(readers: int) -> str:
    """What the coverage benchmark measured for so few readers (docs/statistics.md, Coverage)."""
    return (
        f"with {readers} readers the test for readers like these rejects a true null more often "
        "than its 5% level (in the coverage benchmark, 6.2-7.9% with 3 readers and 5.6-6.2% "
        "with 5, at 30 and 100 cases), because its degrees of freedom rest on so few readers; "
        "read a p near 0.05 with care, and plan more readers"
    )


def _figure(result: Mrmc, detail: dict, n_ratings: int) -> Figure:
    detail = {**result.as_dict(), **detail}
    # Read by the study planner to size a next study: keep these two keys as they are.
    detail["components"] = plain(result.components)
    detail["n_cases"] = result.n_cases
    by_key = dict(zip(QUESTIONS, result.analyses, strict=True))
    for key, analysis in by_key.items():
        detail[key] = _difference(analysis, detail["figure_of_merit"])
    # Each source alone, readers and cases random, as the published OR output gives it: in the
    # bundle's comparison.csv as rows of their own (mrmc:alone_first, mrmc:alone_second).
    label = detail["figure_of_merit"]
    for key, alone in zip(
        ("alone_first", "alone_second"), detail["random_both"]["alone"], strict=True
    ):
        detail[key] = {
            "method": f"{label} of {alone['source']} alone, {RANDOM_BOTH}",
            "interval_question": RANDOM_BOTH,
            **alone,
        }
    test = by_key["random_both"].test
    if test is None:
        detail["reason"] = by_key["random_both"].reason
    elif len(result.readers) < FEW_READERS:
        detail["caution"] = _few_readers(len(result.readers))
    value = None if test is None else test.p
    return Figure(value, result.n_cases, len(result.readers), n_ratings, detail)


def _difference(analysis, label: str) -> dict:
    """The pair's difference for one analysis, with its interval and p, as an estimate the
    bundle lists (`method`, `value`, `ci`) and the question its interval answers."""
    found = {
        "interval_question": analysis.question,
        "method": f"difference in {label} (first minus second), {analysis.question}",
        "alone": [
            {
                "source": alone.modality,
                "value": alone.value,
                "ci": list(alone.ci) if alone.ci else None,
                "se": alone.se,
                "df": alone.df,
            }
            for alone in analysis.modalities
        ],
    }
    if not analysis.differences:
        return {**found, "value": None, "ci": None, "p": None, "reason": analysis.reason}
    difference = analysis.differences[0]
    return {
        **found,
        "value": difference.estimate,
        "ci": list(difference.ci) if difference.ci else None,
        "p": difference.p,
        "se": difference.se,
        "df": difference.df,
    }


def _crossed_note(sizes: dict) -> str:
    readers, cases = sizes["readers_used"], sizes["cases_used"]
    if not readers:
        return "no crossed block of two readers and two cases"
    if readers == sizes["readers_total"] and cases == sizes["cases_total"]:
        return "every reader read every case under both sources"
    return (
        f"crossed block: {readers} of {sizes['readers_total']} readers, {cases} of "
        f"{sizes['cases_total']} cases, chosen from who read what, never from the ratings; "
        f"MRMC describes these readers' block, the rest of the data is in the paired tests"
    )


def _not_crossed(read: dict[str, set[str]]) -> str:
    """Why no block of two readers and two cases exists: `read` is what each reader read
    under both sources."""
    if not read:
        what = "no reader read any case under both sources"
    elif len(read) == 1:
        what = "only one reader read any case under both sources"
    else:
        most = max(len(read[a] & read[b]) for a, b in combinations(sorted(read), 2))
        what = (
            f"no two readers read the same two cases under both sources (at most {most} in common)"
        )
    return f"not a crossed design: {what}; {NOT_CROSSED}"
