"""The audit log's pages: a study's log for its admins, the whole log for staff, each with its
CSV and JSON export (itself recorded). Raters of a study get 403; anyone else 404, as for the
study's other pages."""

import json
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from annotation import responses, selectors, services
from annotation.models import Membership, Study

PAGE_SIZE = 50
FORMATS = ("csv", "json")


def _admin_study(request: HttpRequest, study_token: str) -> Study:
    study, role = selectors.audit_study_access(user=request.user, study_token=study_token)
    if study is None:
        raise Http404("No such study.")
    if role != Membership.Role.ADMIN:
        raise PermissionDenied("Only the study's admins can read its audit log.")
    return study


def _staff_only(request: HttpRequest) -> None:
    if not request.user.is_staff:
        raise PermissionDenied("Only staff can read the whole audit log.")


@login_required
def study_audit(request: HttpRequest, study_token: str) -> HttpResponse:
    study = _admin_study(request, study_token)
    return _log_page(request, study)


@login_required
def study_audit_export(request: HttpRequest, study_token: str, fmt: str) -> HttpResponse:
    study = _admin_study(request, study_token)
    return _export(request, fmt, study)


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    _staff_only(request)
    return _log_page(request, None)


@login_required
def audit_log_export(request: HttpRequest, fmt: str) -> HttpResponse:
    _staff_only(request)
    return _export(request, fmt, None)


def _filters(request: HttpRequest) -> dict:
    return {
        "action": request.GET.get("action", "").strip()[:50],
        "username": request.GET.get("user", "").strip()[:150],
    }


def _log_page(request: HttpRequest, study: Study | None) -> HttpResponse:
    filters = _filters(request)
    study_id = study.pk if study else None
    events = selectors.audit_events(study_id=study_id, **filters)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    actions, names = selectors.audit_filter_choices(study_id=study_id)
    query = urlencode(
        {
            key: value
            for key, value in (("action", filters["action"]), ("user", filters["username"]))
            if value
        }
    )
    # A value applied but not in a list (a shared link, an action that never occurred here, a
    # name left out of it) is still shown as the one applied.
    if filters["action"] and filters["action"] not in actions:
        actions = [filters["action"], *actions]
    if names is not None and filters["username"] and filters["username"] not in names:
        names = [filters["username"], *names]
    context = {
        "study": study,
        "page": page,
        "actions": actions,
        "names": names,
        "filters": filters,
        "query": query,
    }
    return render(request, "annotation/audit_log.html", context)


def _export(request: HttpRequest, fmt: str, study: Study | None) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("The audit log exports as .csv or .json.")
    filters = _filters(request)
    events = selectors.audit_events(study_id=study.pk if study else None, **filters)
    # Recorded first, so the export holds its own entry: what was taken, by whom, is in it.
    services.audit_record(
        action="audit.exported",
        study=study,
        details={"format": fmt, **{key: value for key, value in filters.items() if value}},
    )
    name = f"audit-{study.token}" if study else "audit"
    rows = selectors.audit_rows(events)
    if fmt == "csv":
        flat = (
            {**row, "details": json.dumps(row["details"], sort_keys=True, ensure_ascii=False)}
            for row in rows
        )
        return responses.csv_response(
            rows=flat, columns=selectors.AUDIT_COLUMNS, filename=f"{name}.csv"
        )
    response = StreamingHttpResponse(_json_lines(rows), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return response


def _json_lines(rows):
    """One JSON array, written an entry at a time (a whole log need not fit in memory)."""
    yield "["
    for number, row in enumerate(rows):
        yield ("," if number else "") + json.dumps(row, ensure_ascii=False, sort_keys=True)
    yield "]\n"
