"""What opening refuses: a study not ready (status, raters, outputs, a reference that would
unblind), quality-control cases that make no single item, expected answers no question can
check, cases without the facts or criteria a question needs, raters short of re-reads."""

from collections import Counter

from django.core.exceptions import ValidationError
from django.db.models import Count, F

from annotation.core import design, rubric
from annotation.models import Case, Item, Output, Question, Study


def _check_retests(study: Study, placements: list[design.Placement]) -> None:
    """Refuse to open when a rater has fewer items to re-read than the study asks for (their
    items less those they see again as hidden repeats)."""
    rereads = Counter(p.rater for p in placements if p.kind == design.RETEST)
    raters = {p.rater for p in placements}
    short = sorted(r for r in raters if rereads[r] < study.retests_per_rater)
    if short:
        raise ValidationError(
            f"Each rater re-reads {study.retests_per_rater} of their items after the washout, "
            f"but {short[0]} has only {rereads[short[0]]} that could come back (hidden repeats "
            "are not re-read). Ask for fewer re-reads or repeats, or give each rater more items."
        )


def _check_quality_cases(study: Study, built: list[Item]) -> None:
    """Each training or attention case must make exactly one item: one output (absolute), two
    (pairwise), or all of them shown together; so that its expected answers mean one thing."""
    shown = {
        Study.Design.ABSOLUTE: "exactly one output",
        Study.Design.PAIRWISE: "exactly two outputs",
        Study.Design.SIDE_BY_SIDE: "at least one output",
        Study.Design.RANKING: "at least two outputs",
    }[study.design]
    per_case = Counter(item.output.case_id for item in built)
    quality = study.cases.exclude(role=Case.Role.STUDY).annotate(n=Count("outputs"))
    problems = [
        f"Case {case.external_id!r} ({case.get_role_display().split(' (')[0].lower()}) has "
        f"{case.n} outputs; in this design it needs {shown}, to make one item."
        for case in quality.order_by("external_id")
        if per_case[case.pk] != 1
    ]
    if problems:
        raise ValidationError(problems[:20])


# What an expected answer can be checked against: one value per question.
CHECKABLE_KINDS = (
    Question.Kind.LIKERT,
    Question.Kind.SINGLE_CHOICE,
    Question.Kind.YES_NO,
    Question.Kind.NUMBER,
    Question.Kind.PAIRWISE,
)


def _check_expected_answers(study: Study, built: list[Item]) -> None:
    """Every expected answer of a training or attention case names a question it can check,
    and is an answer that question accepts."""
    questions = {q.key: q for q in study.questions.all()}
    problems = []
    cases = {item.output.case.external_id: item.output.case for item in built}
    for case_id, case in sorted(cases.items()):
        for key, answers in sorted(case.expected.items()):  # jsonb keeps no key order
            question = questions.get(key)
            where = f"Case {case_id!r}, expected answer for {key!r}"
            if question is None:
                problems.append(f"{where}: the study has no such question.")
            elif question.kind not in CHECKABLE_KINDS or study.asks_per_output(question):
                problems.append(f"{where}: a {question.get_kind_display()} cannot be checked.")
            else:
                for answer in answers:
                    try:
                        rubric.parse_answer(question.spec, answer)
                    except rubric.AnswerError as exc:
                        problems.append(f"{where}: {exc}")
    if problems:
        raise ValidationError(problems[:20])


# The list of its own each case needs for a question of these kinds: (Case field, question).
CASE_LISTS = {rubric.OMISSION: ("facts", "omission"), rubric.CRITERIA: ("criteria", "criteria")}


def _check_case_lists(study: Study, built: list[Item]) -> None:
    """An omission question checks each output against its case's facts, a criteria question
    against its case's criteria: every case raters see needs them. Checked here rather than at
    import, as questions may come after the cases (and a later import may add the lists)."""
    kinds = set(study.questions.filter(kind__in=CASE_LISTS).values_list("kind", flat=True))
    case_ids = {item.output.case_id for item in built}
    for kind in sorted(kinds):
        field, name = CASE_LISTS[kind]
        cases = Case.objects.filter(pk__in=case_ids).values_list("external_id", field)
        missing = sorted(external_id for external_id, given in cases if not given)
        if missing:
            named = ", ".join(repr(case_id) for case_id in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise ValidationError(
                f"The {name} question needs the {field} of every case; import a {field} column "
                f"for case {named}{more}."
            )


def _check_can_open(study: Study, n_raters: int) -> None:
    if study.status != Study.Status.DRAFT:
        raise ValidationError("Only a draft study can be opened.")
    if study.show_reference:
        # A reference shown beside an output with the same text would name that output's source.
        same = Output.objects.filter(case__study=study, text=F("case__reference")).exclude(
            case__reference=""
        )
        if found := same.select_related("case").first():
            raise ValidationError(
                f"Case {found.case.external_id!r}: its reference is also the text of an output "
                "raters would rate, so showing it would unblind them. Stop showing references, "
                "or leave that source out."
            )
    if not Output.objects.filter(case__study=study).exists():
        raise ValidationError("The study has no outputs to rate yet.")
    if n_raters < study.raters_per_item:
        raise ValidationError(
            f"Each output needs {study.raters_per_item} raters, but the study has {n_raters}."
        )
