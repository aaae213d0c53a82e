"""Input validation for the checklist pages."""

from django import forms
from django.utils.translation import gettext_lazy

from annotation.selectors import admin_studies
from checklists.models import ChecklistDefinition, Report
from checklists.selectors import definitions_current, scope_modules
from checklists.services import scope_needs_one


class DefinitionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.title} {obj.version_label}"


class ReportCreateForm(forms.Form):
    definition = DefinitionChoiceField(
        queryset=None, label=gettext_lazy("Checklist"), empty_label=None
    )
    title = forms.CharField(max_length=300, label=gettext_lazy("Manuscript title"))
    manuscript = forms.CharField(
        max_length=300,
        required=False,
        label=gettext_lazy("Manuscript reference"),
        help_text=gettext_lazy("DOI, URL or draft."),
    )
    study = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label=gettext_lazy("Reader study in evalapp"),
        help_text=gettext_lazy(
            "Optional: its facts (raters, blinding, agreement, models) are offered as evidence "
            "for the items they answer."
        ),
    )
    lead_assesses = forms.BooleanField(
        required=False, initial=True, label=gettext_lazy("I will answer the checklist myself")
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        current = [d.pk for d in definitions_current()]
        self.fields["definition"].queryset = ChecklistDefinition.objects.filter(pk__in=current)
        self.fields["study"].queryset = admin_studies(user=user)


class AddAssessorForm(forms.Form):
    # Not checked against the accounts here: whether the name exists is never said
    # (services.report_name_assessor).
    username = forms.CharField(
        max_length=150,
        label=gettext_lazy("Assessor's user name"),
        help_text=gettext_lazy(
            "They see this report in their list; you see them under Assessors once they start "
            "answering."
        ),
    )


class ScopeForm(forms.Form):
    """One set of boxes per module of a modular checklist (TRIPOD-LLM: designs and tasks).
    The modules and their options are the checklist's own words (English, as published)."""

    def __init__(self, *args, report: Report, **kwargs):
        super().__init__(*args, **kwargs)
        for module in scope_modules(report=report):
            self.fields[module.key] = forms.MultipleChoiceField(
                label=module.title,
                help_text=module.guidance,
                choices=[(o["value"], o["label"]) for o in module.options],
                widget=forms.CheckboxSelectMultiple,
                initial=module.chosen,
                error_messages={"required": scope_needs_one(module.title)},
            )
