"""Study admin pages of assisted reading: a new study with its answer question, and its arms."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from annotation import selectors, services
from annotation.forms import ArmForm, ReadingStudyForm


@login_required
@permission_required("annotation.add_study", raise_exception=True)
@require_http_methods(["GET", "POST"])
def reading_study_new(request: HttpRequest) -> HttpResponse:
    form = ReadingStudyForm(request.POST or None)
    if request.method == "GET" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, "annotation/reading_study_new.html", {"form": form}, status=status)
    data = form.cleaned_data
    try:
        study = services.reading_study_create(
            creator=request.user,
            title=data["title"],
            instructions=data["instructions"],
            layout=data["layout"],
            answer_kind=data["answer_kind"],
            prompt=data["prompt"],
            choices=data["choices"],
            k=data["k"],
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return render(request, "annotation/reading_study_new.html", {"form": form}, status=400)
    return redirect("study_dashboard", study_token=study.token)


@login_required
@require_POST
def reading_arm_add(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    form = ArmForm(request.POST, study=study)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect("study_dashboard", study_token=study.token)
    try:
        arm = services.arm_add(study=study, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Arm {arm.key!r} added.")
    return redirect("study_dashboard", study_token=study.token)
