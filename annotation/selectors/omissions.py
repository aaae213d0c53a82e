"""Omission questions (MED-OMIT) as the bundle and the methods text report them, read from the
stored results (`services.statistics.omissions`): the agreement per fact as fact_agreement.csv
writes it, and the sentences the study's reporting facts give."""

from collections.abc import Iterator

from annotation.core.stats.names import OMISSION_FACT_AGREEMENT, OMISSION_RATE
from annotation.models import Question, Study


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


def omission_question_text(question: Question) -> str:
    """How an omission question was answered, for its methods sentence: the facts per case,
    the weighting, and what the rate means."""
    counts = [len(facts) for facts in question.study.cases.values_list("facts", flat=True)]
    counts = [n for n in counts if n]
    sizes = f"{min(counts)} to {max(counts)}" if counts and min(counts) != max(counts) else ""
    sizes = sizes or (str(counts[0]) if counts else "no")
    weights = {
        fact.get("importance", 1)
        for facts in question.study.cases.values_list("facts", flat=True)
        for fact in facts
    }
    weighting = (
        "each weighted by its importance as imported"
        if len(weights) > 1
        else "all of equal importance"
    )
    return (
        f" (each case carries the facts of its source, {sizes} per case, {weighting}; for each "
        "output the rater ticked the facts it omits and those it states wrongly, or answered "
        "that it omits none and states none wrongly. An output's omission rate is the "
        "importance of the facts it omits over that of all its case's facts: 0 when it omits "
        "nothing, 1 when it omits every fact)"
    )


def omission_rate_facts(*, study: Study) -> list[str]:
    """Each source's weighted omission rate with its interval, per omission question."""
    results = study.results.filter(statistic=OMISSION_RATE, judge="").select_related("question")
    facts = []
    for r in results.order_by("question__order", "source"):
        rate, wrong = r.detail.get("omission_rate", {}), r.detail.get("wrong_rate", {})
        if r.value is None:
            facts.append(f'Question "{r.question.key}", {r.source}: omission rate undefined.')
            continue
        facts.append(
            f'Question "{r.question.key}", {r.source}: importance-weighted omission rate '
            f"{r.value:.3f}{_ci(rate)}; share of fact importance stated wrongly "
            f"{wrong.get('value') or 0:.3f}{_ci(wrong)}; raters averaged per output, then the "
            f"mean over {r.n_units} outputs ({r.n_ratings} answers)."
        )
    return facts


def omission_agreement_facts(*, study: Study) -> list[str]:
    """The raters' agreement on which facts each output omits, per omission question."""
    results = study.results.filter(statistic=OMISSION_FACT_AGREEMENT, judge="")
    facts = []
    for r in results.select_related("question").order_by("question__order"):
        head = f'Question "{r.question.key}", agreement on which facts an output omits: '
        if r.value is None:
            head += f"Krippendorff's alpha (nominal) undefined ({r.detail.get('reason')})"
        else:
            head += (
                f"Krippendorff's alpha (nominal, each fact of each output a unit) "
                f"{r.value:.3f}{_ci(r.detail)} over {r.n_units} units and {r.n_raters} raters"
            )
        percent = r.detail.get("percent_agreement")
        if percent is not None:
            head += f"; percent agreement {percent:.3f}"
        facts.append(f"{head}. {_per_fact_sentence(r.detail.get('facts', []))}")
    return facts


def _per_fact_sentence(per_fact: list[dict]) -> str:
    """How many facts have alpha, how many percent agreement only, and how many neither (no
    output of the case read by two raters): a fact without both is never said to have one."""
    alpha = sum(f.get("alpha") is not None for f in per_fact)
    percent = sum(
        f.get("alpha") is None and f.get("percent_agreement") is not None for f in per_fact
    )
    neither = len(per_fact) - alpha - percent
    sentence = (
        f"Per fact, alpha over the case's outputs was defined for {alpha} of {len(per_fact)} facts"
    )
    others = []
    if percent:
        others.append(f"percent agreement only for {percent}")
    if neither:
        others.append(f"neither for {neither}, which no two raters read on any output")
    return sentence + (f" ({'; '.join(others)})." if others else ".")


def _ci(detail: dict) -> str:
    ci = detail.get("ci")
    if not ci:
        return ""
    return f" (95% CI for these raters, cases random, {ci[0]:.3f} to {ci[1]:.3f}; {CASES_BOOT})"


CASES_BOOT = "percentile bootstrap over cases"
