"""Adjudication to a reference standard (docs/adjudication.md): the senior clinicians who
adjudicate, the runs that chose items for them, and each chosen item's reference answers with
their history."""

from django.conf import settings
from django.db import models

from annotation.models.items import Item
from annotation.models.studies import Study
from annotation.models.tokens import new_token


class Adjudicator(models.Model):
    """A senior clinician who records reference answers. Apart from Membership (one role per
    user and study): an adjudicator may rate other items of the same study, never adjudicate
    an item they rated."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="adjudicators")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="adjudicating"
    )
    # What exports name them by ("A1"): never their user name.
    label = models.CharField(max_length=10)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "user"], name="adjudicator_unique"),
            models.UniqueConstraint(fields=["study", "label"], name="adjudicator_label_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.label} adjudicating {self.study}"


class AdjudicationSelection(models.Model):
    """One run of choosing items for adjudication, as the admin asked for it: by a
    disagreement rule (core.disagreement), a seeded sample, or all decided items."""

    class Mode(models.TextChoices):
        RULE = "rule", "Raters disagree by a rule"
        SAMPLE = "sample", "A random sample"
        ALL = "all", "Every decided item"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="adjudication_runs")
    mode = models.CharField(max_length=10, choices=Mode.choices)
    rule = models.JSONField(default=dict, blank=True, help_text="Rule.as_dict(); rule mode.")
    sample_size = models.PositiveIntegerField(null=True, blank=True)
    sample_fraction = models.FloatField(null=True, blank=True)
    # The study's seed and this run's number: the same inputs draw the same sample.
    seed = models.BigIntegerField(null=True, blank=True)
    eligible = models.PositiveIntegerField(default=0, help_text="Decided items it looked at.")
    chosen = models.PositiveIntegerField(default=0, help_text="Items it added.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.mode} selection of {self.study}"


class Adjudication(models.Model):
    """One item chosen for adjudication, with its readers in the order they are labelled
    ("Reader 1" is the first assignment in `readers`), and the reference answers once
    recorded: canonical answers and their codes by question key, with one reason."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="adjudications")
    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="adjudication")
    selection = models.ForeignKey(
        AdjudicationSelection, on_delete=models.PROTECT, related_name="adjudications"
    )
    # What the adjudicator's pages name it by: never the item's or an assignment's token.
    token = models.CharField(max_length=22, unique=True, default=new_token, editable=False)
    readers = models.JSONField(default=list, help_text="Assignment ids, shuffled (seeded).")
    answers = models.JSONField(default=dict, blank=True)
    values = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    adjudicator = models.ForeignKey(
        Adjudicator, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"adjudication of {self.item_id}"

    @property
    def decided(self) -> bool:
        return self.decided_at is not None


class AdjudicationRevision(models.Model):
    """Append-only history: every reference an adjudicator ever recorded for an item."""

    adjudication = models.ForeignKey(
        Adjudication, on_delete=models.CASCADE, related_name="revisions"
    )
    adjudicator = models.ForeignKey(Adjudicator, on_delete=models.PROTECT, related_name="+")
    answers = models.JSONField()
    reason = models.TextField()
    saved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["saved_at", "pk"]

    def __str__(self) -> str:
        return f"revision of {self.adjudication_id} at {self.saved_at:%Y-%m-%d %H:%M:%S}"
