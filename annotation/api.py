"""REST API (token auth): what a paper needs from a study, for the study's admins."""

from django.http import Http404
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import exports, selectors
from annotation.models import Membership, Study


class CSVRenderer(BaseRenderer):
    """Renders a list of flat dicts; the view names the columns in `renderer_context`."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> str:
        if not isinstance(data, list):  # an error body: keep it readable
            return exports.to_csv([{"detail": str(data)}], ["detail"])
        return exports.to_csv(data, renderer_context["view"].columns)


class StudySerializer(serializers.Serializer):
    token = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    raters_per_item = serializers.IntegerField()
    role = serializers.CharField()


class StudyListAPI(APIView):
    """The studies the caller belongs to, with their role in each."""

    def get(self, request: Request) -> Response:
        rows = [
            {
                "token": s.token,
                "title": s.title,
                "status": s.status,
                "raters_per_item": s.raters_per_item,
                "role": role,
            }
            for s, role in selectors.member_studies(user=request.user)
        ]
        return Response(StudySerializer(rows, many=True).data)


class StudyAdminAPI(APIView):
    """Base for exports only a study's admins may read: raters get 403, anyone else 404."""

    renderer_classes = [JSONRenderer, CSVRenderer]

    def get_study(self, request: Request, study_token: str) -> Study:
        try:
            study, role = selectors.study_for_member(user=request.user, token=study_token)
        except Http404:
            raise NotFound("No such study.") from None
        if role != Membership.Role.ADMIN:
            raise PermissionDenied("Only the study's admins can export this.")
        return study


class RatingsAPI(StudyAdminAPI):
    """Every rating in long format: item token, rater pseudonym, question, value, timestamps."""

    columns = selectors.RATINGS_COLUMNS

    def get(self, request: Request, study_token: str) -> Response:
        study = self.get_study(request, study_token)
        return Response(selectors.study_ratings_long(study=study))


class JudgeRatingsAPI(StudyAdminAPI):
    """Every LLM judge's answers in the ratings' long format, with rater kind "llm"."""

    columns = selectors.JUDGE_RATINGS_COLUMNS

    def get(self, request: Request, study_token: str) -> Response:
        study = self.get_study(request, study_token)
        return Response(selectors.study_judge_ratings_long(study=study))


class UnblindingKeyAPI(StudyAdminAPI):
    """Which source wrote each item: the key that undoes blinding, for the analysis."""

    columns = selectors.UNBLINDING_COLUMNS

    def get(self, request: Request, study_token: str) -> Response:
        study = self.get_study(request, study_token)
        return Response(selectors.study_unblinding_key(study=study))


class RatingHistoryAPI(StudyAdminAPI):
    """Every change to every answer: item token, rater pseudonym, question, when, old and new."""

    columns = selectors.HISTORY_COLUMNS

    def get(self, request: Request, study_token: str) -> Response:
        study = self.get_study(request, study_token)
        return Response(selectors.study_rating_history(study=study))
