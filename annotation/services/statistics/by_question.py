"""One question's statistics, computed and stored: what a recomputation runs for each question.
Apart from the package's entry point so that importing the package loads no numpy or scipy."""

from annotation.models import Assignment, Question, Result, Study
from annotation.services.statistics.adaptive import adaptive_agreement
from annotation.services.statistics.agreement import question_agreement, test_retest
from annotation.services.statistics.comparisons import question_comparisons
from annotation.services.statistics.corrections import question_corrections
from annotation.services.statistics.judges import judge_statistics
from annotation.services.statistics.omissions import question_omissions
from annotation.services.statistics.rows import judge_codes, question_rows
from annotation.services.statistics.subgroups import question_subgroups
from annotation.services.statistics.washout import washout_retest


def question_results(study: Study, question: Question, metrics: dict) -> list[Result]:
    """Every statistic of one question, stored: the agreement coefficients, the comparison of
    its sources, each judge against the raters, and test-retest where items were repeated
    (hidden repeats within a sitting, and re-reads after a washout, apart); and, where adaptive
    extra raters rated, agreement with their ratings pooled in (secondary)."""
    # In one order, and ranked once: every digest of the raters' rows, and their sorted order,
    # come from it.
    humans, ranked = question_rows(study, question)
    judges = list(study.judges.all())
    judged = {judge.label: judge_codes(judge, question) for judge in judges}
    results = question_agreement(study, question, humans, judged, ranked)
    # Agreement and scores within each group of raters (by their background), where asked.
    results += question_subgroups(study, question, humans)
    results += question_comparisons(study, question, humans, metrics, ranked)
    if question.kind == Question.Kind.CORRECTION:
        results += question_corrections(study, question)
    for judge in judges:
        results += judge_statistics(study, question, humans, judge, judged[judge.label], ranked)
    if question.kind == Question.Kind.OMISSION:
        results += question_omissions(study, question)
    if study.assignments.filter(kind=Assignment.Kind.REPEAT).exists():
        results.append(test_retest(study, question))
    if study.assignments.filter(kind=Assignment.Kind.RETEST).exists():
        results += washout_retest(study, question)
    if study.assignments.filter(kind=Assignment.Kind.EXTRA).exists():
        results.append(adaptive_agreement(study, question))
    return results
