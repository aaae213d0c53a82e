"""The corrected-output core: diff, Levenshtein distances and edit rate, checked against a
naive recursive definition and published examples."""

import random
from functools import cache

import pytest

from annotation.core import corrections


def _naive(a, b) -> int:
    """The textbook recursion, memoised: independent of the bit-parallel algorithm."""

    @cache
    def d(i: int, j: int) -> int:
        if i == 0 or j == 0:
            return i + j
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))

    return d(len(a), len(b))


def _table(a, b) -> int:
    """Wagner-Fischer's full table, row by row: for texts too long to recurse over."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("intention", "execution", 5),
        ("", "abc", 3),
        ("abc", "", 3),
        ("same", "same", 0),
    ],
)
def test_levenshtein_matches_published_examples(a, b, expected):
    assert corrections.levenshtein(a, b) == expected


def test_levenshtein_matches_the_naive_recursion_on_random_strings():
    rng = random.Random(7)
    for _ in range(400):
        a = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 12)))
        b = "".join(rng.choice("abcd") for _ in range(rng.randint(0, 12)))
        assert corrections.levenshtein(a, b) == _naive(a, b), (a, b)


def test_levenshtein_on_word_lists_and_long_texts():
    rng = random.Random(3)
    vocabulary = ["aspirin", "dose", "mg", "daily", "twice", "stop", "the"]
    for _ in range(100):
        a = [rng.choice(vocabulary) for _ in range(rng.randint(0, 9))]
        b = [rng.choice(vocabulary) for _ in range(rng.randint(0, 9))]
        assert corrections.levenshtein(a, b) == _naive(tuple(a), tuple(b))
    # Longer than a machine word: the bit vector spans many words of 64 bits.
    a = "".join(rng.choice("acgt") for _ in range(300))
    b = a[:100] + "tt" + a[105:250] + a[260:]
    assert corrections.levenshtein(a, b) == _table(a, b)
    c = "".join(rng.choice("acgt") for _ in range(200))
    assert corrections.levenshtein(a, c) == _table(a, c)


def test_distance_counts_characters_words_and_the_rate():
    found = corrections.distance("Take 5 mg of aspirin daily.", "Take 75 mg aspirin daily.")
    assert found.chars == _naive("Take 5 mg of aspirin daily.", "Take 75 mg aspirin daily.")
    assert found.chars == 4  # "7" in, "of " out
    assert found.words == 2  # "5" -> "75", "of" out
    assert found.original_words == 6
    assert found.rate == pytest.approx(2 / 6)
    assert not found.unchanged


def test_an_unchanged_text_is_accepted_whatever_its_line_endings():
    found = corrections.distance("Line one.\r\nLine two.", "Line one.\nLine two.")
    assert (found.unchanged, found.rate, found.words) == (True, 0.0, 0)


def test_a_changed_space_is_an_edit_of_characters_not_of_words():
    found = corrections.distance("a b", "a  b")
    assert (found.chars, found.words, found.unchanged) == (1, 0, False)


def test_the_rate_of_an_original_without_words():
    assert corrections.distance("", "").rate == 0.0
    assert corrections.distance("  ", "new text").rate is None


def test_diff_operations_carry_character_offsets_into_both_texts():
    original, corrected = "Give 5 mg of aspirin now.", "Give 75 mg aspirin now, with food."
    ops = corrections.diff(original, corrected)
    shown = [(op["op"], original[slice(*op["a"])], corrected[slice(*op["b"])]) for op in ops]
    assert shown == [
        ("equal", "Give", "Give"),
        ("replace", "5", "75"),
        ("equal", "mg", "mg"),
        ("delete", "of", ""),
        ("replace", "aspirin now.", "aspirin now, with food."),
    ] or shown == [
        ("equal", "Give", "Give"),
        ("replace", "5", "75"),
        ("equal", "mg", "mg"),
        ("delete", "of", ""),
        ("equal", "aspirin", "aspirin"),
        ("replace", "now.", "now, with food."),
    ]


def test_diff_rebuilds_the_corrected_words_from_the_operations():
    rng = random.Random(11)
    vocabulary = ["dose", "mg", "daily", "stop", "the", "5", "10"]
    for _ in range(200):
        a = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 8)))
        b = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 8)))
        ops = corrections.diff(a, b)
        rebuilt = []
        for op in ops:
            assert op["op"] in corrections.OPS
            source = b[slice(*op["b"])] if op["op"] != "equal" else a[slice(*op["a"])]
            rebuilt += source.split()
        assert rebuilt == b.split()
        assert [w for op in ops for w in a[slice(*op["a"])].split()] == a.split()


def test_an_insert_at_the_end_points_past_the_original():
    ops = corrections.diff("Stop.", "Stop. Call us.")
    assert ops[-1] == {"op": "insert", "a": [5, 5], "b": [6, 14]}


def test_segments_show_the_corrected_text_with_deletions_marked():
    original, corrected = "Give 5 mg of aspirin.", "Give 75 mg aspirin."
    ops = corrections.diff(original, corrected)
    assert corrections.segments(original, corrected, ops) == [
        ("same", "Give "),
        ("del", "5"),
        ("ins", "75"),
        ("same", " mg "),
        ("del", "of "),
        ("same", "aspirin."),
    ]


def test_segments_rebuild_both_texts_word_for_word():
    rng = random.Random(5)
    vocabulary = ["dose", "mg", "daily", "stop", "the", "5"]
    for _ in range(200):
        a = "\n".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 8)))
        b = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 8)))
        shown = corrections.segments(a, b, corrections.diff(a, b))
        assert "".join(t for tag, t in shown if tag != "del").split() == b.split()
        assert [w for tag, t in shown if tag != "ins" for w in t.split()] == a.split()
