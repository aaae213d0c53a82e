from django.apps import AppConfig


class ChecklistsConfig(AppConfig):
    """Reporting checklists (MI-CLAIM-GEN, ELEVATE-GenAI, ...) defined in data files, that
    authors fill in and reviewers appraise."""

    name = "checklists"
