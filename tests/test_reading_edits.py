"""What a reader changed from their unassisted to their assisted answer
(annotation.core.reading.edits)."""

import pytest

from annotation.core.reading.edits import AnswerChange, answer_change
from annotation.core.reading.scoring import CHOICE, NUMBER, RANKED, TEXT, ScoringError


def test_ranked_list_additions_removals_and_moves():
    before = ["Pericarditis", "GERD", "Costochondritis"]
    after = ["pulmonary embolism", "pericarditis", "costochondritis"]
    assert answer_change(before, after, kind=RANKED) == AnswerChange(
        True,
        added=("pulmonary embolism",),
        removed=("gerd",),
        moved=("pericarditis",),  # rank 1 to 2; costochondritis stays third
    )


def test_ranked_list_rewritten_only_in_case_or_punctuation_is_unchanged():
    assert answer_change(["GERD", "Type-2 diabetes"], ["gerd", "type 2 diabetes"], kind=RANKED) == (
        AnswerChange(False)
    )


def test_ranked_list_reordered_only():
    change = answer_change(["a", "b"], ["b", "a"], kind=RANKED)
    assert change == AnswerChange(True, moved=("b", "a"))


@pytest.mark.parametrize(
    ("kind", "before", "after", "changed"),
    [
        (TEXT, "Heart attack", "heart-attack", False),
        (TEXT, "Heart attack", "Myocardial infarction", True),
        (CHOICE, "a", "a", False),
        (CHOICE, "a", "A", True),
        (NUMBER, 7.0, 7, False),
        (NUMBER, 7.0, 7.5, True),
    ],
)
def test_other_answers_change_or_not(kind, before, after, changed):
    assert answer_change(before, after, kind=kind) == AnswerChange(changed)


def test_bad_kinds_and_lists_are_refused():
    with pytest.raises(ScoringError, match="unknown answer kind"):
        answer_change("a", "b", kind="essay")
    with pytest.raises(ScoringError, match="list of entries"):
        answer_change("a", ["a"], kind=RANKED)
