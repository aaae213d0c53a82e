"""/api/v1/ of assisted reading: creating a study with its answer question
(`reading-studies/`), its arms (`studies/<token>/arms/`), its reads (`reads/`, paged) and its
scorers (`scorers/`). Admins only: an arm names its source, which readers never learn unless
the arm is named, and a scorer is neither a reader nor an admin."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from annotation import services
from annotation.api.access import as_api_error
from annotation.api.base import StudyScopedViewSet
from annotation.api.serializers import NullableAnswerField
from annotation.api.studies import INVALID
from annotation.core import rubric
from annotation.core.design import MAX_WASHOUT_DAYS
from annotation.core.reading import allocation
from annotation.models import Arm, Scorer, Source, Study
from annotation.selectors.reading import read_rows, study_reads, study_scorers


class ReadingStudyCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    instructions = serializers.CharField(required=False, allow_blank=True, default="")
    layout = serializers.ChoiceField(
        choices=[Study.ReadingLayout.SEQUENTIAL, Study.ReadingLayout.CROSSOVER],
        help_text="sequential: each case unassisted, the answer locked, then with one assisting "
        "arm, in one session. crossover: every case once in every arm, one arm per session, "
        "a washout between a reader's sessions; arms balanced across readers and cases with a "
        "seeded Williams design.",
    )
    washout_days = serializers.IntegerField(
        min_value=0,
        max_value=MAX_WASHOUT_DAYS,
        required=False,
        allow_null=True,
        default=None,
        help_text="crossover (required there): whole days a reader waits after finishing one "
        "session before the next opens, 0 or more. sequential: leave out, null or 0.",
    )
    answer_kind = serializers.ChoiceField(choices=rubric.ANSWER_KINDS)
    prompt = serializers.CharField(max_length=500)
    k = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Ranked answers: most entries."
    )
    choices = serializers.ListField(
        child=serializers.DictField(), required=False, default=list, help_text="Choice answers."
    )
    seed = serializers.IntegerField(required=False, allow_null=True, default=None)

    def validate(self, data: dict) -> dict:
        problems = allocation.layout_problems(
            layout=data["layout"], washout_days=data["washout_days"]
        )
        if problems:
            raise serializers.ValidationError(problems)
        return data


class ReadingStudySerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="draft, open, locked, archived")

    class Meta:
        model = Study
        fields = [
            "token",
            "title",
            "status",
            "reading_layout",
            "washout_days",
            "seed",
            "manifest_hash",
        ]
        read_only_fields = fields


class ReadingStudyViewSet(GenericViewSet):
    """Start a draft assisted-reading study with its answer question and unassisted arm."""

    serializer_class = ReadingStudyCreateSerializer
    queryset = Study.objects.none()

    @extend_schema(responses={201: ReadingStudySerializer, 400: INVALID})
    def create(self, request: Request) -> Response:
        if not request.user.has_perm("annotation.add_study"):
            raise PermissionDenied("You may not create studies; ask a site admin.")
        data = ReadingStudyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            study = services.reading_study_create(creator=request.user, **data.validated_data)
        except ValidationError as exc:
            raise as_api_error(exc) from None
        return Response(ReadingStudySerializer(study).data, status=status.HTTP_201_CREATED)


class ReadSerializer(serializers.Serializer):
    rater = serializers.CharField(help_text="The reader's pseudonym.")
    case_id = serializers.CharField()
    arm = serializers.CharField(help_text="What the reader saw: unassisted, or an arm's key.")
    arm_kind = serializers.CharField(help_text="unassisted, source (an output shown) or tool.")
    session = serializers.IntegerField()
    phase = serializers.IntegerField(help_text="Sequential: 1 unassisted, 2 assisted.")
    position = serializers.IntegerField()
    answer = NullableAnswerField(allow_null=True)
    outcome = serializers.CharField(
        allow_blank=True, help_text="right, wrong, undecided (for the scorer); blank: none"
    )
    scored_by = serializers.CharField(
        allow_blank=True, help_text="match or scorer; empty while undecided (nobody decided it)"
    )
    rank = serializers.IntegerField(
        allow_null=True, help_text="Ranked lists: the first right entry."
    )
    seconds = serializers.FloatField(help_text="Time on screen.")
    submitted_at = serializers.DateTimeField(allow_null=True)
    locked_at = serializers.DateTimeField(allow_null=True, help_text="Phase 1: when it locked.")


class ReadViewSet(StudyScopedViewSet):
    """Every read of an assisted-reading study, one row each, for analysis elsewhere: paged
    as the other lists (`?page=`, `?page_size=`), each reader's reads in their order."""

    serializer_class = ReadSerializer
    model = Arm  # the schema needs a model; the rows are plain data

    @extend_schema(responses={200: ReadSerializer(many=True)})
    def list(self, request: Request, study_token: str) -> Response:
        page = self.paginate_queryset(study_reads(study=self.study))
        rows = read_rows(study=self.study, reads=page)
        return self.get_paginated_response(ReadSerializer(rows, many=True).data)


class ScorerSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, help_text="The scorer's user name.")
    decided = serializers.IntegerField(
        read_only=True, help_text="Answers they decided in this study (kept if removed)."
    )


class ScorerViewSet(StudyScopedViewSet):
    """The study's scorers: clinicians who decide the answers exact match cannot, blind to
    reader and arm, so never a reader or an admin of the study. Removing one keeps the
    decisions they made."""

    serializer_class = ScorerSerializer
    model = Scorer
    pagination_class = None  # a handful of people
    lookup_field = "username"
    lookup_value_regex = r"[\w.@+-]+"

    @extend_schema(responses={200: ScorerSerializer(many=True)})
    def list(self, request: Request, study_token: str) -> Response:
        return Response(ScorerSerializer(study_scorers(study=self.study), many=True).data)

    @extend_schema(responses={200: ScorerSerializer, 201: ScorerSerializer, 400: INVALID})
    def create(self, request: Request, study_token: str) -> Response:
        """Add a scorer: 201, or 200 when they already score the study (with the answers
        they decided)."""
        data = ScorerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = _user_named(data.validated_data["username"])
        if user is None:
            raise as_api_error(ValidationError({"username": "No account has that user name."}))
        existed = Scorer.objects.filter(study=self.study, user=user).exists()
        try:
            services.scorer_add(study=self.study, user=user)
        except ValidationError as exc:
            raise as_api_error(exc) from None
        row = next(
            r for r in study_scorers(study=self.study) if r["username"] == user.get_username()
        )
        code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(ScorerSerializer(row).data, status=code)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, study_token: str, username: str) -> Response:
        user = _user_named(username)
        try:
            services.scorer_remove(study=self.study, user=user)
        except Scorer.DoesNotExist:
            raise NotFound("No such scorer in this study.") from None
        return Response(status=status.HTTP_204_NO_CONTENT)


def _user_named(username: str):
    return get_user_model().objects.filter(username=username).first()


class ArmSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(
        slug_field="label",
        queryset=Source.objects.none(),  # the study's sources, set per request
        required=False,
        allow_null=True,
        help_text="Source arms: the source's label.",
    )

    class Meta:
        model = Arm
        fields = ["key", "kind", "source", "description", "named"]

    def __init__(self, *args, study: Study | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if study is not None:
            self.fields["source"].queryset = study.sources.all()


class ArmViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, StudyScopedViewSet):
    """The study's arms; adding one while the study is a draft."""

    serializer_class = ArmSerializer
    model = Arm
    pagination_class = None

    def study_queryset(self, study: Study) -> QuerySet[Arm]:
        return study.arms.select_related("source")

    def get_serializer(self, *args, **kwargs) -> ArmSerializer:
        study = None if getattr(self, "swagger_fake_view", False) else self.study
        return ArmSerializer(*args, study=study, **kwargs)

    @extend_schema(responses={201: ArmSerializer, 400: INVALID})
    def create(self, request: Request, study_token: str) -> Response:
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            arm = services.arm_add(study=self.study, **data.validated_data)
        except ValidationError as exc:
            raise as_api_error(exc) from None
        return Response(self.get_serializer(arm).data, status=status.HTTP_201_CREATED)
