"""Irreversible actions, confirmed first on a page of their own."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotation import selectors
from annotation.models import Study

# What the confirmation page's button says; what each action cannot undo is said in
# annotation/_irreversible.html, shared with the dashboard's dialog.
IRREVERSIBLE = {
    "open": "Open the study to raters",
    "lock": "Lock the study",
    "archive": "Archive the study",
    "reassign": "Reassign the unstarted items",
    "remove": "Remove the rater",
    "reopen": "Reopen the analysis",
}


def _ask_first(
    request: HttpRequest, study: Study, action: str, rater: str = "", reason: str = ""
) -> HttpResponse | None:
    """A page asking to confirm an irreversible action, unless the form says it was confirmed.
    The dashboard asks in a dialog and sends confirm=yes; without script, or from anywhere else,
    a bare POST does nothing but ask. A reason given with the action is shown and sent again."""
    if request.POST.get("confirm") == "yes":
        return None
    context = {
        "study": study,
        "action": action,
        "rater": rater,
        "reason": reason,
        "button": IRREVERSIBLE[action],
    }
    if action == "open":  # what opening would fix in place: outputs still missing
        context["sources"] = selectors.study_sources_overview(study=study)
    return render(request, "annotation/study_confirm.html", context)
