"""An omission question's own statistics (MED-OMIT), beside what every question with a numeric
code gets (agreement on the code, each source's mean, the paired tests and MRMC): each source's
importance-weighted omission rate, raters averaged per output, with a case-bootstrap interval,
and the raters' agreement on which facts each output omits, per fact and pooled. The statistics
themselves are `annotation.core.stats.compare.omissions`."""

from annotation.core import rubric
from annotation.core.stats.compare import omissions
from annotation.core.stats.names import OMISSION_FACT_AGREEMENT, OMISSION_RATE
from annotation.models import Assignment, Question, Rating, Result, Study
from annotation.selectors import study_rater_pseudonyms
from annotation.services.statistics.store import Figure, bootstrap_for, store_by_source

# case id, source, rater, omitted share, wrong share, the ids of the facts omitted
OmissionRow = tuple[str, str, str, float, float, tuple[str, ...]]


def question_omissions(study: Study, question: Question) -> list[Result]:
    rows = omission_rows(study, question)
    inputs = [rows, question.kind]
    results = store_by_source(
        study, question, (OMISSION_RATE,), inputs, lambda: _rates(study, rows)
    )
    results += store_by_source(
        study, question, (OMISSION_FACT_AGREEMENT,), inputs, lambda: _agreement(study, rows)
    )
    return results


def omission_rows(study: Study, question: Question) -> list[OmissionRow]:
    """Every submitted answer of the study proper about one output, as shares of its case's
    fact importance ("none": nothing omitted or wrong); "not applicable" and an answer whose
    boxes were all unticked again are left out."""
    names = study_rater_pseudonyms(study=study)
    ratings = Rating.objects.filter(
        question=question,
        assignment__study=study,
        assignment__kind=Assignment.Kind.STUDY,
        assignment__submitted_at__isnull=False,
    ).select_related("output__source", "output__case", "assignment__item__output__source")
    rows = []
    for rating in ratings.select_related("assignment__item__output__case"):
        marked = _marked(rating.answer)
        output = rating.output or rating.assignment.item.output
        facts = output.case.facts
        if marked is None or not facts:
            continue
        omitted, wrong = marked
        rows.append(
            (
                output.case.external_id,
                output.source.label,
                names[rating.assignment.rater_id],
                rubric.omission_rate(facts, omitted),
                rubric.omission_rate(facts, wrong),
                tuple(omitted),
            )
        )
    return sorted(rows)


def _marked(answer: object) -> tuple[list[str], list[str]] | None:
    if answer == rubric.NONE:
        return [], []
    if isinstance(answer, dict):
        return list(answer.get("omitted", [])), list(answer.get("wrong", []))
    return None  # "not applicable", or unticked again: unanswered


def _rates(study: Study, rows: list[OmissionRow]) -> dict:
    bootstrap = bootstrap_for(study)
    by_source: dict[str, list] = {}
    for case, source, rater, omitted, wrong, _ in rows:
        by_source.setdefault(source, []).append((case, rater, omitted, wrong))
    figures = {}
    for source, marks in sorted(by_source.items()):
        result = omissions.omission_rates(marks, bootstrap=bootstrap)
        detail = {
            **result.as_dict(),
            "ci": list(result.omission_rate.ci) if result.omission_rate.ci else None,
            "shown_as": "weighted omission rate",
        }
        figures[(OMISSION_RATE, source)] = Figure(
            result.omission_rate.value, result.n_cases, result.n_raters, result.n_ratings, detail
        )
    return figures


def _agreement(study: Study, rows: list[OmissionRow]) -> dict:
    """Each fact of each output the raters saw, marked omitted (1) or not (0) by each rater."""
    facts = _case_facts(study)
    marks = [
        (case, source, fact["id"], rater, int(fact["id"] in omitted))
        for case, source, rater, _, _, omitted in rows
        for fact in facts.get(case, [])
    ]
    if not marks:
        return {}
    result = omissions.fact_agreement(marks, bootstrap=bootstrap_for(study))
    detail = {
        **result.alpha.as_dict(),
        "percent_agreement": result.percent_agreement,
        "facts": [fact.as_dict() for fact in result.facts],
    }
    if result.reason:
        detail["reason"] = result.reason
    figure = Figure(result.alpha.value, result.n_units, result.n_raters, result.n_ratings, detail)
    return {(OMISSION_FACT_AGREEMENT, ""): figure}


def _case_facts(study: Study) -> dict[str, list[dict]]:
    return dict(study.cases.values_list("external_id", "facts"))
