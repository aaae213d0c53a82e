"""When do the raters of one item disagree enough to act on it? Plain data, no Django.

Adjudication (send an item to a senior clinician for a reference answer) and adaptive
allocation (offer an item to more raters) both act on the same kinds of rule, each about one
question of the rubric:

- ``range``: the numeric codes span at least ``threshold`` (a range of 2 or more on a 5-point
  scale: one rater gave 2, another 4);
- ``no_majority``: no one answer was given by more than half the raters;
- ``any_value``: at least one rater gave one of ``values`` (a "harmful" choice, a Likert 1),
  where a multiple-choice answer counts when it holds one of them.

A rule reads the answers as stored (canonical JSON values) and their numeric codes (None where
the kind has none, see `annotation.core.rubric.numeric_code`). Fewer than two answers never
disagree on ``range`` or ``no_majority``: one rater cannot disagree with themselves.

Unanswered questions (an optional question a rater skipped: the answer None, the code None)
are left out of every rule: two raters who both skip a question have not disagreed about it,
and a skip is not a flagged answer. ``majority`` itself counts what it is given, None too
(adjudication reads it that way), so the rules drop None before asking it.
"""

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

RANGE = "range"
NO_MAJORITY = "no_majority"
ANY_VALUE = "any_value"
KINDS = (RANGE, NO_MAJORITY, ANY_VALUE)
# The most distinct flagged answers an any-value rule may list: more is a typing slip.
MAX_FLAGGED = 50
LABELS = {
    RANGE: "range of answers at least a threshold",
    NO_MAJORITY: "no answer given by a majority",
    ANY_VALUE: "any rater gave a flagged answer",
}


class RuleError(ValueError):
    """A rule that cannot be applied, with a message fit to show the admin."""


@dataclass(frozen=True)
class Rule:
    kind: str
    question: str
    threshold: float | None = None
    values: tuple = ()

    def as_dict(self) -> dict:
        data: dict = {"kind": self.kind, "question": self.question}
        if self.kind == RANGE:
            data["threshold"] = self.threshold
        if self.kind == ANY_VALUE:
            data["values"] = list(self.values)
        return data


def rule_from_dict(data: object) -> Rule:
    """Read a rule stored as JSON (`Rule.as_dict`), checking it as `check_rule` does."""
    if not isinstance(data, dict):
        raise RuleError("A disagreement rule must be an object.")
    values = data.get("values") or ()
    if not isinstance(values, list | tuple):
        raise RuleError("The flagged answers must be a list.")
    # The same answer listed twice flags nothing more: keep the first of each, in order.
    first: dict[str, object] = {}
    for value in values:
        first.setdefault(_key(value), value)
    distinct = tuple(first.values())
    if len(distinct) > MAX_FLAGGED:
        raise RuleError(
            f"An any-value rule flags at most {MAX_FLAGGED} different answers; "
            f"{len(distinct)} were given."
        )
    rule = Rule(
        kind=str(data.get("kind", "")),
        question=str(data.get("question", "")),
        threshold=data.get("threshold"),
        values=distinct,
    )
    check_rule(rule)
    return rule


def check_rule(rule: Rule) -> None:
    if rule.kind not in KINDS:
        raise RuleError(f"Unknown disagreement rule {rule.kind!r}; use one of {', '.join(KINDS)}.")
    if not rule.question:
        raise RuleError("A disagreement rule needs the question it is about.")
    if rule.kind == RANGE:
        threshold = rule.threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise RuleError("A range rule needs a number as its threshold.")
        if not math.isfinite(threshold) or threshold <= 0:
            raise RuleError("A range rule's threshold must be a positive number.")
    if rule.kind == ANY_VALUE and not rule.values:
        raise RuleError("An any-value rule needs at least one flagged answer.")


def disagrees(rule: Rule, answers: Sequence[object], codes: Sequence[float | None]) -> bool:
    """Whether these answers to `rule.question` (one per rater) meet the rule; unanswered
    ones (None) are left out."""
    if rule.kind == RANGE:
        present = [code for code in codes if code is not None]
        return len(present) >= 2 and max(present) - min(present) >= rule.threshold
    given = [answer for answer in answers if answer is not None]
    if rule.kind == NO_MAJORITY:
        return len(given) >= 2 and majority(given) is None
    return any(_holds_flagged(answer, rule.values) for answer in given)


def majority(answers: Sequence[object]) -> object | None:
    """The answer more than half of `answers` gave, or None when none did."""
    if not answers:
        return None
    counts = Counter(_key(answer) for answer in answers)
    key, count = counts.most_common(1)[0]
    if 2 * count <= len(answers):
        return None
    return json.loads(key)


def same_answer(first: object, second: object) -> bool:
    """Equality of two stored answers, as JSON (so 3 and 3.0 agree, key order does not matter)."""
    return _key(first) == _key(second)


def describe(rule: Rule) -> str:
    """The rule in words for the dashboard, the manifest and the methods text."""
    if rule.kind == RANGE:
        return f"answers to '{rule.question}' span {_number(rule.threshold)} or more points"
    if rule.kind == NO_MAJORITY:
        return f"no answer to '{rule.question}' was given by more than half the raters"
    flagged = ", ".join(json.dumps(value, ensure_ascii=False) for value in rule.values)
    return f"a rater answered '{rule.question}' with {flagged}"


def _holds_flagged(answer: object, values: tuple) -> bool:
    flagged = {_key(value) for value in values}
    if isinstance(answer, list):
        return any(_key(part) in flagged for part in answer)
    return _key(answer) in flagged


def _key(answer: object) -> str:
    # Integral floats compare equal to ints: 3.0 from a number question is the answer 3.
    if isinstance(answer, float) and answer.is_integer():
        answer = int(answer)
    return json.dumps(answer, sort_keys=True, ensure_ascii=False)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)
