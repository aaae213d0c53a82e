"""ratings.csv as the bundle reads it from PostgreSQL (selectors.ratings_rows.
study_ratings_csv_batches: the ratings sorted and their numbers packed there, the lines laid out
by NumPy) is byte for byte the Python formatting of the same rows (tables.csv_cells and
csv_chunks), on answers, values, times and orders chosen to trip it: text a spreadsheet would
run, quotes, commas, line breaks, unicode, lists and objects, fractions and numbers Python
writes in exponent notation, whole numbers past 64 bits. The columns gathered beside the lines
give the same ratings.sav and ratings.dta frame as the rows do."""

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import JSONField, Value

from annotation.core import columns as cols
from annotation.core import stat_files, tables
from annotation.demo import DEMO_TITLE, SIDE_BY_SIDE_TITLE
from annotation.models import Assignment, Rating, Study
from annotation.selectors import ratings_rows
from annotation.selectors.exports import study_question_rows, study_time_on_task
from tests.test_bundle_fast_paths import _studies

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not settings.POSTGRES,
        reason="the lines are PostgreSQL's: elsewhere ratings.csv has only the Python path, so "
        "there is no second path to compare (CI runs this on PostgreSQL)",
    ),
]

ANSWERS = [
    "a,b",
    'say "hi"',
    "line\nbreak",
    "cr\rhere",
    "\ttab",
    "-negative",
    "+plus",
    "@at",
    "=SUM(A1)",
    "",
    "  spaced  ",
    "é 😀 中文",
    "'quoted already",
    '"quoted start',
    ",",
    ",x",
    '"',
    "\nfoo",
    "\rbar",
    "long, " * 2000,  # a batch holding it is joined row by row (csv_lines.PADDING_LIMIT)
    -5,
    0,
    123456789012345678901234567890,
    0.0000001,
    2.5,
    -0.25,
    1e20,
    [1.5, "x", None],
    ["é", "=a"],
    [],
    {"k": "v", "n": 1.0},
    True,
    False,
    None,
    "na",
]
VALUES = [
    None,
    0.0,
    -0.0,
    1.0,
    -1.5,
    1e-5,
    0.0001,
    123.456,
    1e15,
    999999999999999.9,
    1e20,
    -2.5e-8,
    1 / 3,
    float("nan"),
    float("inf"),
]
MS = [0, 1, 10, 999, 1000, 1500, 12000, 123456, 2_147_483_647]
ORDERS = [[], [2, 0, 1], [0], [1, 0]]


def _tricky(study: Study) -> None:
    for n, rating in enumerate(Rating.objects.filter(assignment__study=study).order_by("pk")):
        answer = ANSWERS[n % len(ANSWERS)]
        Rating.objects.filter(pk=rating.pk).update(
            # JSON's null, not SQL's (an answer is never missing)
            answer=Value(None, JSONField()) if answer is None else answer,
            value=VALUES[n % len(VALUES)],
        )
    for n, assignment in enumerate(study.assignments.order_by("pk")):
        Assignment.objects.filter(pk=assignment.pk).update(time_on_task_ms=MS[n % len(MS)])


def _python_csv(study: Study) -> str:
    rows = ratings_rows.study_ratings_rows(study=study)
    return "".join(
        tables.csv_chunks(tables.csv_cells(rows, cols.RATINGS.columns), cols.RATINGS.names)
    )


def _postgresql_csv(study: Study, answers_of=()) -> tuple[str, list]:
    text, coded = tables.csv_header(cols.RATINGS.names), []
    for batch in ratings_rows.study_ratings_csv_batches(study=study, answers_of=answers_of):
        text += batch.data.decode()
        coded.append(batch.coded)
    return text, coded


def test_postgresql_writes_ratings_csv_as_python_does(monkeypatch):
    monkeypatch.setattr(ratings_rows, "CSV_BATCH", 7)  # many batches, some all Python's
    for study in _studies():
        if study.title == DEMO_TITLE:
            _tricky(study)
        if study.title == SIDE_BY_SIDE_TITLE:  # orders shown of every shape
            for n, assignment in enumerate(study.assignments.order_by("pk")):
                Assignment.objects.filter(pk=assignment.pk).update(order=ORDERS[n % len(ORDERS)])
        expected = _python_csv(study)
        written, _ = _postgresql_csv(study)
        assert expected.count("\r\n") > 50
        assert written == expected, study.title


@pytest.mark.parametrize("tricky", [False, True], ids=["as rated", "tricky answers"])
def test_the_columns_beside_the_lines_give_the_same_frame(monkeypatch, tricky):
    # Tricky: text, lists, "na", missing values and NaN against every kind of question, and
    # batches of 7, so that a batch starts and ends anywhere in an item.
    monkeypatch.setattr(ratings_rows, "CSV_BATCH", 7)
    study = next(s for s in _studies() if s.title == DEMO_TITLE)
    if tricky:
        _tricky(study)
    variables = stat_files.question_variables(list(study_question_rows(study=study)))
    texts = [v.question for v in variables if not v.numeric]
    assert texts  # the text questions' answers travel beside their lines
    answers_of = study.questions.filter(key__in=texts).values_list("pk", flat=True)
    _, batches = _postgresql_csv(study, list(answers_of))
    gathered = stat_files.RatingsColumns(variables)
    for coded in batches:
        gathered.add_coded(coded)
    expected = stat_files.RatingsColumns(variables)
    for row in ratings_rows.study_ratings_rows(study=study):
        expected.add(row)
    assert gathered.frame().equals(expected.frame())


def test_times_on_task_read_as_arrays_are_the_rows_times():
    study = next(s for s in _studies() if s.title == DEMO_TITLE)
    _tricky(study)
    times, unrecorded = ratings_rows.study_time_on_task_sorted(study=study)
    expected, expected_unrecorded = study_time_on_task(study=study)
    assert unrecorded == expected_unrecorded > 0
    assert list(times) == list(expected)
    assert {r: sorted(t) for r, t in times.items()} == {r: sorted(t) for r, t in expected.items()}
    assert times


def test_ratings_csv_is_the_same_where_django_binds_on_the_client(monkeypatch):
    """Behind PgBouncer (DATABASE_PREPARED_STATEMENTS=0) Django's cursors bind parameters on
    the client: the ratings' cursor, binary and named, is psycopg's own."""
    import psycopg

    monkeypatch.setattr(ratings_rows, "CSV_BATCH", 7)
    study = next(s for s in _studies() if s.title == DEMO_TITLE)
    _tricky(study)
    connection.ensure_connection()
    monkeypatch.setattr(connection.connection, "cursor_factory", psycopg.ClientCursor)
    with connection.cursor() as cursor:
        assert isinstance(cursor.cursor, psycopg.ClientCursor)
    written, _ = _postgresql_csv(study)
    assert written == _python_csv(study)


@pytest.mark.parametrize("fails", [False, True], ids=["written", "a batch fails"])
def test_no_cycle_collection_while_the_batches_are_read(monkeypatch, fails):
    """Each batch is thousands of new objects: the cycle collector, left on, walked everything
    the worker holds again and again (1.2 s of 3 s at a million ratings, issue 22). It is back
    on once ratings.csv is written, or has failed."""
    import gc
    import io

    from annotation.services.bundle_ratings import BundleRatings

    study = next(s for s in _studies() if s.title == DEMO_TITLE)
    collecting = []
    add_coded = stat_files.RatingsColumns.add_coded

    def add(self, coded):
        collecting.append(gc.isenabled())
        if fails:
            raise RuntimeError("a batch failed")
        return add_coded(self, coded)

    monkeypatch.setattr(stat_files.RatingsColumns, "add_coded", add)
    assert gc.isenabled()
    out = io.BytesIO()
    if fails:
        with pytest.raises(RuntimeError):
            BundleRatings(study).write_csv(out)
    else:
        BundleRatings(study).write_csv(out)
        assert out.getvalue().count(b"\r\n") > 50
    assert collecting
    assert not any(collecting)
    assert gc.isenabled()


def test_the_adjudicated_references_are_written_as_python_does(monkeypatch):
    """Decided references fill the two last cells of their item's ratings of their question
    (answers of every shape among them), the other items' two cells stay empty."""
    from django.utils import timezone

    from annotation.models import Adjudication, AdjudicationSelection
    from annotation.selectors.adjudication import reference_questions

    monkeypatch.setattr(ratings_rows, "CSV_BATCH", 7)
    study = next(s for s in _studies() if s.title == DEMO_TITLE)
    keys = [question.key for question in reference_questions(study=study)]
    assert keys
    admin = study.memberships.get(role="admin").user
    selection = AdjudicationSelection.objects.create(study=study, mode="all", created_by=admin)
    references = ["=cmd", "a,b", 'q"uote', 3, 2.5, ["x", "=y"], None]
    for n, item in enumerate(study.items.order_by("pk")[: len(references) * 2 : 2]):
        Adjudication.objects.create(
            study=study,
            item=item,
            selection=selection,
            answers={key: references[n] for key in keys},
            values={keys[0]: [1.0, -0.0, None, 1e20, 0.1, None, 3.0][n]},
            decided_at=timezone.now(),
        )
    expected = _python_csv(study)
    assert "'=cmd" in expected
    written, _ = _postgresql_csv(study)
    assert written == expected


def test_moments_past_pythons_calendar_are_written_as_postgresql_does():
    """The rows' moments are PostgreSQL's to_char: a year before 1000 in four digits, BC years,
    years past 9999, and the infinities as empty cells (Python's datetime holds none of these,
    so the lines cannot take them from it)."""
    study = next(s for s in _studies() if s.title == DEMO_TITLE)
    moments = [
        "0999-06-01 12:00:00.999999+00",
        "0001-01-01 00:00:00+00",
        "0044-03-15 10:30:00+00 BC",
        "10000-01-01 00:00:01+00",
        "infinity",
        "-infinity",
        "1999-12-31 23:59:59.999999+00",
    ]
    pks = list(
        Rating.objects.filter(assignment__study=study).order_by("pk").values_list("pk", flat=True)
    )
    with connection.cursor() as cursor:
        for n, moment in enumerate(moments):
            cursor.execute(
                "UPDATE annotation_rating SET created_at = %s::timestamptz, "
                "updated_at = %s::timestamptz WHERE id = %s",
                [moment, moments[-1 - n], pks[n]],
            )
    expected = _python_csv(study)
    assert "0999-06-01T12:00:00Z" in expected
    assert "0044-03-15T10:30:00Z" in expected
    written, _ = _postgresql_csv(study)
    assert written == expected
