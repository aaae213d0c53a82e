"""An adaptive study's disagreement rule checked against its questions: when it is set, when
a question it names would be removed, and again when the study opens (see
annotation.services.adaptive)."""

from django.core.exceptions import ValidationError

from annotation.core import disagreement, rubric
from annotation.models import AdaptiveDesign, Question, Study

# The question kinds each rule can read: a range needs numbers; a majority, one answer each.
RULE_KINDS = {
    disagreement.RANGE: (rubric.LIKERT, rubric.NUMBER, rubric.PAIRWISE),
    disagreement.NO_MAJORITY: (
        rubric.LIKERT,
        rubric.NUMBER,
        rubric.PAIRWISE,
        rubric.SINGLE_CHOICE,
        rubric.YES_NO,
    ),
    disagreement.ANY_VALUE: (
        rubric.LIKERT,
        rubric.NUMBER,
        rubric.PAIRWISE,
        rubric.SINGLE_CHOICE,
        rubric.YES_NO,
        rubric.MULTIPLE_CHOICE,
    ),
}


def checked_rule(*, study: Study, data: object) -> disagreement.Rule:
    """The rule read from `data`, checked against the study's questions as they stand: the
    question must exist, be of a kind the rule can read, and not be asked of each output;
    flagged answers must be answers to it. ValidationError on the `rule` field otherwise."""
    try:
        rule = disagreement.rule_from_dict(data)
    except disagreement.RuleError as exc:
        raise ValidationError({"rule": str(exc)}) from None
    question = study.questions.filter(key=rule.question).first()
    if question is None:
        raise ValidationError({"rule": f"The study has no question {rule.question!r}."})
    if question.kind not in RULE_KINDS[rule.kind] or study.asks_per_output(question):
        raise ValidationError(
            {
                "rule": f"A {disagreement.LABELS[rule.kind]} rule cannot read "
                f"{question.key!r}, a {question.get_kind_display()} question"
                + (" asked of each output" if study.asks_per_output(question) else "")
                + "."
            }
        )
    for value in rule.values:
        _check_flagged(question, value)
    return rule


def _check_flagged(question: Question, value: object) -> None:
    raw = [value] if question.kind == rubric.MULTIPLE_CHOICE else value
    try:
        rubric.parse_answer(question.spec, raw)
    except rubric.AnswerError as exc:
        raise ValidationError(
            {"rule": f"The flagged answer {value!r} is not an answer to {question.key!r}: {exc}"}
        ) from None


def rule_question_check_removable(*, study: Study, key: str) -> None:
    """Refuse to remove the question the study's adaptive rule reads."""
    adaptive = AdaptiveDesign.objects.filter(study=study).first()
    if adaptive is not None and adaptive.rule.get("question") == key:
        raise ValidationError(
            f"The adaptive extra raters' rule reads {key!r}: change the rule to another "
            "question, or turn adaptive extra raters off, before removing it."
        )


def rule_check_before_open(*, study: Study) -> None:
    """Refuse to open an adaptive study whose rule no longer fits its questions."""
    adaptive = AdaptiveDesign.objects.filter(study=study).first()
    if adaptive is None:
        return
    try:
        checked_rule(study=study, data=adaptive.rule)
    except ValidationError as exc:
        problem = " ".join(exc.message_dict.get("rule", exc.messages))
        raise ValidationError(
            f"The adaptive extra raters' rule no longer fits the study's questions: {problem} "
            "Change the rule, or turn adaptive extra raters off, then open the study."
        ) from None
