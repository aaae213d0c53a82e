"""Answering checklist items in tests through the real services."""

from checklists import selectors, services
from checklists.models import Assessment


def answer(assessment: Assessment, code: str, value, **fields):
    item = assessment.report.definition.items.get(code=code)
    return services.response_save(
        assessment=assessment, item=item, user=assessment.assessor, answer=value, **fields
    )


def answer_all(assessment: Assessment, overrides: dict | None = None) -> None:
    """Every item in the report's scope answered with its first option, except the codes in
    `overrides`."""
    overrides = overrides or {}
    for item in selectors.applicable_items(report=assessment.report):
        first = item.option_values[0]
        default = [first] if item.kind == item.Kind.MULTIPLE_CHOICE else first
        answer(assessment, item.code, overrides.get(item.code, default))
