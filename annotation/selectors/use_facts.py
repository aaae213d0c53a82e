"""Two facts a reader study holds about how its models were used, for the reporting checklists
(TRIPOD-LLM, CHART): when and how each model was queried, and how far clinicians stayed in
charge of its outputs. Part of `facts.study_reporting_facts`; admins only, as the rest."""

from django.db.models import Count, Max, Min

from annotation.models import Arm, Generation, Source, Study


def query_facts(study: Study) -> list[str]:
    """Per model source: the dates of its successful calls, or that its outputs were imported."""
    facts = []
    for source in study.sources.filter(kind=Source.Kind.MODEL).order_by("label"):
        calls = source.generations.filter(outcome=Generation.Outcome.OK).aggregate(
            n=Count("pk"), first=Min("started_at"), last=Max("finished_at")
        )
        if not calls["n"]:
            facts.append(
                f"{source.label}: outputs imported, so when and how the model was queried is "
                "not recorded in evalapp."
            )
            continue
        first, last = f"{calls['first']:%Y-%m-%d}", f"{calls['last']:%Y-%m-%d}"
        when = f"on {first}" if first == last else f"between {first} and {last}"
        facts.append(
            f"{source.label}: queried through its API endpoint by evalapp's worker, each "
            f"request on its own with no earlier conversation, {when} (UTC); {calls['n']} "
            f"successful call{'' if calls['n'] == 1 else 's'}."
        )
    return facts or ["The study compares no model."]


def oversight_facts(study: Study) -> list[str]:
    """Who decided in the study: readers assisted by a model, clinicians judging its outputs,
    and any LLM judge used beside them."""
    if study.is_reading:
        facts = [_assisted_reading(study)]
    else:
        k = study.raters_per_item
        facts = [
            f"The model's outputs were judged by clinicians after they were produced ({k} "
            f"rater{'' if k == 1 else 's'} per output), in a blinded rating study; evalapp "
            "records no use of them in care."
        ]
    return facts + _judges(study)


def _assisted_reading(study: Study) -> str:
    assisted = list(study.arms.exclude(kind=Arm.Kind.UNASSISTED).values_list("key", flat=True))
    if not assisted:
        return "No arm shows the readers any assistance yet."
    arms = f"arm{'' if len(assisted) == 1 else 's'} {', '.join(assisted)}"
    return (
        f"Readers read with assistance (a model's output or a tool) in {arms}; every recorded "
        "answer was the reader's own, and no model answered a case in a reader's place."
    )


def _judges(study: Study) -> list[str]:
    judges = study.judges.all()
    if not judges:
        return ["No LLM judge stood in for the clinicians."]
    return [
        f"LLM judge {judge.label} (model {judge.model_name}) answered the same rubric about the "
        "same blinded items; its answers are kept apart from the clinicians' and never enter "
        "their statistics."
        for judge in judges.order_by("label")
    ]
