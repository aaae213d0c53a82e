"""The dashboard's raters card under /api/v1/studies/<token>/: each rater's progress and
quality control, adding raters and handing on a stalled rater's work, invitations by e-mail,
and the raters' comments. Admins only; each action calls the service the page calls."""

import dataclasses

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.exceptions import ValidationError as BadRequest
from rest_framework.request import Request
from rest_framework.response import Response

from annotation import selectors, services
from annotation.api import serializers as s
from annotation.api.base import StudyScopedViewSet
from annotation.api.studies import INVALID, REFUSED, refused
from annotation.models import Invitation, Membership, Study

NO_SUCH_RATER = OpenApiResponse(description="No rater with this pseudonym in the study.")


class RaterViewSet(StudyScopedViewSet):
    """The study's raters by pseudonym, with what the dashboard shows of each: progress,
    training, attention checks, hidden repeats, time per item and straight-lining."""

    model = Membership
    lookup_field = "pseudonym"
    lookup_value_regex = "[^/]+"
    pagination_class = None
    filter_backends = ()

    def study_queryset(self, study: Study) -> QuerySet[Membership]:
        return study.memberships.filter(role=Membership.Role.RATER)

    @extend_schema(responses={200: s.RaterSerializer(many=True)})
    def list(self, request: Request, study_token: str) -> Response:
        threshold, quality = selectors.study_data_quality(study=self.study)
        pace = {row.pseudonym: row for row in quality}
        rows = []
        for progress in selectors.study_progress_by_rater(study=self.study):
            timing = pace[progress.pseudonym]
            rows.append(
                {
                    **dataclasses.asdict(progress),
                    "timed_items": timing.items,
                    "median_seconds": timing.median_seconds,
                    "fast_items": timing.fast,
                    "straight_lining": timing.straight_lining,
                    "fast_threshold_seconds": threshold,
                }
            )
        return Response(s.RaterSerializer(rows, many=True).data)

    @extend_schema(
        request=s.RatersAddSerializer,
        responses={201: s.RatersAddedSerializer, 400: INVALID, 409: REFUSED},
    )
    def create(self, request: Request, study_token: str) -> Response:
        """Add people already in a study you administer (`candidates`), by username, while the
        study is a draft or open; in an open study they take over unstarted work from the
        busiest raters. Anyone else is invited by e-mail (`invitations/`)."""
        data = s.RatersAddSerializer(data=request.data, candidates=self._candidates())
        data.is_valid(raise_exception=True)
        try:
            added = services.study_add_raters(
                study=self.study, users=data.validated_data["usernames"]
            )
        except ValidationError as exc:
            return refused(exc)
        body = {"added": [membership.pseudonym for membership in added]}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: s.RaterCandidateSerializer(many=True)})
    @action(detail=False, methods=["get"])
    def candidates(self, request: Request, study_token: str) -> Response:
        """Who you may add directly: active people in a study you administer, not yet in this
        one. It never lists anyone else with an account here."""
        users = self._candidates()
        return Response([{"username": user.get_username()} for user in users])

    def _candidates(self) -> QuerySet:
        return selectors.study_rater_candidates(study=self.study, admin=self.request.user)

    @extend_schema(
        request=None,
        responses={200: s.ReassignedSerializer, 404: NO_SUCH_RATER, 409: REFUSED},
    )
    @action(detail=True, methods=["post"])
    def reassign(self, request: Request, study_token: str, pseudonym: str) -> Response:
        """Give this rater's unstarted items (from the end of their order) to the other
        raters, while the study is open. Started work stays with them. Cannot be undone."""
        membership = self.get_object()
        try:
            moved = services.assignments_reassign(study=self.study, rater=membership.user)
        except ValidationError as exc:
            return refused(exc)
        return Response({"moved": moved})


class InvitationViewSet(mixins.ListModelMixin, StudyScopedViewSet):
    """Invitations by e-mail, newest first: each address gets a single-use link, and its
    owner joins as a rater with an account that has the address, or a new one. An address is
    invited alike whether or not it has an account: nothing here says which."""

    serializer_class = s.InvitationSerializer
    model = Invitation
    filter_backends = ()

    def study_queryset(self, study: Study) -> QuerySet[Invitation]:
        return study.invitations.select_related("accepted_by").order_by("-created_at", "-pk")

    @extend_schema(
        request=s.InviteSerializer,
        responses={201: s.InvitedSerializer, 400: INVALID, 409: REFUSED},
    )
    def create(self, request: Request, study_token: str) -> Response:
        """Invite these addresses while the study is a draft or open; refused whole (nothing
        created) when the server cannot send e-mail safely or the mail server fails."""
        data = s.InviteSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def link_for(token: str) -> str:
            return request.build_absolute_uri(reverse("invitation", args=[token]))

        try:
            sent = services.invitations_send(
                study=self.study,
                emails=data.validated_data["emails"],
                inviter=request.user,
                link_for=link_for,
            )
        except ValidationError as exc:
            return refused(exc)
        body = s.InvitedSerializer({"invited": sent}).data
        return Response(body, status=status.HTTP_201_CREATED)


class CommentViewSet(StudyScopedViewSet):
    """The raters' free-text answers per text question, newest first, as the dashboard's
    comments page lists them: by pseudonym, and by source only once the study is locked."""

    model = Membership  # for the schema only: the list is built by the selector
    pagination_class = None
    filter_backends = ()

    @extend_schema(
        parameters=[s.CommentQuerySerializer],
        responses={200: s.QuestionCommentsSerializer(many=True), 400: INVALID},
    )
    def list(self, request: Request, study_token: str) -> Response:
        query = s.CommentQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        source = query.validated_data["source"]
        sources = selectors.study_comment_sources(study=self.study)
        if source and not sources:
            raise PermissionDenied("Comments are shown by source once the study is locked.")
        if source and source not in sources:
            raise BadRequest({"source": ["No such source in this study."]})
        listed = selectors.study_comments(
            study=self.study,
            source=source,
            question=query.validated_data["question"],
            show_all=query.validated_data["all"],
        )
        return Response(s.QuestionCommentsSerializer(listed, many=True).data)
