"""The paper bundle's fast paths write the same files as the row-by-row code they replaced:
the unblinding key as plain values; ratings.csv from tuples the database reads (moments
formatted there, each JSON text and each text cell handled once) on the demo's three designs
(an absolute study with training, attention checks and hidden repeats; pairwise; side by side
with per-response questions) with answers of every kind; and ratings.sav and ratings.dta, whose
rows NumPy lays out (core/stat_data.py), as pyreadstat writes them."""

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from annotation import selectors
from annotation.core import rubric, stat_data, stat_files, tables
from annotation.demo import DEMO_TITLE, PAIRWISE_TITLE, SIDE_BY_SIDE_TITLE, load_demo
from annotation.models import Adjudication, Question, Rating, Study
from annotation.selectors.exports import RATINGS_ORDER, study_question_rows
from annotation.selectors.studies import study_rater_pseudonyms
from tests.factories import submit_rated
from tests.test_bundle import build

pytestmark = pytest.mark.django_db

# Answers of every shape a rating can hold, text a spreadsheet would run among them.
ANSWERS = [
    ("=HYPERLINK(1)", None),
    ("plain, with a comma", None),
    ('say "hi"\nthen go', None),
    (["warm", "=cold"], None),
    (True, 1.0),
    (False, 0.0),
    (4.5, 4.5),
    (3, 3.0),
    (rubric.NA, None),
    ({"spans": 1}, 1.0),
    ("-1", -1.0),
    ("é 😀", None),
    ("none", 0.0),
]
KINDS = [
    rubric.TEXT,
    rubric.MULTIPLE_CHOICE,
    rubric.YES_NO,
    rubric.NUMBER,
    rubric.CRITERIA,
]


def _old_rows(study: Study):
    """ratings.csv's rows as the bundle made them before: model objects, moments parsed and
    formatted in Python."""
    pseudonyms = study_rater_pseudonyms(study=study)
    references = _references(study)
    ratings = (
        Rating.objects.filter(assignment__study=study)
        .select_related("assignment__item", "question")
        .prefetch_related("assignment__item__members", "revisions")
        .order_by(*RATINGS_ORDER)
    )
    for r in ratings:
        a = r.assignment
        slots = {m.output_id: m.slot for m in a.item.members.all()}
        yield {
            "item_token": a.item.token,
            "rater": pseudonyms.get(a.rater_id, ""),
            "question": r.question.key,
            "answer": _answer_cell(r.answer),
            "value": r.value,
            "flipped": a.flipped,
            "shown_order": " ".join(map(str, a.order)),
            "output_slot": "" if r.output_id is None else slots[r.output_id],
            "kind": a.kind,
            "first_saved_at": tables.timestamp(r.created_at),
            "last_saved_at": tables.timestamp(r.updated_at),
            "revisions": len(r.revisions.all()),
            "submitted": a.submitted_at is not None,
            "time_on_task_seconds": a.time_on_task_ms / 1000 if a.time_on_task_ms else None,
            "session": a.session,
            "reference_answer": references.get((a.item_id, r.question.key), (None, None))[0],
            "reference_value": references.get((a.item_id, r.question.key), (None, None))[1],
        }


def _references(study: Study) -> dict:
    """The decided references by (item id, question key), read from the model: a list as
    JSON, as adjudications.csv writes it."""
    return {
        (a.item_id, key): (_answer_cell(answer), a.values.get(key))
        for a in Adjudication.objects.filter(study=study, decided_at__isnull=False)
        for key, answer in a.answers.items()
    }


def _old_csv(rows, columns) -> str:
    """The CSV as csv.DictWriter wrote it, each cell through `tables.csv_value`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: tables.csv_value(value) for key, value in row.items()})
    return buffer.getvalue()


def _every_kind(study: Study, *, per_output: bool) -> None:
    """Its own questions answered where unanswered, and a question of each other kind answered
    with each shape of answer in turn (side by side: about each response); a moment a
    microsecond short of the next second, and one not in UTC."""
    own = list(study.questions.all())
    asked = [
        Question.objects.create(study=study, key=f"q_{kind}", prompt=f"{kind}?", kind=kind, order=n)
        for n, kind in enumerate(KINDS, start=10)
    ]
    n = 0
    for assignment in study.assignments.order_by("pk").prefetch_related("item__members")[:40]:
        for question in own:
            Rating.objects.get_or_create(
                assignment=assignment, question=question, defaults={"answer": 1, "value": 1.0}
            )
        outputs = [m.output_id for m in assignment.item.members.all()] if per_output else [None]
        for question in asked:
            for output in outputs:
                answer, value = ANSWERS[n % len(ANSWERS)]
                Rating.objects.create(
                    assignment=assignment,
                    question=question,
                    output_id=output,
                    answer=answer,
                    value=value,
                )
                n += 1
    first = Rating.objects.filter(assignment__study=study).order_by("pk").first()
    Rating.objects.filter(pk=first.pk).update(
        created_at=datetime(2026, 3, 1, 9, 59, 59, 999999, tzinfo=UTC),
        updated_at=datetime.fromisoformat("2026-03-01T23:30:00.5-05:00"),
    )


def _answer_cell(answer: object) -> object:
    # An object (an omission answer) is JSON with sorted keys, as a list is JSON.
    if isinstance(answer, dict):
        return json.dumps(answer, sort_keys=True)
    return json.dumps(answer) if isinstance(answer, list) else answer


def _studies() -> list[Study]:
    load_demo()
    studies = []
    for title in (DEMO_TITLE, PAIRWISE_TITLE, SIDE_BY_SIDE_TITLE):
        study = Study.objects.get(title=title)
        _every_kind(study, per_output=title == SIDE_BY_SIDE_TITLE)
        submit_rated(study)
        studies.append(study)
    return studies


def test_ratings_csv_is_the_row_by_row_formatting(settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"
    studies = _studies()
    assert len(studies) == 3
    for study in studies:
        expected = _old_csv(_old_rows(study), selectors.RATINGS_COLUMNS)
        assert expected.count("\n") > 10
        written = build(study).read("ratings.csv").decode()
        assert written == expected, study.title
        # The API's and the download's rows, dicts from the same tuples: the same values.
        assert list(selectors.study_ratings_iter(study=study)) == list(_old_rows(study))
        # The whole unblinding key as plain values: the API's rows from model objects.
        items = selectors.study_unblinding_key_query(study=study)
        key = list(selectors.study_unblinding_key(study=study))
        assert key == list(selectors.unblinding_key_rows(items))
        assert len(key) == study.items.count()


def test_ratings_csv_makes_every_text_cell_inert():
    written = build_csv([("=x", "-y", True, None, 2.5, 3, ["=a"], "@z")])
    assert written.splitlines()[1] == "'=x,'-y,TRUE,,2.5,3,['=a'],'@z"


def build_csv(rows) -> str:
    columns = [tables.cols.Column(f"c{n}", tables.cols.STRING, "") for n in range(8)]
    cells = tables.csv_cells(rows, columns)
    return "".join(tables.csv_chunks(cells, [c.name for c in columns]))


@pytest.mark.parametrize("write", [stat_files.sav_bytes, stat_files.dta_bytes])
def test_stat_files_rows_laid_out_by_numpy_are_pyreadstats(write, monkeypatch):
    study = _studies()[0]
    variables = stat_files.question_variables(list(study_question_rows(study=study)))
    frame = stat_files.ratings_frame(selectors.study_ratings_iter(study=study), variables)
    monkeypatch.setattr(stat_files, "SPLICE_ROWS", 10**9)
    whole = write(frame, variables, file_label="Every kind")
    spliced = []
    real = stat_data.written_parts

    def spy(*args, **kwargs):
        spliced.append(real(*args, **kwargs))
        return spliced[-1]

    monkeypatch.setattr(stat_files, "SPLICE_ROWS", 0)
    monkeypatch.setattr(stat_data, "written_parts", spy)
    assert write(frame, variables, file_label="Every kind") == whole
    assert spliced
    assert spliced[0] is not None  # laid out here, not written by pyreadstat


@pytest.mark.parametrize("parts", [stat_files.sav_parts, stat_files.dta_parts])
def test_stat_files_rows_come_a_few_at_a_time_as_the_same_file(parts, monkeypatch):
    """The bundle writes ratings.sav and ratings.dta part by part, so that a million ratings'
    file (70 to 90 MB) is never whole in memory beside its frame (issue 22): the head, the rows
    `PART_ROWS` at a time, the rest; together the file made at once."""
    study = _studies()[0]
    variables = stat_files.question_variables(list(study_question_rows(study=study)))
    frame = stat_files.ratings_frame(selectors.study_ratings_iter(study=study), variables)
    monkeypatch.setattr(stat_files, "SPLICE_ROWS", 0)
    whole = b"".join(parts(frame, variables, file_label="Every kind"))
    monkeypatch.setattr(stat_data, "PART_ROWS", 3)
    found = list(parts(frame, variables, file_label="Every kind"))
    assert b"".join(found) == whole
    rows = found[1 : 1 + -(-len(frame) // 3)]  # after the head
    assert len(frame) > 6
    assert len(rows[0]) % 3 == 0
    assert sum(map(len, rows)) == len(rows[0]) // 3 * len(frame)  # three rows a part


def test_a_text_past_spss_limit_is_left_to_pyreadstat():
    import pandas as pd

    frame = pd.DataFrame({"text": pd.Series(["x" * 300, "y"], dtype=object)})
    assert stat_data.written(lambda f: b"", frame, stat_data.SAV, tags={}, value_labels={}) is None


@pytest.mark.parametrize("dtype", ["float64", "object"])
def test_a_number_stata_reads_as_missing_is_left_to_pyreadstat(dtype):
    """A number answer past Stata's largest double (a rater may type 1e308) would be laid out
    as its bits, which Stata reads as missing: pyreadstat, which refuses it, writes the file."""
    import pandas as pd

    frame = pd.DataFrame({"score": pd.Series([1.0, 1e308], dtype=dtype)})
    written = stat_data.written(
        lambda f: pytest.fail("no sample is written"),
        frame,
        stat_data.DTA,
        tags={},
        value_labels={},
    )
    assert written is None


def test_the_sample_checked_against_pyreadstat_holds_missing_and_tagged_values():
    import pandas as pd

    values = [1.0] * 50 + [None] * 50 + ["a"] * 50 + [2.0] * 50
    frame = pd.DataFrame({"score": pd.Series(values, dtype=object)})
    layout = stat_data._layout(frame, stat_data.DTA, {"score": ["a"]}, {})
    rows = stat_data._sample_rows(frame, layout, {"score": ["a"]})
    assert [values[row] for row in rows] == [1.0, None, "a"]
