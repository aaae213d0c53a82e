"""The shape every small form of the dashboard shares: each field's error, or the service's
refusal, said as a message; what was done said on success; and back to the dashboard."""

from collections.abc import Callable
from typing import TypeVar

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from annotation.models import Study

Done = TypeVar("Done")


def dashboard_action(
    request: HttpRequest,
    *,
    study: Study,
    act: Callable[[], Done],
    done: Callable[[Done], str],
    form: forms.Form | None = None,
) -> HttpResponse:
    """Run `act` (once `form`, if any, is valid) and say `done(result)`; a field's error or a
    ValidationError from `act` is said instead, and nothing else is done."""
    if form is not None and not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect("study_dashboard", study_token=study.token)
    try:
        result = act()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done(result))
    return redirect("study_dashboard", study_token=study.token)
