"""A study's rubric: a question added, a template's questions added, a question removed."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from annotation import selectors, services
from annotation.forms import QuestionForm, RubricTemplateForm
from annotation.views.studies.dashboard import dashboard_context


@login_required
@require_POST
def study_question_add(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    form = QuestionForm(request.POST)
    if not form.is_valid():
        # Said at the top of the page too: the form itself is far down the dashboard.
        messages.error(request, "The question was not added: " + " ".join(_form_errors(form)))
        context = {**dashboard_context(study, request.user), "question_form": form}
        return render(request, "annotation/study_dashboard.html", context, status=400)
    try:
        question = services.question_add(study=study, draft=form.cleaned_data["draft"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Added the question {question.key!r}.")
    return redirect(reverse("study_dashboard", args=[study.token]) + "#rubric")


def _form_errors(form) -> list[str]:
    return [
        message if field == "__all__" else f"{form[field].label}: {message}"
        for field, errors in form.errors.items()
        for message in errors
    ]


@login_required
@require_POST
def study_question_template(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    form = RubricTemplateForm(request.POST, templates=services.rubric_templates())
    if not form.is_valid():
        messages.error(request, "Choose one of the templates.")
    else:
        name, language = form.cleaned_data["template"], form.cleaned_data["language"] or None
        try:
            added = services.questions_add_template(study=study, name=name, language=language)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            # The citation to give in the methods, with the translation's note if translated.
            template = services.rubric_templates(language or study.language)[name]
            messages.success(
                request,
                f"Added {len(added)} questions from the template. Cite: {template.citation}",
            )
    return redirect(reverse("study_dashboard", args=[study.token]) + "#rubric")


@login_required
@require_POST
def study_question_remove(request: HttpRequest, study_token: str, key: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    try:
        services.question_remove(study=study, key=key)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(reverse("study_dashboard", args=[study.token]) + "#rubric")
