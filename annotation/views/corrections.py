"""The raters' corrected outputs, for the study's admins: each correction as a diff."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotation import selectors


@login_required
@require_GET
def study_corrections(request: HttpRequest, study_token: str) -> HttpResponse:
    """Every correction per question, newest first, insertions and deletions marked. Admins
    only (anyone else gets 404, as for every admin page); an htmx request gets the list alone,
    to swap into the dashboard's card."""
    study = selectors.admin_study_get(user=request.user, token=study_token)
    question = request.GET.get("question", "")
    show_all = request.GET.get("all") == "1"
    context = {
        "study": study,
        "question": question,
        "show_all": show_all,
        "questions": selectors.study_corrections(study=study, question=question, show_all=show_all),
        "unblinded": selectors.study_comments_unblinded(study=study),
    }
    template = (
        "annotation/_corrections.html" if request.htmx else "annotation/study_corrections.html"
    )
    return render(request, template, context)
