"""A study's cases and outputs, imported from a file."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from annotation import selectors, services
from annotation.core.importing import ImportRejected
from annotation.forms import ImportForm


@login_required
@require_POST
def study_import(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("file", ["Choose a file."])))
        return redirect("study_dashboard", study_token=study.token)
    upload = form.cleaned_data["file"]
    try:
        if services.import_in_background(upload=upload):
            # A large file goes to a worker; its progress shows under Background jobs.
            run = services.study_import_start(study=study, upload=upload, user=request.user)
            messages.info(request, f"Importing {upload.name} in the background (job {run.pk}).")
            return redirect("study_dashboard", study_token=study.token)
        summary = services.study_import_file(
            study=study, filename=upload.name, content=services.import_upload_read(upload=upload)
        )
    except (ImportRejected, ValidationError) as exc:
        reasons = (
            [str(p) for p in exc.problems] if isinstance(exc, ImportRejected) else exc.messages
        )
        for reason in reasons:
            messages.error(request, reason)
        messages.error(request, "Nothing was imported: fix the file and upload it again.")
    else:
        messages.success(request, summary.describe(upload.name))
    return redirect("study_dashboard", study_token=study.token)
