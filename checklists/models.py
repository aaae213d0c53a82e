"""Reporting checklists: definitions loaded from data files, and reports that answer them.

A definition is immutable once loaded: an edited file becomes a new revision, so every answer
stays tied to the exact wording it answered. A report is one checklist for one manuscript; each
assessor answers it in their own Assessment, and the report's lead may record a consensus.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from annotation.models import Study, new_token
from checklists import definition_files as files


class ChecklistDefinition(models.Model):
    slug = models.SlugField(max_length=60)
    revision = models.PositiveIntegerField(help_text="1 for the first load, +1 for every change.")
    version = models.CharField(max_length=50, help_text="The version the file declares.")
    title = models.CharField(max_length=200)
    citation = models.TextField()
    source_url = models.URLField()
    notice = models.TextField(blank=True)
    # A modular checklist's scopes, e.g. [{"key": "design", "title": ..., "guidance": ...,
    # "options": [{"value": "E", "label": ...}]}]; empty for a checklist whose items all apply.
    modules = models.JSONField(default=list, blank=True)
    filename = models.CharField(max_length=200)
    content_hash = models.CharField(max_length=64)
    loaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug", "-revision"]
        constraints = [
            models.UniqueConstraint(fields=["slug", "revision"], name="definition_revision"),
        ]

    def __str__(self) -> str:
        return f"{self.title} {self.version_label}"

    @property
    def version_label(self) -> str:
        # Translators: a checklist's version as its file declares it, and how often it was loaded.
        return _("%(version)s (revision %(revision)s)") % {
            "version": self.version,
            "revision": self.revision,
        }

    @property
    def is_modular(self) -> bool:
        return bool(self.modules)


class Section(models.Model):
    definition = models.ForeignKey(
        ChecklistDefinition, on_delete=models.CASCADE, related_name="sections"
    )
    code = models.CharField(max_length=20)
    title = models.CharField(max_length=200)
    guidance = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["order"]
        constraints = [
            models.UniqueConstraint(fields=["definition", "code"], name="section_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class ChecklistItem(models.Model):
    class Kind(models.TextChoices):
        YES_NO_NA = files.YES_NO_NA, gettext_lazy("Yes / no / not applicable")
        SINGLE_CHOICE = files.SINGLE_CHOICE, gettext_lazy("Single choice")
        MULTIPLE_CHOICE = files.MULTIPLE_CHOICE, gettext_lazy("Multiple choice")

    # The one set of options evalapp writes itself (every other item's options are the
    # checklist's own words, in English as published): shown in the reader's language, and in
    # English in the exported files (selectors.export_doc).
    YES_NO_NA_CHOICES = [
        {"value": "yes", "label": gettext_lazy("Yes")},
        {"value": "no", "label": gettext_lazy("No")},
        {"value": "na", "label": gettext_lazy("Not applicable")},
    ]

    definition = models.ForeignKey(
        ChecklistDefinition, on_delete=models.CASCADE, related_name="items"
    )
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="items")
    code = models.CharField(max_length=20)
    prompt = models.TextField()
    guidance = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # [{"value": "tier_1", "label": "Tier 1: ..."}, ...]; empty for yes / no / not applicable.
    choices = models.JSONField(default=list, blank=True)
    evidence = models.JSONField(default=list, blank=True, help_text="Evidence keys, see files.")
    tag = models.CharField(max_length=10, blank=True)
    # {module key: [option codes]}; a module left out means every option, see files.item_applies.
    applies_to = models.JSONField(default=dict, blank=True)
    order = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["order"]
        constraints = [
            models.UniqueConstraint(fields=["definition", "code"], name="item_code"),
        ]

    def __str__(self) -> str:
        return self.code

    def applies_in(self, scope: dict[str, list[str]]) -> bool:
        return files.item_applies(self.applies_to, scope)

    @property
    def options(self) -> list[dict]:
        return self.YES_NO_NA_CHOICES if self.kind == self.Kind.YES_NO_NA else self.choices

    @property
    def option_values(self) -> list[str]:
        return [option["value"] for option in self.options]

    def label_of(self, value: str) -> str:
        return str(next((o["label"] for o in self.options if o["value"] == value), value))

    def validate_answer(self, answer: object) -> None:
        """None clears the answer; otherwise it must be one allowed value, or a list of them."""
        if answer is None:
            return
        allowed = self.option_values
        names = {"code": self.code, "listed": ", ".join(allowed), "got": repr(answer)}
        if self.kind != self.Kind.MULTIPLE_CHOICE:
            if not isinstance(answer, str) or answer not in allowed:
                message = _("Item %(code)s takes one of: %(listed)s; got %(got)s.")
                raise ValidationError(message % names, code="answer")
            return
        if not isinstance(answer, list) or not all(isinstance(v, str) for v in answer):
            message = _("Item %(code)s takes a list of any of: %(listed)s; got %(got)s.")
            raise ValidationError(message % names, code="answer")
        unknown = [v for v in answer if v not in allowed]
        if unknown:
            message = _("Item %(code)s has no choice %(choice)s; choose from: %(listed)s.")
            raise ValidationError(message % {**names, "choice": repr(unknown[0])}, code="answer")
        if len(set(answer)) != len(answer):
            message = _("Item %(code)s: a choice is ticked twice.")
            raise ValidationError(message % names, code="answer")
        exclusive = [o for o in self.options if o.get("exclusive") and o["value"] in answer]
        if exclusive and len(answer) > 1:
            message = _("Item %(code)s: %(choice)s cannot be ticked with other choices.")
            choice = repr(str(exclusive[0]["label"]))
            raise ValidationError(message % {**names, "choice": choice}, code="answer")

    def normalise_answer(self, answer: object) -> object:
        """Ticked boxes in the definition's order; no boxes ticked is no answer."""
        if self.kind == self.Kind.MULTIPLE_CHOICE and isinstance(answer, list):
            ticked = [v for v in self.option_values if v in answer]
            return ticked or None
        return answer


class Report(models.Model):
    """One checklist for one manuscript, optionally evidenced by a reader study in evalapp."""

    token = models.CharField(max_length=22, unique=True, default=new_token, editable=False)
    definition = models.ForeignKey(
        ChecklistDefinition, on_delete=models.PROTECT, related_name="reports"
    )
    title = models.CharField(max_length=300, help_text="The manuscript's title.")
    manuscript = models.CharField(
        max_length=300, blank=True, help_text="DOI, URL or journal reference of the manuscript."
    )
    study = models.ForeignKey(
        Study, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # For a modular checklist, the options the study covers: {module key: [option codes]}.
    # Empty until the lead chooses, and then every item applies.
    scope = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def needs_scope(self) -> bool:
        return self.definition.is_modular and not self.scope


class ReportScopeChange(models.Model):
    """Append-only history of a report's scope: every scope it was given, and by whom."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="scope_changes")
    scope = models.JSONField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["changed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.report} scoped {self.scope} at {self.changed_at:%Y-%m-%d %H:%M:%S}"


class Assessment(models.Model):
    """One person's answers to a report's checklist, or the lead's consensus of them."""

    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", gettext_lazy("Individual")
        CONSENSUS = "consensus", gettext_lazy("Consensus")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="assessments")
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assessments"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.INDIVIDUAL)
    token = models.CharField(max_length=22, unique=True, default=new_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Until then nobody else may read these answers; afterwards they are locked.
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "assessor"],
                condition=models.Q(kind="individual"),
                name="one_assessment_per_assessor",
            ),
            models.UniqueConstraint(
                fields=["report"], condition=models.Q(kind="consensus"), name="one_consensus"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.assessor} on {self.report}"

    @property
    def is_submitted(self) -> bool:
        return self.submitted_at is not None


class Response(models.Model):
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="responses")
    item = models.ForeignKey(ChecklistItem, on_delete=models.PROTECT, related_name="responses")
    # A choice value, a list of them for multiple choice, or null while unanswered.
    answer = models.JSONField(null=True, blank=True)
    location = models.CharField(max_length=200, blank=True, help_text="Page or section.")
    notes = models.TextField(blank=True)
    # The study facts copied into the notes, kept to tell when they have since changed.
    evidence_hash = models.CharField(max_length=64, blank=True)
    evidence_used_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assessment", "item"], name="response_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.item}: {self.answer}"

    @property
    def is_answered(self) -> bool:
        return self.answer not in (None, [], "")

    def clean(self) -> None:
        if self.item.definition_id != self.assessment.report.definition_id:
            raise ValidationError(_("This item belongs to another checklist."))
        self.item.validate_answer(self.answer)


class ResponseRevision(models.Model):
    """Append-only history: every state a response was saved in, and by whom."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="revisions")
    answer = models.JSONField(null=True)
    location = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    saved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["saved_at", "pk"]

    def __str__(self) -> str:
        return f"{self.response} at {self.saved_at:%Y-%m-%d %H:%M:%S}"
