"""Assisted reading, import: the accepted_answers, expected_value and tolerance columns,
checked alone (parse) and against the study's answer question; a bad file is rejected whole,
row and column named."""

import json

import pytest

from annotation import services
from annotation.core.importing import ImportRejected, parse_study_file
from annotation.models import Case, Study


def _jsonl(*rows: dict) -> bytes:
    return "\n".join(json.dumps(row) for row in rows).encode()


def test_the_columns_parse_from_jsonl_and_csv():
    [row] = parse_study_file(
        "a.jsonl",
        _jsonl({"case_id": "c", "input": "Q", "accepted_answers": ["PE", {"answer": "MI"}]}),
    )
    assert row.accepted_answers == [
        {"answer": "PE", "synonyms": []},
        {"answer": "MI", "synonyms": []},
    ]
    csv = b"case_id,input,expected_value,tolerance\nc,Q,7.5,0.5\n"
    [row] = parse_study_file("a.csv", csv)
    assert (row.expected_value, row.tolerance) == (7.5, 0.5)


def test_bad_cells_are_refused_by_row_and_column():
    bad = _jsonl(
        {"case_id": "a", "input": "Q", "accepted_answers": "not json"},
        {"case_id": "b", "input": "Q", "accepted_answers": [{"answer": "x", "extra": 1}]},
        {"case_id": "c", "input": "Q", "expected_value": "seven"},
        {"case_id": "d", "input": "Q", "tolerance": -1},
        {"case_id": "e", "input": "Q", "accepted_answers": ["PE"]},
        {"case_id": "e", "input": "Q", "accepted_answers": ["MI"]},
    )
    with pytest.raises(ImportRejected) as caught:
        parse_study_file("bad.jsonl", bad)
    assert [str(p) for p in caught.value.problems] == [
        "bad.jsonl, row 1, field 'accepted_answers': "
        'must be a JSON list, e.g. ["Pulmonary embolism", "PE"]',
        "bad.jsonl, row 2, field 'accepted_answers': "
        'answer 1: must be text or {"answer": "...", "synonyms": [...]}',
        "bad.jsonl, row 3, field 'expected_value': must be a number, not 'seven'",
        "bad.jsonl, row 4, field 'tolerance': must be 0 or more",
        "bad.jsonl, row 6, field 'accepted_answers': differs from row 5 for the same case_id",
    ]


def _reading(study_admin, answer_kind: str, **question) -> Study:
    return services.reading_study_create(
        creator=study_admin,
        title="Reading",
        layout="sequential",
        answer_kind=answer_kind,
        prompt="Your answer",
        **question,
    )


@pytest.mark.django_db
def test_the_expected_answer_must_fit_the_answer_question(study_admin):
    choices = [{"value": "benign", "label": "Benign"}, {"value": "malignant", "label": "Malignant"}]
    study = _reading(study_admin, "choice", choices=choices)
    content = _jsonl(
        {
            "case_id": "a",
            "input": "Q",
            "source": "M",
            "output": "o",
            "accepted_answers": ["benign"],
        },
        {"case_id": "b", "input": "Q", "source": "M", "output": "o", "accepted_answers": ["cyst"]},
        {"case_id": "c", "input": "Q", "source": "M", "output": "o", "expected_value": 3},
    )
    with pytest.raises(ImportRejected) as caught:
        services.study_import_file(study=study, filename="cases.jsonl", content=content)
    assert [str(p) for p in caught.value.problems] == [
        "cases.jsonl, row 2, field 'accepted_answers': "
        "'cyst' is not one of the question's choices (benign, malignant)",
        "cases.jsonl, row 3, field 'expected_value': "
        "only a number answer takes a value and tolerance",
    ]
    assert not Case.objects.filter(study=study).exists()  # rejected whole


@pytest.mark.django_db
def test_a_number_answer_takes_its_value_and_tolerance(study_admin):
    study = _reading(study_admin, "number")
    content = _jsonl(
        {"case_id": "a", "input": "Q", "source": "M", "output": "o", "expected_value": 0},
        {"case_id": "a", "input": "Q", "source": "N", "output": "p", "tolerance": 0.5},
        {"case_id": "b", "input": "Q", "source": "M", "output": "o", "accepted_answers": ["4"]},
    )
    with pytest.raises(ImportRejected) as caught:
        services.study_import_file(study=study, filename="n.jsonl", content=content)
    assert [str(p) for p in caught.value.problems] == [
        "n.jsonl, row 3, field 'accepted_answers': a number answer takes expected_value, "
        "not answers",
    ]
    services.study_import_file(study=study, filename="n.jsonl", content=content.rsplit(b"\n", 1)[0])
    case = Case.objects.get(study=study, external_id="a")
    assert (case.expected_value, case.tolerance) == (0.0, 0.5)


@pytest.mark.django_db
def test_a_study_without_an_answer_question_refuses_the_columns(draft_study):
    content = _jsonl({"case_id": "z", "input": "Q", "accepted_answers": ["PE"]})
    with pytest.raises(ImportRejected) as caught:
        services.study_import_file(study=draft_study, filename="x.jsonl", content=content)
    assert [str(p) for p in caught.value.problems] == [
        "x.jsonl, row 1, field 'accepted_answers': "
        "the study has no answer question to score against"
    ]


@pytest.mark.django_db
def test_a_stored_case_keeps_its_accepted_answers(study_admin):
    study = _reading(study_admin, "text")
    row = {"case_id": "a", "input": "Q", "source": "M", "output": "o", "accepted_answers": ["PE"]}
    services.study_import_file(study=study, filename="one.jsonl", content=_jsonl(row))
    changed = {**row, "source": "N", "accepted_answers": ["MI"]}
    with pytest.raises(ImportRejected) as caught:
        services.study_import_file(study=study, filename="two.jsonl", content=_jsonl(changed))
    assert [str(p) for p in caught.value.problems] == [
        "two.jsonl, row 1, field 'accepted_answers': "
        "differs from the accepted_answers stored for case 'a'"
    ]
