"""Scoring a reader's answer (annotation.core.reading.scoring): normalisation, exact match
against accepted answers and synonyms, numbers within a tolerance, ranked lists and top-k, and
a scorer's decision overriding the match."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotation.core.reading.scoring import (
    BY_MATCH,
    BY_SCORER,
    CHOICE,
    NUMBER,
    RANKED,
    RIGHT,
    TEXT,
    UNDECIDED,
    WRONG,
    Accepted,
    Decision,
    Expected,
    ScoringError,
    decide,
    normalise,
    score,
)

MI = Accepted("Myocardial infarction", ("heart attack", "STEMI"))
PE = Accepted("Pulmonary embolism", ("PE",))
DIAGNOSIS = Expected(TEXT, (MI,))
DIFFERENTIAL = Expected(RANKED, (MI, PE), k=5)


# --- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("  Myocardial   Infarction ", "myocardial infarction"),
        ("MYOCARDIAL\tinfarction.", "myocardial infarction"),
        ("Type-2 diabetes", "type 2 diabetes"),
        ("type 2 diabetes (T2DM)", "type 2 diabetes t2dm"),
        ("Crohn's disease", "crohns disease"),
        ("Crohn\u2019s disease", "crohns disease"),
        ("\uff33\uff34\uff25\uff2d\uff29", "stemi"),  # full-width letters, NFKC
        ("\u2460 lesion", "1 lesion"),  # circled one, NFKC
        ("Stra\u00dfe", "strasse"),  # case folding, not just lower-casing
        ("HER2-", "her2-"),
        ("HER2\u2212 tumour", "her2- tumour"),  # a minus sign ending a word is kept
        ("HER2+", "her2+"),
        ("", ""),
        (" ... ", ""),
    ],
)
def test_normalise(raw, normal):
    assert normalise(raw) == normal


def test_normalise_keeps_a_sign_apart_from_its_absence():
    assert normalise("HER2-") != normalise("HER2")
    assert normalise("HER2-") != normalise("HER2+")


def test_normalise_separates_at_punctuation_rather_than_joining():
    assert normalise("3.5 cm") != normalise("35 cm")
    assert normalise("P.E.") == "p e"
    assert Expected(TEXT, (PE,)).match("P.E.") is None  # left to a scorer, never a false match


def test_normalise_does_not_expand_abbreviations():
    assert normalise("MI") == "mi"
    assert DIAGNOSIS.match("MI") is None


@given(st.text(max_size=40))
def test_normalise_is_idempotent(text):
    assert normalise(normalise(text)) == normalise(text)


# --- text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "outcome", "matched"),
    [
        ("myocardial infarction", RIGHT, "Myocardial infarction"),
        ("Heart-attack!", RIGHT, "Myocardial infarction"),
        ("stemi", RIGHT, "Myocardial infarction"),
        ("acute myocardial infarction", UNDECIDED, None),  # not a listed wording: a scorer says
        ("MI", UNDECIDED, None),
        ("   ", WRONG, None),
    ],
)
def test_text_answer(answer, outcome, matched):
    result = score(answer, DIAGNOSIS)
    assert (result.outcome, result.matched, result.by) == (outcome, matched, BY_MATCH)


def test_a_text_answer_that_is_not_text_is_refused():
    with pytest.raises(ScoringError) as error:
        score(3, DIAGNOSIS)
    assert error.value.field == "answer"


# --- choices and numbers are always decided --------------------------------------------------


def test_choice_answer_is_right_or_wrong_by_value():
    expected = Expected(CHOICE, (Accepted("b"),))
    assert score("b", expected).outcome == RIGHT
    assert score("a", expected).outcome == WRONG
    # A choice is its value, not text: no normalisation.
    assert score("B", expected).outcome == WRONG


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [(7.0, RIGHT), (6.5, RIGHT), (7.5, RIGHT), (7.51, WRONG), (6.4, WRONG), (8, WRONG)],
)
def test_number_within_tolerance_inclusive(answer, outcome):
    assert score(answer, Expected(NUMBER, value=7.0, tolerance=0.5)).outcome == outcome


def test_number_with_zero_tolerance_allows_binary_rounding():
    expected = Expected(NUMBER, value=0.3, tolerance=0.0)
    assert score(0.1 + 0.2, expected).outcome == RIGHT
    assert score(0.3001, expected).outcome == WRONG


@pytest.mark.parametrize("answer", ["7", True, float("nan"), float("inf"), None])
def test_a_number_answer_that_is_not_a_finite_number_is_refused(answer):
    with pytest.raises(ScoringError, match="finite number"):
        score(answer, Expected(NUMBER, value=7.0))


# --- ranked lists ----------------------------------------------------------------------------


def test_ranked_list_right_with_rank_of_first_match():
    result = score(
        ["Aortic dissection", "pericarditis", "pulmonary-embolism", "heart attack"], DIFFERENTIAL
    )
    assert (result.outcome, result.rank, result.matched) == (RIGHT, 3, "Pulmonary embolism")
    assert result.length == 4
    # Top-j: right from j = 3; below, the unmatched entries may be unlisted wordings.
    assert [result.at(j) for j in (1, 2, 3, 5)] == [UNDECIDED, UNDECIDED, RIGHT, RIGHT]


def test_ranked_list_first_entry_right_is_right_at_every_k():
    result = score(["stemi", "pericarditis"], DIFFERENTIAL)
    assert result.rank == 1
    assert [result.at(j) for j in (1, 2, 10)] == [RIGHT, RIGHT, RIGHT]


def test_ranked_list_without_a_match_is_undecided_and_an_empty_one_wrong():
    result = score(["pericarditis", "GERD"], DIFFERENTIAL)
    assert (result.outcome, result.rank) == (UNDECIDED, None)
    assert result.at(1) == UNDECIDED
    empty = score([], DIFFERENTIAL)
    assert (empty.outcome, empty.at(3)) == (WRONG, WRONG)


def test_ranked_list_longer_than_k_or_with_a_blank_entry_is_refused():
    with pytest.raises(ScoringError, match="at most 5"):
        score(["a", "b", "c", "d", "e", "f"], DIFFERENTIAL)
    with pytest.raises(ScoringError, match="empty entry"):
        score(["a", " - "], DIFFERENTIAL)
    with pytest.raises(ScoringError, match="list"):
        score("heart attack", DIFFERENTIAL)


# --- a scorer's decision overrides -----------------------------------------------------------


def test_scorer_decides_an_undecided_text_answer():
    undecided = score("acute MI", DIAGNOSIS)
    right = decide(undecided, Decision(right=True))
    assert (right.outcome, right.by) == (RIGHT, BY_SCORER)
    assert decide(undecided, Decision(right=False)).outcome == WRONG


def test_scorer_overrides_a_match():
    matched = score("heart attack", DIAGNOSIS)
    overruled = decide(matched, Decision(right=False))
    assert (overruled.outcome, overruled.matched, overruled.by) == (WRONG, None, BY_SCORER)


def test_top_j_is_for_ranked_lists_only():
    with pytest.raises(ValueError, match="ranked lists"):
        score("heart attack", DIAGNOSIS).at(1)
    with pytest.raises(ValueError, match="1 or more"):
        score(["stemi"], DIFFERENTIAL).at(0)


def test_scorer_decides_a_ranked_list_by_rank():
    result = score(["pericarditis", "acute MI", "PE"], DIFFERENTIAL)
    assert result.rank == 3
    decided = decide(result, Decision(rank=2))
    assert (decided.outcome, decided.rank, decided.by) == (RIGHT, 2, BY_SCORER)
    assert [decided.at(j) for j in (1, 2)] == [WRONG, RIGHT]  # a scorer's list is settled
    none = decide(score(["GERD"], DIFFERENTIAL), Decision(rank=None))
    assert (none.outcome, none.at(1)) == (WRONG, WRONG)


def test_scorer_decision_must_fit_the_answer():
    ranked = score(["GERD", "pericarditis"], DIFFERENTIAL)
    with pytest.raises(ScoringError, match="not an entry"):
        decide(ranked, Decision(rank=3))
    with pytest.raises(ScoringError, match="follow from its rank"):
        decide(ranked, Decision(right=True, rank=None))
    with pytest.raises(ScoringError, match="without a rank"):
        decide(score("acute MI", DIAGNOSIS), Decision(right=True, rank=1))
    with pytest.raises(ScoringError, match="without a rank"):
        decide(score("acute MI", DIAGNOSIS), Decision())


# --- the expected answer is checked ----------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"kind": "essay"}, "kind"),
        ({"kind": TEXT}, "accepted"),
        ({"kind": TEXT, "accepted": (Accepted("ok", ("...",)),)}, "accepted"),
        ({"kind": RANKED, "accepted": (MI,)}, "k"),
        ({"kind": RANKED, "accepted": (MI,), "k": 0}, "k"),
        ({"kind": NUMBER}, "value"),
        ({"kind": NUMBER, "value": 1.0, "tolerance": -0.1}, "tolerance"),
        ({"kind": NUMBER, "value": float("nan")}, "value"),
    ],
)
def test_a_bad_expected_answer_names_its_field(arguments, field):
    with pytest.raises(ScoringError) as error:
        Expected(**arguments)
    assert error.value.field == field


@given(
    st.lists(st.sampled_from(["GERD", "P.E.", "angina", "stemi", "costochondritis"]), max_size=5)
)
def test_ranked_outcome_agrees_with_a_plain_search(entries):
    """Right exactly when some entry is, word for word after normalising, a listed wording."""
    wordings = {normalise(w) for a in DIFFERENTIAL.accepted for w in a.wordings}
    hits = [i for i, entry in enumerate(entries, start=1) if normalise(entry) in wordings]
    result = score(entries, DIFFERENTIAL)
    assert result.rank == (hits[0] if hits else None)
    assert result.outcome == (RIGHT if hits else UNDECIDED if entries else WRONG)
