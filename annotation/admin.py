from dataclasses import dataclass

from django.contrib import admin

from annotation import models, services


class AuditedAdmin(admin.ModelAdmin):
    """Changes made in the Django admin do not go through the services, so they are recorded
    here: what was added, changed (each changed field, old and new) or deleted, by whom."""

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        _audit_form(form, obj, change)

    def save_formset(self, request, form, formset, change) -> None:
        # Taken before the save, which deletes these rows and sets their pk to None.
        gone = [_Deleted.of(f.instance) for f in formset.deleted_forms if f.instance.pk]
        super().save_formset(request, form, formset, change)
        deleted = {id(f.instance) for f in formset.deleted_forms}
        for inline_form in formset.forms:
            instance = inline_form.instance
            if instance.pk and id(instance) not in deleted and inline_form.has_changed():
                _audit_form(inline_form, instance, bool(inline_form.initial))
        for row in gone:
            _audit_deleted(row)

    # Recorded after the delete: the entry's write takes the chain's lock, which would
    # otherwise be held through the whole cascade. What it names is kept before the row goes.
    def delete_model(self, request, obj) -> None:
        gone = _Deleted.of(obj)
        super().delete_model(request, obj)
        _audit_deleted(gone)

    def delete_queryset(self, request, queryset) -> None:
        gone = [_Deleted.of(obj) for obj in queryset]
        super().delete_queryset(request, queryset)
        for deleted in gone:
            _audit_deleted(deleted)


@dataclass(frozen=True)
class _Deleted:
    """What an entry says of a deleted row: its type, id, study and name, taken before the
    delete (after it, the row's pk is None and its study may be gone too)."""

    type_name: str
    pk: object
    study: models.Study | None
    text: str

    @classmethod
    def of(cls, obj) -> "_Deleted":
        study = _study_of(obj)
        if study is not None:  # a copy: deleting the study sets the original's pk to None
            study = models.Study(pk=study.pk, title=study.title)
        return cls(type(obj).__name__.lower(), obj.pk, study, str(obj))


def _study_of(obj) -> models.Study | None:
    return obj if isinstance(obj, models.Study) else getattr(obj, "study", None)


def _plain(value):
    return getattr(value, "pk", value)


def _audit_form(form, obj, change: bool) -> None:
    values = {
        name: (
            _plain(form.initial.get(name)) if change else None,
            _plain(form.cleaned_data.get(name)),
        )
        for name in form.changed_data
    }
    # A field a form reports changed whose value is the same (a number posted as text) is not.
    details = {name: {"old": old, "new": new} for name, (old, new) in values.items() if old != new}
    action = "admin.changed" if change else "admin.added"
    services.audit_record(action=action, study=_study_of(obj), target=obj, details=details)


def _audit_deleted(gone: _Deleted) -> None:
    services.audit_record(
        action="admin.deleted",
        study=gone.study,
        object_type=gone.type_name,
        object_id=str(gone.pk),
        details={"object": gone.text},
    )


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0


class QuestionInline(admin.StackedInline):
    model = models.Question
    extra = 0


@admin.register(models.Study)
class StudyAdmin(AuditedAdmin):
    list_display = ["title", "status", "raters_per_item", "created_at"]
    list_filter = ["status"]
    readonly_fields = ["token", "opened_at"]
    inlines = [QuestionInline, MembershipInline]

    def delete_model(self, request, obj: models.Study) -> None:
        services.study_delete(study=obj)

    def delete_queryset(self, request, queryset) -> None:
        for study in queryset:
            services.study_delete(study=study)


@admin.register(models.Source)
class SourceAdmin(AuditedAdmin):
    list_display = ["label", "kind", "study", "model_name"]
    list_filter = ["kind"]


@admin.register(models.Case)
class CaseAdmin(AuditedAdmin):
    list_display = ["external_id", "study"]
    search_fields = ["external_id"]


@admin.register(models.Generation)
class GenerationAdmin(AuditedAdmin):
    list_display = ["source", "case", "outcome", "http_status", "latency_ms", "started_at"]
    list_filter = ["outcome"]


@admin.register(models.Assignment)
class AssignmentAdmin(AuditedAdmin):
    list_display = ["study", "rater", "position", "submitted_at"]
    list_filter = ["study"]


@admin.register(models.TaskRun)
class TaskRunAdmin(AuditedAdmin):
    list_display = ["kind", "study", "status", "done", "total", "created_at"]
    list_filter = ["kind", "status"]


@admin.register(models.Connection)
class ConnectionAdmin(AuditedAdmin):
    """Staff manage the operator's connections here (or through EVALAPP_CONNECTIONS_FILE):
    only they say which key goes to which host."""

    list_display = ["name", "base_url", "allowed_models", "api_key_env", "api_key_file"]
    search_fields = ["name", "base_url"]


@admin.register(models.ExternalIdentity)
class ExternalIdentityAdmin(admin.ModelAdmin):
    """Staff link an existing account to its single sign-on here (the provider's issuer and the
    person's `sub`, which the sign-in failure is logged with), or unlink one."""

    list_display = ["user", "issuer", "subject", "created_at", "last_sign_in_at"]
    search_fields = ["user__username", "user__email", "subject"]
    raw_id_fields = ["user"]
    readonly_fields = ["created_at", "last_sign_in_at"]


@admin.register(models.AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail, to read only: no one adds, changes or deletes an entry here, superusers
    included (the model and, on PostgreSQL, the database refuse it too)."""

    list_display = ["seq", "at", "actor_username", "via", "address", "action", "study_title"]
    list_filter = ["action", "via"]
    search_fields = ["actor_username", "action", "study_title", "object_id"]
    ordering = ["-seq"]
    actions = None

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.Notification)
class NotificationAdmin(admin.ModelAdmin):
    """What the worker e-mailed, to read: a record is written by the beat alone. Deleting stays
    allowed, so that deleting a study here (which removes its notifications) is not refused."""

    list_display = ["study", "kind", "recipient", "status", "attempts", "attempted_at", "sent_at"]
    list_filter = ["kind", "status"]
    search_fields = ["study__title", "recipient__username"]
    readonly_fields = [f.name for f in models.Notification._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
