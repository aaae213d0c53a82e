"""REST API (token auth): what a paper needs from a study, for the study's admins."""

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


class StudySerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Study
        fields = ["token", "title", "status", "raters_per_item", "role"]

    def get_role(self, study: Study) -> str:
        return self.context["roles"].get(study.pk, "")


class StudyListAPI(APIView):
    """The studies the caller belongs to, with their role in each."""

    def get(self, request: Request) -> Response:
        memberships = Membership.objects.filter(user=request.user).select_related("study")
        roles: dict[int, str] = {}
        for m in memberships:
            # Admin outranks rater when a user is both.
            if roles.get(m.study_id) != Membership.Role.ADMIN:
                roles[m.study_id] = m.role
        studies = Study.objects.filter(pk__in=roles).order_by("title")
        data = StudySerializer(studies, many=True, context={"roles": roles}).data
        return Response(data)


class StudyAdminAPI(APIView):
    """Base for exports only a study's admins may read; others get 404 or 403."""

    renderer_classes = [JSONRenderer, CSVRenderer]

    def get_study(self, request: Request, study_token: str) -> Study:
        study = Study.objects.filter(token=study_token).first()
        if study is None or not study.memberships.filter(user=request.user).exists():
            raise NotFound("No such study.")
        if not selectors.is_study_admin(user=request.user, study=study):
            raise PermissionDenied("Only the study's admins can export this.")
        return study


class RatingsAPI(StudyAdminAPI):
    """Every rating in long format: item token, rater pseudonym, question, value, timestamps."""

    columns = selectors.RATINGS_COLUMNS

    def get(self, request: Request, study_token: str) -> Response:
        study = self.get_study(request, study_token)
        return Response(selectors.study_ratings_long(study=study))


class UnblindingKeyAPI(StudyAdminAPI):
    """Which source wrote each item: the key that undoes blinding, for the analysis."""

    columns = selectors.UNBLINDING_COLUMNS

    def get(self, request: Request, study_token: str) -> Response:
        study = self.get_study(request, study_token)
        return Response(selectors.study_unblinding_key(study=study))
