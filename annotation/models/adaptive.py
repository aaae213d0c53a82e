"""Adaptive extra raters: a study's rule for offering an item to more raters when its first
ratings disagree, and the decision taken for each item (see annotation.services.adaptive)."""

from django.db import models
from django.utils import timezone

from annotation.core import disagreement
from annotation.models.items import Item
from annotation.models.studies import Study

# The most extra raters one item may get: beyond this the item is a panel of its own.
MAX_EXTRA_RATERS = 10


class AdaptiveDesign(models.Model):
    """A study that offers disagreeing items to more raters. Present means on; set while the
    study is a draft, so that the rule is part of the design before anyone rates."""

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="adaptive")
    # A core.disagreement rule about one question (`Rule.as_dict`).
    rule = models.JSONField()
    # The first k submitted regular ratings of an item decide; k is at least 2.
    first_k = models.PositiveSmallIntegerField()
    # At most this many extra raters per item.
    extra_m = models.PositiveSmallIntegerField()

    def __str__(self) -> str:
        return f"adaptive extras for {self.study}"

    @property
    def parsed_rule(self) -> disagreement.Rule:
        return disagreement.rule_from_dict(self.rule)

    def describe(self) -> str:
        return (
            f"when the first {self.first_k} ratings of an item meet the rule "
            f"({disagreement.describe(self.parsed_rule)}), up to {self.extra_m} more "
            f"rater{'s' if self.extra_m != 1 else ''}"
        )


class AdaptiveDecision(models.Model):
    """What the rule said about one item's first k ratings, taken once: the one row per item
    makes a duplicated or concurrent trigger a no-op. `wanted - created` is the shortfall
    (fewer eligible raters than the study's m, or extras lost with a removed rater)."""

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="adaptive_decision")
    disagreed = models.BooleanField()
    rule = models.JSONField()  # as it stood when the decision was taken
    # The first k answers to the rule's question, in submit order, without who gave them.
    answers = models.JSONField(default=list)
    wanted = models.PositiveSmallIntegerField(default=0)
    # Extras standing now: made at the decision, less those `lost` since.
    created = models.PositiveSmallIntegerField(default=0)
    # Extras dropped when their rater was removed and no other eligible rater could take the
    # item: part of the shortfall, counted apart so the manifest can say why.
    lost = models.PositiveSmallIntegerField(default=0)
    decided_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.item}: {'extra raters' if self.disagreed else 'no extras'}"

    @property
    def shortfall(self) -> int:
        return self.wanted - self.created
