"""A recomputation reads each question's answers as columns of ids and ranks them in arrays
(`rows.question_rows`), and indexes each scope's ratings from those codes
(`data.ratings_from_codes`, `agreement._figures_ranked`), rather than a tuple and a name per
answer (issue 22). These check that what it computes from is what the rows themselves give:
the same rows in the same order, ranked alike, the same ratings, the same figures."""

import random

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection

from annotation import services
from annotation.core import rubric
from annotation.core.stats import compare
from annotation.core.stats.data import DataError, ratings_from_codes, ratings_from_columns
from annotation.models import Question, Study
from annotation.services.statistics import agreement, comparisons, mrmc
from annotation.services.statistics.rows import Ranked, _code_columns, human_rows, question_rows
from tests.factories import UserFactory, submit_rated
from tests.test_pairwise import make_pairwise_study

pytestmark = pytest.mark.django_db


def _set_study(design: str) -> Study:
    """A study of sets of three outputs with a Likert question beside the ranking: in a
    ranking study it is asked once about the whole set, side by side once per output."""
    admin = UserFactory(username=f"sets-admin-{design}")
    readers = [UserFactory(username=f"sets-{design}-{n}") for n in range(3)]
    study = services.study_create(
        creator=admin, title=f"sets {design}", question_prompt="Rank them",
        raters_per_item=3, design=design, seed=9,
    )  # fmt: skip
    if design == Study.Design.SIDE_BY_SIDE:
        services.question_add(study=study, draft=RANK)
    services.question_add(study=study, draft=OVERALL)
    rows = ["case_id,input,source,output"] + [
        f"c{case},Question {case},{source},Answer {case} {source}"
        for case in range(5)
        for source in ("Expert", "Model-A", "Model-B")
    ]
    services.study_import_file(study=study, filename="s.csv", content="\n".join(rows).encode())
    services.study_add_raters(study=study, users=readers)
    services.study_open(study=study)
    rng = random.Random(5)
    overall = study.questions.get(key="quality")
    for assignment in study.assignments.order_by("pk"):
        places = range(3) if study.asks_per_output(overall) else [None]
        for shown in places:
            services.rating_save(
                assignment=assignment, question=overall, answer=rng.randint(1, 5), shown=shown
            )
    submit_rated(study)
    return study


def _pairwise_study() -> Study:
    """Every pair of three sources' outputs, each rated by two readers: -1, 0 or 1."""
    readers = [UserFactory(username=f"pairs-{n}") for n in range(3)]
    study = make_pairwise_study(UserFactory(username="pairs-admin"), readers)
    question = study.questions.get()
    rng = random.Random(4)
    for assignment in study.assignments.order_by("pk"):
        services.rating_save(
            assignment=assignment, question=question, answer=rng.choice([-1, 0, 1])
        )
    submit_rated(study)
    return study


RANK = rubric.QuestionDraft(key="rank", prompt="Rank them", kind="ranking", level="ordinal")
OVERALL = rubric.QuestionDraft(
    key="quality", prompt="Quality?", kind="likert", level="ordinal",
    scale=tuple({"value": n, "label": f"point {n}"} for n in range(1, 6)),
)  # fmt: skip


@pytest.fixture
def demo_questions():
    """Every question with statistics of every demo study: absolute, pairwise, side by side,
    sets and their rankings, omissions, corrections, rereads, assisted reading; and a question
    about a whole set, and one about each output of a set."""
    call_command("seed_demo", verbosity=0)
    _set_study(Study.Design.RANKING)
    _set_study(Study.Design.SIDE_BY_SIDE)
    _pairwise_study()
    found = [
        (study, question)
        for study in Study.objects.order_by("pk")
        for question in study.questions.order_by("pk")
        if question.has_statistics
    ]
    kinds = {question.kind for _, question in found}
    assert {Question.Kind.PAIRWISE, Question.Kind.RANKING, Question.Kind.LIKERT} <= kinds
    return found


@pytest.fixture
def packed_read():
    """For the tests of the packed read alone, which only PostgreSQL has."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "the packed read is PostgreSQL's (string_agg of binary sends); on SQLite the "
            "plain fetch is the only read, covered by every other test here; CI runs these "
            "on PostgreSQL"
        )


def _as_the_rows_give_them(study, question):
    ranked = Ranked.of(human_rows(study, question))
    return ([], None) if ranked is None else (ranked.in_order().rows, ranked.in_order())


def test_each_question_is_read_as_its_rows_sorted_and_ranked(demo_questions):
    seen_whole_sets = seen_pairs = 0
    for study, question in demo_questions:
        rows, ranked = question_rows(study, question)
        expected_rows, expected = _as_the_rows_give_them(study, question)
        assert rows == expected_rows, (study.title, question.key)
        if expected is None:
            assert ranked is None
            continue
        assert ranked.labels == expected.labels
        for mine, theirs in zip(ranked.codes, expected.codes, strict=True):
            assert mine.dtype == theirs.dtype
            assert np.array_equal(mine, theirs)
        assert ranked.digest() == expected.digest()
        seen_pairs += any(row[2] for row in rows)
        seen_whole_sets += any(row[1] == "" for row in rows)
    assert seen_pairs
    assert seen_whole_sets
    if connection.vendor == "postgresql":  # the packed read is PostgreSQL's
        _packed_read_is_the_plain_fetch(demo_questions)


def _packed_read_is_the_plain_fetch(demo_questions) -> None:
    compared = 0
    for study, question in demo_questions:
        if question.kind == Question.Kind.RANKING:
            continue
        packed = _code_columns(study, question, aggregated=True)
        plain = _code_columns(study, question, aggregated=False)
        assert [column.dtype for column in packed] == [column.dtype for column in plain]
        order = [np.lexsort(columns[::-1]) for columns in (packed, plain)]
        for mine, theirs in zip(packed, plain, strict=True):
            assert np.array_equal(mine[order[0]], theirs[order[1]])
        compared += len(packed[0])
    assert compared > 100


def test_the_order_the_database_returns_does_not_matter(monkeypatch):
    from annotation.services.statistics import rows as rows_module

    study = _pairwise_study()
    question = study.questions.get()
    before = question_rows(study, question)
    assert len(before[0]) > 10
    read = rows_module._code_columns

    def shuffled(*args, **kwargs):
        columns = read(*args, **kwargs)
        order = np.random.default_rng(7).permutation(len(columns[0]))
        return [column[order] for column in columns]

    monkeypatch.setattr(rows_module, "_code_columns", shuffled)
    after = question_rows(study, question)
    assert after[0] == before[0]
    assert after[1].digest() == before[1].digest()


def _random_columns(seed: int, *, faults: str = ""):
    rng = random.Random(seed)
    cells = {
        (f"case{rng.randrange(60)}\x1fA\x1f", f"R{rng.randrange(9)}")
        for _ in range(rng.randrange(2, 600))
    }
    cells = sorted(cells)
    rng.shuffle(cells)
    values = [float(rng.randrange(1, 6)) for _ in cells]
    if faults == "outside":
        values[rng.randrange(len(values))] = 9.0
    if faults == "twice":
        cells.append(cells[rng.randrange(len(cells))])
        values.append(1.0)
    units, raters = [unit for unit, _ in cells], [rater for _, rater in cells]
    return units, raters, values


def _as_codes(column):
    names = sorted(set(column))
    at = {name: k for k, name in enumerate(names)}
    return np.array([at[name] for name in column], dtype=np.int64), names


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_ratings_from_codes_are_the_ratings_from_the_columns(seed, level):
    units, raters, values = _random_columns(seed)
    categories = [1, 2, 3, 4, 5]
    expected = ratings_from_columns(units, raters, values, level=level, categories=categories)
    found = ratings_from_codes(
        _as_codes(units), _as_codes(raters), _as_codes(values), level=level, categories=categories
    )
    assert found.units == expected.units
    assert found.raters == expected.raters
    assert found.categories == expected.categories
    assert found.level == expected.level
    assert np.array_equal(found.numbers, expected.numbers)
    for name in ("unit_index", "rater_index", "position"):
        assert getattr(found, name).dtype == getattr(expected, name).dtype
        assert np.array_equal(getattr(found, name), getattr(expected, name))


@pytest.mark.parametrize("faults", ["outside", "twice"])
def test_ratings_at_fault_are_left_to_the_columns_which_name_the_fault(faults):
    units, raters, values = _random_columns(3, faults=faults)
    with pytest.raises(DataError) as fault:
        ratings_from_columns(units, raters, values, level="ordinal", categories=[1, 2, 3, 4, 5])
    assert fault.value.index is not None
    codes = (_as_codes(units), _as_codes(raters), _as_codes(values))
    assert ratings_from_codes(*codes, level="ordinal", categories=[1, 2, 3, 4, 5]) is None


def test_a_scale_the_level_cannot_use_is_left_to_the_columns():
    units, raters, values = _random_columns(4)
    codes = (_as_codes(units), _as_codes(raters), _as_codes(values))
    assert ratings_from_codes(*codes, level="ratio", categories=[-1, 0, 1, 2, 3, 4, 5]) is None
    assert ratings_from_codes(*codes, level="interval", categories=["a", "b"]) is None
    assert ratings_from_codes(*codes, level="nominal", categories=[1, 1.0, 2]) is None
    assert ratings_from_codes(*codes, level="weird", categories=[1, 2, 3, 4, 5]) is None


def test_each_scope_and_the_comparisons_from_the_ranks_are_what_the_rows_give(demo_questions):
    compared = with_scores = 0
    for study, question in demo_questions:
        rows, ranked = question_rows(study, question)
        if ranked is None:
            continue
        with_scores += _comparisons_read_what_the_rows_give(ranked)
        for source in agreement._sources(rows, ranked):
            assert source in agreement._sources(rows)
            scoped = agreement._scoped(rows, source)
            keep = agreement._kept(ranked, source)
            from_ranks = agreement._figures_ranked(ranked, keep, question, study)
            from_rows = agreement._figures(scoped, question, study)
            assert from_ranks == from_rows, (study.title, question.key, source)
            compared += 1
        assert agreement._sources(rows, ranked) == agreement._sources(rows)
    assert compared >= len(demo_questions)
    assert with_scores >= 5


def test_a_rating_outside_the_scale_is_named_as_from_the_rows():
    study = _set_study(Study.Design.SIDE_BY_SIDE)
    question = study.questions.get(key="quality")
    rows, ranked = question_rows(study, question)
    assert rows
    outside = max(rubric.value_domain(question.spec)) + 10.0
    broken = Ranked.of([(*row[:4], outside) if n == 0 else row for n, row in enumerate(rows)])
    with pytest.raises(DataError) as fault:
        agreement._figures_ranked(broken.in_order(), None, question, study)
    assert "is not one of the categories" in str(fault.value)


def _same(found, expected) -> None:
    """Equal, arrays by their values and types: rows as `compare` checks them, readings."""
    if isinstance(expected, list):
        assert found == expected
        return
    assert type(found) is type(expected)
    for name, theirs in vars(expected).items():
        mine = getattr(found, name)
        if isinstance(theirs, np.ndarray):
            assert mine.dtype == theirs.dtype, name
            assert np.array_equal(mine, theirs), name
        else:
            assert mine == theirs, name


def _comparisons_read_what_the_rows_give(ranked: Ranked) -> bool:
    """The comparisons' rows about one output, per source, and MRMC's readings, from the ranks
    as from the rows they sort; False when there are no such rows."""
    keep = comparisons._one_output(ranked)
    alone, digest = ranked.sorted(keep)
    assert digest == ranked.digest(keep)
    if not alone:
        return False
    by_source = comparisons._by_source_ranked(ranked, keep)
    expected = comparisons._by_source(alone)
    assert list(by_source) == sorted(expected)
    for source, checked in by_source.items():
        _same(checked, expected[source])
    _same(mrmc._Coded.of_ranked(ranked, keep), mrmc._Coded.of_rows(alone, (3, 0, 1, 4)))
    return True


@pytest.mark.parametrize("seed", range(8))
def test_rows_of_codes_are_the_rows_of_the_columns(seed):
    units, raters, values = _random_columns(seed)
    expected = compare.rows_of_columns(units, raters, [values])
    found = compare.rows_of_codes(_as_codes(units), _as_codes(raters), _as_codes(values))
    _same(found, expected)
    units, raters, values = _random_columns(seed, faults="twice")
    assert compare.rows_of_columns(units, raters, [values]) is None
    assert compare.rows_of_codes(_as_codes(units), _as_codes(raters), _as_codes(values)) is None


def test_a_connection_lost_during_the_packed_read_is_djangos_outage(packed_read, monkeypatch):
    """The packed read runs on psycopg's own cursor; its errors still come as Django's, which
    the worker's outage handling (`task_runs.DATABASE_OUTAGES`) recognises."""
    import psycopg
    from django.db import OperationalError

    study = _pairwise_study()
    question = study.questions.get()
    execute = psycopg.Cursor.execute

    def lost(cursor, *args, **kwargs):
        if kwargs.get("binary"):  # the packed read's; Django's own cursors ask for text
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return execute(cursor, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", lost)
    with pytest.raises(OperationalError) as lost:
        _code_columns(study, question, aggregated=True)
    assert isinstance(lost.value.__cause__, psycopg.OperationalError)


def test_the_packed_read_works_where_django_binds_on_the_client(packed_read, monkeypatch):
    """Behind PgBouncer (DATABASE_PREPARED_STATEMENTS=0) Django's cursors bind parameters on
    the client, and such a cursor cannot return binary results: the packed read uses a
    cursor of its own, and gives what the plain fetch gives."""
    import psycopg

    study = _pairwise_study()
    question = study.questions.get()
    connection.ensure_connection()
    monkeypatch.setattr(connection.connection, "cursor_factory", psycopg.ClientCursor)
    with connection.cursor() as cursor:
        assert isinstance(cursor.cursor, psycopg.ClientCursor)
    packed = _code_columns(study, question, aggregated=True)
    plain = _code_columns(study, question, aggregated=False)
    order = [np.lexsort(columns[::-1]) for columns in (packed, plain)]
    for mine, theirs in zip(packed, plain, strict=True):
        assert np.array_equal(mine[order[0]], theirs[order[1]])
    assert len(packed[0]) > 10


def test_a_row_that_does_not_pack_is_left_to_the_plain_fetch(packed_read):
    """A NULL in any column drops its row from the packed string (the schema rules one out
    today): the packed read then finds fewer rows than the query counted, and gives way to
    the plain fetch, which shows the row as it is."""
    from django.db.models import BigIntegerField, F, Value, When
    from django.db.models import Case as Choose
    from django.db.models.functions import Coalesce

    from annotation.services.statistics import rows as rows_module

    study = _pairwise_study()
    question = study.questions.get()
    answers = rows_module._coded_answers(study, question)
    first = answers.order_by("pk").values_list("pk", flat=True)[0]
    columns = (
        Coalesce("output__source_id", "assignment__item__output__source_id"),
        Coalesce("assignment__item__output_b__source_id", Value(rows_module.NO_ID)),
        "assignment__rater_id",
        "value",
        "whole_set",
    )
    whole = answers.values_list("assignment__item__output__case_id", *columns)
    assert rows_module._packed(whole) is not None
    one_null = Choose(
        When(pk=first, then=Value(None, output_field=BigIntegerField())),
        default=F("assignment__item__output__case_id"),
        output_field=BigIntegerField(),
    )
    assert rows_module._packed(answers.values_list(one_null, *columns)) is None


def test_a_tie_seen_flipped_is_one_code_for_raters_and_judges_alike(open_study):
    """-0.0 (a tie, or a zero, stored negated) and 0.0 are one code whichever reads them: its
    name no longer depends on which of the two the database returned first."""
    import math

    from annotation.models import JudgeRating, Rating
    from annotation.services.statistics.rows import judge_codes
    from tests.test_study_statistics import add_judge, rate_absolute

    rate_absolute(open_study)
    question = open_study.questions.get()
    answers = {
        (item.output.case.external_id, item.output.source.label): 1
        for item in open_study.items.select_related("output__case", "output__source")
    }
    judge = add_judge(open_study, "J", answers)
    Rating.objects.filter(question=question).update(value=-0.0)
    JudgeRating.objects.filter(verdict__judge=judge).update(value=-0.0)
    humans, _ = question_rows(open_study, question)
    values = [row[4] for row in humans + judge_codes(judge, question)]
    assert values
    assert all(math.copysign(1, value) == 1 for value in values)
    assert all(math.copysign(1, row[4]) == 1 for row in human_rows(open_study, question))
