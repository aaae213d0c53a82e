"""The rater workspace. Views here see only what `selectors.rater_item_view` gives them."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotation import selectors, services
from annotation.forms import RatingForm


@login_required
def rater_home(request: HttpRequest) -> HttpResponse:
    studies = selectors.rater_studies(user=request.user)
    return render(request, "annotation/rater_home.html", {"studies": studies})


@login_required
def rater_resume(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.rater_study_get(user=request.user, token=study_token)
    assignment = selectors.assignment_next_for_rater(rater=request.user, study=study)
    if assignment is None:
        summary = selectors.rater_study_summary(user=request.user, study=study)
        return render(request, "annotation/rater_done.html", {"study": summary})
    return redirect("rater_item", study_token=study.token, assignment_token=assignment.token)


@login_required
@require_http_methods(["GET", "POST"])
def rater_item(request: HttpRequest, study_token: str, assignment_token: str) -> HttpResponse:
    study = selectors.rater_study_get(user=request.user, token=study_token)
    assignment = selectors.rater_assignment_get(
        user=request.user, study=study, token=assignment_token
    )
    if request.method == "GET":
        services.assignment_mark_opened(assignment=assignment)
        item = selectors.rater_item_view(assignment=assignment)
        return render(request, "annotation/rater_item.html", {"item": item})

    question = selectors.study_question(study=study)
    form = RatingForm(request.POST, scale_values=question.values)
    error = ""
    if form.is_valid():
        try:
            services.rating_save(
                assignment=assignment, question=question, answer=form.cleaned_data["value"]
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = "Choose one of the points on the scale."
    if not request.htmx:
        # Without JavaScript the form posts normally: come back to the same item.
        return redirect(request.path)
    item = selectors.rater_item_view(assignment=assignment)
    # Errors come back with 200 so that htmx swaps them in where the rater is looking.
    context = {"item": item, "saved": not error, "error": error, "oob": True}
    return render(request, "annotation/_rating_form.html", context)
