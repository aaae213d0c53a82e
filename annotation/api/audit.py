"""The audit trail, read-only: a study's entries for its admins
(`/api/v1/studies/<token>/audit/`), every entry for staff (`/api/v1/audit/`), newest first, a
page at a time. Nothing here writes: PUT, PATCH and DELETE are 405 like any method a view does
not have."""

from django.db.models import QuerySet
from rest_framework import mixins, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.viewsets import GenericViewSet

from annotation import selectors
from annotation.api import filters
from annotation.api.base import StudyScopedViewSet
from annotation.core import audit
from annotation.models import AuditEvent, Study


class AuditEventSerializer(serializers.ModelSerializer):
    at = serializers.SerializerMethodField(help_text="UTC, microseconds, as the chain hashes it")
    details = serializers.JSONField(help_text="what changed: {field: {old, new}}, or facts")

    class Meta:
        model = AuditEvent
        fields = selectors.AUDIT_COLUMNS
        read_only_fields = fields

    def get_at(self, event: AuditEvent) -> str:
        return audit.format_time(event.at)


class StudyAuditViewSet(mixins.ListModelMixin, StudyScopedViewSet):
    """The study's audit log, newest first: who did what, when, from where, with old and new
    values. For the study's admins (a rater gets 403)."""

    serializer_class = AuditEventSerializer
    model = AuditEvent
    filterset_class = filters.AuditEventFilter

    def study_queryset(self, study: Study) -> QuerySet[AuditEvent]:
        return selectors.audit_events(study_id=study.pk)


class AuditViewSet(mixins.ListModelMixin, GenericViewSet):
    """Every entry of the audit log, newest first, for staff (anyone else gets 403)."""

    serializer_class = AuditEventSerializer
    filterset_class = filters.AuditEventFilter

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can read the whole audit log.")

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return selectors.audit_events()
