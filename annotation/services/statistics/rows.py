"""A study's ratings shaped for statistics: one row per answer, (case id, source, the pair's
second source or "", rater, code), every pairwise code in canonical source order (positive when
the first source is better) and "not applicable" left out. A unit is (case, source, second).

An answer about a whole set of outputs (a question asked once per item in a ranking study) has
source "": it is about no one source. An answer about a whole pair has both sources.
Only answers with a source and no second are about one output (`about_one_output`)."""

import hashlib
import json
import math
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, Value
from django.db.models.functions import Coalesce

from annotation.core import rubric
from annotation.models import (
    Assignment,
    Case,
    ItemOutput,
    Judge,
    JudgeRating,
    JudgeVerdict,
    Output,
    Question,
    Rating,
    Source,
    Study,
)
from annotation.selectors import study_rater_pseudonyms

if TYPE_CHECKING:  # the worker's: the web process that imports this module needs none
    import numpy as np

Row = tuple[str, str, str, str, float]  # case id, source, pair's second source, rater, code


def human_codes(
    study: Study,
    question: Question,
    pseudonyms: dict,
    *,
    kinds=None,
    with_kind=False,
    as_of: dict | None = None,
) -> list[Row]:
    """Every coded answer to the question in the study proper (or the assignment `kinds`
    given). Side by side, an answer is about the output it names; otherwise about the item's
    output, or its pair. `with_kind` adds each row's assignment kind. `as_of` gives some
    answers' codes as they stood at an earlier moment, by rating id (None: no code then)."""
    ratings = _coded_answers(study, question, kinds).values_list(
        "assignment__item__output__case__external_id",
        Coalesce("output__source__label", "assignment__item__output__source__label"),
        "assignment__item__output_b__source__label",
        "assignment__rater_id",
        "value",
        "assignment__kind",
        "whole_set",
        "pk",
    )
    # Streamed, and one object per distinct case id, label and code rather than one per row:
    # at a million ratings the rows are a third of the size.
    keep, number = {}.setdefault, {}.setdefault
    rows = []
    for case_id, source, second, rater_id, value, kind, whole_set, pk in ratings.iterator(
        chunk_size=20_000
    ):
        if as_of and pk in as_of and (value := as_of[pk]) is None:
            continue
        row = (
            keep(case_id, case_id),
            "" if whole_set else keep(source, source),
            keep(second, second) if second else "",
            pseudonyms[rater_id],
            number(value + 0.0, value + 0.0),  # -0.0 (a tie seen flipped) is 0.0: one code
        )
        rows.append((*row, kind) if with_kind else row)
    return rows


def _coded_answers(study: Study, question: Question, kinds=None):
    """The question's coded answers on submitted items of the `kinds` given (the study proper
    by default), each marked whether it is about a whole set (`whole_set`)."""
    return Rating.objects.filter(
        question=question,
        assignment__study=study,
        assignment__kind__in=kinds or [Assignment.Kind.STUDY],
        # An item counts once its rater submits it: until then its answers are a draft.
        assignment__submitted_at__isnull=False,
        value__isnull=False,
    ).annotate(whole_set=_whole_set(study, "assignment__item"))


def question_rows(study: Study, question: Question) -> tuple[list[Row], "Ranked | None"]:
    """The question's rows (`human_rows`) in one order, sorted, whatever order the database
    returned them in, and ranked (`Ranked`) when they rank: what a recomputation computes a
    question's statistics from. The same rows in the same order give the same values to the
    last bit (sums run in row order; units are numbered as first seen).

    Coded answers are read as columns of ids and ranked in arrays: a million answers without
    a million tuples made by the database driver and another million by the ORM (issue 22)."""
    if question.kind == Question.Kind.RANKING:
        rows = human_rows(study, question)
        ranked = Ranked.of(rows)
        if ranked is None:
            return sorted(rows, key=repr), None
        ranked = ranked.in_order()
        return ranked.rows, ranked
    ranked = Ranked.of_columns(*_code_columns(study, question), labels=_labels_of_ids(study))
    return (ranked.rows, ranked) if ranked is not None else ([], None)


# The id columns `_code_columns` reads, in a Row's order, and whether each answer is about a
# whole set (its source is then "").
_ID_COLUMNS = 6
# The id `_code_columns` gives where there is none (a pair's second source, a whole set's own
# source): no row's id, as ids count from 1.
NO_ID = -1


def _code_columns(study: Study, question: Question, *, aggregated: bool | None = None) -> list:
    """The question's study answers as `human_codes` finds them, as arrays of ids: case,
    source, the pair's second source (NO_ID: none), rater, then the code, and 1 where the
    answer is about a whole set. On PostgreSQL the rows come packed in a few binary strings,
    unpacked by numpy (`aggregated`; the plain fetch otherwise, as on SQLite)."""
    import numpy as np  # the worker's: the web process that imports this module needs none

    ratings = _coded_answers(study, question).values_list(
        "assignment__item__output__case_id",
        Coalesce("output__source_id", "assignment__item__output__source_id"),
        Coalesce("assignment__item__output_b__source_id", Value(NO_ID)),
        "assignment__rater_id",
        "value",
        "whole_set",
    )
    if aggregated is None:
        aggregated = connection.vendor == "postgresql"
    if aggregated:
        packed = _packed(ratings)
        if packed is not None:
            return packed
    found = list(ratings)
    return [
        np.fromiter(map(itemgetter(k), found), float if k == 4 else np.int64, len(found))
        for k in range(_ID_COLUMNS)
    ]


def _packed(ratings) -> list | None:
    """`_code_columns`' arrays from PostgreSQL: one binary string per rater (a bytea holds at
    most 1 GB: 25 million answers), each answer 41 bytes, five big-endian 8-byte numbers and
    the set flag's one. None if a row did not pack (a column NULL, which the schema rules out):
    the plain fetch then shows it as it is."""
    import numpy as np
    import psycopg

    query, params = ratings.query.sql_with_params()
    packed = (
        "SELECT string_agg(int8send(x.c0) || int8send(x.c1) || int8send(x.c2) || "
        "int8send(x.c3) || float8send(x.c4) || boolsend(x.c5), ''::bytea), count(*) "
        f"FROM ({query}) AS x(c0, c1, c2, c3, c4, c5) GROUP BY x.c3"
    )
    connection.ensure_connection()
    # A cursor of psycopg's own, binding on the server, which alone returns binary results:
    # the connection's may bind on the client (DATABASE_PREPARED_STATEMENTS=0, for PgBouncer).
    # Unprepared, so nothing outlives the statement on a pooled server connection. Django's
    # error types, as from its cursors: a lost connection is an outage the worker knows
    # (task_runs.DATABASE_OUTAGES), not psycopg's error passing it by.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(packed, params, binary=True, prepare=False)
        found = cursor.fetchall()
    layout = np.dtype([(f"c{k}", ">i8") for k in range(4)] + [("c4", ">f8"), ("c5", "u1")])
    rows = np.frombuffer(b"".join(bytes(part or b"") for part, _ in found), dtype=layout)
    if len(rows) != sum(count for _, count in found):
        return None
    return [rows[f"c{k}"].astype(float if k == 4 else np.int64) for k in range(_ID_COLUMNS)]


def _labels_of_ids(study: Study) -> list[dict]:
    """What each id column of `_code_columns` names, as a Row gives it: the case's id, the
    source's label (NO_ID: none, ""), the rater's pseudonym."""
    cases = dict(Case.objects.filter(study=study).values_list("pk", "external_id"))
    sources = {**dict(Source.objects.filter(study=study).values_list("pk", "label")), NO_ID: ""}
    return [cases, sources, sources, study_rater_pseudonyms(study=study)]


def _whole_set(study: Study, item: str):
    """Whether an answer is about a whole set: no output of its own, on an item of several.
    In a study without sets no answer is: false outright rather than a subquery for each row
    (a fifth of the query at a million ratings). Only what the query returns changes, not
    its joins, so the rows come in the same order."""
    if not ItemOutput.objects.filter(item__study=study).exists():
        return Value(False, output_field=BooleanField())
    members = ItemOutput.objects.filter(item=OuterRef(item))
    return ExpressionWrapper(Q(output__isnull=True) & Exists(members), output_field=BooleanField())


def about_one_output(row) -> bool:
    return bool(row[1]) and not row[2]


def human_ranks(
    study: Study, question: Question, pseudonyms: dict, *, kinds=None, with_kind=False
) -> list[Row]:
    """A ranking as one rank per output (1 = best), each about the output's own source. Only
    complete rankings count; "not applicable" has no ranks."""
    ratings = (
        Rating.objects.filter(
            question=question,
            assignment__study=study,
            assignment__kind__in=kinds or [Assignment.Kind.STUDY],
            assignment__submitted_at__isnull=False,
        )
        .select_related("assignment__item__output__case", "assignment__item__output__source")
        .prefetch_related("assignment__item__members__output__source")
    )
    rows = []
    for rating in ratings:
        if not isinstance(rating.answer, list) or not rubric.is_complete(rating.answer):
            continue
        case_id = rating.assignment.item.output.case.external_id
        rater = pseudonyms[rating.assignment.rater_id]
        extra = [rating.assignment.kind] * with_kind
        for place, output in enumerate(rating.assignment.shown_outputs()):
            rank = float(rating.answer[place])
            rows.append((case_id, output.source.label, "", rater, rank, *extra))
    return rows


def judge_rater(judge: Judge) -> str:
    """The judge's name among the raters: no rater pseudonym can look like it."""
    return f"LLM judge: {judge.label}"


def judge_codes(judge: Judge, question: Question) -> list[Row]:
    """The judge's answers in the raters' form, one per unit: its first sample in canonical
    order, as a single reading by one more rater (its other samples and the reversed order
    measure its consistency, not agreement). Quality-control cases are left out, as for raters."""
    verdicts = JudgeRating.objects.filter(
        verdict__judge=judge,
        verdict__outcome=JudgeVerdict.Outcome.OK,
        verdict__variant=0,
        verdict__sample=0,
        verdict__item__output__case__role=Case.Role.STUDY,
        question=question,
    )
    if question.kind == Question.Kind.RANKING:
        return _judge_ranks(judge, verdicts)
    rows = (
        verdicts.filter(value__isnull=False)
        .annotate(whole_set=_whole_set(judge.study, "verdict__item"))
        .values_list(
            "verdict__item__output__case__external_id",
            Coalesce("output__source__label", "verdict__item__output__source__label"),
            "verdict__item__output_b__source__label",
            "value",
            "whole_set",
        )
    )
    rater = judge_rater(judge)
    return [
        (case_id, "" if whole_set else source, second or "", rater, value + 0.0)  # -0.0 is 0.0
        for case_id, source, second, value, whole_set in rows
    ]


def _judge_ranks(judge: Judge, verdicts) -> list[Row]:
    rows = []
    rater = judge_rater(judge)
    verdicts = verdicts.select_related("verdict__item__output__case").prefetch_related(
        "verdict__item__members__output__source"
    )
    for rating in verdicts:
        if not isinstance(rating.answer, list) or not rubric.is_complete(rating.answer):
            continue
        item = rating.verdict.item
        outputs = item.canonical_outputs()
        for place, slot in enumerate(rating.verdict.order or range(len(outputs))):
            rank = float(rating.answer[place])
            rows.append((item.output.case.external_id, outputs[slot].source.label, "", rater, rank))
    return rows


def unit_of(row) -> str:
    case_id, source, second = row[:3]
    return f"{case_id}\x1f{source}\x1f{second}"


def human_rows(study: Study, question: Question, **options) -> list[Row]:
    names = study_rater_pseudonyms(study=study)
    if question.kind == Question.Kind.RANKING:
        return human_ranks(study, question, names, **options)
    return human_codes(study, question, names, **options)


def judge_samples(judge: Judge, question: Question) -> dict[str, list]:
    """Every sample of the judge's answer per (item, order, output), for its consistency: the
    code where the question has one, else the answer as given."""
    rows = JudgeRating.objects.filter(
        verdict__judge=judge,
        verdict__outcome=JudgeVerdict.Outcome.OK,
        verdict__item__output__case__role=Case.Role.STUDY,
        question=question,
    ).values_list("verdict__item_id", "verdict__variant", "output_id", "value", "answer")
    samples: dict[str, list] = {}
    for item, variant, output, value, answer in rows:
        key = f"{item}/{variant}/{output or ''}"
        samples.setdefault(key, []).append(value if value is not None else str(answer))
    return samples


CriteriaRow = tuple[str, str, str, float, float]  # case id, source, rater, earned, possible


def criteria_rows(study: Study, question: Question) -> list[CriteriaRow]:
    """Per-case criteria answers as points: earned (the met criteria's points, negative ones
    included; 0 for "no criterion met") and possible (the case's positive points), from each
    submitted answer."""
    names = study_rater_pseudonyms(study=study)
    ratings = Rating.objects.filter(
        question=question,
        assignment__study=study,
        assignment__kind=Assignment.Kind.STUDY,
        assignment__submitted_at__isnull=False,
    ).select_related("output__source", "output__case", "assignment__item__output__source")
    ratings = ratings.annotate(whole_set=_whole_set(study, "assignment__item"))
    rows = []
    for rating in ratings.select_related("assignment__item__output__case"):
        met = [] if rating.answer == rubric.NONE else rating.answer  # "no criterion met"
        if not isinstance(met, list) or rubric.is_empty(rating.answer):
            continue  # "not applicable", or every box unticked again: unanswered
        item = rating.assignment.item
        if rating.output is None and (rating.whole_set or item.output_b_id):
            continue  # about a whole pair or set: no one source earned these points
        output = rating.output or item.output
        criteria = output.case.criteria
        possible = sum(c["points"] for c in criteria if c["points"] > 0)
        if possible <= 0:
            continue
        earned = sum(c["points"] for c in criteria if c["id"] in met)
        rater = names[rating.assignment.rater_id]
        rows.append((output.case.external_id, output.source.label, rater, earned, possible))
    return sorted(rows)


def output_metrics(study: Study) -> dict[tuple[str, str], dict]:
    """Imported automatic metrics per output the raters saw, keyed (case id, source)."""
    outputs = Output.objects.filter(case__study=study, case__role=Case.Role.STUDY, sample=0)
    return {
        (case, source): metrics
        for case, source, metrics in outputs.exclude(metrics={}).values_list(
            "case__external_id", "source__label", "metrics"
        )
    }


def sorted_rows(rows: list[tuple]) -> tuple[list[tuple], str]:
    """`sorted(rows)` and a digest of them (`rows_digest`), by sorting each column's distinct
    values once and the rows by their ranks: at a million rows a fraction of the time of
    comparing tuples, in the same order (rows are distinct, so the order is unique)."""
    ranked = Ranked.of(rows)
    if ranked is None:
        ordered = sorted(rows)
        return ordered, _digest_of_sorted(ordered)
    return ranked.sorted()


def rows_digest(rows: list[tuple]) -> str:
    """What the rows are, in any order, as a short string for a result's inputs hash: each
    column's distinct values in order, then every row as their positions, sorted. Equal for
    equal sets of rows, different otherwise; cheaper than hashing the rows' text."""
    ranked = Ranked.of(rows)
    return _digest_of_sorted(sorted(rows)) if ranked is None else ranked.digest()


@dataclass(frozen=True)
class Ranked:
    """Rows with each column's distinct values sorted and each row's positions in them
    (arrays). Made once for a question's rows, it gives the digest and the sorted rows of any
    part of them (`keep`, a boolean mask) from the arrays alone: the same as `rows_digest` and
    `sorted_rows` of that part, without ranking its million values again."""

    rows: list[tuple]
    labels: list[list]
    codes: list

    @classmethod
    def of(cls, rows: list[tuple]) -> "Ranked | None":
        """None when the rows differ in length, a column's values do not sort together, or
        there are no rows: `rows_digest` then hashes them as text."""
        import numpy as np  # the worker's: the web process that imports this module needs none

        from annotation.core.stats.data import columns_of

        if not rows or len({len(row) for row in rows}) != 1:
            return None
        labels, codes = [], []
        for column in columns_of(rows, len(rows[0])):
            try:
                distinct = sorted(set(column))
            except TypeError:
                return None
            rank = {value: i for i, value in enumerate(distinct)}
            labels.append(distinct)
            # As small an integer as the column needs: kept while the question's statistics
            # are computed, beside everything else a million ratings take.
            small = np.min_scalar_type(len(distinct))
            codes.append(np.fromiter(map(rank.__getitem__, column), small, len(rows)))
        return cls(rows, labels, codes)

    @classmethod
    def of_columns(
        cls, case, source, second, rater, value, whole_set, *, labels: list[dict]
    ) -> "Ranked | None":
        """`Ranked.of(rows).in_order()` for rows given as arrays of ids and codes (as
        `_code_columns` reads them) and what each id column's ids name (`labels`): each
        column's distinct ids ranked by their names, without a tuple per row until the rows
        themselves are made, once, in order. None when there are no rows."""
        import numpy as np

        if not len(case):
            return None
        source = np.where(whole_set != 0, NO_ID, source)  # about a whole set: no one source
        ranked = [
            _ranked_ids(ids, names.__getitem__)
            for ids, names in zip((case, source, second, rater), labels, strict=True)
        ]
        ranked.append(_ranked_ids(value + 0.0, float))  # -0.0 is 0.0, as `human_codes` has it
        codes = [code for _, code in ranked]
        order = _order(codes)
        codes = [code[order] for code in codes]
        columns = []
        for (names, _), code in zip(ranked, codes, strict=True):
            every = np.empty(len(names), dtype=object)
            every[:] = names
            columns.append(every[code].tolist())
        return cls(list(zip(*columns, strict=True)), [names for names, _ in ranked], codes)

    def narrowed(self, column: int, at: "np.ndarray") -> tuple[list, "np.ndarray"]:
        """Column `column` of the rows at the indices `at`: its labels narrowed to the values
        those rows have, and their positions renumbered among them (an order kept, so they
        sort as their own ranks would sort them)."""
        import numpy as np

        distinct, code = self.labels[column], self.codes[column][at]
        present = np.flatnonzero(np.bincount(code, minlength=len(distinct)))
        renumber = np.zeros(len(distinct), dtype=np.int64)
        renumber[present] = np.arange(len(present))
        return [distinct[i] for i in present.tolist()], renumber[code]

    def in_order(self) -> "Ranked":
        """The same rows sorted (first column first), as a Ranked of their own: what is
        computed from them then does not depend on the order the database returned them in,
        which is not fixed (a sequential scan may start where another one is)."""
        order = _order(self.codes).tolist()
        codes = [column[order] for column in self.codes]
        return type(self)([self.rows[i] for i in order], self.labels, codes)

    def where(self, column: int, value) -> "np.ndarray":
        """Which rows have `value` in `column`, as a mask."""
        import numpy as np

        if value not in self.labels[column]:
            return np.zeros(len(self.rows), dtype=bool)
        return self.codes[column] == self.labels[column].index(value)

    def digest(self, keep: "np.ndarray | None" = None) -> str:
        """`rows_digest` of the rows `keep` picks (all of them when None)."""
        return self._part(keep)[1]

    def sorted(self, keep: "np.ndarray | None" = None) -> tuple[list[tuple], str]:
        """`sorted_rows` of the rows `keep` picks (all of them when None)."""
        order, digest = self._part(keep)
        return [self.rows[i] for i in order.tolist()], digest

    def _part(self, keep: "np.ndarray | None") -> tuple["np.ndarray", str]:
        """The picked rows' indices in sorted order, and their digest: each column `narrowed`
        to the part."""
        import numpy as np

        at = np.arange(len(self.rows)) if keep is None else np.flatnonzero(keep)
        if not len(at):
            return at, _digest_of_sorted([])
        labels, codes = [], []
        for k in range(len(self.labels)):
            narrowed, code = self.narrowed(k, at)
            labels.append(narrowed)
            codes.append(code)
        order = _order(codes)
        return at[order], _digest(labels, [c[order] for c in codes])


def _ranked_ids(ids: "np.ndarray", name_of) -> tuple[list, "np.ndarray"]:
    """A column of ids as `Ranked.of` ranks the names they stand for (`name_of`): the distinct
    names sorted, and each row's position among them, as small an integer as it needs."""
    import numpy as np

    distinct, inverse = np.unique(ids, return_inverse=True)
    named = [name_of(each) for each in distinct.tolist()]
    names = sorted(set(named))
    position = {name: k for k, name in enumerate(names)}
    rank = np.fromiter(map(position.__getitem__, named), np.int64, len(named))
    return names, rank[inverse.reshape(-1)].astype(np.min_scalar_type(len(names)))


def _order(codes: list) -> "np.ndarray":
    """The rows' order sorted by their positions, first column first: `np.lexsort` of the
    columns, as one sort of a key that joins them where it fits in 63 bits (rows are
    distinct and the sort stable, so the order is the same)."""
    import numpy as np

    sizes = [int(c.max()) + 1 for c in codes]
    if math.prod(sizes) >= 2**62:
        return np.lexsort(codes[::-1])
    key = np.zeros(len(codes[0]), dtype=np.int64)
    for column, size in zip(codes, sizes, strict=True):
        key *= size
        key += column.astype(np.int64)
    return np.argsort(key, kind="stable")


def _digest(labels: list[list], codes: list) -> str:
    found = hashlib.sha256(json.dumps(labels, default=str).encode())
    for column in codes:
        found.update(column.astype("<i8").tobytes())
    return f"rows:{len(codes[0]) if codes else 0}:{found.hexdigest()}"


def _digest_of_sorted(rows: list[tuple]) -> str:
    found = hashlib.sha256(json.dumps(rows, default=str).encode())
    return f"rows:{len(rows)}:{found.hexdigest()}"
