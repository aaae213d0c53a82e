"""The demo report `make run` loads: MI-CLAIM-GEN for the demo study, partly answered."""

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


def load_demo_report(*, lead: AbstractBaseUser, study: Study) -> Report:
    """Load the shipped checklists and a demo report unless it exists; safe to repeat."""
    services.checklists_load(paths=services.definition_files_shipped())
    existing = Report.objects.filter(title=DEMO_TITLE).first()
    if existing:
        return existing
    definition = selectors.definition_get(slug="mi-claim-gen")
    report = services.report_create(
        lead=lead,
        definition=definition,
        title=DEMO_TITLE,
        manuscript="Draft, not yet submitted",
        study=study,
    )
    own = selectors.own_assessment(report=report, user=lead)
    for code, answer, location in DEMO_ANSWERS:
        item = selectors.item_for_assessment(assessment=own, code=code)
        services.response_save(
            assessment=own, item=item, user=lead, answer=answer, location=location
        )
    return report
