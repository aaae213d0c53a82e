"""The dashboard's card of adaptive extra raters: the rule (set while the study is a draft),
what it has done since, and the secondary agreement figure that pools the extras."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from annotation import selectors, services
from annotation.forms import AdaptiveForm
from annotation.models import Study


def adaptive_card(study: Study) -> dict:
    """The card's context: the setting (None when off), its counts and pooled figures, and
    the form while the study is a draft."""
    adaptive = selectors.study_adaptive_design(study=study)
    draft = study.status == Study.Status.DRAFT
    if adaptive is None:
        return {"design": None, "form": AdaptiveForm(study=study) if draft else None}
    initial = {**adaptive.rule, "first_k": adaptive.first_k, "extra_m": adaptive.extra_m}
    initial["values"] = ", ".join(str(v) for v in adaptive.rule.get("values", []))
    return {
        "design": adaptive,
        "counts": selectors.study_adaptive_counts(study=study),
        "pooled": selectors.study_adaptive_pooled(study=study),
        "form": AdaptiveForm(study=study, initial=initial) if draft else None,
    }


@login_required
@require_POST
def study_adaptive(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    form = AdaptiveForm(request.POST, study=study)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label}: {' '.join(errors)}")
        return redirect("study_dashboard", study_token=study.token)
    data = form.cleaned_data
    try:
        services.adaptive_design_set(
            study=study, rule=form.rule(), first_k=data["first_k"], extra_m=data["extra_m"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("study_dashboard", study_token=study.token)
    messages.success(request, "Adaptive extra raters are on.")
    return redirect("study_dashboard", study_token=study.token)


@login_required
@require_POST
def study_adaptive_off(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    try:
        services.adaptive_design_clear(study=study)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("study_dashboard", study_token=study.token)
    messages.success(request, "Adaptive extra raters are off.")
    return redirect("study_dashboard", study_token=study.token)
