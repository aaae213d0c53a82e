from django.contrib import admin

from checklists.models import Assessment, ChecklistDefinition, Report, ReportScopeChange


@admin.register(ChecklistDefinition)
class ChecklistDefinitionAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "version", "revision", "filename", "loaded_at"]
    # Definitions come from data files (`manage.py load_checklists`); editing one here would
    # change the wording under answers already given.
    readonly_fields = [f.name for f in ChecklistDefinition._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["title", "definition", "lead", "study", "created_at"]
    raw_id_fields = ["study", "lead"]


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    list_display = ["report", "assessor", "kind", "submitted_at"]
    list_filter = ["kind"]


@admin.register(ReportScopeChange)
class ReportScopeChangeAdmin(admin.ModelAdmin):
    """A report's scope history, to read: written only by `report_set_scope` and
    `report_create`. Deleting stays allowed, so that a report can still be deleted here."""

    list_display = ["report", "scope", "changed_by", "changed_at"]
    raw_id_fields = ["report"]
    readonly_fields = [f.name for f in ReportScopeChange._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
