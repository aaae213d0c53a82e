"""The disagreement rules shared by adjudication and adaptive allocation."""

import pytest

from annotation.core import disagreement
from annotation.core.disagreement import Rule, RuleError


def test_range_rule_counts_a_span_equal_to_the_threshold():
    rule = Rule(kind="range", question="accuracy", threshold=2)
    assert disagrees(rule, codes=[2, 4])
    assert disagrees(rule, codes=[5, 3, 4])
    assert not disagrees(rule, codes=[3, 4, 4])


def test_range_rule_ignores_answers_without_a_code_and_needs_two():
    rule = Rule(kind="range", question="accuracy", threshold=1)
    assert not disagrees(rule, codes=[1, None])
    assert not disagrees(rule, codes=[])
    assert disagrees(rule, codes=[1, None, 2])


def test_no_majority_needs_more_than_half():
    rule = Rule(kind="no_majority", question="verdict")
    assert disagreement.disagrees(rule, ["a", "b"], [None, None])
    assert disagreement.disagrees(rule, ["a", "a", "b", "b"], [None] * 4)
    assert not disagreement.disagrees(rule, ["a", "a", "b"], [None] * 3)
    assert not disagreement.disagrees(rule, ["a"], [None])


def test_any_value_reads_inside_multiple_choice_answers():
    rule = Rule(kind="any_value", question="harm", values=("severe",))
    assert disagreement.disagrees(rule, ["none", ["minor", "severe"]], [None, None])
    assert not disagreement.disagrees(rule, ["none", ["minor"]], [None, None])
    assert disagreement.disagrees(rule, ["severe"], [None])


def test_majority_treats_integral_floats_as_their_integer():
    assert disagreement.majority([3, 3.0, 4]) == 3
    assert disagreement.majority([{"b": 1, "a": 2}, {"a": 2, "b": 1}, "x"]) == {"a": 2, "b": 1}
    assert disagreement.majority([1, 2]) is None
    assert disagreement.majority([]) is None
    assert disagreement.same_answer(2, 2.0)
    assert not disagreement.same_answer("2", 2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "spread", "question": "q"}, "Unknown disagreement rule"),
        ({"kind": "range", "question": ""}, "needs the question"),
        ({"kind": "range", "question": "q", "threshold": "2"}, "number as its threshold"),
        ({"kind": "range", "question": "q", "threshold": True}, "number as its threshold"),
        ({"kind": "range", "question": "q", "threshold": 0}, "positive"),
        ({"kind": "range", "question": "q", "threshold": float("nan")}, "positive"),
        ({"kind": "any_value", "question": "q", "values": []}, "at least one flagged"),
        ({"kind": "any_value", "question": "q", "values": "x"}, "must be a list"),
        (["range"], "must be an object"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(data, message):
    with pytest.raises(RuleError, match=message):
        disagreement.rule_from_dict(data)


def test_a_rule_survives_its_json_form():
    for rule in (
        Rule(kind="range", question="q", threshold=1.5),
        Rule(kind="no_majority", question="q"),
        Rule(kind="any_value", question="q", values=("harm", 1)),
    ):
        assert disagreement.rule_from_dict(rule.as_dict()) == rule


def test_rules_are_described_in_words():
    assert (
        disagreement.describe(Rule(kind="range", question="accuracy", threshold=2))
        == "answers to 'accuracy' span 2 or more points"
    )
    assert "more than half" in disagreement.describe(Rule(kind="no_majority", question="v"))
    assert disagreement.describe(Rule(kind="any_value", question="harm", values=("severe",))) == (
        "a rater answered 'harm' with \"severe\""
    )


def disagrees(rule: Rule, *, codes: list) -> bool:
    return disagreement.disagrees(rule, codes, codes)


def test_unanswered_answers_are_left_out_of_every_rule():
    no_majority = Rule(kind="no_majority", question="safe")
    # Two raters who both skipped an optional question have not disagreed about it.
    assert not disagreement.disagrees(no_majority, [None, None], [None, None])
    assert not disagreement.disagrees(no_majority, ["yes", None], [None, None])
    assert not disagreement.disagrees(no_majority, ["yes", "yes", None, None], [None] * 4)
    assert disagreement.disagrees(no_majority, ["yes", "no", None], [None] * 3)
    flagged_none = Rule(kind="any_value", question="safe", values=(None,))
    assert not disagreement.disagrees(flagged_none, [None, "yes"], [None, None])
    # majority itself still counts what it is given (adjudication reads it so).
    assert disagreement.majority([None, None, "yes"]) is None


def test_flagged_answers_are_deduplicated_and_capped():
    rule = disagreement.rule_from_dict(
        {"kind": "any_value", "question": "q", "values": [1, 1.0, 2, 1, 2, 3] * 1000}
    )
    assert rule.values == (1, 2, 3)
    most = disagreement.rule_from_dict(
        {"kind": "any_value", "question": "q", "values": list(range(disagreement.MAX_FLAGGED))}
    )
    assert len(most.values) == 50
    with pytest.raises(RuleError, match="at most 50 different answers; 51 were given"):
        disagreement.rule_from_dict(
            {"kind": "any_value", "question": "q", "values": list(range(51))}
        )


def test_a_typed_flagged_answer_is_a_number_where_it_reads_as_one_else_a_code():
    from annotation.forms.disagreement import _flagged

    assert [_flagged(t) for t in (" 2 ", "-1", "1.5", "2.0", "nan", "inf", "yes")] == [
        2,
        -1,
        1.5,
        2,
        "nan",
        "inf",
        "yes",
    ]
