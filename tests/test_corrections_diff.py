"""The word diff of a corrected output: a shortest diff when it can be found quickly, a coarse
but correct one otherwise, and a bounded cost for any text a rater may send."""

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.core import corrections, rubric


def _lcs(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence, by the textbook table."""
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0
        for j, y in enumerate(b, 1):
            diagonal, row[j] = row[j], diagonal + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def _check(original: str, corrected: str, ops: list[dict]) -> int:
    """Assert the ops cover both texts' words in order with equal ops really equal; return
    the number of words kept."""
    kept = 0
    for op in ops:
        old, new = original[slice(*op["a"])].split(), corrected[slice(*op["b"])].split()
        if op["op"] == "equal":
            assert old == new
            kept += len(old)
    assert [w for op in ops for w in original[slice(*op["a"])].split()] == original.split()
    assert [w for op in ops for w in corrected[slice(*op["b"])].split()] == corrected.split()
    return kept


def test_the_diff_keeps_as_many_words_as_any_diff_can():
    rng = random.Random(3)
    for _ in range(400):
        a = " ".join(rng.choice("abcd") for _ in range(rng.randint(0, 14)))
        b = " ".join(rng.choice("abcd") for _ in range(rng.randint(0, 14)))
        assert _check(a, b, corrections.diff(a, b)) == _lcs(a.split(), b.split())


def test_past_its_step_budget_the_diff_is_one_replacement_between_the_common_ends(monkeypatch):
    monkeypatch.setattr(corrections, "DIFF_STEPS", 3)
    original, corrected = "Take a b c d e daily.", "Take e d c b a daily."
    ops = corrections.diff(original, corrected)
    shown = [(op["op"], original[slice(*op["a"])], corrected[slice(*op["b"])]) for op in ops]
    assert shown == [
        ("equal", "Take", "Take"),
        ("replace", "a b c d e", "e d c b a"),
        ("equal", "daily.", "daily."),
    ]


def test_the_longest_correction_of_a_long_output_is_capped():
    assert rubric.correction_max("x" * 2000) == 5000
    assert rubric.correction_max("x" * 15000) == 20000
    assert rubric.correction_max("x" * 30000) == 31000
    spec = rubric.QuestionSpec(kind=rubric.CORRECTION, original="word " * 3000)
    with pytest.raises(rubric.AnswerError, match="At most 20000 characters"):
        rubric.parse_answer(spec, "x " * 10001)


def test_a_worst_case_correction_is_parsed_quickly_and_its_diff_is_right():
    # Few distinct words, repeated: the shape that makes a diff's search longest.
    rng = random.Random(0)
    original = " ".join(rng.choice(["a", "b", "the", "and"]) for _ in range(6700))[:20000]
    limit = rubric.correction_max(original)
    corrected = ("a b the " * limit)[: limit - 1]
    spec = rubric.QuestionSpec(kind=rubric.CORRECTION, original=original)
    began = time.perf_counter()
    answer = rubric.parse_answer(spec, corrected)
    assert time.perf_counter() - began < 5
    assert answer["text"] == corrected
    _check(original, corrected, answer["diff"])


def test_segments_show_no_text_that_is_in_neither_version():
    original, corrected = "\nac\n c b cbbcaa\naa bca ca \n", "b cb\nbc \nb\n  b"
    shown = corrections.segments(original, corrected, corrections.diff(original, corrected))
    assert "".join(text for tag, text in shown if tag != "del") == corrected
    assert "".join(text for tag, text in shown if tag != "ins") == original


# Few words and several kinds of space, so that words repeat and the spaces around them differ.
_texts = st.text(alphabet="ab c\n\t", max_size=40)


@given(original=_texts, corrected=_texts)
@settings(max_examples=400, deadline=None)
def test_segments_rebuild_each_version_exactly(original, corrected):
    shown = corrections.segments(original, corrected, corrections.diff(original, corrected))
    assert "".join(text for tag, text in shown if tag != "del") == corrected
    assert "".join(text for tag, text in shown if tag != "ins") == original
    assert all(text and tag in ("same", "del", "ins") for tag, text in shown)
    assert all(left[0] != right[0] for left, right in zip(shown, shown[1:], strict=False))
