"""Checklist pages: start a report, fill it in (every field saved as it changes), appraise it with
colleagues, agree a consensus, export it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh

from checklists import exports, selectors, services
from checklists.forms import AddAssessorForm, ReportCreateForm, ScopeForm
from checklists.models import Assessment, ChecklistItem, Report
from evalapp.errors import ShownNotFound, ShownPermissionDenied


@login_required
def report_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request, ReportCreateForm(user=request.user))


def _render_list(request: HttpRequest, form: ReportCreateForm, status: int = 200) -> HttpResponse:
    reports = []
    for report in selectors.reports_for_user(user=request.user):
        own = selectors.own_assessment(report=report, user=request.user)
        reports.append({"report": report, "own": own, "is_lead": report.lead_id == request.user.pk})
    context = {
        "reports": reports,
        "definitions": selectors.definitions_current(),
        "form": form,
    }
    return render(request, "checklists/report_list.html", context, status=status)


@login_required
@require_POST
def report_create(request: HttpRequest) -> HttpResponse:
    form = ReportCreateForm(request.POST, user=request.user)
    if not form.is_valid():
        return _render_list(request, form, status=400)
    report = services.report_create(lead=request.user, **form.cleaned_data)
    return redirect("report_detail", token=report.token)


@login_required
def report_detail(request: HttpRequest, token: str) -> HttpResponse:
    report = selectors.report_for_participant(user=request.user, token=token)
    own = selectors.own_assessment(report=report, user=request.user)
    show = "unanswered" if request.GET.get("show") == "unanswered" else "all"
    context = {**_report_context(request, report, own), "show": show}
    if own is not None:
        facts = selectors.study_facts_for(report=report, user=request.user)
        context["sheet"] = selectors.assessment_sheet(assessment=own, facts=facts)
        context["set_aside"] = selectors.set_aside_codes(assessment=own)
    return render(request, "checklists/report_detail.html", context)


@login_required
@require_POST
def report_scope(request: HttpRequest, token: str) -> HttpResponse:
    report = _report_led_by(request, token)
    form = ScopeForm(request.POST, report=report)
    if not form.is_valid():
        errors = [message for field in form.errors.values() for message in field]
        messages.error(request, " ".join(errors))
        return redirect("report_detail", token=report.token)
    try:
        report = services.report_set_scope(
            report=report, user=request.user, scope=form.cleaned_data
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        n = len(selectors.applicable_items(report=report))
        message = ngettext(
            "Scope saved: %(count)d item applies.", "Scope saved: %(count)d items apply.", n
        )
        messages.success(request, message % {"count": n})
    return redirect("report_detail", token=report.token)


def _report_context(request: HttpRequest, report: Report, own: Assessment | None) -> dict:
    return {
        "report": report,
        "own": own,
        "is_lead": report.lead_id == request.user.pk,
        "assessors": selectors.assessments_listed(report=report, user=request.user),
        "can_see_others": own is None or own.is_submitted,
        "shows_facts": selectors.can_view_study_facts(report=report, user=request.user),
        "assessor_form": AddAssessorForm(),
        "can_export": own is not None
        or report.assessments.filter(
            kind=Assessment.Kind.CONSENSUS, responses__answer__isnull=False
        ).exists(),
        "formats": exports.FORMATS,
        "scope_modules": selectors.scope_modules(report=report),
        "scope_text": selectors.scope_text(report=report),
        "scope_form": ScopeForm(report=report) if report.definition.is_modular else None,
        "scope_changes": report.scope_changes.select_related("changed_by"),
        "scope_locked": report.assessments.filter(submitted_at__isnull=False).exists(),
    }


def _own_or_404(request: HttpRequest, token: str) -> tuple[Report, Assessment]:
    report = selectors.report_for_participant(user=request.user, token=token)
    own = selectors.own_assessment(report=report, user=request.user)
    if own is None:
        raise ShownNotFound(_("You do not answer this report."))
    return report, own


def _answer_from_post(request: HttpRequest, item: ChecklistItem) -> object:
    values = [value for value in request.POST.getlist("answer") if value]
    if item.kind == ChecklistItem.Kind.MULTIPLE_CHOICE:
        return values
    return values[0] if values else None  # the empty "–" option clears the answer


def _save_posted(
    request: HttpRequest, assessment: Assessment, item: ChecklistItem, **text: str | None
) -> str:
    """Save the posted answer (and the given text fields); the refusal message, or ""."""
    try:
        services.response_save(
            assessment=assessment,
            item=item,
            user=request.user,
            answer=_answer_from_post(request, item),
            **text,
        )
    except ValidationError as exc:
        return " ".join(exc.messages)
    return ""


def _report_led_by(request: HttpRequest, token: str) -> Report:
    """The report if the caller leads it; PermissionDenied (403) for other participants."""
    report = selectors.report_for_participant(user=request.user, token=token)
    if report.lead_id != request.user.pk:
        raise ShownPermissionDenied(_("Only the report's lead can do this."))
    return report


def _consensus_led_by(request: HttpRequest, token: str) -> Report:
    """As `_report_led_by`, and only once the lead may see the others' answers: a lead still
    appraising must not learn, even from a count, how the submitted assessors answered."""
    report = _report_led_by(request, token)
    if not selectors.can_see_others(report=report, user=request.user):
        raise ShownPermissionDenied(_("Submit your own appraisal before recording the consensus."))
    return report


@login_required
@require_POST
def response_save(request: HttpRequest, token: str, code: str) -> HttpResponse:
    report, own = _own_or_404(request, token)
    item = selectors.item_for_assessment(assessment=own, code=code)
    error = _save_posted(
        request,
        own,
        item,
        location=request.POST.get("location", ""),
        notes=request.POST.get("notes", ""),
    )
    return _after_item_change(request, report, own, item, error)


@login_required
@require_POST
def response_use_evidence(request: HttpRequest, token: str, code: str) -> HttpResponse:
    report, own = _own_or_404(request, token)
    item = selectors.item_for_assessment(assessment=own, code=code)
    facts = selectors.study_facts_for(report=report, user=request.user)
    sheet = selectors.assessment_sheet(assessment=own, facts=facts)
    row = _row(sheet, item)
    error = ""
    if row is None:
        error = services.item_out_of_scope(item.code)
    elif row.evidence is None:
        error = _("This item has no evidence from a study you administer.")
    else:
        try:
            services.response_use_evidence(
                assessment=own,
                item=item,
                user=request.user,
                text=row.evidence.text,
                digest=row.evidence.digest,
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    return _after_item_change(request, report, own, item, error, whole_item=True)


def _row(sheet: selectors.Sheet, item: ChecklistItem) -> selectors.ItemRow | None:
    """The item's row, or None for an item outside the report's scope."""
    return next((row for s in sheet.sections for row in s.rows if row.item.pk == item.pk), None)


def _after_item_change(
    request: HttpRequest,
    report: Report,
    own: Assessment,
    item: ChecklistItem,
    error: str,
    *,
    whole_item: bool = False,
) -> HttpResponse:
    out_of_scope = not item.applies_in(report.scope)
    if not request.htmx or out_of_scope:
        # Without JavaScript the form posts normally: come back to the same item. An item the
        # scope left out since the page was drawn (in another tab) has no place to show the
        # refusal in: the whole page is drawn again, as it now is, with the message.
        if error:
            messages.error(request, error)
        if out_of_scope and request.htmx:
            return HttpResponseClientRefresh()
        return redirect(reverse("report_detail", args=[report.token]) + f"#item-{item.pk}")
    facts = selectors.study_facts_for(report=report, user=request.user)
    sheet = selectors.assessment_sheet(assessment=own, facts=facts)
    context = {
        **_report_context(request, report, own),
        "sheet": sheet,
        "row": _row(sheet, item),
        "error": error,
        "saved": not error,
        "saved_at": timezone.now(),
        "oob": True,
    }
    # Errors come back with 200 so that htmx swaps them in beside the field.
    template = "checklists/_item.html" if whole_item else "checklists/_item_saved.html"
    return render(request, template, context)


@login_required
@require_POST
def assessment_submit(request: HttpRequest, token: str) -> HttpResponse:
    report, own = _own_or_404(request, token)
    try:
        services.assessment_submit(assessment=own)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Submitted. Your answers are locked."))
    return redirect("report_detail", token=report.token)


@login_required
@require_POST
def report_add_assessor(request: HttpRequest, token: str) -> HttpResponse:
    """Name an assessor. The answer is the same whether or not the account exists; refusals
    concern only the lead themselves or the raters of the study they administer."""
    report = _report_led_by(request, token)
    form = AddAssessorForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["username"]))
        return redirect("report_detail", token=report.token)
    name = form.cleaned_data["username"]
    try:
        services.report_name_assessor(report=report, username=name)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        message = _(
            "If an account is called %(name)s, it can now appraise this report: it is listed "
            "under Assessors once its owner starts answering."
        )
        messages.success(request, message % {"name": repr(name)})
    return redirect("report_detail", token=report.token)


@login_required
def report_consensus(request: HttpRequest, token: str) -> HttpResponse:
    report = selectors.report_for_participant(user=request.user, token=token)
    own = selectors.own_assessment(report=report, user=request.user)
    context = _report_context(request, report, own)
    if not context["can_see_others"]:
        return render(request, "checklists/report_consensus_locked.html", context, status=403)
    context["view"] = selectors.consensus_view(report=report)
    context["only_disagreements"] = request.GET.get("show") == "disagreements"
    return render(request, "checklists/report_consensus.html", context)


@login_required
@require_POST
def consensus_save(request: HttpRequest, token: str, code: str) -> HttpResponse:
    report = _consensus_led_by(request, token)
    consensus = services.consensus_assessment(report=report)
    item = selectors.item_for_assessment(assessment=consensus, code=code)
    error = _save_posted(request, consensus, item, notes=request.POST.get("notes"))
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(reverse("report_consensus", args=[report.token]) + f"#item-{item.pk}")
    return render(request, "checklists/_consensus_status.html", {"item": item, "error": error})


@login_required
@require_POST
def consensus_accept_unanimous(request: HttpRequest, token: str) -> HttpResponse:
    report = _consensus_led_by(request, token)
    view = selectors.consensus_view(report=report)
    if len(view.assessors) < 2:
        messages.error(request, _("Unanimity needs at least two submitted appraisals."))
        return redirect("report_consensus", token=report.token)
    recorded = services.consensus_accept_unanimous(report=report, rows=view.rows)
    message = ngettext(
        "Recorded %(count)d unanimous answer as the consensus.",
        "Recorded %(count)d unanimous answers as the consensus.",
        recorded,
    )
    messages.success(request, message % {"count": recorded})
    return redirect("report_consensus", token=report.token)


@login_required
def report_export(request: HttpRequest, token: str, fmt: str) -> HttpResponse:
    report = selectors.report_for_participant(user=request.user, token=token)
    assessment = selectors.assessment_to_export(
        report=report, user=request.user, which=request.GET.get("of", "")
    )
    return export_response(request, assessment, fmt)


def export_response(request: HttpRequest, assessment: Assessment, fmt: str) -> HttpResponse:
    """The export as a download (or, for HTML, a page to print); shared with the API.

    The page to print is in the reader's language around the checklist's own (English) words;
    the files are for an English-language paper and stay in English (docs/translation.md)."""
    exported_at = timezone.now().replace(microsecond=0)
    if fmt == "html":
        doc = selectors.export_doc(
            assessment=assessment,
            exported_at=exported_at.isoformat(),
            language=translation.get_language(),
        )
        context = {"doc": doc, "submitted_at": assessment.submitted_at, "exported_at": exported_at}
        return render(request, "checklists/report_print.html", context)
    doc = selectors.export_doc(assessment=assessment, exported_at=exported_at.isoformat())
    response = HttpResponse(
        exports.render(doc, fmt), content_type=f"{exports.FORMATS[fmt]}; charset=utf-8"
    )
    filename = f"{assessment.report.definition.slug}-{assessment.report.token}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
