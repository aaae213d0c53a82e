"""What an admin downloads: figures, the paper bundle, ratings as CSV."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.cache import get_conditional_response

from annotation import responses, selectors, services
from annotation.core import charts
from annotation.models import TaskRun
from annotation.services import figure_data


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
