"""Consent statements (each version kept as raters accepted it) and the questions a study asks
its raters about themselves (background before the first item, optional ones after the last)."""

from django.db import models

from annotation.core import consent, rubric
from annotation.models.studies import Study


class ConsentVersion(models.Model):
    """One version of a study's consent statement, kept for good: a rater's acceptance names
    the version, and the page shows them the very text they accepted."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="consent_versions")
    version = models.PositiveIntegerField()
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["version"]
        constraints = [
            models.UniqueConstraint(fields=["study", "version"], name="consent_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.study} consent v{self.version}"


class RaterQuestion(models.Model):
    """A question about the rater, answered once (core.consent): their covariates in exports
    and statistics. Its kind is one of the rubric's (core.consent.KINDS)."""

    class Phase(models.TextChoices):
        BACKGROUND = consent.BACKGROUND, "Background, before the first item"
        POST_STUDY = consent.POST_STUDY, "Post-study, offered after the last item"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="rater_questions")
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.BACKGROUND)
    key = models.SlugField(max_length=50)
    prompt = models.CharField(max_length=500)
    kind = models.CharField(max_length=20, choices=[(k, k) for k in consent.KINDS])
    scale = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=True)
    minimum = models.FloatField(null=True, blank=True)
    maximum = models.FloatField(null=True, blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["study", "key"], name="rater_question_key_unique"),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def draft(self) -> consent.RaterQuestionDraft:
        return consent.RaterQuestionDraft(
            key=self.key,
            prompt=self.prompt,
            kind=self.kind,
            phase=self.phase,
            scale=tuple(self.scale),
            required=self.required,
            minimum=self.minimum,
            maximum=self.maximum,
        )

    @property
    def spec(self) -> rubric.QuestionSpec:
        return self.draft.spec

    def label_of(self, answer: object) -> str:
        """An answer as people read it: a choice's label, else the answer itself."""
        labels = {str(p["value"]): p["label"] for p in self.spec.points}
        if isinstance(answer, list):
            return "; ".join(labels.get(str(v), str(v)) for v in answer)
        return labels.get(str(answer), "" if answer is None else str(answer))
