from django.contrib import admin

from checklists.models import Assessment, ChecklistDefinition, Report


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
