"""A study's parts under /api/v1/studies/<token>/: sources, cases, outputs, questions,
assignments, judges, statistics results and background jobs. Admins only, but for the
questions, which the study's raters may read too."""

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from annotation import services
from annotation.api import filters
from annotation.api import serializers as s
from annotation.api.access import as_api_error
from annotation.api.base import StudyScopedViewSet, rater_pseudonym
from annotation.api.studies import INVALID, REFUSED, refused, start_run
from annotation.models import (
    Assignment,
    Case,
    Judge,
    JudgeVerdict,
    Output,
    Question,
    Result,
    Source,
    Study,
    TaskRun,
)

READ = (mixins.ListModelMixin, mixins.RetrieveModelMixin)


class ServiceCreateMixin:
    """POST: the serializer checks the body, `create_service` makes the row (and refuses with
    its reason), and the answer shows it as listed, with `counted` at 0."""

    create_service = None
    counted = ""

    def create(self, request: Request, study_token: str) -> Response:
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            made = self.create_service(study=self.study, **data.validated_data)
        except ValidationError as exc:
            raise as_api_error(exc) from None
        setattr(made, self.counted, 0)
        return Response(self.get_serializer(made).data, status=status.HTTP_201_CREATED)


class ServiceUpdateMixin:
    """PATCH: the fields given, checked by the serializer, then by `update_service` as on the
    dashboard: 400 for a field it refuses, 409 when the study's state (or the row's) does."""

    update_service = None
    update_argument = ""

    def partial_update(self, request: Request, study_token: str, pk: str) -> Response:
        row = self.get_object()
        data = self.get_serializer(row, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        try:
            self.update_service(**{self.update_argument: row}, **data.validated_data)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                raise as_api_error(exc) from None
            return refused(exc)
        return Response(self.get_serializer(self.get_object()).data)


class SourceViewSet(
    *READ, ServiceCreateMixin, ServiceUpdateMixin, mixins.CreateModelMixin, StudyScopedViewSet
):
    """The study's sources: models and human references. Adding one (a model endpoint the
    worker calls), or changing one's label, kind or settings, is for draft studies."""

    serializer_class = s.SourceSerializer
    model = Source
    filterset_fields = ["kind"]
    create_service = staticmethod(services.source_create)
    update_service = staticmethod(services.source_update)
    update_argument = "source"
    counted = "n_outputs"

    @extend_schema(responses={200: s.SourceSerializer, 400: INVALID, 409: REFUSED})
    def partial_update(self, request: Request, study_token: str, pk: str) -> Response:
        """Change the fields given, with the checks of adding one; labels stay unique in the
        study. Refused (409) once the study is open: its outputs are fixed."""
        return super().partial_update(request, study_token, pk)

    def study_queryset(self, study: Study) -> QuerySet[Source]:
        return study.sources.annotate(n_outputs=Count("outputs")).order_by("label")

    @extend_schema(request=None, responses={202: s.TaskRunSerializer, 409: REFUSED})
    @action(detail=True, methods=["post"])
    def fetch(self, request: Request, study_token: str, pk: str) -> Response:
        """Fetch the outputs this source still lacks from its endpoint, on a worker."""
        return start_run(request, self.study, TaskRun.Kind.FETCH_OUTPUTS, source=self.get_object())


class CaseViewSet(*READ, StudyScopedViewSet):
    """The imported cases (study, training and attention-check), with their expected answers."""

    serializer_class = s.CaseSerializer
    model = Case
    filterset_class = filters.CaseFilter

    def study_queryset(self, study: Study) -> QuerySet[Case]:
        return study.cases.annotate(n_images=Count("attachments")).order_by("external_id")


class OutputViewSet(*READ, StudyScopedViewSet):
    """Every output with its source and case: admin data, never shown to raters like this."""

    serializer_class = s.OutputSerializer
    model = Output
    filterset_class = filters.OutputFilter

    def study_queryset(self, study: Study) -> QuerySet[Output]:
        return (
            Output.objects.filter(case__study=study)
            .select_related("case", "source", "generation")
            .order_by("case__external_id", "source__label", "sample")
        )


class QuestionViewSet(*READ, mixins.CreateModelMixin, mixins.DestroyModelMixin, StudyScopedViewSet):
    """The rubric, in the order raters see it. Raters may read it; admins change it while the
    study is a draft."""

    serializer_class = s.QuestionSerializer
    model = Question
    lookup_field = "key"
    lookup_value_regex = "[-a-zA-Z0-9_]+"
    filterset_fields = ["kind"]
    rater_actions = ("list", "retrieve")

    def study_queryset(self, study: Study) -> QuerySet[Question]:
        return study.questions.order_by("order", "key")

    @extend_schema(responses={201: s.QuestionSerializer, 400: INVALID})
    def create(self, request: Request, study_token: str) -> Response:
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            question = services.question_add(study=self.study, draft=data.draft())
        except ValidationError as exc:
            raise as_api_error(exc) from None
        return Response(self.get_serializer(question).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, 409: REFUSED})
    def destroy(self, request: Request, study_token: str, key: str) -> Response:
        question = self.get_object()
        try:
            services.question_remove(study=self.study, key=question.key)
        except ValidationError as exc:
            return refused(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AssignmentViewSet(*READ, StudyScopedViewSet):
    """Every rater's stored, seeded order: which item each saw where, flipped or reordered,
    and whether it is a training item, a hidden attention check or a hidden repeat."""

    serializer_class = s.AssignmentSerializer
    model = Assignment
    lookup_field = "token"
    lookup_value_regex = "[A-Za-z0-9]+"
    filterset_class = filters.AssignmentFilter

    def study_queryset(self, study: Study) -> QuerySet[Assignment]:
        return (
            study.assignments.annotate(pseudonym=rater_pseudonym(study))
            .select_related("item", "repeat_of", "arm")
            .order_by("pseudonym", "position")
        )


class JudgeViewSet(
    *READ, ServiceCreateMixin, ServiceUpdateMixin, mixins.CreateModelMixin, StudyScopedViewSet
):
    """The study's LLM judges; `run` judges every item it has not judged yet."""

    serializer_class = s.JudgeSerializer
    model = Judge
    create_service = staticmethod(services.judge_create)
    update_service = staticmethod(services.judge_update)
    update_argument = "judge"
    counted = "n_verdicts"

    @extend_schema(responses={200: s.JudgeSerializer, 400: INVALID, 409: REFUSED})
    def partial_update(self, request: Request, study_token: str, pk: str) -> Response:
        """Change the fields given, with the checks of adding one, until the judge has run
        (every verdict must come from one configuration; add another judge instead); refused
        (409) then, and while the study's statistics are frozen."""
        return super().partial_update(request, study_token, pk)

    def study_queryset(self, study: Study) -> QuerySet[Judge]:
        ok = Q(verdicts__outcome=JudgeVerdict.Outcome.OK)
        return study.judges.annotate(n_verdicts=Count("verdicts", filter=ok)).order_by("label")

    @extend_schema(request=None, responses={202: s.TaskRunSerializer, 409: REFUSED})
    @action(detail=True, methods=["post"])
    def run(self, request: Request, study_token: str, pk: str) -> Response:
        return start_run(request, self.study, TaskRun.Kind.RUN_JUDGE, judge=self.get_object())

    @extend_schema(
        request=s.JudgeAnswersSerializer, responses={202: s.TaskRunSerializer, 409: REFUSED}
    )
    @action(detail=True, methods=["post"], url_path="score-answers")
    def score_answers(self, request: Request, study_token: str, pk: str) -> Response:
        """Assisted reading: the judge scores every answer of a submitted read that exact
        match left undecided, and `decided_sample` of those it decided (a seeded sample), as
        the clinician scorer would; its decisions are stored apart and only compared with
        the scorer's. 409 when the study's answers are choices or numbers (always matched)."""
        data = s.JudgeAnswersSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return start_run(
            request,
            self.study,
            TaskRun.Kind.JUDGE_ANSWERS,
            judge=self.get_object(),
            decided_sample=data.validated_data["decided_sample"],
        )


class ResultViewSet(*READ, StudyScopedViewSet):
    """The stored statistics, as the worker last computed them: one row per question,
    statistic, source (empty: all; "A vs B": a pair) and judge (empty: the raters alone),
    with the CI, the counts, every detail and the hash of the inputs."""

    serializer_class = s.ResultSerializer
    model = Result
    filterset_class = filters.ResultFilter

    def study_queryset(self, study: Study) -> QuerySet[Result]:
        return study.results.select_related("question").order_by(
            "question__order", "question__key", "statistic", "source", "judge"
        )


class TaskRunViewSet(*READ, StudyScopedViewSet):
    """Background jobs (fetching outputs, judging, recomputing, building the bundle) with
    their progress; `cancel` stops one within a second."""

    serializer_class = s.TaskRunSerializer
    model = TaskRun
    filterset_class = filters.TaskRunFilter

    def study_queryset(self, study: Study) -> QuerySet[TaskRun]:
        return study.task_runs.select_related("source", "judge").order_by("-created_at", "-pk")

    @extend_schema(request=None, responses={200: s.TaskRunSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, study_token: str, pk: str) -> Response:
        run = services.task_run_cancel(run=self.get_object())
        return Response(self.get_serializer(run).data)
