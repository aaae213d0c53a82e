"""Planning the next study from this one's pilot statistics, on the study dashboard: readers and
cases for a chosen power (MRMC), cases for a chosen width of alpha's interval.

An htmx request gets its part of the card back, to swap in place; a plain POST (no script)
gets the whole dashboard with the plan in its card.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from annotation import selectors
from annotation.core.stats.pilots import MAX_CASES
from annotation.forms import PowerPlanForm, WidthPlanForm
from annotation.models import Study
from annotation.selectors.planning import (
    PlanningPilots,
    plan_power,
    plan_width,
    study_planning_pilots,
)
from annotation.views.studies.dashboard import dashboard_context


@login_required
def study_plan_power(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    if request.method != "POST":  # an address typed or reloaded: the card is on the dashboard
        return redirect(reverse("study_dashboard", args=[study.token]) + "#planning")
    pilots = study_planning_pilots(study=study)
    form = PowerPlanForm(request.POST, pilots=pilots.power_usable)
    plan = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            plan = plan_power(
                data["pilot"],
                difference=data["difference"],
                readers=data["readers"],
                power=data["power"],
                alpha=data["alpha"],
            )
        except ValueError as exc:  # components that give no error variance, say
            form.add_error(None, f"No plan from this pilot: {exc}.")
        except ArithmeticError:
            form.add_error("difference", "Too large to compute a power for: choose a smaller one.")
    context = {
        "power_form": form,
        "power_plan": plan,
        "power_pilot": form.cleaned_data.get("pilot"),
        "max_cases": f"{MAX_CASES:,}",
    }
    return _respond(request, study, pilots, "annotation/_planning_power.html", context, form)


@login_required
def study_plan_width(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    if request.method != "POST":
        return redirect(reverse("study_dashboard", args=[study.token]) + "#planning")
    pilots = study_planning_pilots(study=study)
    form = WidthPlanForm(request.POST, pilots=pilots.width_usable)
    answer = None
    if form.is_valid():
        try:
            answer = plan_width(form.cleaned_data["pilot"], width=form.cleaned_data["width"])
        except ValueError as exc:
            form.add_error(None, f"No plan from this pilot: {exc}.")
        except ArithmeticError:  # (w_pilot / w) squared past what a float holds
            form.add_error(
                "width", "Too narrow to compute a number of cases for: choose a wider one."
            )
    context = {"width_form": form, "width_plan": answer}
    return _respond(request, study, pilots, "annotation/_planning_width.html", context, form)


def _respond(
    request: HttpRequest,
    study: Study,
    pilots: PlanningPilots,
    partial: str,
    context: dict,
    form: PowerPlanForm | WidthPlanForm,
) -> HttpResponse:
    context = {"study": study, "pilots": pilots, **context}
    if request.htmx:
        # 200 even for errors: htmx swaps only successful responses, and the errors are the news.
        return render(request, partial, context)
    page = {**dashboard_context(study, request.user), **context}
    return render(
        request, "annotation/study_dashboard.html", page, status=200 if form.is_valid() else 400
    )
