"""The demo reports `make run` loads for the demo study, partly answered: MI-CLAIM-GEN, and
TRIPOD-LLM scoped to an evaluation of long-form question answering."""

from django.contrib.auth.models import AbstractBaseUser

from annotation.models import Study
from checklists import selectors, services
from checklists.models import Report

DEMO_TITLE = "Adapted LLMs summarise patient questions (demo manuscript)"
DEMO_ANSWERS = [
    ("1.1", "yes", "Introduction, p. 2"),
    ("1.2", "yes", "Introduction, final paragraph"),
    ("1.5", ["unstructured"], "Methods 2.1"),
    ("3.3", ["overlap_accuracy", "clinical_utility"], "Methods 2.4"),
    ("6.1", "tier_2b", "Code availability"),
]
TRIPOD_TITLE = "LLM answers to patient questions, rated blind by clinicians (demo manuscript)"
TRIPOD_SCOPE = {"design": ["E"], "task": ["QA"]}
TRIPOD_ANSWERS = [
    ("1", "yes", "Title"),
    ("6a", "yes", "Methods 2.2"),
    ("7d", "yes", "Methods 2.4"),
]


def load_demo_report(*, lead: AbstractBaseUser, study: Study) -> Report:
    """Load the shipped checklists and the demo reports unless they exist; safe to repeat.
    Returns the MI-CLAIM-GEN report."""
    services.checklists_load(paths=services.definition_files_shipped())
    _demo_report(lead, study, "tripod-llm", TRIPOD_TITLE, TRIPOD_ANSWERS, TRIPOD_SCOPE)
    return _demo_report(lead, study, "mi-claim-gen", DEMO_TITLE, DEMO_ANSWERS, {})


def _demo_report(
    lead: AbstractBaseUser, study: Study, slug: str, title: str, answers: list, scope: dict
) -> Report:
    existing = Report.objects.filter(title=title).first()
    if existing:
        return existing
    report = services.report_create(
        lead=lead,
        definition=selectors.definition_get(slug=slug),
        title=title,
        manuscript="Draft, not yet submitted",
        study=study,
    )
    if scope:
        report = services.report_set_scope(report=report, user=lead, scope=scope)
    own = selectors.own_assessment(report=report, user=lead)
    for code, answer, location in answers:
        item = selectors.item_for_assessment(assessment=own, code=code)
        services.response_save(
            assessment=own, item=item, user=lead, answer=answer, location=location
        )
    return report
