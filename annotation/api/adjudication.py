"""/api/v1/ of adjudication (docs/adjudication.md). For admins: the runs that chose items
(`studies/<token>/adjudication-selections/`, POST to choose more), the adjudicators
(`adjudicators/`) and the recorded references (`adjudications/`, as adjudications.csv). For an
adjudicator: their queue and items (`adjudicate/<study token>/items/`), blinded as the page is,
and recording a reference (`POST .../items/<token>/reference/`)."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from annotation import services
from annotation.api.access import as_api_error
from annotation.api.base import StudyScopedViewSet
from annotation.api.serializers import NullableAnswerField
from annotation.api.studies import INVALID
from annotation.models import Adjudication, AdjudicationSelection, Adjudicator
from annotation.selectors import adjudication as selectors


class SelectionSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=AdjudicationSelection.Mode.values)
    rule = serializers.JSONField(
        required=False,
        default=None,
        help_text='rule mode: {"kind": "range", "question": key, "threshold": 2}, '
        '{"kind": "no_majority", "question": key} or {"kind": "any_value", "question": key, '
        '"values": [...]}',
    )
    sample_size = serializers.IntegerField(required=False, allow_null=True, default=None)
    sample_fraction = serializers.FloatField(required=False, allow_null=True, default=None)


class SelectionRunSerializer(serializers.Serializer):
    mode = serializers.CharField()
    described = serializers.CharField(help_text="The rule in words, or the sample and its seed.")
    eligible = serializers.IntegerField(help_text="Decided items it looked at.")
    chosen = serializers.IntegerField(help_text="Items it added.")


class SelectionViewSet(StudyScopedViewSet):
    """How items were chosen for adjudication; POST chooses more (idempotent per item)."""

    serializer_class = SelectionSerializer
    model = AdjudicationSelection
    pagination_class = None

    @extend_schema(responses={200: SelectionRunSerializer(many=True)})
    def list(self, request: Request, study_token: str) -> Response:
        runs = selectors.adjudication_summary(study=self.study).runs
        return Response(SelectionRunSerializer(runs, many=True).data)

    @extend_schema(responses={201: SelectionRunSerializer, 400: INVALID})
    def create(self, request: Request, study_token: str) -> Response:
        data = SelectionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            run = services.adjudication_select(
                study=self.study, by=request.user, **data.validated_data
            )
        except ValidationError as exc:
            raise as_api_error(exc) from None
        row = selectors.SelectionRun(
            run.mode, selectors.selection_words(run), run.eligible, run.chosen
        )
        return Response(SelectionRunSerializer(row).data, status=status.HTTP_201_CREATED)


class AdjudicatorSerializer(serializers.Serializer):
    username = serializers.CharField()
    label = serializers.CharField(read_only=True, help_text="What exports name them by.")


class AdjudicatorViewSet(StudyScopedViewSet):
    """The study's adjudicators: never an admin of the study; never offered an item they
    rated."""

    serializer_class = AdjudicatorSerializer
    model = Adjudicator
    pagination_class = None
    lookup_field = "username"
    lookup_value_regex = r"[\w.@+-]+"

    @extend_schema(responses={200: AdjudicatorSerializer(many=True)})
    def list(self, request: Request, study_token: str) -> Response:
        rows = [
            {"username": a.user.get_username(), "label": a.label}
            for a in self.study.adjudicators.select_related("user").order_by("label")
        ]
        return Response(AdjudicatorSerializer(rows, many=True).data)

    @extend_schema(responses={201: AdjudicatorSerializer, 400: INVALID})
    def create(self, request: Request, study_token: str) -> Response:
        data = AdjudicatorSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = _user_named(data.validated_data["username"])
        if user is None:
            raise as_api_error(ValidationError({"username": "No account has that user name."}))
        try:
            adjudicator = services.adjudicator_add(study=self.study, user=user)
        except ValidationError as exc:
            raise as_api_error(exc) from None
        body = {"username": user.get_username(), "label": adjudicator.label}
        return Response(AdjudicatorSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None, 400: INVALID})
    def destroy(self, request: Request, study_token: str, username: str) -> Response:
        user = _user_named(username)
        if user is None:
            raise NotFound("No such adjudicator in this study.")
        try:
            services.adjudicator_remove(study=self.study, user=user)
        except ValidationError as exc:
            raise as_api_error(exc) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


def _user_named(username: str):
    return get_user_model().objects.filter(username=username).first()


class ReferenceRowSerializer(serializers.Serializer):
    item_token = serializers.CharField()
    question = serializers.CharField()
    reference_answer = NullableAnswerField()
    reference_value = serializers.FloatField(allow_null=True)
    reason = serializers.CharField()
    adjudicator = serializers.CharField(help_text="The adjudicator's label (A1, ...).")
    decided_at = serializers.DateTimeField()
    selected_by = serializers.CharField()
    selection_rule = serializers.CharField()
    n_raters = serializers.IntegerField()
    majority = NullableAnswerField(help_text="The raters' majority answer; null if none.")
    sided_with_majority = serializers.BooleanField(allow_null=True)


class ReferenceViewSet(StudyScopedViewSet):
    """The recorded references, one row per item and question (adjudications.csv's rows)."""

    serializer_class = ReferenceRowSerializer
    model = Adjudication
    pagination_class = None

    @extend_schema(responses={200: ReferenceRowSerializer(many=True)})
    def list(self, request: Request, study_token: str) -> Response:
        rows = selectors.adjudication_rows(study=self.study)
        return Response(ReferenceRowSerializer(rows, many=True).data)


# --- the adjudicator's own ----------------------------------------------------------------------


class ReferenceSerializer(serializers.Serializer):
    answers = serializers.DictField(
        child=NullableAnswerField(allow_null=True),
        help_text="The reference answer by question key, a pairwise one in the order shown "
        "(positive: Response A better); [] ticks no box of a multiple-choice question; an "
        "optional question may be left out, null or blank.",
    )
    reason = serializers.CharField(allow_blank=True, help_text="Why; required.")


def _pairs(help_text: str) -> serializers.ListField:
    pair = serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2)
    return serializers.ListField(child=pair, help_text=help_text)


class ShownReaderSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="Reader 1, Reader 2, ...: never a pseudonym.")
    answers = _pairs("[question prompt, answer as shown] for each question answered.")
    comments = _pairs("[question prompt, free text] for each comment left.")


class ReferenceQuestionSerializer(serializers.Serializer):
    key = serializers.CharField()
    prompt = serializers.CharField()
    kind = serializers.CharField()
    answer = NullableAnswerField(
        allow_null=True, help_text="The reference recorded, as shown; null before it is."
    )


class AdjudicatorItemSerializer(serializers.Serializer):
    token = serializers.CharField()
    case_input = serializers.CharField()
    outputs = _pairs("[letter, text] of each response, in the order shown.")
    readers = ShownReaderSerializer(many=True)
    questions = ReferenceQuestionSerializer(many=True)
    reason = serializers.CharField()
    decided = serializers.BooleanField()
    remaining = serializers.IntegerField()
    next_token = serializers.CharField(allow_null=True)


class AdjudicatorItemViewSet(GenericViewSet):
    """Your queue of items to adjudicate (tokens, never an item you rated); one item as the
    page shows it; recording its reference. Anything else is 404."""

    serializer_class = AdjudicatorItemSerializer
    queryset = Adjudication.objects.none()  # for the schema; every action reads the selectors
    lookup_field = "token"
    lookup_value_regex = "[A-Za-z0-9]+"
    pagination_class = None

    def _study(self):
        try:
            return selectors.adjudicator_study_get(
                user=self.request.user, token=self.kwargs["study_token"]
            )
        except Http404:
            raise NotFound("No such study.") from None

    def _adjudication(self, study, token: str) -> Adjudication:
        try:
            return selectors.adjudication_get(study=study, user=self.request.user, token=token)
        except Http404:
            raise NotFound("No such item.") from None

    @extend_schema(responses={200: serializers.ListSerializer(child=serializers.CharField())})
    def list(self, request: Request, study_token: str) -> Response:
        return Response(selectors.adjudicator_queue(study=self._study(), user=request.user))

    @extend_schema(responses={200: AdjudicatorItemSerializer})
    def retrieve(self, request: Request, study_token: str, token: str) -> Response:
        study = self._study()
        item = selectors.adjudicator_item(
            study=study, user=request.user, adjudication=self._adjudication(study, token)
        )
        return Response(_item_body(item))

    @extend_schema(
        request=ReferenceSerializer, responses={200: AdjudicatorItemSerializer, 400: INVALID}
    )
    @action(detail=True, methods=["post"])
    def reference(self, request: Request, study_token: str, token: str) -> Response:
        study = self._study()
        adjudication = self._adjudication(study, token)
        data = ReferenceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            adjudication = services.adjudication_record(
                adjudication=adjudication, user=request.user, **data.validated_data
            )
        except ValidationError as exc:
            raise as_api_error(exc) from None
        item = selectors.adjudicator_item(study=study, user=request.user, adjudication=adjudication)
        return Response(_item_body(item))


def _item_body(item: selectors.AdjudicatorItem) -> dict:
    # The serializer reads the listed fields only: not the study, the revisions nor the lock.
    return AdjudicatorItemSerializer(item).data
