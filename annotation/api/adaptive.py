"""/api/v1/studies/<token>/adaptive/: a study's adaptive extra raters (admins only): the rule
(`setting/`, set while the study is a draft; `off/`), what it has done since, and every extra
assignment (`extras/`)."""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from annotation import selectors, services
from annotation.api.access import as_api_error
from annotation.api.base import StudyScopedViewSet
from annotation.api.studies import INVALID
from annotation.core import disagreement
from annotation.models import AdaptiveDesign, Study


class AdaptiveSetSerializer(serializers.Serializer):
    rule = serializers.JSONField(
        help_text='A disagreement rule about one question: {"kind": "range", "question": '
        '"overall", "threshold": 2}, {"kind": "no_majority", "question": ...} or {"kind": '
        '"any_value", "question": ..., "values": [...]}.'
    )
    first_k = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="How many first regular ratings decide; default the raters per item.",
    )
    extra_m = serializers.IntegerField(help_text="At most this many extra raters per item.")


class AdaptiveCountsSerializer(serializers.Serializer):
    decided = serializers.IntegerField(help_text="Items whose first k ratings were read.")
    triggered = serializers.IntegerField(help_text="Of which met the rule.")
    extras = serializers.IntegerField(help_text="Extra assignments made.")
    extras_done = serializers.IntegerField(help_text="Of which submitted.")
    shortfall = serializers.IntegerField(
        help_text="Extra raters wanted but not available, or lost with a removed rater."
    )
    lost = serializers.IntegerField(
        help_text="Of the shortfall: extras dropped when their rater was removed."
    )


class AdaptiveSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    rule = serializers.JSONField(allow_null=True)
    rule_text = serializers.CharField(help_text="The rule in words.")
    first_k = serializers.IntegerField(allow_null=True)
    extra_m = serializers.IntegerField(allow_null=True)
    counts = AdaptiveCountsSerializer()


class AdaptiveExtraSerializer(serializers.Serializer):
    item = serializers.CharField(help_text="The item's token.")
    rater = serializers.CharField(help_text="The extra rater's pseudonym.")
    position = serializers.IntegerField(help_text="Its place in the rater's order.")
    rule = serializers.JSONField()
    rule_text = serializers.CharField()
    first_answers = serializers.JSONField(help_text="The first k answers that met the rule.")
    triggered_at = serializers.DateTimeField(help_text="When the item's decision was taken.")


def adaptive_body(study: Study) -> dict:
    adaptive: AdaptiveDesign | None = selectors.study_adaptive_design(study=study)
    return AdaptiveSerializer(
        {
            "enabled": adaptive is not None,
            "rule": adaptive.rule if adaptive else None,
            "rule_text": disagreement.describe(adaptive.parsed_rule) if adaptive else "",
            "first_k": adaptive.first_k if adaptive else None,
            "extra_m": adaptive.extra_m if adaptive else None,
            "counts": selectors.study_adaptive_counts(study=study),
        }
    ).data


class AdaptiveViewSet(StudyScopedViewSet):
    model = AdaptiveDesign  # for the schema only
    pagination_class = None
    filter_backends = ()

    @extend_schema(methods=["GET"], responses={200: AdaptiveSerializer})
    @extend_schema(
        methods=["POST"],
        request=AdaptiveSetSerializer,
        responses={200: AdaptiveSerializer, 400: INVALID},
    )
    @action(detail=False, methods=["get", "post"])
    def setting(self, request: Request, study_token: str) -> Response:
        """GET: the study's adaptive setting (enabled false when off) and what it has done.
        POST: turn adaptive extra raters on, or change them, while the study is a draft."""
        if request.method == "GET":
            return Response(adaptive_body(self.study))
        data = AdaptiveSetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            services.adaptive_design_set(study=self.study, **data.validated_data)
        except ValidationError as exc:
            raise as_api_error(exc) from None
        return Response(adaptive_body(self.study))

    @extend_schema(request=None, responses={200: AdaptiveSerializer, 400: INVALID})
    @action(detail=False, methods=["post"])
    def off(self, request: Request, study_token: str) -> Response:
        """Turn adaptive extra raters off, while the study is a draft."""
        try:
            services.adaptive_design_clear(study=self.study)
        except ValidationError as exc:
            raise as_api_error(exc) from None
        return Response(adaptive_body(self.study))

    @extend_schema(responses={200: AdaptiveExtraSerializer(many=True)})
    @action(detail=False, methods=["get"])
    def extras(self, request: Request, study_token: str) -> Response:
        """Every extra assignment: item, rater pseudonym, position, the rule and first answers
        that caused it, and when."""
        extras = selectors.study_adaptive_extras(study=self.study)
        return Response(AdaptiveExtraSerializer(extras, many=True).data)
