"""Consent and rater background over the API: the admin's statement and questions about raters
(/api/v1/studies/<token>/consent/ and .../rater-questions/), and a rater's own consent,
answers and withdrawal (/api/v1/rate/<token>/consent/). Each action calls the service the
pages call. A rater reads only their own background, never another rater's."""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from annotation import selectors, services
from annotation.api.access import as_api_error
from annotation.api.base import StudyScopedViewSet
from annotation.api.studies import INVALID
from annotation.core import consent, rubric
from annotation.models import ConsentVersion, Membership, RaterQuestion


class RaterBackgroundSerializer(serializers.Serializer):
    """One rater as raters.csv has them: consent, withdrawal, answers by question key."""

    rater = serializers.CharField(help_text="The rater's pseudonym.")
    consent_version = serializers.IntegerField(help_text="0: none accepted.")
    consent_accepted_at = serializers.DateTimeField(allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    answers = serializers.DictField(help_text="By question key, as stored.")


class AboutRaterQuestionSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(help_text=f"One of: {', '.join(consent.KINDS)}.")

    class Meta:
        model = RaterQuestion
        fields = ["key", "prompt", "kind", "phase", "scale", "required", "minimum", "maximum"]
        read_only_fields = fields


class RaterQuestionAddSerializer(serializers.Serializer):
    """A ready-made question (`template`) or your own (the other fields)."""

    template = serializers.ChoiceField(choices=list(consent.TEMPLATES), required=False)
    key = serializers.SlugField(max_length=50, required=False)
    prompt = serializers.CharField(max_length=500, required=False)
    kind = serializers.CharField(required=False, help_text=f"One of: {', '.join(consent.KINDS)}.")
    phase = serializers.ChoiceField(choices=list(consent.PHASES), default=consent.BACKGROUND)
    choices = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        help_text="Choice questions: one `value: label` a line; a Likert question: one "
        "`number: label` a line, lowest first.",
    )
    minimum = serializers.FloatField(required=False, allow_null=True, default=None)
    maximum = serializers.FloatField(required=False, allow_null=True, default=None)
    required = serializers.BooleanField(default=True)


# One object, not a list: its view's `list` is the study's one statement (or the rater's own).
@extend_schema_serializer(many=False)
class ConsentStatementSerializer(serializers.Serializer):
    text = serializers.CharField(allow_blank=True, help_text="Blank: no consent is asked.")
    version = serializers.IntegerField(read_only=True, help_text="0 while none is asked.")


class StudyConsentViewSet(StudyScopedViewSet):
    """The study's consent statement: read it, or set it (a changed text is a new version)."""

    serializer_class = ConsentStatementSerializer
    model = ConsentVersion  # for the schema, which has no study

    def _statement(self) -> dict:
        version = self.study.consent_version
        return {
            "text": selectors.consent_text(study=self.study, version=version),
            "version": version,
        }

    def list(self, request: Request, study_token: str) -> Response:
        return Response(ConsentStatementSerializer(self._statement()).data)

    @extend_schema(
        request=ConsentStatementSerializer,
        responses={200: ConsentStatementSerializer, 400: INVALID},
    )
    def create(self, request: Request, study_token: str) -> Response:
        data = ConsentStatementSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            services.study_consent_set(study=self.study, text=data.validated_data["text"])
        except ValidationError as exc:
            raise as_api_error(exc) from None
        self.study.refresh_from_db()
        return Response(ConsentStatementSerializer(self._statement()).data)

    @extend_schema(responses={200: RaterBackgroundSerializer(many=True)})
    @action(detail=False, methods=["get"])
    def raters(self, request: Request, study_token: str) -> Response:
        """Every rater by pseudonym with their consent and answers: the admin's raters table."""
        rows = [
            {
                "rater": rater.pseudonym,
                "consent_version": rater.consent_version,
                "consent_accepted_at": rater.accepted_at,
                "withdrawn_at": rater.withdrawn_at,
                "answers": rater.answers,
            }
            for rater in selectors.study_raters_background(study=self.study)
        ]
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(RaterBackgroundSerializer(page, many=True).data)


class RaterQuestionViewSet(mixins.ListModelMixin, StudyScopedViewSet):
    """The questions the study asks its raters about themselves; added and removed while the
    study is a draft."""

    serializer_class = AboutRaterQuestionSerializer
    model = RaterQuestion
    lookup_field = "key"
    lookup_value_regex = "[-a-zA-Z0-9_]+"

    def study_queryset(self, study) -> QuerySet[RaterQuestion]:
        return study.rater_questions.all()

    @extend_schema(
        request=RaterQuestionAddSerializer,
        responses={201: AboutRaterQuestionSerializer, 400: INVALID},
    )
    def create(self, request: Request, study_token: str) -> Response:
        data = RaterQuestionAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        try:
            if "template" in fields:
                question = services.rater_question_add_template(
                    study=self.study, name=fields["template"]
                )
            else:
                draft = consent.draft_from_fields(fields)
                question = services.rater_question_add(study=self.study, draft=draft)
        except rubric.AnswerError as exc:
            raise serializers.ValidationError({"kind": str(exc)}) from None
        except ValidationError as exc:
            raise as_api_error(exc) from None
        return Response(AboutRaterQuestionSerializer(question).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, 400: INVALID})
    def destroy(self, request: Request, study_token: str, key: str) -> Response:
        try:
            services.rater_question_remove(study=self.study, key=key)
        except ValidationError as exc:
            raise as_api_error(exc) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_serializer(many=False)
class MyConsentSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The statement's current version; 0: none.")
    text = serializers.CharField(help_text="The current statement.")
    accepted_version = serializers.IntegerField(help_text="The version you accepted; 0: none.")
    accepted_text = serializers.CharField(help_text="The text you accepted.")
    accepted_at = serializers.DateTimeField(allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    next_step = serializers.CharField(
        allow_null=True, help_text="withdrawn, consent or background; null when you may work."
    )
    background = AboutRaterQuestionSerializer(many=True)
    post_study = AboutRaterQuestionSerializer(many=True)
    answers = serializers.DictField(help_text="Your own answers, by question key.")


class AcceptSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The version you read: the current one.")


class AnswersSerializer(serializers.Serializer):
    answers = serializers.DictField(help_text="By question key, as the question's kind asks.")


class WithdrawSerializer(serializers.Serializer):
    confirm = serializers.BooleanField(help_text="true: you cannot undo a withdrawal yourself.")


class MyConsentViewSet(GenericViewSet):
    """Your consent to one study you rate: read it, accept it, answer the questions about you,
    withdraw. Before an item, the item routes answer 403 with the step still to do."""

    serializer_class = MyConsentSerializer
    queryset = Membership.objects.none()  # for the schema: the rater's own is read by token

    def _membership(self) -> Membership:
        try:
            return selectors.rater_membership_get(
                user=self.request.user, study_token=self.kwargs["study_token"]
            )
        except Http404:
            raise NotFound("No such study.") from None

    def _mine(self, membership: Membership) -> Response:
        study = membership.study
        questions = selectors.study_rater_questions(study=study)
        body = {
            "version": study.consent_version,
            "text": selectors.consent_text(study=study, version=study.consent_version),
            "accepted_version": membership.consent_version,
            "accepted_text": selectors.consent_text(
                study=study, version=membership.consent_version
            ),
            "accepted_at": membership.consent_accepted_at,
            "withdrawn_at": membership.withdrawn_at,
            "next_step": selectors.membership_next_step(membership=membership, study=study),
            "background": [q for q in questions if q.phase == consent.BACKGROUND],
            "post_study": [q for q in questions if q.phase == consent.POST_STUDY],
            "answers": {**membership.background, **membership.post_study},
        }
        return Response(MyConsentSerializer(body).data)

    def list(self, request: Request, study_token: str) -> Response:
        return self._mine(self._membership())

    def _change(self, serializer, change) -> Response:
        membership = self._membership()  # 404 for anyone but the study's rater, first
        data = serializer(data=self.request.data)
        data.is_valid(raise_exception=True)
        try:
            membership = change(membership, data.validated_data)
        except ValidationError as exc:
            raise as_api_error(exc) from None
        return self._mine(membership)

    @extend_schema(request=AcceptSerializer, responses={200: MyConsentSerializer, 400: INVALID})
    @action(detail=False, methods=["post"])
    def accept(self, request: Request, study_token: str) -> Response:
        return self._change(
            AcceptSerializer,
            lambda m, d: services.rater_consent_accept(membership=m, version=d["version"]),
        )

    @extend_schema(request=AnswersSerializer, responses={200: MyConsentSerializer, 400: INVALID})
    @action(detail=False, methods=["post"])
    def background(self, request: Request, study_token: str) -> Response:
        return self._answers(consent.BACKGROUND)

    @extend_schema(request=AnswersSerializer, responses={200: MyConsentSerializer, 400: INVALID})
    @action(detail=False, methods=["post"], url_path="post-study")
    def post_study(self, request: Request, study_token: str) -> Response:
        return self._answers(consent.POST_STUDY)

    def _answers(self, phase: str) -> Response:
        def save(membership: Membership, data: dict) -> Membership:
            step = selectors.membership_next_step(membership=membership, study=membership.study)
            if step == consent.CONSENT:
                raise ValidationError("First accept the consent statement.")
            return services.rater_answers_save(
                membership=membership, phase=phase, raw=data["answers"]
            )

        return self._change(AnswersSerializer, save)

    @extend_schema(request=WithdrawSerializer, responses={200: MyConsentSerializer, 400: INVALID})
    @action(detail=False, methods=["post"])
    def withdraw(self, request: Request, study_token: str) -> Response:
        def withdraw(membership: Membership, data: dict) -> Membership:
            if not data["confirm"]:
                raise ValidationError({"confirm": "Confirm with true: this cannot be undone."})
            return services.rater_consent_withdraw(membership=membership)

        return self._change(WithdrawSerializer, withdraw)
