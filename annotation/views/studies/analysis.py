"""A locked study's analysis: reopened and closed again, and its settings."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from annotation import selectors, services
from annotation.forms import AnalysisSettingsForm
from annotation.views.studies.confirmation import _ask_first


@login_required
@require_POST
def study_analysis_reopen(request: HttpRequest, study_token: str) -> HttpResponse:
    """Reopen a locked study's analysis, for the reason given, once confirmed; recorded."""
    study = selectors.admin_study_get(user=request.user, token=study_token)
    reason = request.POST.get("reason", "")
    # Without a reason there is nothing to confirm: the service says what is missing.
    if reason.strip() and (asked := _ask_first(request, study, "reopen", reason=reason)):
        return asked
    try:
        services.analysis_reopen(study=study, by=request.user, reason=reason)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            "The analysis is reopened: judges, judge runs, recomputations and analysis settings "
            "may change the statistics until you close it. Ratings stay locked.",
        )
    return redirect(reverse("study_dashboard", args=[study.token]) + "#study")


@login_required
@require_POST
def study_analysis_close(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    try:
        services.analysis_close(study=study, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, "The analysis is closed: the statistics are recomputed one last time."
        )
    return redirect(reverse("study_dashboard", args=[study.token]) + "#study")


@login_required
@require_POST
def study_analysis(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    form = AnalysisSettingsForm(request.POST, instance=study)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label}: {' '.join(errors)}")
        return redirect("study_dashboard", study_token=study.token)
    try:
        services.study_analysis_update(study=study, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("study_dashboard", study_token=study.token)
    messages.success(request, "Saved; the statistics are recomputed in a moment.")
    return redirect("study_dashboard", study_token=study.token)
