"""/api/v1/rate/: a rater's own work, blinded as on the rater's pages.

Built only from `selectors.rater_item_view` and friends, which hold no Source: responses name
outputs by the letter this rater sees (A, B...), items by this rater's assignment token."""

import dataclasses

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from annotation import selectors, services
from annotation.api import schema
from annotation.api.access import as_api_error
from annotation.api.serializers import AnswerField, NullableAnswerField, ScaleValueField
from annotation.api.studies import INVALID, REFUSED, FileNegotiation
from annotation.core import rubric
from annotation.core.image_files import IMAGE_TYPES
from annotation.models import Assignment, Study
from annotation.responses import image_response


class SessionWaitSerializer(serializers.Serializer):
    session = serializers.IntegerField(help_text="Your next reading session, not open yet.")
    items = serializers.IntegerField(help_text="How many items it holds.")
    opens_at = serializers.DateTimeField(
        allow_null=True, help_text="When it opens; null until you finish the session before."
    )
    after_days = serializers.IntegerField(
        help_text="The washout: days from your last answer in the session before."
    )


class RaterStudySerializer(serializers.Serializer):
    token = serializers.CharField()
    title = serializers.CharField()
    done = serializers.IntegerField(help_text="Items submitted (training apart).")
    total = serializers.IntegerField()
    locked = serializers.BooleanField(help_text="Read-only: answers can no longer change.")
    waiting = SessionWaitSerializer(
        allow_null=True, help_text="Your first reading session that is not open yet, if any."
    )


class RaterItemRowSerializer(serializers.ModelSerializer):
    training = serializers.BooleanField(help_text="A training item, with feedback after it.")
    submitted = serializers.BooleanField()

    class Meta:
        model = Assignment
        fields = ["token", "position", "session", "training", "submitted"]
        read_only_fields = fields


class ShownOptionSerializer(serializers.Serializer):
    value = ScaleValueField()
    label = serializers.CharField()


@extend_schema_field(schema.MARKED)
class MarkedField(serializers.JSONField):
    pass


@extend_schema_field(schema.FACTS_MARKED)
class FactsMarkedField(serializers.JSONField):
    pass


@extend_schema_field(schema.RANKED)
class RankedField(serializers.JSONField):
    pass


class RaterQuestionSerializer(serializers.Serializer):
    key = serializers.CharField()
    prompt = serializers.CharField()
    help_text = serializers.CharField(allow_blank=True)
    kind = serializers.CharField()
    options = ShownOptionSerializer(many=True)
    allow_na = serializers.BooleanField()
    required = serializers.BooleanField()
    minimum = serializers.FloatField(allow_null=True)
    maximum = serializers.FloatField(allow_null=True)
    answer = NullableAnswerField(allow_null=True, help_text="Your answer so far.")
    marked = MarkedField()
    about = serializers.CharField(
        allow_blank=True, help_text="Side by side: the response's letter."
    )
    ranked = RankedField()
    facts = FactsMarkedField()
    answer_kind = serializers.CharField(
        allow_blank=True,
        help_text="Answer questions (assisted reading): choice, number, text or ranked.",
    )
    k = serializers.IntegerField(allow_null=True, help_text="Ranked answers: the most entries.")


class ShownResponseSerializer(serializers.Serializer):
    letter = serializers.CharField()
    text = serializers.CharField()
    questions = RaterQuestionSerializer(many=True)


class ShownImageSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    url = serializers.CharField(help_text="The image's address in this API.")


class ShownReadSerializer(serializers.Serializer):
    """An assisted-reading read: what its arm shows, never which arm or source it is."""

    assisted = serializers.BooleanField()
    label = serializers.CharField(
        allow_blank=True,
        help_text='Above the assistance: "Assistant", a named source or a tool\'s description.',
    )
    shows_output = serializers.BooleanField(help_text="output_text is the assisting output.")
    answer_locked = serializers.BooleanField(help_text="The unassisted answer is locked.")
    waiting_for_lock = serializers.BooleanField(
        help_text="Assisted, but the unassisted answer is not locked yet: nothing is shown."
    )
    earlier_answer = NullableAnswerField(allow_null=True, help_text="The locked answer.")
    locks = serializers.BooleanField(
        help_text="Submitting locks this answer (a sequential study's unassisted read, every "
        "read of a crossover study)."
    )


class RaterItemSerializer(serializers.Serializer):
    token = serializers.CharField()
    position = serializers.IntegerField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    number = serializers.IntegerField()
    training = serializers.IntegerField(help_text="How many training items come first.")
    is_training = serializers.BooleanField()
    instructions = serializers.CharField(allow_blank=True)
    case_input = serializers.CharField()
    reference = serializers.CharField(allow_blank=True)
    output_text = serializers.CharField(help_text="The output, or the one shown as A.")
    output_b_text = serializers.CharField(allow_null=True, help_text="A pair's B.")
    questions = RaterQuestionSerializer(many=True)
    outputs = ShownResponseSerializer(many=True, help_text="Side by side and ranking.")
    images = ShownImageSerializer(many=True)
    submitted = serializers.BooleanField()
    locked = serializers.BooleanField()
    previous_token = serializers.CharField(allow_null=True)
    next_token = serializers.CharField(allow_null=True)
    reading = ShownReadSerializer(allow_null=True, help_text="Assisted reading only.")


class AnswerSerializer(serializers.Serializer):
    question = serializers.CharField(help_text="The question's key.")
    answer = AnswerField(help_text='As the question asks: a scale value, "na"...')
    about = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Side by side: the letter of the response the answer is about.",
    )


class RaterStudyViewSet(mixins.ListModelMixin, GenericViewSet):
    """The studies you rate, open or locked (read-only), with your progress."""

    serializer_class = RaterStudySerializer
    queryset = Study.objects.none()

    def list(self, request: Request) -> Response:
        services.rater_assignments_write(user=request.user)  # a large study that has just opened
        studies = selectors.rater_studies(user=request.user)
        page = self.paginate_queryset(studies)
        rows = [dataclasses.asdict(study) for study in page]
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)


class FeedbackLineSerializer(serializers.Serializer):
    prompt = serializers.CharField()
    given = serializers.CharField(help_text="Your answer, as the page shows it.")
    expected = serializers.CharField(help_text="The answers taken as right, joined by 'or'.")
    correct = serializers.BooleanField()


class TrainingFeedbackSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The training item's token.")
    number = serializers.IntegerField(help_text="Which training item this was, from 1.")
    training = serializers.IntegerField(help_text="How many training items you have.")
    feedback = serializers.CharField(help_text="The case's feedback, as imported.")
    lines = FeedbackLineSerializer(many=True)
    next_token = serializers.CharField(
        allow_null=True, help_text="Your next item to rate; null when none is left."
    )


class RaterItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Your items in one study, in your order; one item as you see it; answering; submitting.
    Anyone else's item, or a study you do not rate, is 404."""

    serializer_class = RaterItemRowSerializer
    lookup_field = "token"
    lookup_value_regex = "[A-Za-z0-9]+"

    def get_queryset(self) -> QuerySet[Assignment]:
        if getattr(self, "swagger_fake_view", False):
            return Assignment.objects.none()
        try:
            study = self._study()
        except Http404:
            if selectors.rater_studies_preparing(
                user=self.request.user, token=self.kwargs["study_token"]
            ):
                raise NotFound(
                    _("Your items in this study are being prepared; try again in a minute.")
                ) from None
            raise NotFound("No such study.") from None
        training = Q(kind=Assignment.Kind.TRAINING)
        submitted = Q(submitted_at__isnull=False)
        return (
            study.assignments.filter(rater=self.request.user)
            .annotate(
                training=ExpressionWrapper(training, output_field=BooleanField()),
                submitted=ExpressionWrapper(submitted, output_field=BooleanField()),
            )
            .order_by("position")
        )

    def _study(self) -> Study:
        """The rater's study; a large study just opened may have their assignments still to
        write, written here first (no query more once they have them)."""
        user, token = self.request.user, self.kwargs["study_token"]
        try:
            return selectors.rater_study_get(user=user, token=token)
        except Http404:
            if not services.rater_assignments_write(user=user):
                raise
            return selectors.rater_study_get(user=user, token=token)

    def _assignment(self, token: str) -> Assignment:
        try:
            return selectors.rater_assignment_get(
                user=self.request.user, study_token=self.kwargs["study_token"], token=token
            )
        except Http404:
            raise NotFound("No such item.") from None

    def _waiting(self, assignment: Assignment) -> Response | None:
        """409 while the item waits: for the rater's training, or for its reading session to
        open."""
        pending = selectors.rater_training_pending(assignment=assignment)
        if pending is not None:
            body = {"detail": "First the training items.", "training": pending.token}
            return Response(body, status=status.HTTP_409_CONFLICT)
        if assignment.study.status != Study.Status.OPEN:
            return None
        gate = selectors.rater_session_gate(assignment=assignment)
        if gate.is_open(timezone.now()):
            return None
        body = {"detail": selectors.session_closed_message(gate), "opens_at": gate.opens_at}
        return Response(body, status=status.HTTP_409_CONFLICT)

    @extend_schema(responses={200: RaterItemSerializer, 409: REFUSED})
    def retrieve(self, request: Request, study_token: str, token: str) -> Response:
        assignment = self._assignment(token)
        if refused := self._waiting(assignment):
            return refused
        services.assignment_mark_opened(assignment=assignment)
        return Response(self._item(assignment))

    def _item(self, assignment: Assignment) -> dict:
        item = dataclasses.asdict(selectors.rater_item_view(assignment=assignment))
        for image in item["images"]:
            args = [item["study_token"], item["token"], image.pop("token")]
            image["url"] = reverse("api-rater-item-image", args=args)
        return RaterItemSerializer(item).data

    @extend_schema(responses={200: TrainingFeedbackSerializer, 409: REFUSED})
    @action(detail=True, methods=["get"])
    def feedback(self, request: Request, study_token: str, token: str) -> Response:
        """After a submitted training item, as the rater's page shows it: each checked answer
        beside the expected one, and the case's feedback. 409 for any other item."""
        assignment = self._assignment(token)
        if assignment.kind != Assignment.Kind.TRAINING or assignment.submitted_at is None:
            body = {"detail": "Feedback follows a training item once it is submitted."}
            return Response(body, status=status.HTTP_409_CONFLICT)
        feedback = selectors.rater_training_feedback(assignment=assignment)
        return Response(TrainingFeedbackSerializer(feedback).data)

    @extend_schema(
        responses={
            **{(200, kind): OpenApiTypes.BINARY for kind in sorted(set(IMAGE_TYPES.values()))},
            404: REFUSED,
            409: REFUSED,
        },
    )
    @action(
        detail=True,
        url_path=r"images/(?P<image_token>[A-Za-z0-9]+)",
        content_negotiation_class=FileNegotiation,
    )
    def image(
        self, request: Request, study_token: str, token: str, image_token: str
    ) -> Response | HttpResponse:
        """One image of the item's case, as the rater's page shows it (its stored name never
        leaves). Any other image is 404."""
        assignment = self._assignment(token)
        if refused := self._waiting(assignment):
            return refused
        try:
            image = selectors.rater_image_get(assignment=assignment, token=image_token)
        except Http404:
            raise NotFound("No such image.") from None
        return image_response(image)

    @extend_schema(
        request=AnswerSerializer,
        responses={200: RaterItemSerializer, 400: INVALID, 409: REFUSED},
    )
    @action(detail=True, methods=["post"])
    def answers(self, request: Request, study_token: str, token: str) -> Response:
        """Save one answer; the same answer again changes nothing, a new one is kept in the
        history. Answers the item as it now stands."""
        assignment = self._assignment(token)
        if refused := self._waiting(assignment):
            return refused
        data = AnswerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        try:
            question = selectors.rater_question_get(study=assignment.study, key=fields["question"])
        except Http404:
            raise serializers.ValidationError({"question": "No such question."}) from None
        places = {rubric.shown_letter(n): n for n in range(len(assignment.shown_outputs()))}
        shown = places.get(fields["about"]) if fields["about"] else None
        if fields["about"] and shown is None:
            raise serializers.ValidationError({"about": "No response has this letter."})
        try:
            with transaction.atomic():
                services.rating_save(
                    assignment=assignment, question=question, answer=fields["answer"], shown=shown
                )
        except services.AnswerLocked as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
        except ValidationError as exc:
            raise as_api_error(exc) from None
        return Response(self._item(assignment))

    @extend_schema(request=None, responses={200: RaterItemSerializer, 400: INVALID})
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, study_token: str, token: str) -> Response:
        """Submit the item once every required question has an answer."""
        assignment = self._assignment(token)
        if refused := self._waiting(assignment):
            return refused
        try:
            assignment = services.assignment_submit(assignment=assignment)
        except ValidationError as exc:
            raise as_api_error(exc) from None
        return Response(self._item(assignment))
