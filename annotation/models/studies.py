"""A study, who belongs to it (memberships, invitations), and the reopenings of a locked study's
analysis."""

import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from annotation.core import rubric
from annotation.core.design import washout_problems
from annotation.models.tokens import new_seed, new_token

if TYPE_CHECKING:
    from annotation.models.questions import Question


# Why a study's statistics cannot change (Study.statistics_frozen_reason).
STATISTICS_LOCKED = "The study is locked: reopen its analysis to change its statistics."


STATISTICS_ARCHIVED = "The study is archived: its statistics are frozen for good."


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open for rating"
        LOCKED = "locked", "Locked"
        ARCHIVED = "archived", "Archived"

    token = models.CharField(max_length=22, unique=True, default=new_token, editable=False)
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    # The language the admin writes the study's own content in (instructions, questions,
    # choices): rater pages mark that content with it, whatever the interface language.
    language = models.CharField(
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text="The language of the study's instructions and questions.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    seed = models.BigIntegerField(default=new_seed, help_text="Seeds the assignment manifest.")
    # SHA-256 of the stored manifest (see design.Manifest.digest), set when the study opens and
    # whenever raters join later.
    manifest_hash = models.CharField(max_length=64, blank=True)
    # The highest rater number ever given ("R7": 7), so a removed rater's pseudonym is never
    # given to anyone else: exports from before and after the removal must not mix two people.
    last_rater_number = models.PositiveIntegerField(default=0, editable=False)

    class Design(models.TextChoices):
        ABSOLUTE = "absolute", "Absolute: one output per screen"
        SIDE_BY_SIDE = "side_by_side", "Absolute, side by side: a case's outputs rated together"
        PAIRWISE = "pairwise", "Pairwise: two outputs of a case as A and B"
        RANKING = "ranking", "Ranking: a case's outputs ranked against each other"

    design = models.CharField(max_length=20, choices=Design.choices, default=Design.ABSOLUTE)
    raters_per_item = models.PositiveSmallIntegerField(default=2)
    # Set when the study opens: how many training items each rater does first.
    training_items = models.PositiveSmallIntegerField(default=0, editable=False)
    repeats_per_rater = models.PositiveSmallIntegerField(
        default=0,
        help_text="How many of each rater's items come again later, unannounced, to measure "
        "test-retest consistency.",
    )
    retests_per_rater = models.PositiveSmallIntegerField(
        default=0,
        help_text="How many of each rater's items come back in a later session, after the "
        "washout, to measure test-retest reliability across sessions.",
    )
    washout_days = models.PositiveSmallIntegerField(
        default=0,
        help_text="Days a rater waits after finishing one session before the next opens.",
    )
    show_reference = models.BooleanField(
        default=False, help_text="Show each case's reference answer to raters beside the case."
    )

    class ReadingLayout(models.TextChoices):
        NONE = "", "Not an assisted-reading study"
        SEQUENTIAL = "sequential", "Sequential: unassisted, locked, then assisted"
        CROSSOVER = "crossover", "Crossover: one arm per session, a washout between"

    # AI-assisted reading (docs/assisted-reading.md): blank for every other kind of study.
    reading_layout = models.CharField(
        max_length=10, choices=ReadingLayout.choices, default="", blank=True
    )

    # The Alternative Annotator Test's allowance for a judge (Calderon et al. 2025): how much
    # less often it may match the other raters than a rater does and still pass.
    class Adjustment(models.TextChoices):
        HOLM = "holm", "Holm"
        BONFERRONI = "bonferroni", "Bonferroni"

    # How the paired tests' p-values are adjusted across every question and pair of sources.
    p_adjustment = models.CharField(
        max_length=12, choices=Adjustment.choices, default=Adjustment.HOLM
    )
    judge_epsilon = models.FloatField(
        default=0.2,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Epsilon of the Alternative Annotator Test: 0.2 for expert raters such as "
        "clinicians, 0.15 for skilled annotators, 0.1 for crowd workers.",
    )
    # Reminders and notifications (services/notifications.py), sent by the worker's beat.
    reminders_enabled = models.BooleanField(
        default=True,
        help_text="E-mail a rater who has submitted nothing for the stall days while work "
        "remains, at most once every that many days, with a link to resume.",
    )
    reminder_stall_days = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="Days without a submit after which a rater is reminded (1-60).",
    )
    admin_notices_enabled = models.BooleanField(
        default=True,
        help_text="E-mail the study's admins when every rater has finished and when a "
        "background job fails.",
    )
    # The consent statement raters accept before their first item: its current version
    # (ConsentVersion), 0 while the study asks for none.
    consent_version = models.PositiveIntegerField(default=0, editable=False)
    # Whether raters answer background questions (RaterQuestion) before their first item: kept
    # here so that a study asking nothing costs its raters' pages no query.
    asks_background = models.BooleanField(default=False, editable=False)
    # Whether the study asks its raters any question (background or post-study): so that the
    # exports, statistics and dashboard of a study that asks nothing read no questions.
    asks_raters = models.BooleanField(default=False, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        problems = washout_problems(retests=self.retests_per_rater, washout_days=self.washout_days)
        if problems:
            raise ValidationError(problems)

    @property
    def is_reading(self) -> bool:
        """An assisted-reading study: its assignments are reads in arms."""
        return bool(self.reading_layout)

    @property
    def shows_sets(self) -> bool:
        """Whether an item shows all of a case's outputs together (side by side, ranking)."""
        return self.design in (self.Design.SIDE_BY_SIDE, self.Design.RANKING)

    def asks_per_output(self, question: "Question") -> bool:
        """Side by side, every question but a ranking is answered once for each output shown."""
        return self.design == self.Design.SIDE_BY_SIDE and question.kind != rubric.RANKING

    @property
    def accepts_imports(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def analysis_reopened(self) -> bool:
        """A locked study whose admins reopened its analysis (AnalysisReopening) and have not
        closed it yet."""
        return (
            self.status == self.Status.LOCKED
            and self.reopenings.filter(closed_at__isnull=True).exists()
        )

    def statistics_frozen_reason(self) -> str:
        """Why nothing may change this study's statistics now (no new judge, judge run,
        recomputation or analysis setting), or "" while they may: archived is frozen for good,
        locked until its analysis is reopened."""
        if self.status == self.Status.ARCHIVED:
            return STATISTICS_ARCHIVED
        if self.status == self.Status.LOCKED and not self.analysis_reopened:
            return STATISTICS_LOCKED
        return ""


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Study admin"
        RATER = "rater", "Rater"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=5, choices=Role.choices)
    # What exports call a rater instead of their user name ("R1", "R2", ...); blank for admins.
    pseudonym = models.CharField(max_length=20, blank=True)
    # A rater who joins an open study is reminded counting from here, not from the opening.
    # Memberships from before this field count from the migration, so none is reminded at once.
    joined_at = models.DateTimeField(default=timezone.now)
    # When work was last handed to this rater in an open study (reassigned to them, or shared
    # with a newcomer): their idle clock restarts here, so a rater who finished days ago is not
    # reminded of work that reached them minutes ago. None until work is handed on.
    work_given_at = models.DateTimeField(null=True, blank=True)
    # When an admin last handed this rater's unstarted work to others (they stopped): from then
    # on they take no one else's work and no adaptive extra item.
    reassigned_at = models.DateTimeField(null=True, blank=True)
    # Consent (core.consent): the version of the study's statement the rater accepted (0:
    # none yet) and when; when they withdrew, for good. Their answers about themselves, by
    # question key, as rubric.parse_answer stores them.
    consent_version = models.PositiveIntegerField(default=0)
    consent_accepted_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    background = models.JSONField(default=dict, blank=True)
    background_at = models.DateTimeField(null=True, blank=True)
    post_study = models.JSONField(default=dict, blank=True)
    post_study_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One role per person per study: an admin who also rated would not be blind.
            models.UniqueConstraint(fields=["study", "user"], name="membership_unique"),
            models.UniqueConstraint(
                fields=["study", "pseudonym"],
                condition=models.Q(role="rater"),
                name="pseudonym_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.role} of {self.study}"


class Invitation(models.Model):
    """A single-use link that makes the account with the invited e-mail address a rater of the
    study, for INVITATION_MAX_AGE_DAYS after it was sent."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    token = models.CharField(max_length=22, unique=True, default=new_token, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    # Withdrawn by a study admin before anyone accepted it: the link no longer works.
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} to {self.study}"

    @property
    def expires_at(self) -> datetime.datetime:
        # Computed, not stored: the operator's setting governs the links already out too.
        return self.created_at + datetime.timedelta(days=settings.INVITATION_MAX_AGE_DAYS)

    @property
    def is_expired(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and timezone.now() >= self.expires_at
        )

    def is_for(self, user) -> bool:
        """Whether `user`'s account has the invited address (case aside). There is no address
        verification, so this is the address the account holds."""
        email = getattr(user, "email", "") or ""
        return email.strip().casefold() == self.email.strip().casefold() != ""


class AnalysisReopening(models.Model):
    """A locked study's analysis opened again by one of its admins, for a stated reason, until
    closed: meanwhile judges, judge runs, recomputations and analysis settings may change its
    statistics (its ratings stay locked). Kept for good: the dashboard and the paper bundle
    list every one."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="reopenings")
    reason = models.TextField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["opened_at", "pk"]
        constraints = [
            # At most one reopening in progress per study: two admins racing open one.
            models.UniqueConstraint(
                fields=["study"],
                condition=models.Q(closed_at__isnull=True),
                name="analysis_reopening_one_open",
            ),
            models.CheckConstraint(
                condition=models.Q(closed_at__isnull=True, closed_by__isnull=True)
                | models.Q(closed_at__isnull=False, closed_by__isnull=False),
                name="analysis_reopening_closed_by_whom",
            ),
        ]

    def __str__(self) -> str:
        return f"analysis of {self.study} reopened {self.opened_at:%Y-%m-%d}"
