"""The admin's way in: the list of their studies, and a new study."""

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation import selectors, services
from annotation.forms import StudyCreateForm


@login_required
def home(request: HttpRequest) -> HttpResponse:
    is_admin = request.user.has_perm("annotation.add_study")
    if is_admin or selectors.admin_studies(user=request.user).exists():
        return redirect("study_list")
    return redirect("rater_home")


@login_required
def study_list(request: HttpRequest) -> HttpResponse:
    studies = selectors.admin_studies(user=request.user)
    can_create = request.user.has_perm("annotation.add_study")
    return render(
        request,
        "annotation/study_list.html",
        {"studies": studies, "can_create": can_create, "form": StudyCreateForm()},
    )


@login_required
@permission_required("annotation.add_study", raise_exception=True)
@require_POST
def study_create(request: HttpRequest) -> HttpResponse:
    form = StudyCreateForm(request.POST)
    if not form.is_valid():
        studies = selectors.admin_studies(user=request.user)
        context = {"studies": studies, "can_create": True, "form": form}
        return render(request, "annotation/study_list.html", context, status=400)
    data = form.cleaned_data
    study = services.study_create(
        creator=request.user,
        title=data["title"],
        instructions=data["instructions"],
        raters_per_item=data["raters_per_item"],
        question_prompt=data["question_prompt"],
        show_reference=data["show_reference"],
        design=data["design"],
        scale=data["scale"],
        level=data["level"],
        repeats_per_rater=data["repeats_per_rater"],
        retests_per_rater=data["retests_per_rater"],
        washout_days=data["washout_days"],
        language=data["language"],
    )
    return redirect("study_dashboard", study_token=study.token)
