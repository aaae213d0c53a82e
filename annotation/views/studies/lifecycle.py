"""A study's status: opened to raters, locked, archived."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from annotation import selectors, services
from annotation.views.studies.confirmation import _ask_first


@login_required
@require_POST
def study_open(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    if asked := _ask_first(request, study, "open"):
        return asked
    try:
        if study.status == study.Status.OPEN:  # assignments an opening left (its worker stopped)
            run = services.study_open_start(study=study, user=request.user)
            messages.info(
                request, f"Writing the remaining assignments in the background (job {run.pk})."
            )
        elif services.study_opens_in_background(study=study):
            run = services.study_open_start(study=study, user=request.user)
            messages.info(
                request,
                f"Opening the study in the background (job {run.pk}): it opens for its raters "
                "once its items and every rater's order are stored; each rater's assignments "
                "are written then, at once for a rater who signs in first (if no more than "
                f"{settings.RATER_ASSIGNMENTS_WRITE_MAX:,}).",
            )
        else:
            count = services.study_open(study=study)
            messages.success(request, f"The study is open: {count} assignments stored.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("study_dashboard", study_token=study.token)


@login_required
@require_POST
def study_change_status(request: HttpRequest, study_token: str, action: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    if asked := _ask_first(request, study, action):
        return asked
    change = {"lock": services.study_lock, "archive": services.study_archive}[action]
    try:
        change(study=study)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"The study is {study.get_status_display().lower()}.")
    return redirect("study_dashboard", study_token=study.token)
