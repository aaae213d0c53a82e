"""Question kinds: what each accepts, what it refuses, and the number statistics read."""

import pytest

from annotation.core import rubric
from annotation.core.rubric import AnswerError, QuestionSpec

FIVE = tuple({"value": v, "label": f"p{v}"} for v in range(1, 6))
CHOICES = ({"value": "aligned", "label": "Aligned"}, {"value": "opposed", "label": "Opposed"})


@pytest.mark.parametrize(
    ("spec", "raw", "stored", "code"),
    [
        (QuestionSpec(rubric.LIKERT, FIVE), 4, 4, 4.0),
        (QuestionSpec(rubric.LIKERT, FIVE), "2", 2, 2.0),  # from a form
        (QuestionSpec(rubric.LIKERT, FIVE, allow_na=True), "na", "na", None),
        (QuestionSpec(rubric.SINGLE_CHOICE, CHOICES), "opposed", "opposed", 1.0),
        (
            QuestionSpec(rubric.MULTIPLE_CHOICE, CHOICES),
            ["opposed", "aligned"],
            ["aligned", "opposed"],
            None,
        ),
        (QuestionSpec(rubric.YES_NO), "yes", "yes", 1.0),
        (QuestionSpec(rubric.YES_NO), "no", "no", 0.0),
        (QuestionSpec(rubric.NUMBER, minimum=0, maximum=10), "7.5", 7.5, 7.5),
        (QuestionSpec(rubric.TEXT), "  Omits the dose.  ", "Omits the dose.", None),
    ],
)
def test_answers_are_stored_canonically_with_their_code(spec, raw, stored, code):
    answer = rubric.parse_answer(spec, raw)
    assert answer == stored
    assert rubric.numeric_code(spec, answer) == code


@pytest.mark.parametrize(
    ("spec", "raw", "message"),
    [
        (QuestionSpec(rubric.LIKERT, FIVE), 6, "not a point on this question's scale"),
        (QuestionSpec(rubric.LIKERT, FIVE), True, "not a point"),
        (QuestionSpec(rubric.LIKERT, FIVE), "na", "no 'not applicable'"),
        (QuestionSpec(rubric.SINGLE_CHOICE, CHOICES), "maybe", "Choose one of: aligned, opposed"),
        (QuestionSpec(rubric.MULTIPLE_CHOICE, CHOICES), "aligned", "Tick any of"),
        (QuestionSpec(rubric.YES_NO), "perhaps", "Choose one of: yes, no"),
        (QuestionSpec(rubric.NUMBER, minimum=0, maximum=10), 11, "largest allowed answer is 10"),
        (QuestionSpec(rubric.NUMBER, minimum=0, maximum=10), -1, "smallest allowed answer is 0"),
        (QuestionSpec(rubric.NUMBER), "nan", "not a number"),
        (QuestionSpec(rubric.NUMBER), "ten", "not a number"),
        (QuestionSpec(rubric.TEXT), "x" * 5001, "At most 5000 characters"),
        (QuestionSpec(rubric.TEXT), 5, "must be text"),
    ],
)
def test_answers_that_do_not_fit_are_refused(spec, raw, message):
    with pytest.raises(AnswerError, match=message):
        rubric.parse_answer(spec, raw)


@pytest.mark.parametrize(
    ("spec", "level", "message"),
    [
        (QuestionSpec(rubric.LIKERT, FIVE[:1]), "ordinal", "at least two points"),
        (QuestionSpec(rubric.LIKERT, FIVE[::-1]), "ordinal", "lowest to highest"),
        (QuestionSpec(rubric.SINGLE_CHOICE, CHOICES * 2), "nominal", "listed once"),
        (
            QuestionSpec(rubric.SINGLE_CHOICE, ({"value": "na", "label": "x"}, *CHOICES)),
            "nominal",
            "reserved",
        ),
        (QuestionSpec(rubric.TEXT), "ordinal", "analysed as: none"),
        (QuestionSpec(rubric.NUMBER), "nominal", "analysed as: interval, ratio"),
        (QuestionSpec(rubric.YES_NO, FIVE), "nominal", "takes no scale"),
        (QuestionSpec(rubric.NUMBER, minimum=5, maximum=5), "interval", "below the maximum"),
    ],
)
def test_questions_that_cannot_work_are_refused(spec, level, message):
    with pytest.raises(AnswerError, match=message):
        rubric.check_spec(spec, level)


def test_value_domains_cover_every_code():
    assert rubric.value_domain(QuestionSpec(rubric.LIKERT, FIVE)) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert rubric.value_domain(QuestionSpec(rubric.YES_NO)) == [0.0, 1.0]
    assert rubric.value_domain(QuestionSpec(rubric.SINGLE_CHOICE, CHOICES)) == [0.0, 1.0]
    assert rubric.value_domain(QuestionSpec(rubric.NUMBER)) is None


def test_free_text_has_no_not_applicable_and_number_limits_must_be_numbers():
    with pytest.raises(AnswerError, match="leave it empty"):
        rubric.check_spec(QuestionSpec(rubric.TEXT, allow_na=True), "")
    with pytest.raises(AnswerError, match="must be numbers"):
        rubric.check_spec(QuestionSpec(rubric.NUMBER, minimum="0", maximum=10), "interval")
    # A free-text answer that happens to read "na" is text, since text never offers "na".
    assert rubric.parse_answer(QuestionSpec(rubric.TEXT), "na") == "na"
    assert rubric.numeric_code(QuestionSpec(rubric.TEXT), "na") is None


def test_template_flags_must_be_true_or_false():
    data = {"questions": [{"key": "x", "prompt": "X?", "kind": "yes_no", "allow_na": "false"}]}
    with pytest.raises(AnswerError, match="allow_na must be true or false"):
        rubric.parse_template("t.yaml", data)
