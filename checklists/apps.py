from django.apps import AppConfig


class ChecklistsConfig(AppConfig):
    """Reporting checklists (MI-CLAIM-GEN, ELEVATE-GenAI, ...) that authors fill and reviewers
    appraise.

    The app is registered now so the project has its final shape; its models arrive with issue 3.
    """

    name = "checklists"
