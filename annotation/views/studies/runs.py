"""Background jobs: started from the dashboard, followed, cancelled."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation import selectors, services
from annotation.models import Study, TaskRun


@login_required
@require_POST
def study_run_judge(request: HttpRequest, study_token: str, judge_id: int) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    judge = get_object_or_404(study.judges, pk=judge_id)
    return _start_run(request, study, TaskRun.Kind.RUN_JUDGE, judge=judge)


@login_required
@require_POST
def study_judge_answers(request: HttpRequest, study_token: str, judge_id: int) -> HttpResponse:
    """Assisted reading: the judge scores the answers exact match left undecided, and a
    sample of the matched ones if the admin asks for one."""
    study = selectors.admin_study_get(user=request.user, token=study_token)
    judge = get_object_or_404(study.judges, pk=judge_id)
    sample = request.POST.get("decided_sample", "").strip() or "0"
    # ASCII digits only: "²".isdigit() holds, and int() refuses it.
    if not (sample.isascii() and sample.isdecimal()) or int(sample) > 100_000:
        return _run_refused(
            request, study, "The sample of matched answers is a whole number from 0 to 100000."
        )
    return _start_run(
        request, study, TaskRun.Kind.JUDGE_ANSWERS, judge=judge, decided_sample=int(sample)
    )


@login_required
@require_POST
def study_fetch_outputs(request: HttpRequest, study_token: str, source_id: int) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    source = get_object_or_404(study.sources, pk=source_id)
    return _start_run(request, study, TaskRun.Kind.FETCH_OUTPUTS, source=source)


@login_required
@require_POST
def study_compute_agreement(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    return _start_run(request, study, TaskRun.Kind.COMPUTE_AGREEMENT)


@login_required
@require_POST
def study_bundle(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    return _start_run(request, study, TaskRun.Kind.EXPORT_BUNDLE)


def _start_run(request: HttpRequest, study: Study, kind: str, **target) -> HttpResponse:
    """Queue a background job and show it, or say why it cannot start."""
    try:
        run = services.task_run_create(study=study, kind=kind, user=request.user, **target)
    except ValidationError as exc:
        return _run_refused(request, study, " ".join(exc.messages))
    return _run_started(request, study, run)


def _run_refused(request: HttpRequest, study: Study, reason: str) -> HttpResponse:
    if request.htmx:
        return render(request, "annotation/_task_refused.html", {"reason": reason})
    messages.error(request, reason)
    return redirect("study_dashboard", study_token=study.token)


def _run_started(request: HttpRequest, study: Study, run: TaskRun) -> HttpResponse:
    if request.htmx:
        context = {"study": study, "run": run, "new": True}
        return render(request, "annotation/_task_run.html", context)
    messages.info(request, f"Started: {run.get_kind_display()}.")
    return redirect("study_dashboard", study_token=study.token)


@login_required
def study_task_run(request: HttpRequest, study_token: str, run_id: int) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    run = get_object_or_404(study.task_runs.select_related("source"), pk=run_id)
    response = render(request, "annotation/_task_run.html", {"study": study, "run": run})
    if run.is_finished and request.htmx:
        # Tell the page the numbers behind it changed, so it can reload them.
        response["HX-Trigger"] = "taskFinished"
    return response


@login_required
@require_POST
def study_task_run_cancel(request: HttpRequest, study_token: str, run_id: int) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    run = get_object_or_404(study.task_runs.select_related("source"), pk=run_id)
    run = services.task_run_cancel(run=run)
    if request.htmx:
        return render(request, "annotation/_task_run.html", {"study": study, "run": run})
    return redirect("study_dashboard", study_token=study.token)
