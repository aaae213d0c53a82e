"""The dashboard's reminders card: the study's reminder and notice settings, and what was sent."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation import selectors, services
from annotation.forms import NotificationSettingsForm
from annotation.models import Study


def notifications_context(study: Study, form: NotificationSettingsForm | None = None) -> dict:
    return {
        "study": study,
        "notifications_form": form or NotificationSettingsForm(instance=study),
        "notifications": selectors.study_notifications(study=study),
        "beat_minutes": max(1, round(settings.NOTIFICATIONS_BEAT_SECONDS / 60)),
    }


@login_required
@require_POST
def study_notifications(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    form = NotificationSettingsForm(request.POST, instance=Study.objects.get(pk=study.pk))
    saved = form.is_valid()
    if saved:
        try:
            study = services.study_notifications_update(study=study, **form.cleaned_data)
            form = None
        except ValidationError as exc:
            form.add_error(None, exc)
            saved = False
    if request.htmx:
        # The card alone, with the saved settings or the form's errors beside their fields.
        context = {**notifications_context(study, form), "saved": saved}
        return render(request, "annotation/_notifications.html", context)
    if saved:
        messages.success(request, "Reminder settings saved.")
    else:
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else "Reminders"
            messages.error(request, f"{label}: {' '.join(errors)}")
    return redirect("study_dashboard", study_token=study.token)
