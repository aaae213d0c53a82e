"""Adjudication's pages: for admins, the adjudicators and the choice of items; for an
adjudicator, the queue of items they did not rate, each with the raters' answers under
"Reader n" labels and a form for the reference answers and the reason."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from annotation import selectors, services
from annotation.forms import AdjudicationSelectForm
from annotation.models import Question
from annotation.selectors import adjudication as adjudication_selectors


@login_required
@require_http_methods(["GET"])
def study_adjudication(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    return _admin_page(request, study, AdjudicationSelectForm(study=study))


def _admin_page(request, study, form, status: int = 200) -> HttpResponse:
    context = {
        "study": study,
        "form": form,
        "summary": adjudication_selectors.adjudication_summary(study=study),
        "adjudicators": study.adjudicators.select_related("user").order_by("label"),
    }
    return render(request, "annotation/study_adjudication.html", context, status=status)


@login_required
@require_POST
def adjudication_select(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    form = AdjudicationSelectForm(request.POST, study=study)
    if not form.is_valid():
        return _admin_page(request, study, form, status=400)
    try:
        run = services.adjudication_select(study=study, by=request.user, **form.selection())
    except ValidationError as exc:
        form.add_error(None, exc)
        return _admin_page(request, study, form, status=400)
    messages.success(request, f"{run.chosen} item{'s' if run.chosen != 1 else ''} chosen.")
    return redirect("study_adjudication", study_token=study.token)


@login_required
@require_POST
def adjudicator_add(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    user = get_user_model().objects.filter(username=request.POST.get("username", "")).first()
    if user is None:
        messages.error(request, "username: no account has that user name.")
        return redirect("study_adjudication", study_token=study.token)
    try:
        adjudicator = services.adjudicator_add(study=study, user=user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{user} adjudicates as {adjudicator.label}.")
    return redirect("study_adjudication", study_token=study.token)


@login_required
@require_http_methods(["GET"])
def adjudicator_next(request: HttpRequest, study_token: str) -> HttpResponse:
    study = adjudication_selectors.adjudicator_study_get(user=request.user, token=study_token)
    queue = adjudication_selectors.adjudicator_queue(study=study, user=request.user)
    if queue:
        return redirect("adjudicator_item", study_token=study.token, token=queue[0])
    decided = adjudication_selectors.adjudicator_decided(study=study, user=request.user)
    held = adjudication_selectors.adjudicator_held(study=study, user=request.user)
    context = {"study": study, "decided": decided, "held": held}
    return render(request, "annotation/adjudicator_done.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def adjudicator_item(request: HttpRequest, study_token: str, token: str) -> HttpResponse:
    """One item to adjudicate; the reference is saved on submit (every question and the
    reason together), and may be revised until the study is archived."""
    study = adjudication_selectors.adjudicator_study_get(user=request.user, token=study_token)
    adjudication = adjudication_selectors.adjudication_get(
        study=study, user=request.user, token=token
    )
    status = 200
    if request.method == "POST":
        try:
            services.adjudication_record(
                adjudication=adjudication,
                user=request.user,
                answers=_posted_answers(request, study),
                reason=request.POST.get("reason", ""),
            )
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
            status = 400
        else:
            messages.success(request, _("Reference recorded."))
            return redirect("adjudicator_next", study_token=study.token)
    item = adjudication_selectors.adjudicator_item(
        study=study, user=request.user, adjudication=adjudication
    )
    return render(request, "annotation/adjudicator_item.html", {"item": item}, status=status)


def _posted_answers(request: HttpRequest, study) -> dict:
    answers = {}
    for question in adjudication_selectors.reference_questions(study=study):
        if question.kind == Question.Kind.MULTIPLE_CHOICE:
            answers[question.key] = request.POST.getlist(question.key)
        else:
            answers[question.key] = request.POST.get(question.key, "")
    return answers


def _error_text(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(
            f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items()
        )
    return " ".join(exc.messages)
