"""Study admin pages: create a study, import its data, configure sources, open it, watch it run."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_POST

from annotation import responses, selectors, services
from annotation.core import charts
from annotation.core.importing import ImportRejected
from annotation.forms import (
    AddRatersForm,
    AnalysisSettingsForm,
    ArmForm,
    ImportForm,
    InviteRatersForm,
    JudgeEditForm,
    JudgeForm,
    PowerPlanForm,
    QuestionForm,
    RubricTemplateForm,
    SourceEditForm,
    SourceEndpointForm,
    StudyCreateForm,
    WidthPlanForm,
)
from annotation.models import Study, TaskRun
from annotation.selectors import adjudication as adjudication_selectors
from annotation.selectors.planning import study_planning_pilots
from annotation.selectors.reading import reading_summary
from annotation.services import figure_data
from annotation.views.adaptive import adaptive_card
from annotation.views.dashboard_actions import dashboard_action
from annotation.views.notifications import notifications_context


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


def dashboard_context(study: Study, admin) -> dict:
    # One aggregate over the assignments gives the raters' progress and the pace.
    counts = selectors.study_assignment_counts(study=study)
    # The cases the sources are compared on; quality-control cases are counted apart.
    n_cases, n_quality_cases = selectors.study_case_counts(study=study)
    questions = list(study.questions.all())
    return {
        "study": study,
        "questions": questions,
        # The published rubrics the questions came from, to cite (no query more).
        "rubric_citations": list(dict.fromkeys(q.citation for q in questions if q.citation)),
        "question_form": QuestionForm(),
        "template_form": RubricTemplateForm(
            templates=services.rubric_templates(), initial={"language": study.language}
        ),
        "invite_form": InviteRatersForm(),
        "invitations": list(study.invitations.select_related("accepted_by")[:20]),
        "sources": selectors.study_sources_overview(study=study, n_cases=n_cases),
        "n_cases": n_cases,
        "n_quality_cases": n_quality_cases,
        "progress": (progress := selectors.study_progress_by_rater(study=study, counts=counts)),
        "quality_control": any(
            row.training_total or row.checks_total or row.repeats_total or row.retests_total
            for row in progress
        ),
        "agreement": selectors.study_agreement_tables(study=study),
        "comparisons": selectors.study_comparison_tables(study=study),
        # Planning the next study from this one's MRMC comparisons and alphas.
        "pilots": (pilots := study_planning_pilots(study=study)),
        "power_form": PowerPlanForm(pilots=pilots.power_usable),
        "width_form": WidthPlanForm(pilots=pilots.width_usable),
        "runs": (runs := selectors.study_task_runs(study=study)),
        # A worker opening the study: its button gives way to the job's progress.
        "opening": any(run.kind == TaskRun.Kind.OPEN and not run.is_finished for run in runs),
        "import_form": ImportForm(),
        "raters_form": AddRatersForm(
            candidates=selectors.study_rater_candidates(study=study, admin=admin)
        ),
        "source_form": SourceEndpointForm(study=study),
        "judges": selectors.study_judges_overview(study=study),
        "judge_form": JudgeForm(study=study),
        "analysis_form": AnalysisSettingsForm(instance=study),
        # Adaptive extra raters: the rule, what it did, the figure that pools the extras.
        "adaptive": adaptive_card(study) if not study.is_reading else None,
        "figures": [name for name, _ in figure_data.study_figures(study=study)],
        "pace": selectors.study_pace(study=study, counts=counts),
        # Progress by source, items short of k and data quality, as the statistics stored them.
        "stored": selectors.study_dashboard_figures(study=study),
        "adjudication": None
        if study.is_reading
        else adjudication_selectors.adjudication_summary(study=study),
        # Why judges, runs, recomputations and analysis settings are refused now ("": they are
        # not), and every reopening of the analysis since the lock.
        "statistics_frozen": study.statistics_frozen_reason(),
        "reopenings": (
            reopenings := list(study.reopenings.select_related("opened_by", "closed_by"))
        ),
        # Assisted reading: the arms, and the form adding one (an empty list elsewhere).
        "arms": list(study.arms.select_related("source")) if study.is_reading else [],
        "arm_form": ArmForm(study=study) if study.is_reading else None,
        "reading": reading_summary(study=study) if study.is_reading else None,
        "scorers": list(study.scorers.select_related("user")) if study.is_reading else [],
        # The reopening still open, shown at the top: figures may change until it is closed.
        "open_reopening": next((r for r in reopenings if r.closed_at is None), None),
        **notifications_context(study),
        "withdrawn_raters": selectors.study_withdrawn_raters(study=study),
        "background_split": selectors.study_background_split(study=study),
    }


@login_required
def study_dashboard(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    context = dashboard_context(study, request.user)
    return render(request, "annotation/study_dashboard.html", context)


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


@login_required
@require_POST
def study_add_raters(request: HttpRequest, study_token: str) -> HttpResponse:
    """Add people the admin already shares a study with; anyone else is invited by e-mail."""
    study = selectors.admin_study_get(user=request.user, token=study_token)
    candidates = selectors.study_rater_candidates(study=study, admin=request.user)
    form = AddRatersForm(request.POST, candidates=candidates)
    if form.is_valid():
        try:
            added = services.study_add_raters(study=study, users=form.cleaned_data["users"])
            messages.success(request, f"Added {len(added)} rater{pluralize(len(added))}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        # A forged choice (an account outside the admin's studies, or none) gets the same words.
        messages.error(request, " ".join(form.errors["users"]))
    return redirect("study_dashboard", study_token=study.token)


@login_required
@require_POST
def study_add_source(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    return _add_endpoint(
        request,
        study,
        SourceEndpointForm(request.POST, study=study),
        services.source_create,
        "model source",
    )


@login_required
@require_POST
def study_add_judge(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    return _add_endpoint(
        request, study, JudgeForm(request.POST, study=study), services.judge_create, "LLM judge"
    )


def _add_endpoint(request: HttpRequest, study: Study, form, create, what: str) -> HttpResponse:
    """Add a model source or a judge from its form, saying what went wrong field by field."""

    def act():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "label"}
        return create(study=study, label=form.cleaned_data["label"], **fields)

    return dashboard_action(
        request, study=study, form=form, act=act, done=lambda added: f"Added {what} {added.label}."
    )


@login_required
def study_edit_source(request: HttpRequest, study_token: str, source_id: int) -> HttpResponse:
    """Change a draft study's source: the add form, filled in, with the same checks."""
    study = selectors.admin_study_get(user=request.user, token=study_token)
    source = get_object_or_404(study.sources, pk=source_id)
    return _edit_endpoint(request, study, source, SourceEditForm, services.source_update, "source")


@login_required
def study_edit_judge(request: HttpRequest, study_token: str, judge_id: int) -> HttpResponse:
    """Change a judge that has not run yet: the add form, filled in, with the same checks."""
    study = selectors.admin_study_get(user=request.user, token=study_token)
    judge = get_object_or_404(study.judges, pk=judge_id)
    return _edit_endpoint(request, study, judge, JudgeEditForm, services.judge_update, "judge")


def _edit_endpoint(
    request: HttpRequest, study: Study, endpoint, form_class, update, what: str
) -> HttpResponse:
    label = endpoint.label  # the form's checks write into the row it was given
    if request.method != "POST":
        form = form_class(instance=endpoint, study=study)
        return _edit_page(request, study, form, what, label)
    form = form_class(request.POST, instance=endpoint, study=study)
    if form.is_valid():
        try:
            changed = update(**{what: endpoint}, **form.cleaned_data)
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                messages.error(request, " ".join(exc.messages))
                return redirect("study_dashboard", study_token=study.token)
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved the {what} {changed.label}.")
            return redirect(reverse("study_dashboard", args=[study.token]) + f"#{what}s")
    return _edit_page(request, study, form, what, label, status=400)


def _edit_page(request, study, form, what: str, label: str, status: int = 200) -> HttpResponse:
    context = {"study": study, "form": form, "what": what, "label": label}
    return render(request, "annotation/endpoint_edit.html", context, status=status)


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
def study_figure(request: HttpRequest, study_token: str, name: str, fmt: str) -> HttpResponse:
    """One of the study's figures, drawn from its stored statistics: SVG for the page, PNG and
    PDF (and SVG with ?download) to save at print quality."""
    study = selectors.admin_study_get(user=request.user, token=study_token)
    drawn = dict(figure_data.study_figures(study=study))
    if name not in drawn or fmt not in charts.FORMATS:
        raise Http404("No such figure.")
    # Drawing takes a while; unchanged statistics need no new drawing: "304 Not Modified".
    digest = figure_data.study_figures_digest(study=study)
    etag = f'"{digest[:32]}-{name}.{fmt}"'
    if unchanged := get_conditional_response(request, etag=etag):
        return unchanged
    response = HttpResponse(figure_data.render(drawn[name], fmt), content_type=charts.FORMATS[fmt])
    if fmt != "svg" or "download" in request.GET:
        response["Content-Disposition"] = f'attachment; filename="{study.token}-{name}.{fmt}"'
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"  # ask each time; a 304 costs nothing
    return response


@login_required
@require_POST
def study_bundle(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    return _start_run(request, study, TaskRun.Kind.EXPORT_BUNDLE)


@login_required
def study_bundle_download(request: HttpRequest, study_token: str, run_id: int) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    run = get_object_or_404(
        study.task_runs, pk=run_id, kind=TaskRun.Kind.EXPORT_BUNDLE, status=TaskRun.Status.SUCCEEDED
    )
    path = services.bundle_path(run)
    if not path.exists():
        raise Http404("This bundle is no longer on the server; build a new one.")
    filename = f"evalapp-{study.token}-{run.finished_at:%Y%m%d-%H%M%S}.zip"
    services.audit_record(
        action="bundle.downloaded", study=study, target=run, details={"file": filename}
    )
    return FileResponse(path.open("rb"), as_attachment=True, filename=filename)


# What the confirmation page's button says; what each action cannot undo is said in
# annotation/_irreversible.html, shared with the dashboard's dialog.
IRREVERSIBLE = {
    "open": "Open the study to raters",
    "lock": "Lock the study",
    "archive": "Archive the study",
    "reassign": "Reassign the unstarted items",
    "remove": "Remove the rater",
    "reopen": "Reopen the analysis",
}


def _ask_first(
    request: HttpRequest, study: Study, action: str, rater: str = "", reason: str = ""
) -> HttpResponse | None:
    """A page asking to confirm an irreversible action, unless the form says it was confirmed.
    The dashboard asks in a dialog and sends confirm=yes; without script, or from anywhere else,
    a bare POST does nothing but ask. A reason given with the action is shown and sent again."""
    if request.POST.get("confirm") == "yes":
        return None
    context = {
        "study": study,
        "action": action,
        "rater": rater,
        "reason": reason,
        "button": IRREVERSIBLE[action],
    }
    if action == "open":  # what opening would fix in place: outputs still missing
        context["sources"] = selectors.study_sources_overview(study=study)
    return render(request, "annotation/study_confirm.html", context)


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


@login_required
@require_POST
def study_open(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    if asked := _ask_first(request, study, "open"):
        return asked
    try:
        if services.study_opens_in_background(study=study):
            run = services.study_open_start(study=study, user=request.user)
            messages.info(
                request,
                f"Opening the study in the background (job {run.pk}): it opens for its raters "
                "once every assignment is stored.",
            )
        else:
            count = services.study_open(study=study)
            messages.success(request, f"The study is open: {count} assignments stored.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("study_dashboard", study_token=study.token)


@login_required
def study_ratings_csv(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    services.audit_record(action="ratings.downloaded", study=study, details={"format": "csv"})
    columns, rows = selectors.study_ratings_export(study=study)
    return responses.csv_response(rows=rows, columns=columns, filename=f"ratings-{study.token}.csv")


@login_required
def study_judge_ratings_csv(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    services.audit_record(action="judge_ratings.downloaded", study=study, details={"format": "csv"})
    return responses.csv_response(
        rows=selectors.study_judge_ratings_long(study=study),
        columns=selectors.JUDGE_RATINGS_COLUMNS,
        filename=f"judge-ratings-{study.token}.csv",
    )


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


@login_required
@require_POST
def study_change_status(request: HttpRequest, study_token: str, action: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    if asked := _ask_first(request, study, action):
        return asked
    change = {"lock": services.study_lock, "archive": services.study_archive}[action]
    try:
        change(study=study)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"The study is {study.get_status_display().lower()}.")
    return redirect("study_dashboard", study_token=study.token)


@login_required
@require_POST
def study_analysis_reopen(request: HttpRequest, study_token: str) -> HttpResponse:
    """Reopen a locked study's analysis, for the reason given, once confirmed; recorded."""
    study = selectors.admin_study_get(user=request.user, token=study_token)
    reason = request.POST.get("reason", "")
    # Without a reason there is nothing to confirm: the service says what is missing.
    if reason.strip() and (asked := _ask_first(request, study, "reopen", reason=reason)):
        return asked
    try:
        services.analysis_reopen(study=study, by=request.user, reason=reason)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            "The analysis is reopened: judges, judge runs, recomputations and analysis settings "
            "may change the statistics until you close it. Ratings stay locked.",
        )
    return redirect(reverse("study_dashboard", args=[study.token]) + "#study")


@login_required
@require_POST
def study_analysis_close(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    try:
        services.analysis_close(study=study, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, "The analysis is closed: the statistics are recomputed one last time."
        )
    return redirect(reverse("study_dashboard", args=[study.token]) + "#study")


@login_required
@require_POST
def study_analysis(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    form = AnalysisSettingsForm(request.POST, instance=study)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label}: {' '.join(errors)}")
        return redirect("study_dashboard", study_token=study.token)
    try:
        services.study_analysis_update(study=study, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("study_dashboard", study_token=study.token)
    messages.success(request, "Saved; the statistics are recomputed in a moment.")
    return redirect("study_dashboard", study_token=study.token)


@login_required
@require_POST
def study_reassign(request: HttpRequest, study_token: str, pseudonym: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    membership = get_object_or_404(study.memberships, role="rater", pseudonym=pseudonym)
    if asked := _ask_first(request, study, "reassign", rater=membership.pseudonym):
        return asked
    try:
        moved = services.assignments_reassign(study=study, rater=membership.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Moved {moved} unstarted items from {pseudonym} to the others.")
    return redirect("study_dashboard", study_token=study.token)


@login_required
@require_POST
def study_remove_rater(request: HttpRequest, study_token: str, pseudonym: str) -> HttpResponse:
    """Remove a rater who has saved nothing, once confirmed; their items go to the others."""
    study = selectors.admin_study_get(user=request.user, token=study_token)
    membership = get_object_or_404(study.memberships, role="rater", pseudonym=pseudonym)
    if asked := _ask_first(request, study, "remove", rater=membership.pseudonym):
        return asked
    try:
        moved = services.rater_remove(study=study, pseudonym=membership.pseudonym)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        handed = f": their {moved} item{pluralize(moved)} went to the other raters" if moved else ""
        messages.success(
            request,
            f"Removed {pseudonym}{handed}. The name {pseudonym} will not be given to anyone else.",
        )
    return redirect(reverse("study_dashboard", args=[study.token]) + "#raters")


@login_required
@require_POST
def study_revoke_invitation(
    request: HttpRequest, study_token: str, invitation_id: int
) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    try:
        invitation = services.invitation_revoke(study=study, invitation_id=invitation_id)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"Withdrew the invitation to {invitation.email}: its link no longer works, and says "
            "so. Invite the address again to send a new one.",
        )
    return redirect(reverse("study_dashboard", args=[study.token]) + "#raters")


@login_required
@require_POST
def study_invite(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    form = InviteRatersForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["emails"]))
        return redirect("study_dashboard", study_token=study.token)

    def link_for(token: str) -> str:
        return request.build_absolute_uri(reverse("invitation", args=[token]))

    try:
        sent = services.invitations_send(
            study=study, emails=form.cleaned_data["emails"], inviter=request.user, link_for=link_for
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        # Every address is invited alike, with an account or without: these words, the list of
        # invitations and the raters' table never say which (nobody joins before accepting).
        n = len(sent)
        messages.success(
            request,
            f"Invited {n} address{pluralize(n, 'es')}: each gets a link by e-mail and appears "
            "under Raters once its owner joins.",
        )
    return redirect("study_dashboard", study_token=study.token)


@login_required
def study_comments(request: HttpRequest, study_token: str) -> HttpResponse:
    """The raters' free-text answers per question, newest first; by source once unblinded.
    An htmx request gets the list alone, to swap into the dashboard's card."""
    study = selectors.admin_study_get(user=request.user, token=study_token)
    source = request.GET.get("source", "")
    sources = selectors.study_comment_sources(study=study)
    if source and not sources:
        raise PermissionDenied("Comments are shown by source once the study is locked.")
    if source and source not in sources:
        return HttpResponseBadRequest("No such source in this study.")
    context = {
        "study": study,
        "sources": sources,
        "source": source,
        "question": request.GET.get("question", ""),
        "show_all": request.GET.get("all") == "1",
    }
    context["questions"] = selectors.study_comments(
        study=study,
        source=source,
        question=context["question"],
        show_all=context["show_all"],
    )
    template = "annotation/_comments.html" if request.htmx else "annotation/study_comments.html"
    return render(request, template, context)
