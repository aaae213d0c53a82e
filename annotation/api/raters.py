"""The dashboard's raters card under /api/v1/studies/<token>/: each rater's progress and
quality control, adding and removing raters and handing on a stalled rater's work, invitations
by e-mail (and withdrawing them), and the raters' comments. Admins only; each action calls the
service the page calls."""

import dataclasses
from typing import Literal

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.exceptions import ValidationError as BadRequest
from rest_framework.request import Request
from rest_framework.response import Response

from annotation import selectors, services
from annotation.api.base import StudyScopedViewSet
from annotation.api.studies import INVALID, REFUSED, refused
from annotation.models import Invitation, Membership, Study


class SessionProgressSerializer(serializers.Serializer):
    session = serializers.IntegerField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    is_open = serializers.BooleanField()
    opens_at = serializers.DateTimeField(
        allow_null=True, help_text="Null for session 1, or while the session before is unfinished."
    )


class RaterSerializer(serializers.Serializer):
    """One rater's progress and quality control, as the dashboard's raters card shows them."""

    pseudonym = serializers.CharField()
    username = serializers.CharField()
    done = serializers.IntegerField(help_text="Submitted study items (hidden checks included).")
    total = serializers.IntegerField()
    training_done = serializers.IntegerField()
    training_total = serializers.IntegerField()
    training_correct = serializers.IntegerField(help_text="Training items answered as expected.")
    training_scored = serializers.IntegerField(help_text="Training items with expected answers.")
    checks_passed = serializers.IntegerField()
    checks_done = serializers.IntegerField()
    checks_total = serializers.IntegerField()
    repeats_done = serializers.IntegerField()
    repeats_total = serializers.IntegerField()
    retests_done = serializers.IntegerField(help_text="Re-reads after the washout submitted.")
    retests_total = serializers.IntegerField()
    sessions = SessionProgressSerializer(
        many=True, help_text="Each reading session, when the rater has more than one."
    )
    timed_items = serializers.IntegerField(help_text="Submitted study items with a time on task.")
    median_seconds = serializers.FloatField(allow_null=True)
    fast_items = serializers.IntegerField(
        help_text="Items submitted faster than `fast_threshold_seconds`."
    )
    fast_threshold_seconds = serializers.FloatField(
        help_text="The study's threshold for an implausibly fast item (the same in every row)."
    )
    straight_lining = serializers.FloatField(
        allow_null=True,
        help_text="Share of the rater's most common scale answer; null with too few answers.",
    )


class RaterCandidateSerializer(serializers.Serializer):
    username = serializers.CharField()


class RatersAddSerializer(serializers.Serializer):
    """People already in a study you administer, by username (`raters/candidates/` lists
    them); anyone else is invited by e-mail."""

    # The same words for an account that exists elsewhere and for none at all.
    NOT_LISTED = "Choose among the people listed: anyone else is invited by e-mail."

    usernames = serializers.ListField(
        child=serializers.CharField(max_length=150), min_length=1, max_length=500
    )

    def __init__(self, *args, candidates=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.candidates = candidates

    def validate_usernames(self, usernames: list[str]) -> list:
        listed = self.candidates.filter(username__in=usernames)
        found = {user.get_username(): user for user in listed}
        if any(name not in found for name in usernames):
            raise serializers.ValidationError(self.NOT_LISTED)
        return [found[name] for name in dict.fromkeys(usernames)]


class RatersAddedSerializer(serializers.Serializer):
    added = serializers.ListField(
        child=serializers.CharField(), help_text="The new raters' pseudonyms."
    )


class RaterRemovedSerializer(serializers.Serializer):
    removed = serializers.CharField(help_text="The removed rater's pseudonym, never reused.")
    moved = serializers.IntegerField(help_text="Their study items given to the other raters.")


class ReassignedSerializer(serializers.Serializer):
    moved = serializers.IntegerField(help_text="Unstarted items moved to the other raters.")


class InvitationSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    joined_as = serializers.CharField(
        source="accepted_by.get_username", allow_null=True, default=None
    )

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "status",
            "created_at",
            "expires_at",
            "accepted_at",
            "joined_as",
            "revoked_at",
        ]
        read_only_fields = fields

    def get_status(
        self, invitation: Invitation
    ) -> Literal["joined", "revoked", "expired", "pending"]:
        if invitation.accepted_at:
            return "joined"
        if invitation.revoked_at:
            return "revoked"
        return "expired" if invitation.is_expired else "pending"


class InvitedSerializer(serializers.Serializer):
    invited = InvitationSerializer(many=True)


class InviteSerializer(serializers.Serializer):
    emails = serializers.ListField(child=serializers.EmailField(), min_length=1, max_length=500)

    def validate_emails(self, emails: list[str]) -> list[str]:
        return list(dict.fromkeys(emails))  # each address once, in the order given


class CommentQuerySerializer(serializers.Serializer):
    source = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Only comments about this source's outputs: once the study is locked.",
    )
    question = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="One question's key."
    )
    all = serializers.BooleanField(
        required=False, default=False, help_text="Every comment, not the newest 20 of each."
    )


class CommentSerializer(serializers.Serializer):
    case_id = serializers.CharField()
    rater = serializers.CharField(help_text="The rater's pseudonym.")
    text = serializers.CharField()
    saved_at = serializers.DateTimeField()
    submitted = serializers.BooleanField()
    kind = serializers.CharField()
    sources = serializers.ListField(
        child=serializers.CharField(),
        help_text='What was commented on ("A: label"), once the study is locked; empty before.',
    )


class QuestionCommentsSerializer(serializers.Serializer):
    key = serializers.CharField()
    prompt = serializers.CharField()
    total = serializers.IntegerField(help_text="Every comment that matches, listed or not.")
    comments = CommentSerializer(many=True)


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

    @extend_schema(responses={200: RaterSerializer(many=True)})
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
        return Response(RaterSerializer(rows, many=True).data)

    @extend_schema(
        request=RatersAddSerializer,
        responses={201: RatersAddedSerializer, 400: INVALID, 409: REFUSED},
    )
    def create(self, request: Request, study_token: str) -> Response:
        """Add people already in a study you administer (`candidates`), by username, while the
        study is a draft or open; in an open study they take over unstarted work from the
        busiest raters. Anyone else is invited by e-mail (`invitations/`)."""
        data = RatersAddSerializer(data=request.data, candidates=self._candidates())
        data.is_valid(raise_exception=True)
        try:
            added = services.study_add_raters(
                study=self.study, users=data.validated_data["usernames"]
            )
        except ValidationError as exc:
            return refused(exc)
        body = {"added": [membership.pseudonym for membership in added]}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: RaterCandidateSerializer(many=True)})
    @action(detail=False, methods=["get"])
    def candidates(self, request: Request, study_token: str) -> Response:
        """Who you may add directly: active people in a study you administer, not yet in this
        one. It never lists anyone else with an account here."""
        users = self._candidates()
        return Response([{"username": user.get_username()} for user in users])

    def _candidates(self) -> QuerySet:
        return selectors.study_rater_candidates(study=self.study, admin=self.request.user)

    @extend_schema(responses={200: RaterRemovedSerializer, 409: REFUSED})
    def destroy(self, request: Request, study_token: str, pseudonym: str) -> Response:
        """Remove a rater who has saved no rating, while the study is a draft or open; in an
        open study their items go to the other raters as `reassign` moves them (refused if
        any could not). A rater with saved ratings stays: reassign their remaining items
        instead. Their pseudonym is never given to anyone else. Cannot be undone."""
        membership = self.get_object()
        try:
            moved = services.rater_remove(study=self.study, pseudonym=membership.pseudonym)
        except ValidationError as exc:
            return refused(exc)
        return Response({"removed": membership.pseudonym, "moved": moved})

    @extend_schema(
        request=None,
        responses={200: ReassignedSerializer, 409: REFUSED},
    )
    @action(detail=True, methods=["post"])
    def reassign(self, request: Request, study_token: str, pseudonym: str) -> Response:
        """Give this rater's unstarted items (from the end of their order) to the other
        raters, while the study is open. Started work stays with them. Cannot be undone.
        404 for a pseudonym that is not one of the study's raters."""
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

    serializer_class = InvitationSerializer
    model = Invitation
    filter_backends = ()

    def study_queryset(self, study: Study) -> QuerySet[Invitation]:
        return study.invitations.select_related("accepted_by").order_by("-created_at", "-pk")

    @extend_schema(
        request=InviteSerializer,
        responses={201: InvitedSerializer, 400: INVALID, 409: REFUSED},
    )
    def create(self, request: Request, study_token: str) -> Response:
        """Invite these addresses while the study is a draft or open; refused whole (nothing
        created) when the server cannot send e-mail safely or the mail server fails."""
        data = InviteSerializer(data=request.data)
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
        body = InvitedSerializer({"invited": sent}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: InvitationSerializer, 409: REFUSED})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, study_token: str, pk: str) -> Response:
        """Withdraw an invitation not yet accepted: its link stops working at once and says it
        was withdrawn, to anyone who follows it. Revoking it again changes nothing; an
        accepted one is refused (remove the rater instead)."""
        invitation = self.get_object()
        try:
            revoked = services.invitation_revoke(study=self.study, invitation_id=invitation.pk)
        except ValidationError as exc:
            return refused(exc)
        return Response(InvitationSerializer(revoked).data)


class CommentViewSet(StudyScopedViewSet):
    """The raters' free-text answers per text question, newest first, as the dashboard's
    comments page lists them: by pseudonym, and by source only once the study is locked."""

    model = Membership  # for the schema only: the list is built by the selector
    pagination_class = None
    filter_backends = ()

    @extend_schema(
        parameters=[CommentQuerySerializer],
        responses={200: QuestionCommentsSerializer(many=True), 400: INVALID},
    )
    def list(self, request: Request, study_token: str) -> Response:
        query = CommentQuerySerializer(data=request.query_params)
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
        return Response(QuestionCommentsSerializer(listed, many=True).data)
