"""Stored statistics, with the hash of their inputs."""

from django.db import models

from annotation.models.questions import Question
from annotation.models.studies import Study


class Result(models.Model):
    """The latest value of one statistic for one question, with what it was computed from.

    `source` narrows it to one source's outputs (or names a pair, "A vs B"); empty is every
    source. `judge` names the LLM judge whose answers were added to the humans' (or compared
    with them); empty is the humans alone. Labels rather than keys: results are read by study
    admins and exported into papers, and are recomputed whenever their inputs change."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="results")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="results")
    statistic = models.CharField(max_length=50)
    source = models.CharField(max_length=250, blank=True, default="")
    judge = models.CharField(max_length=100, blank=True, default="")
    value = models.FloatField(null=True, help_text="Null when the data cannot define it.")
    n_units = models.PositiveIntegerField()
    n_raters = models.PositiveIntegerField()
    n_ratings = models.PositiveIntegerField()
    detail = models.JSONField(default=dict)
    inputs_hash = models.CharField(max_length=64)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["study", "question", "statistic", "source", "judge"],
                name="result_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.statistic} on {self.question}: {self.value}"


class StudyFigures(models.Model):
    """The dashboard's whole-study figures that read every assignment or rating (progress by
    source, items short of their raters, data quality per rater), stored by the statistics
    recomputation that follows every submit, so the dashboard reads one row instead of a
    million. `data` is what `annotation.services.statistics.study_figures` stores."""

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="stored_figures")
    data = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"figures of {self.study} at {self.computed_at:%Y-%m-%d %H:%M:%S}"
