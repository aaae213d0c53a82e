"""Items (one or more outputs shown together) and their assignment to raters."""

import json
import zlib

from django.conf import settings
from django.db import models

from annotation.models.cases import Output
from annotation.models.studies import Study
from annotation.models.tokens import new_token


class Item(models.Model):
    """What a rater judges: one output (absolute rating), two outputs of one case (pairwise), or
    all of a case's outputs (side by side, ranking).

    Outputs are in canonical order, their sources sorted by label, and `output` is always the
    first. A pair's second is `output_b`; a set lists every output, the first included, as its
    `members` by slot. Which one a rater sees as "A" is the assignment's business.
    """

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="items")
    token = models.CharField(max_length=22, unique=True, default=new_token, editable=False)
    output = models.ForeignKey(Output, on_delete=models.PROTECT, related_name="items")
    output_b = models.ForeignKey(
        Output, null=True, blank=True, on_delete=models.PROTECT, related_name="items_as_second"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["study", "output"],
                condition=models.Q(output_b__isnull=True),
                name="item_per_output",
            ),
            models.UniqueConstraint(
                fields=["study", "output", "output_b"],
                condition=models.Q(output_b__isnull=False),
                name="item_per_pair",
            ),
        ]

    def __str__(self) -> str:
        return self.token

    @property
    def is_pair(self) -> bool:
        return self.output_b_id is not None

    def canonical_outputs(self) -> list[Output]:
        """Every output the item shows, in canonical order."""
        if self.is_pair:
            return [self.output, self.output_b]
        return self.set_outputs() or [self.output]

    def set_outputs(self) -> list[Output]:
        """A set's outputs by slot (prefetched `members` if there are), or [] for others."""
        cache = getattr(self, "_prefetched_objects_cache", {})
        if "members" in cache:
            members = sorted(cache["members"], key=lambda m: m.slot)
        else:
            members = self.members.select_related("output__case").order_by("slot")
        return [m.output for m in members]


class ItemOutput(models.Model):
    """One output of a set item, at its place (`slot`, from 0) in canonical order."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="members")
    output = models.ForeignKey(Output, on_delete=models.PROTECT, related_name="memberships")
    slot = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "slot"], name="item_output_slot"),
            models.UniqueConstraint(fields=["item", "output"], name="item_output_once"),
        ]

    def __str__(self) -> str:
        return f"{self.item} #{self.slot}"


class Assignment(models.Model):
    """One item in one rater's stored, seeded order."""

    # No index of its own: the (study, rater, position) constraint's index begins with it. Each
    # index costs every opened study a write per assignment (a million in a large study).
    study = models.ForeignKey(
        Study, on_delete=models.CASCADE, related_name="assignments", db_index=False
    )
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments"
    )
    position = models.PositiveIntegerField(help_text="1-based place in this rater's order.")

    class Kind(models.TextChoices):
        STUDY = "study", "Study"
        TRAINING = "training", "Training"
        ATTENTION = "attention", "Attention check"
        REPEAT = "repeat", "Hidden repeat"
        RETEST = "retest", "Re-read after the washout"
        # Offered because the item's first ratings disagreed (AdaptiveDecision).
        EXTRA = "extra", "Adaptive extra rating"

    # Quality control besides the study proper (annotation.core.design.add_quality_control). Only
    # training announces itself to the rater; checks and repeats look like any other item.
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.STUDY)
    # The rater's reading session (1 first; a database default, so COPY may leave it out). A
    # later session opens once the rater has finished the one before and the study's washout
    # has passed since.
    session = models.PositiveSmallIntegerField(db_default=1)
    # A hidden repeat or a re-read after the washout: the rater's first sight of the same item,
    # for test-retest consistency.
    repeat_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="repeat"
    )
    # Assisted reading: the arm of this read; null in every other study. An unassisted or
    # tool read's item still points at an output of its case, which the rater view object
    # never shows (selectors.rater_items), so that items stay outputs everywhere else.
    arm = models.ForeignKey(
        "annotation.Arm",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assignments",
    )
    # Sequential reading: 1 unassisted, 2 the same case assisted; 1 for everything else.
    phase = models.PositiveSmallIntegerField(db_default=1, default=1)
    # Sequential phase 1: when the unassisted answer locked (no save changes it after).
    locked_at = models.DateTimeField(null=True, blank=True)
    # Pairs only: True when this rater sees the item's second (canonical) output as "A".
    flipped = models.BooleanField(default=False)
    # Sets only: the canonical slots in the order this rater sees them, e.g. [2, 0, 1] shows
    # slot 2 as "A"; empty for one output or a pair.
    order = models.JSONField(default=list, blank=True)
    # Unique by a constraint, not unique=True: on PostgreSQL that would add a second index for
    # LIKE queries, and a token is only ever matched whole.
    token = models.CharField(max_length=22, default=new_token, editable=False)
    first_opened_at = models.DateTimeField(null=True, blank=True)
    # Set by the rater's explicit submit; answers may still be revised until the study locks.
    submitted_at = models.DateTimeField(null=True, blank=True)
    # Time the item was on screen while the page was visible, as the rater's browser reports it.
    time_on_task_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "rater"],
                condition=models.Q(repeat_of__isnull=True, arm__isnull=True),
                name="assignment_item_rater",
            ),
            # Assisted reading: one item (an output of the case) serves each arm's read once.
            models.UniqueConstraint(
                fields=["item", "rater", "arm"],
                condition=models.Q(repeat_of__isnull=True, arm__isnull=False),
                name="assignment_item_rater_arm",
            ),
            models.UniqueConstraint(
                fields=["study", "rater", "position"], name="assignment_rater_position"
            ),
            models.UniqueConstraint(fields=["token"], name="assignment_token"),
        ]

    def __str__(self) -> str:
        return f"{self.rater} #{self.position} in {self.study}"

    def shown_outputs(self) -> list[Output]:
        """The item's outputs in the order this rater sees them: A, B, C... A set of two or
        more has an order; a set of one is just its output, as an absolute item is."""
        item = self.item
        if self.order:
            outputs = item.set_outputs()
            return [outputs[slot] for slot in self.order]
        if item.is_pair:
            return [item.output_b, item.output] if self.flipped else [item.output, item.output_b]
        return [item.output]


class PendingAssignments(models.Model):
    """A rater's assignments as a worker's opening placed them, not yet written as rows
    (services.studies.assignments): a study of a million assignments opens once its items
    and every rater's seeded order are stored, and each rater's rows follow, written by the
    opening's job rater by rater, or at once for a rater who arrives first. The row goes
    when the rater's assignments are written, in the same transaction."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="pending_assignments")
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="pending_assignments"
    )
    placements = models.PositiveIntegerField(help_text="How many assignments the rows hold.")
    # zlib-compressed JSON: one [item id, position, kind, flipped, order, session] per
    # assignment, in the rater's order; tokens are made when the rows are written.
    rows = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "rater"], name="pending_assignments_rater")
        ]

    def __str__(self) -> str:
        return f"{self.placements} assignments of {self.rater} in {self.study}, not yet written"

    @staticmethod
    def pack(rows: list[list]) -> bytes:
        """The `rows` field's bytes for these rows."""
        return zlib.compress(json.dumps(rows, separators=(",", ":")).encode(), 1)

    def unpack(self) -> list[list]:
        """The rows: [item id, position, kind, flipped, order, session] each."""
        return json.loads(zlib.decompress(bytes(self.rows)))
