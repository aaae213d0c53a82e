"""A study's dashboard, and the raters' comments shown on it."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render

from annotation import selectors, services
from annotation.forms import (
    AddRatersForm,
    AnalysisSettingsForm,
    ArmForm,
    ImportForm,
    InviteRatersForm,
    JudgeForm,
    PowerPlanForm,
    QuestionForm,
    RubricTemplateForm,
    SourceEndpointForm,
    WidthPlanForm,
)
from annotation.models import Study
from annotation.selectors import adjudication as adjudication_selectors
from annotation.selectors.planning import study_planning_pilots
from annotation.selectors.reading import reading_summary
from annotation.services import figure_data
from annotation.views.adaptive import adaptive_card
from annotation.views.notifications import notifications_context


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
        "runs": selectors.study_task_runs(study=study),
        # Raters whose assignments an opening left to write: its job's, or left by a dead worker.
        "raters_pending": (pending := selectors.study_raters_pending(study=study)),
        # A worker opening the study (or writing its raters' assignments), alive: its button
        # gives way to the job's progress. A dead one's run is taken over by the workers' sweep.
        # Asked only where it can be so: a draft, or an open study with assignments pending.
        "opening": (study.status == Study.Status.DRAFT or bool(pending))
        and selectors.study_opening_alive(study=study),
        "rater_write_max": settings.RATER_ASSIGNMENTS_WRITE_MAX,
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
