"""/api/v1/studies/<token>/notifications/: the e-mails the worker sent for the study (raters by
pseudonym) and the study's reminder and notice settings. Admins only; the settings call the
service the dashboard's card calls."""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from annotation import services
from annotation.api.access import as_api_error
from annotation.api.base import StudyScopedViewSet, rater_pseudonym
from annotation.api.studies import INVALID
from annotation.models import Notification, Study


class NotificationSerializer(serializers.ModelSerializer):
    recipient = serializers.SerializerMethodField(
        help_text="A rater's pseudonym, or an admin's user name."
    )
    task_run = serializers.IntegerField(
        source="task_run_id", allow_null=True, help_text="The failed job (job_failed only)."
    )

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "recipient",
            "task_run",
            "status",
            "error",
            "attempts",
            "created_at",
            "attempted_at",
            "sent_at",
        ]
        read_only_fields = fields

    def get_recipient(self, note: Notification) -> str:
        return note.pseudonym or note.recipient.get_username()


class NotificationSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = Study
        fields = ["reminders_enabled", "reminder_stall_days", "admin_notices_enabled"]


class NotificationViewSet(mixins.ListModelMixin, StudyScopedViewSet):
    """What was e-mailed for the study, newest first: reminders to stalled raters, notices to
    the admins (every rater finished, a job failed), each with its status and, if the last try
    failed, why (it is tried again at the next beat)."""

    model = Notification
    serializer_class = NotificationSerializer

    def study_queryset(self, study: Study) -> QuerySet[Notification]:
        rows = study.notifications.select_related("recipient")
        return rows.annotate(pseudonym=rater_pseudonym(study, "recipient_id"))

    @extend_schema(methods=["GET"], request=None, responses={200: NotificationSettingsSerializer})
    @extend_schema(
        methods=["PATCH"],
        request=NotificationSettingsSerializer,
        responses={200: NotificationSettingsSerializer, 400: INVALID},
    )
    @action(detail=False, methods=["get", "patch"], url_path="settings")
    def study_settings(self, request: Request, study_token: str) -> Response:
        """The study's reminder settings; PATCH any of them."""
        study = self.study
        if request.method == "GET":
            return Response(NotificationSettingsSerializer(study).data)
        data = NotificationSettingsSerializer(study, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = {**NotificationSettingsSerializer(study).data, **data.validated_data}
        try:
            study = services.study_notifications_update(study=study, **values)
        except ValidationError as exc:
            raise as_api_error(exc) from None
        return Response(NotificationSettingsSerializer(study).data)
