"""A study's model sources and LLM judges: added, and changed before they run."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from annotation import selectors, services
from annotation.forms import JudgeEditForm, JudgeForm, SourceEditForm, SourceEndpointForm
from annotation.models import Study
from annotation.views.dashboard_actions import dashboard_action


@login_required
@require_POST
def study_add_source(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    return _add_endpoint(
        request,
        study,
        SourceEndpointForm(request.POST, study=study),
        services.source_create,
        "model source",
    )


@login_required
@require_POST
def study_add_judge(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    return _add_endpoint(
        request, study, JudgeForm(request.POST, study=study), services.judge_create, "LLM judge"
    )


def _add_endpoint(request: HttpRequest, study: Study, form, create, what: str) -> HttpResponse:
    """Add a model source or a judge from its form, saying what went wrong field by field."""

    def act():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "label"}
        return create(study=study, label=form.cleaned_data["label"], **fields)

    return dashboard_action(
        request, study=study, form=form, act=act, done=lambda added: f"Added {what} {added.label}."
    )


@login_required
def study_edit_source(request: HttpRequest, study_token: str, source_id: int) -> HttpResponse:
    """Change a draft study's source: the add form, filled in, with the same checks."""
    study = selectors.admin_study_get(user=request.user, token=study_token)
    source = get_object_or_404(study.sources, pk=source_id)
    return _edit_endpoint(request, study, source, SourceEditForm, services.source_update, "source")


@login_required
def study_edit_judge(request: HttpRequest, study_token: str, judge_id: int) -> HttpResponse:
    """Change a judge that has not run yet: the add form, filled in, with the same checks."""
    study = selectors.admin_study_get(user=request.user, token=study_token)
    judge = get_object_or_404(study.judges, pk=judge_id)
    return _edit_endpoint(request, study, judge, JudgeEditForm, services.judge_update, "judge")


def _edit_endpoint(
    request: HttpRequest, study: Study, endpoint, form_class, update, what: str
) -> HttpResponse:
    label = endpoint.label  # the form's checks write into the row it was given
    if request.method != "POST":
        form = form_class(instance=endpoint, study=study)
        return _edit_page(request, study, form, what, label)
    form = form_class(request.POST, instance=endpoint, study=study)
    if form.is_valid():
        try:
            changed = update(**{what: endpoint}, **form.cleaned_data)
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                messages.error(request, " ".join(exc.messages))
                return redirect("study_dashboard", study_token=study.token)
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved the {what} {changed.label}.")
            return redirect(reverse("study_dashboard", args=[study.token]) + f"#{what}s")
    return _edit_page(request, study, form, what, label, status=400)


def _edit_page(request, study, form, what: str, label: str, status: int = 200) -> HttpResponse:
    context = {"study": study, "form": form, "what": what, "label": label}
    return render(request, "annotation/endpoint_edit.html", context, status=status)
