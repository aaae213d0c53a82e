"""A case's expected answer from the import's columns (annotation.core.reading.answers): what
each column accepts, and every problem named by its column."""

import re

import pytest

from annotation.core.reading.answers import expected_for, parse_accepted, parse_number
from annotation.core.reading.scoring import (
    CHOICE,
    NUMBER,
    RANKED,
    RIGHT,
    TEXT,
    Accepted,
    Expected,
    ScoringError,
    score,
)


def test_accepted_answers_as_strings_and_objects_from_csv_text_or_jsonl():
    cell = '["Myocardial infarction", {"answer": "Pulmonary embolism", "synonyms": ["PE"]}]'
    expected = (Accepted("Myocardial infarction"), Accepted("Pulmonary embolism", ("PE",)))
    assert parse_accepted(cell) == (expected, "")
    jsonl = ["Myocardial infarction", {"answer": "Pulmonary embolism", "synonyms": ["PE"]}]
    assert parse_accepted(jsonl) == (expected, "")
    assert parse_accepted("") == ((), "")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("Pulmonary embolism", "must be a JSON list"),
        ("[]", "non-empty JSON list"),
        ('{"answer": "PE"}', "non-empty JSON list"),
        ("[3]", "answer 1: must be text or"),
        ('["a", {"answer": "b", "synonym": ["c"]}]', "answer 2: must be text or"),
        ('[{"answer": 5}]', '"answer" must be text'),
        ('[{"answer": "b", "synonyms": "c"}]', '"synonyms" must be a list of text'),
    ],
)
def test_bad_accepted_answers_are_a_problem(raw, problem):
    value, message = parse_accepted(raw)
    assert value == ()
    assert problem in message


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("7.5", (7.5, "")), (3, (3.0, "")), ("", (None, "")), (None, (None, ""))],
)
def test_numbers(raw, parsed):
    assert parse_number(raw) == parsed


@pytest.mark.parametrize("raw", ["seven", True, "nan", "inf", [1]])
def test_bad_numbers_are_a_problem(raw):
    value, problem = parse_number(raw)
    assert value is None
    assert "number" in problem


def test_expected_for_each_kind():
    pe = (Accepted("Pulmonary embolism", ("PE",)),)
    text = expected_for(kind=TEXT, accepted=pe, value=None, tolerance=None)
    assert score("pe", text).outcome == RIGHT
    ranked = expected_for(kind=RANKED, accepted=pe, value=None, tolerance=None, k=10)
    assert ranked == Expected(RANKED, pe, k=10)
    number = expected_for(kind=NUMBER, accepted=(), value=7.0, tolerance=None)
    assert (number.value, number.tolerance) == (7.0, 0.0)
    choice = expected_for(
        kind=CHOICE, accepted=(Accepted("b"),), value=None, tolerance=None, choices=("a", "b")
    )
    assert score("b", choice).outcome == RIGHT


@pytest.mark.parametrize(
    ("arguments", "column", "message"),
    [
        ({"kind": TEXT, "accepted": ()}, "accepted_answers", "at least one accepted answer"),
        ({"kind": NUMBER, "accepted": ()}, "expected_value", "finite expected value"),
        (
            {"kind": NUMBER, "accepted": (), "value": 1.0, "tolerance": -1.0},
            "tolerance",
            "0 or more",
        ),
        (
            {"kind": NUMBER, "accepted": (Accepted("7"),), "value": 7.0},
            "accepted_answers",
            "not answers",
        ),
        ({"kind": TEXT, "accepted": (Accepted("x"),), "value": 2.0}, "expected_value", "only"),
        ({"kind": TEXT, "accepted": (Accepted("x"),), "tolerance": 2.0}, "tolerance", "only"),
        (
            {"kind": CHOICE, "accepted": (Accepted("c"),), "choices": ("a", "b")},
            "accepted_answers",
            "not one of the question's choices (a, b)",
        ),
        (
            {"kind": CHOICE, "accepted": (Accepted("a", ("A",)),), "choices": ("a",)},
            "accepted_answers",
            "no synonyms",
        ),
        (
            {"kind": TEXT, "accepted": (Accepted("PE"), Accepted("Pleural effusion", ("pe",)))},
            "accepted_answers",
            "listed under 'PE' and 'Pleural effusion'",
        ),
    ],
)
def test_a_bad_expected_answer_names_its_import_column(arguments, column, message):
    arguments = {"value": None, "tolerance": None, **arguments}
    with pytest.raises(ScoringError, match=re.escape(message)) as e:
        expected_for(**arguments)
    assert e.value.field == column
