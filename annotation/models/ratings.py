"""Raters' answers and their revisions."""

from django.db import models

from annotation.models.cases import Output
from annotation.models.items import Assignment
from annotation.models.questions import Question


class Rating(models.Model):
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="ratings")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="ratings")
    # Side by side only: the output a per-output answer is about. Null for an answer about the
    # whole item (its one output, a pair's preference, a ranking).
    output = models.ForeignKey(
        Output, null=True, blank=True, on_delete=models.PROTECT, related_name="ratings"
    )
    # The answer as given, in canonical form (see annotation.core.rubric), and the number statistics
    # read for it: null for "not applicable", free text and multiple choice.
    answer = models.JSONField()
    value = models.FloatField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # How many revisions it has (ratings.csv's `revisions`), kept by whatever appends one, so
    # that an export reads it, not a count per rating (issue 22: 2 s of a million-rating
    # bundle). The database's default covers rows written by COPY.
    revision_count = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "question"],
                condition=models.Q(output__isnull=True),
                name="rating_unique",
            ),
            models.UniqueConstraint(
                fields=["assignment", "question", "output"],
                condition=models.Q(output__isnull=False),
                name="rating_unique_per_output",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question}={self.answer}"


class RatingRevision(models.Model):
    """Append-only history: one row for every answer a rater ever saved."""

    rating = models.ForeignKey(Rating, on_delete=models.CASCADE, related_name="revisions")
    answer = models.JSONField()
    value = models.FloatField(null=True)
    saved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["saved_at", "pk"]

    def __str__(self) -> str:
        return f"{self.answer} at {self.saved_at:%Y-%m-%d %H:%M:%S}"
