"""An omission question's agreement per fact, as fact_agreement.csv writes it: read from the
stored results (`services.statistics.omissions`), one row per fact of each case."""

from collections.abc import Iterator

from annotation.core.stats.names import OMISSION_FACT_AGREEMENT
from annotation.models import Study


def study_fact_agreement_rows(*, study: Study) -> Iterator[dict]:
    results = study.results.filter(statistic=OMISSION_FACT_AGREEMENT, judge="").select_related(
        "question"
    )
    for result in results.order_by("question__order", "question__key"):
        for fact in result.detail.get("facts", []):
            yield {
                "question": result.question.key,
                "case_id": fact["case"],
                "fact": fact["fact"],
                "n_outputs": fact["n_outputs"],
                "omitted_share": fact["omitted_share"],
                "alpha": fact["alpha"],
                "percent_agreement": fact["percent_agreement"],
                "reason": fact.get("reason", ""),
            }
