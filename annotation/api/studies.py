"""/api/v1/studies/: the studies you belong to, and what a study's admins do with one."""

import dataclasses

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import FileResponse, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from annotation import services
from annotation.api import serializers as s
from annotation.api.access import ADMIN, RATER, RATER_SEES, as_api_error, study_access
from annotation.api.filters import StudyFilter
from annotation.core import charts
from annotation.core.importing import ImportRejected
from annotation.models import Membership, Study, TaskRun
from annotation.services import figure_data

PROBLEM = inline_serializer(
    "Problem",
    {
        "detail": serializers.CharField(),
        "problems": serializers.ListField(child=serializers.DictField(), required=False),
    },
)
FIGURE_FORMATS = list(charts.FORMATS)
REFUSED = OpenApiResponse(PROBLEM, description="Refused, with the reason in `detail`.")
INVALID = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="What is wrong: messages by field, or `detail` for the whole request (and, for "
    "an import, `problems` by file, row and field).",
)


class FileNegotiation(BaseContentNegotiation):
    """For a file download: the file whatever the client accepts, and errors as JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def start_run(request: Request, study: Study, kind: str, **target) -> Response:
    """Queue a background job: 202 with the job, or 409 saying why it cannot start."""
    try:
        run = services.task_run_create(study=study, kind=kind, user=request.user, **target)
    except ValidationError as exc:
        return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
    return Response(s.TaskRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


def refused(exc: ValidationError) -> Response:
    return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)


class StudyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, GenericViewSet
):
    """Studies you administer, and those you rate while they are open or locked, with your role
    in each. Settings that would unblind or help guess (the seed, hidden repeats) are null for
    raters."""

    serializer_class = s.StudySerializer
    filterset_class = StudyFilter
    lookup_field = "token"
    lookup_url_kwarg = "study_token"
    lookup_value_regex = "[A-Za-z0-9]+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Study]:
        role = Membership.objects.filter(user=self.request.user, study=OuterRef("pk"))
        return (
            Study.objects.annotate(role=Subquery(role.values("role")[:1]))
            .select_related("adaptive")
            .filter(Q(role=ADMIN) | Q(role=RATER, status__in=RATER_SEES))
            .order_by("title", "pk")
        )

    def _admin_study(self) -> Study:
        return study_access(self.request, self.kwargs["study_token"], admins_only=True).study

    def _fresh(self, study: Study) -> dict:
        study.refresh_from_db()
        study.role = ADMIN
        return s.StudySerializer(study).data

    @extend_schema(request=s.StudyCreateSerializer, responses={201: s.StudySerializer})
    def create(self, request: Request) -> Response:
        """Start a draft study with its first question; you become its admin. Needs the
        permission to add studies."""
        if not request.user.has_perm("annotation.add_study"):
            raise PermissionDenied("You may not create studies; ask a site admin.")
        data = s.StudyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields["scale"] = [dict(p) for p in fields.get("scale") or []] or None
        try:
            study = services.study_create(creator=request.user, **fields)
        except ValidationError as exc:
            raise as_api_error(exc) from None
        return Response(self._fresh(study), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.StudyAnalysisSerializer,
        responses={200: s.StudySerializer, 400: INVALID, 409: REFUSED},
    )
    def partial_update(self, request: Request, study_token: str) -> Response:
        """Change the analysis settings (`p_adjustment`, `judge_epsilon`); the statistics are
        recomputed soon after. Refused once the study is locked, unless its analysis is reopened.
        `language` (the language of the study's own content) may change until it is archived."""
        study = self._admin_study()
        data = s.StudyAnalysisSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        language = changes.pop("language", None)
        settings = {"p_adjustment": study.p_adjustment, "judge_epsilon": study.judge_epsilon}
        try:
            if changes:
                services.study_analysis_update(study=study, **{**settings, **changes})
            if language:
                services.study_language_set(study=study, language=language)
        except ValidationError as exc:
            return refused(exc)
        return Response(self._fresh(study))

    @extend_schema(
        request=s.ImportSerializer,
        responses={
            200: s.ImportSummarySerializer,
            202: s.TaskRunSerializer,
            400: INVALID,
        },
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser], url_path="import")
    def import_file(self, request: Request, study_token: str) -> Response:
        """Import cases, sources and outputs from a file, while the study is a draft: all of
        it, or nothing, with every problem named by file, row and field. A file over
        IMPORT_BACKGROUND_BYTES (a zip: unpacked) is imported by a worker: 202 with the job,
        whose `message` names the problems if it fails. Refused (400) while another import of
        the study waits or runs."""
        study = self._admin_study()
        data = s.ImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        try:
            if services.import_in_background(upload=upload):
                run = services.study_import_start(study=study, upload=upload, user=request.user)
                return Response(s.TaskRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
            summary = services.study_import_file(
                study=study,
                filename=upload.name,
                content=services.import_upload_read(upload=upload),
            )
        except ImportRejected as exc:
            problems = [dataclasses.asdict(p) for p in exc.problems]
            body = {"detail": "Nothing was imported: fix the file.", "problems": problems}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        except ValidationError as exc:
            raise as_api_error(exc) from None
        return Response(dataclasses.asdict(summary))

    @extend_schema(
        request=None,
        responses={200: s.OpenedSerializer, 202: s.TaskRunSerializer, 409: REFUSED},
    )
    @action(detail=True, methods=["post"])
    def open(self, request: Request, study_token: str) -> Response:
        """Freeze the outputs into items and give every rater their seeded order. A study whose
        outputs times raters pass OPEN_BACKGROUND_PLACEMENTS is opened by a worker: 202 with
        the job, whose `message` says why if the study could not be opened. The study opens
        to its raters before that job ends, which then writes each rater's assignments; on
        an open study whose worker stopped before it had written them all, 202 with a job that
        writes the rest."""
        study = self._admin_study()
        try:
            if services.study_opens_in_background(study=study):
                run = services.study_open_start(study=study, user=request.user)
                return Response(s.TaskRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
            n = services.study_open(study=study)
        except ValidationError as exc:
            return refused(exc)
        return Response({"assignments": n, "study": self._fresh(study)})

    @extend_schema(request=None, responses={200: s.StudySerializer, 409: REFUSED})
    @action(detail=True, methods=["post"])
    def lock(self, request: Request, study_token: str) -> Response:
        """Open -> locked: answers can no longer change, and the statistics are recomputed one
        last time; after that they change only while the analysis is reopened."""
        return self._move(services.study_lock)

    @extend_schema(request=None, responses={200: s.StudySerializer, 409: REFUSED})
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, study_token: str) -> Response:
        """Locked -> archived: frozen for good, its analysis can no longer be reopened."""
        return self._move(services.study_archive)

    @extend_schema(
        request=s.AnalysisReopenSerializer,
        responses={200: s.AnalysisReopeningSerializer, 400: INVALID, 409: REFUSED},
    )
    @action(detail=True, methods=["post"], url_path="reopen-analysis")
    def reopen_analysis(self, request: Request, study_token: str) -> Response:
        """Reopen a locked study's analysis, saying why (recorded, and listed in the paper
        bundle): until it is closed, judges may be added and run, the statistics recomputed
        and the analysis settings changed. Ratings stay locked; an archived study is frozen."""
        study = self._admin_study()
        data = s.AnalysisReopenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            reopening = services.analysis_reopen(
                study=study, by=request.user, reason=data.validated_data["reason"]
            )
        except ValidationError as exc:
            return refused(exc)
        return Response(s.AnalysisReopeningSerializer(reopening).data)

    @extend_schema(request=None, responses={200: s.AnalysisReopeningSerializer, 409: REFUSED})
    @action(detail=True, methods=["post"], url_path="close-analysis")
    def close_analysis(self, request: Request, study_token: str) -> Response:
        """Close the reopened analysis: the statistics are recomputed one last time and stay
        as they are."""
        try:
            reopening = services.analysis_close(study=self._admin_study(), by=request.user)
        except ValidationError as exc:
            return refused(exc)
        return Response(s.AnalysisReopeningSerializer(reopening).data)

    @extend_schema(
        request=s.RubricTemplateSerializer,
        responses={201: s.QuestionsAddedSerializer, 400: INVALID},
    )
    @action(detail=True, methods=["post"], url_path="questions-from-template")
    def questions_from_template(self, request: Request, study_token: str) -> Response:
        """Add every question of a built-in rubric template to a draft study, or none if one
        of its keys is taken."""
        study = self._admin_study()
        data = s.RubricTemplateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            added = services.questions_add_template(
                study=study,
                name=data.validated_data["template"],
                language=data.validated_data.get("language"),
            )
        except ValidationError as exc:
            raise as_api_error(exc) from None
        citation = added[0].citation if added else ""
        body = s.QuestionsAddedSerializer({"added": added, "citation": citation}).data
        return Response(body, status=status.HTTP_201_CREATED)

    def _move(self, change) -> Response:
        study = self._admin_study()
        try:
            change(study=study)
        except ValidationError as exc:
            return refused(exc)
        return Response(self._fresh(study))

    @extend_schema(request=None, responses={202: s.TaskRunSerializer, 409: REFUSED})
    @action(detail=True, methods=["post"])
    def recompute(self, request: Request, study_token: str) -> Response:
        """Recompute the statistics now (they are also recomputed soon after every submit).
        Refused once the study is locked, unless its analysis is reopened."""
        return start_run(request, self._admin_study(), TaskRun.Kind.COMPUTE_AGREEMENT)

    @extend_schema(operation_id="studies_figures_list", responses={200: s.FiguresSerializer})
    @action(detail=True, methods=["get"], url_path="figures")
    def figure_list(self, request: Request, study_token: str) -> Response:
        """The figures the dashboard shows, drawn from the stored statistics: each by name,
        with its address in every format."""
        study = self._admin_study()
        names = [name for name, _ in figure_data.study_figures(study=study)]
        listed = [
            {
                "name": name,
                "urls": {
                    fmt: reverse("api-study-figure", args=[study.token, name, fmt])
                    for fmt in charts.FORMATS
                },
            }
            for name in names
        ]
        return Response({"figures": listed})

    @extend_schema(
        operation_id="studies_figure_retrieve",
        # The route's pattern is anchored only at its ends; the formats are these.
        parameters=[
            OpenApiParameter("fmt", OpenApiTypes.STR, OpenApiParameter.PATH, enum=FIGURE_FORMATS)
        ],
        request=None,
        responses={
            **{(200, media): OpenApiTypes.BINARY for media in charts.FORMATS.values()},
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"figures/(?P<name>[-a-z0-9_]+)\.(?P<fmt>[a-z]+)",
        url_name="figure",
        content_negotiation_class=FileNegotiation,
    )
    def figure(self, request: Request, study_token: str, name: str, fmt: str) -> HttpResponse:
        """One figure as SVG, PNG or PDF (print quality), as the dashboard's download links
        give it; 404 for a figure the study's statistics do not give (yet)."""
        study = self._admin_study()
        drawn = dict(figure_data.study_figures(study=study))
        if name not in drawn or fmt not in charts.FORMATS:
            raise NotFound("No such figure; `figures/` lists the study's.")
        response = HttpResponse(
            figure_data.render(drawn[name], fmt), content_type=charts.FORMATS[fmt]
        )
        response["Content-Disposition"] = f'attachment; filename="{study.token}-{name}.{fmt}"'
        return response

    @extend_schema(
        methods=["GET"],
        request=None,
        responses={(200, "application/zip"): OpenApiTypes.BINARY, 404: REFUSED},
        description="The newest paper bundle built (a zip); 404 if none is ready.",
    )
    @extend_schema(
        methods=["POST"],
        request=None,
        responses={202: s.TaskRunSerializer, 409: REFUSED},
        description="Build the paper bundle on a worker; follow the job at "
        "`tasks/<id>/`, then GET this address for the zip.",
    )
    @action(detail=True, methods=["get", "post"], content_negotiation_class=FileNegotiation)
    def bundle(self, request: Request, study_token: str) -> Response | FileResponse:
        study = self._admin_study()
        if request.method == "POST":
            return start_run(request, study, TaskRun.Kind.EXPORT_BUNDLE)
        run = study.task_runs.filter(
            kind=TaskRun.Kind.EXPORT_BUNDLE, status=TaskRun.Status.SUCCEEDED
        ).first()
        path = services.bundle_path(run) if run else None
        if path is None or not path.exists():
            raise NotFound("No paper bundle is ready; POST here to build one.")
        filename = f"evalapp-{study.token}-{run.finished_at:%Y%m%d-%H%M%S}.zip"
        services.audit_record(
            action="bundle.downloaded", study=study, target=run, details={"file": filename}
        )
        return FileResponse(
            path.open("rb"), as_attachment=True, filename=filename, content_type="application/zip"
        )
