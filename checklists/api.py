"""REST API v1 for checklists: definitions, reports, responses and exports.

The same reading rule as the pages: an assessment that is not yours and not yet readable is a
404, indistinguishable from one that does not exist.
"""

import re
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.selectors import admin_studies
from checklists import exports as checklist_exports
from checklists import selectors, services, views
from checklists.models import Assessment, ChecklistDefinition, Report


def in_english(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The API answers in English whatever language the caller's browser or cookie asks the
    pages for: its messages and the labels in its bodies are what scripts match and store.
    The body is rendered here, inside that language, since a DRF response is otherwise
    rendered after the view returns."""

    @wraps(view)
    def in_english_view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        with translation.override(settings.LANGUAGE_CODE):
            response = view(request, *args, **kwargs)
            if callable(getattr(response, "render", None)) and not response.is_rendered:
                response.render()
        # LocaleMiddleware names the language it chose only where the response names none.
        response.headers["Content-Language"] = settings.LANGUAGE_CODE
        return response

    return in_english_view


def _not_found(exc: Http404) -> NotFound:
    return NotFound(str(exc) or "Not found.")


def _participant_report(request: Request, token: str) -> Report:
    try:
        return selectors.report_for_participant(user=request.user, token=token)
    except Http404 as exc:
        raise _not_found(exc) from None


def _validation_response(exc: ValidationError) -> Response:
    return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)


class DefinitionSerializer(serializers.ModelSerializer):
    n_items = serializers.IntegerField(source="items.count", read_only=True)
    current = serializers.SerializerMethodField()

    class Meta:
        model = ChecklistDefinition
        fields = [
            "slug",
            "revision",
            "version",
            "title",
            "citation",
            "source_url",
            "notice",
            "n_items",
            "current",
        ]

    def get_current(self, obj: ChecklistDefinition) -> bool:
        return obj.pk in self.context["current"]


class DefinitionListAPI(ListAPIView):
    """Every loaded revision of every checklist; `current` marks the one new reports use."""

    serializer_class = DefinitionSerializer

    def get_serializer_context(self) -> dict:
        current = {d.pk for d in selectors.definitions_current()}
        return {**super().get_serializer_context(), "current": current}

    def get_queryset(self):
        return ChecklistDefinition.objects.prefetch_related("items")


class ChecklistItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    prompt = serializers.CharField()
    guidance = serializers.CharField(allow_blank=True)
    kind = serializers.CharField()
    choices = serializers.JSONField()
    evidence = serializers.JSONField()
    tag = serializers.CharField(allow_blank=True)
    applies_to = serializers.JSONField(
        help_text="Module key -> option codes the item applies to; a module left out: all."
    )


class ChecklistSectionSerializer(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()
    items = ChecklistItemSerializer(many=True)


class DefinitionDetailSerializer(DefinitionSerializer):
    modules = serializers.JSONField(help_text="A modular checklist's scopes; [] for others.")
    sections = ChecklistSectionSerializer(many=True)

    class Meta(DefinitionSerializer.Meta):
        fields = [*DefinitionSerializer.Meta.fields, "modules", "sections"]


class DefinitionDetailAPI(APIView):
    """One checklist with its sections and items: the newest revision, or `?revision=N`."""

    @extend_schema(
        parameters=[OpenApiParameter("revision", OpenApiTypes.INT, description="Default: newest.")],
        responses={200: DefinitionDetailSerializer},
    )
    def get(self, request: Request, slug: str) -> Response:
        revision = request.query_params.get("revision")
        if revision is not None and not re.fullmatch(r"[0-9]{1,9}", revision):
            return Response({"detail": "revision must be a whole number."}, status=400)
        try:
            definition = selectors.definition_get(slug=slug, revision=int(revision or 0))
        except Http404 as exc:
            raise _not_found(exc) from None
        current = {d.pk for d in selectors.definitions_current()}
        body = DefinitionSerializer(definition, context={"current": current}).data
        items_by_section: dict[int, list] = {}
        for item in definition.items.all():
            items_by_section.setdefault(item.section_id, []).append(
                {
                    "code": item.code,
                    "prompt": item.prompt,
                    "guidance": item.guidance,
                    "kind": item.kind,
                    "choices": item.options,
                    "evidence": item.evidence,
                    "tag": item.tag,
                    "applies_to": item.applies_to,
                }
            )
        body["modules"] = definition.modules
        body["sections"] = [
            {"code": s.code, "title": s.title, "items": items_by_section.get(s.pk, [])}
            for s in definition.sections.all()
        ]
        return Response(body)


class ReportCreateSerializer(serializers.Serializer):
    checklist = serializers.SlugField(help_text="A checklist's slug; its newest revision is used.")
    title = serializers.CharField(max_length=300)
    manuscript = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    study = serializers.CharField(required=False, allow_null=True, default=None)
    lead_assesses = serializers.BooleanField(required=False, default=True)
    scope = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        allow_null=True,
        default=None,
        help_text="A modular checklist's scope, chosen now: every module's key -> the option "
        'codes the study covers, e.g. {"design": ["E"], "task": ["QA"]}. Left out, null or {}: '
        "chosen later with PUT .../scope/.",
    )


class AssessmentRowSerializer(serializers.Serializer):
    token = serializers.CharField()
    assessor = serializers.CharField()
    kind = serializers.CharField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    readable = serializers.BooleanField(help_text="Whether you may read its answers now.")


class ChecklistRefSerializer(serializers.Serializer):
    slug = serializers.CharField()
    revision = serializers.IntegerField()
    title = serializers.CharField()
    version = serializers.CharField(allow_blank=True)


class ReportSerializer(serializers.Serializer):
    token = serializers.CharField()
    title = serializers.CharField()
    manuscript = serializers.CharField(allow_blank=True)
    checklist = ChecklistRefSerializer()
    study = serializers.CharField(allow_null=True)
    lead = serializers.CharField()
    scope = serializers.JSONField(
        help_text="A modular checklist's chosen options per module; {} until chosen."
    )
    items_applicable = serializers.IntegerField(
        help_text="How many items the report answers: those in its scope."
    )
    your_assessment = serializers.CharField(allow_null=True)
    assessments = AssessmentRowSerializer(many=True)


def _report_body(report: Report, user) -> dict:
    own = selectors.own_assessment(report=report, user=user)
    assessments = []
    # Named assessors who have not started are left out, as on the report's page.
    listed = selectors.assessments_listed(report=report, user=user)
    consensus = report.assessments.filter(kind=Assessment.Kind.CONSENSUS).select_related("assessor")
    for assessment in [*listed, *consensus]:
        readable = selectors.can_read_assessment(assessment=assessment, user=user, own=own)
        assessments.append(
            {
                "token": assessment.token,
                "assessor": assessment.assessor.get_username(),
                "kind": assessment.kind,
                "submitted_at": assessment.submitted_at,
                "readable": readable,
            }
        )
    return {
        "token": report.token,
        "title": report.title,
        "manuscript": report.manuscript,
        "checklist": {
            "slug": report.definition.slug,
            "revision": report.definition.revision,
            "title": report.definition.title,
            "version": report.definition.version,
        },
        "study": report.study.token if report.study_id else None,
        "lead": report.lead.get_username(),
        "scope": report.scope,
        "items_applicable": len(selectors.applicable_items(report=report)),
        "your_assessment": own.token if own else None,
        "assessments": assessments,
    }


class ReportListAPI(ListAPIView):
    """Reports you lead or assess; POST starts one."""

    serializer_class = ReportSerializer

    def get_queryset(self):
        return selectors.reports_for_user(user=self.request.user)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([_report_body(r, request.user) for r in page])

    @extend_schema(
        request=ReportCreateSerializer,
        responses={
            201: ReportSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Refused: why, by field."),
        },
    )
    def post(self, request: Request) -> Response:
        data = ReportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        current = {d.slug: d for d in selectors.definitions_current()}
        if fields["checklist"] not in current:
            return Response({"checklist": ["No such checklist."]}, status=400)
        study = None
        if fields["study"]:
            study = admin_studies(user=request.user).filter(token=fields["study"]).first()
            if study is None:
                return Response({"study": ["No study of yours has this token."]}, status=400)
        try:
            report = services.report_create(
                lead=request.user,
                definition=current[fields["checklist"]],
                title=fields["title"],
                manuscript=fields["manuscript"],
                study=study,
                lead_assesses=fields["lead_assesses"],
                scope=fields["scope"],
            )
        except ValidationError as exc:
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        return Response(_report_body(report, request.user), status=status.HTTP_201_CREATED)


class ReportDetailAPI(APIView):
    @extend_schema(responses={200: ReportSerializer})
    def get(self, request: Request, token: str) -> Response:
        report = _participant_report(request, token)
        return Response(_report_body(report, request.user))


def _response_rows(assessment: Assessment) -> list[dict]:
    responses = {r.item_id: r for r in assessment.responses.all()}
    rows = []
    for item in selectors.applicable_items(report=assessment.report):
        response = responses.get(item.pk)
        rows.append(
            {
                "item": item.code,
                "answer": response.answer if response else None,
                "location": response.location if response else "",
                "notes": response.notes if response else "",
                "updated_at": response.updated_at if response else None,
            }
        )
    return rows


class ScopeInputSerializer(serializers.Serializer):
    scope = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Every module's key -> the option codes the study covers, e.g. "
        '{"design": ["E"], "task": ["QA"]}.',
    )


class ReportScopeAPI(APIView):
    """Choose a modular checklist's scope (the lead only). Answers to items that stop applying
    are kept and come back if the scope widens; no change once an appraisal is submitted."""

    @extend_schema(
        request=ScopeInputSerializer,
        responses={
            200: ReportSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Refused: why, by module."),
        },
    )
    def put(self, request: Request, token: str) -> Response:
        report = _participant_report(request, token)
        if report.lead_id != request.user.pk:
            raise PermissionDenied("Only the report's lead can choose its scope.")
        data = ScopeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            report = services.report_set_scope(
                report=report, user=request.user, scope=data.validated_data["scope"]
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
            return _validation_response(exc)
        return Response(_report_body(report, request.user))


class ResponseRowSerializer(serializers.Serializer):
    item = serializers.CharField()
    answer = serializers.JSONField(allow_null=True)
    location = serializers.CharField(allow_blank=True)
    notes = serializers.CharField(allow_blank=True)
    updated_at = serializers.DateTimeField(allow_null=True)


class AssessmentResponsesSerializer(serializers.Serializer):
    assessment = serializers.CharField()
    kind = serializers.CharField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    responses = ResponseRowSerializer(many=True)


class AssessmentResponsesAPI(APIView):
    """One assessment's answers, item by item, if you may read them."""

    @extend_schema(responses={200: AssessmentResponsesSerializer})
    def get(self, request: Request, token: str, assessment_token: str) -> Response:
        report = _participant_report(request, token)
        try:
            assessment = selectors.assessment_for_reader(
                report=report, user=request.user, token=assessment_token
            )
        except Http404 as exc:
            raise _not_found(exc) from None
        return Response(
            {
                "assessment": assessment.token,
                "kind": assessment.kind,
                "submitted_at": assessment.submitted_at,
                "responses": _response_rows(assessment),
            }
        )


class ResponseInputSerializer(serializers.Serializer):
    answer = serializers.JSONField(required=False, allow_null=True)
    location = serializers.CharField(required=False, allow_blank=True, max_length=200)
    notes = serializers.CharField(required=False, allow_blank=True)


class ResponseSaveAPI(APIView):
    """Save your answer to one item: any of `answer` (null clears it), `location`, `notes`."""

    @extend_schema(
        request=ResponseInputSerializer,
        responses={
            200: ResponseRowSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Refused: why, by field."),
        },
    )
    def put(self, request: Request, token: str, code: str) -> Response:
        report = _participant_report(request, token)
        own = selectors.own_assessment(report=report, user=request.user)
        if own is None:
            raise NotFound("You do not answer this report.")
        try:
            item = selectors.item_for_assessment(assessment=own, code=code)
        except Http404 as exc:
            raise _not_found(exc) from None
        data = ResponseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)  # an explicit "answer": null clears the answer
        try:
            response = services.response_save(
                assessment=own, item=item, user=request.user, **fields
            )
        except ValidationError as exc:
            return _validation_response(exc)
        return Response(
            {
                "item": item.code,
                "answer": response.answer,
                "location": response.location,
                "notes": response.notes,
                "updated_at": response.updated_at,
            }
        )

    patch = put


class SubmittedSerializer(serializers.Serializer):
    assessment = serializers.CharField()
    submitted_at = serializers.DateTimeField()


class SubmitAPI(APIView):
    """Submit (and lock) your assessment once every item is answered; repeating it is harmless."""

    @extend_schema(request=None, responses={200: SubmittedSerializer})
    def post(self, request: Request, token: str) -> Response:
        report = _participant_report(request, token)
        own = selectors.own_assessment(report=report, user=request.user)
        if own is None:
            raise NotFound("You do not answer this report.")
        try:
            own = services.assessment_submit(assessment=own)
        except ValidationError as exc:
            return _validation_response(exc)
        return Response({"assessment": own.token, "submitted_at": own.submitted_at})


class ExportAPI(APIView):
    """The report in one format (md, csv, json, tex, html); `?of=` as on the page."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "of", OpenApiTypes.STR, description="consensus, or an assessment's token."
            ),
            # The URL's converter gives a pattern anchored only at its ends; the formats are
            # these.
            OpenApiParameter(
                "fmt",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=list(checklist_exports.FORMATS),
            ),
        ],
        responses={
            (200, media): OpenApiTypes.OBJECT if fmt == "json" else OpenApiTypes.STR
            for fmt, media in checklist_exports.FORMATS.items()
        },
    )
    def get(self, request: Request, token: str, fmt: str) -> HttpResponse:
        report = _participant_report(request, token)
        try:
            assessment = selectors.assessment_to_export(
                report=report, user=request.user, which=request.query_params.get("of", "")
            )
        except Http404 as exc:
            raise _not_found(exc) from None
        return views.export_response(request._request, assessment, fmt)
