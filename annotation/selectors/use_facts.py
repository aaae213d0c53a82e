"""Two facts a reader study holds about how its models were used, for the reporting checklists
(TRIPOD-LLM, CHART): when and how each model was queried, and how far clinicians stayed in
charge of its outputs. Part of `facts.study_reporting_facts`; admins only, as the rest."""

from django.db.models import Count, Max, Min, Q

from annotation.models import Arm, Generation, JudgeVerdict, Source, Study

# A study in these states has ended: its facts are told in the past tense.
_ENDED = (Study.Status.LOCKED, Study.Status.ARCHIVED)


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
    and any LLM judge used beside them; in the tense of the study's state, as `facts._raters`:
    to come before it opens, under way while it is open, past once it is locked or archived."""
    if study.is_reading:
        facts = [_assisted_reading(study)]
    else:
        k = study.raters_per_item
        judged = {
            Study.Status.DRAFT: "are to be judged by clinicians after they are produced",
            Study.Status.OPEN: "are being judged by clinicians after they were produced",
        }.get(study.status, "were judged by clinicians after they were produced")
        facts = [
            f"The model's outputs {judged} ({k} rater{'' if k == 1 else 's'} per output), in a "
            "blinded rating study; evalapp records no use of them in care."
        ]
    return facts + _judges(study)


def _assisted_reading(study: Study) -> str:
    assisted = list(study.arms.exclude(kind=Arm.Kind.UNASSISTED).values_list("key", flat=True))
    if not assisted:
        return "No arm shows the readers any assistance yet."
    arms = f"arm{'' if len(assisted) == 1 else 's'} {', '.join(assisted)}"
    if study.status == Study.Status.DRAFT:
        return (
            f"Readers are to read with assistance (a model's output or a tool) in {arms}; every "
            "answer recorded will be the reader's own, and no model answers a case in a "
            "reader's place."
        )
    recorded = "recorded so far is" if study.status == Study.Status.OPEN else "recorded was"
    return (
        f"Readers read with assistance (a model's output or a tool) in {arms}; every answer "
        f"{recorded} the reader's own, and no model answered a case in a reader's place."
    )


def _judges(study: Study) -> list[str]:
    """Each judge, saying it answered only once it has a verdict: a judge set up but not yet
    run has answered nothing."""
    judges = study.judges.annotate(
        n_ok=Count("verdicts", filter=Q(verdicts__outcome=JudgeVerdict.Outcome.OK))
    ).order_by("label")
    if not judges:
        stood = "stood" if study.status in _ENDED else "stands"
        return [f"No LLM judge {stood} in for the clinicians."]
    return [
        f"LLM judge {judge.label} (model {judge.model_name}) "
        f"{'answered' if judge.n_ok else 'is set up to answer'} the same rubric about the same "
        "blinded items; its answers are kept apart from the clinicians' and never enter their "
        "statistics."
        for judge in judges
    ]
