from django.contrib import admin

from annotation import models, services


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0


class QuestionInline(admin.StackedInline):
    model = models.Question
    extra = 0


@admin.register(models.Study)
class StudyAdmin(admin.ModelAdmin):
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
class SourceAdmin(admin.ModelAdmin):
    list_display = ["label", "kind", "study", "model_name"]
    list_filter = ["kind"]


@admin.register(models.Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["external_id", "study"]
    search_fields = ["external_id"]


@admin.register(models.Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ["source", "case", "outcome", "http_status", "latency_ms", "started_at"]
    list_filter = ["outcome"]


@admin.register(models.Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["study", "rater", "position", "submitted_at"]
    list_filter = ["study"]


@admin.register(models.TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    list_display = ["kind", "study", "status", "done", "total", "created_at"]
    list_filter = ["kind", "status"]


@admin.register(models.Connection)
class ConnectionAdmin(admin.ModelAdmin):
    """Staff manage the operator's connections here (or through EVALAPP_CONNECTIONS_FILE):
    only they say which key goes to which host."""

    list_display = ["name", "base_url", "allowed_models", "api_key_env", "api_key_file"]
    search_fields = ["name", "base_url"]


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
