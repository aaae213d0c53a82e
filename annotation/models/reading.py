"""AI-assisted reading (issue 23, docs/assisted-reading.md): the arms a case is read in, and the
score of each answer against the case's accepted answers."""

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_noop

from annotation.core.reading import allocation, answers, scoring
from annotation.models.endpoints import Judge, Source
from annotation.models.ratings import Rating
from annotation.models.studies import Study
from annotation.models.tokens import new_token

if TYPE_CHECKING:
    from annotation.models.cases import Case
    from annotation.models.questions import Question

# What a reader sees above an unnamed source's output: nothing that tells sources apart.
NEUTRAL_LABEL = gettext_noop("Assistant")  # translated where it is shown


class Arm(models.Model):
    """One condition a case is read in: unassisted, beside a source's output, or with a tool
    the admin describes. Never shown to readers as such: the rater view object holds only what
    `shown_label` gives, and the output's text."""

    class Kind(models.TextChoices):
        UNASSISTED = "unassisted", "Unassisted"
        SOURCE = "source", "Assisted by a source's output"
        TOOL = "tool", "Assisted by a tool (as described)"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="arms")
    key = models.SlugField(max_length=50, help_text="Admins' name for the arm; never shown.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.PROTECT, related_name="arms"
    )
    description = models.TextField(
        blank=True, help_text="Tool arms: what readers are told to use, shown as written."
    )
    named = models.BooleanField(
        default=False, help_text="Readers may see which source assists them (its label)."
    )

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["study", "key"], name="arm_key_unique"),
            models.UniqueConstraint(
                fields=["study"], condition=models.Q(kind="unassisted"), name="arm_one_unassisted"
            ),
            models.CheckConstraint(
                condition=models.Q(kind="source", source__isnull=False)
                | (~models.Q(kind="source") & models.Q(source__isnull=True)),
                name="arm_source_iff_source_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.key

    def clean(self) -> None:
        if self.kind == self.Kind.UNASSISTED and self.key != allocation.UNASSISTED:
            raise ValidationError(
                {"key": f"The unassisted arm's key is {allocation.UNASSISTED!r}."}
            )
        if self.kind != self.Kind.UNASSISTED and self.key == allocation.UNASSISTED:
            raise ValidationError(
                {"key": f"{allocation.UNASSISTED!r} is the unassisted arm's key."}
            )
        if self.kind == self.Kind.TOOL and not self.description.strip():
            raise ValidationError({"description": "Say what readers use in this arm."})
        if self.kind == self.Kind.SOURCE and self.source_id is None:
            raise ValidationError({"source": "A source arm needs its source."})

    @property
    def shows_output(self) -> bool:
        return self.kind == self.Kind.SOURCE

    def shown_label(self) -> str:
        """What readers see above the assistance: a tool's description as the admin wrote it,
        a named source's label, or the neutral label; nothing for the unassisted arm."""
        if self.kind == self.Kind.UNASSISTED:
            return ""
        if self.kind == self.Kind.TOOL:
            return self.description
        return self.source.label if self.named else NEUTRAL_LABEL


class AnswerScore(models.Model):
    """One answer's outcome against its case's accepted answers (core.reading.scoring):
    recomputed whenever the answer changes, unless a scorer decided it."""

    class Outcome(models.TextChoices):
        RIGHT = scoring.RIGHT, "Right"
        WRONG = scoring.WRONG, "Wrong"
        UNDECIDED = scoring.UNDECIDED, "Undecided (for the scorer)"

    class By(models.TextChoices):
        MATCH = scoring.BY_MATCH, "Matched automatically"
        SCORER = scoring.BY_SCORER, "Decided by a scorer"

    rating = models.OneToOneField(Rating, on_delete=models.CASCADE, related_name="score")
    # What the scorer's pages name it by: never the rating's, reader's or arm's id.
    token = models.CharField(max_length=22, unique=True, default=new_token, editable=False)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    by = models.CharField(max_length=10, choices=By.choices, default=By.MATCH)
    matched = models.TextField(blank=True, help_text="The accepted answer found, if any.")
    # Ranked lists: the 1-based rank of the first entry that states the expected answer.
    rank = models.PositiveSmallIntegerField(null=True, blank=True)
    length = models.PositiveSmallIntegerField(default=0)
    scorer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    scored_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.rating}: {self.outcome}"


class JudgeScore(models.Model):
    """An LLM judge's decision on one answer, asked the clinician scorer's question (the case,
    the accepted answers, the answer; never the reader, arm or source). Stored apart from
    AnswerScore so that it can never stand in for the clinician's: it is compared with it
    (the judge's agreement with the scorer) and nothing else reads it. `answer` is the answer
    as judged: once the reader changes it, the decision no longer applies and is judged anew.
    A reply that did not parse is kept as failed, with its reason, and tried again."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"

    judge = models.ForeignKey(Judge, on_delete=models.CASCADE, related_name="answer_scores")
    score = models.ForeignKey(AnswerScore, on_delete=models.CASCADE, related_name="judged")
    answer = models.JSONField(help_text="The answer as the judge was shown it.")
    # Why the answer went to the judge: exact match left it undecided, or it was in the
    # admin's sample of matched answers (to measure the judge on them too).
    sampled = models.BooleanField(default=False)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    right = models.BooleanField(null=True)
    # Ranked lists: the 1-based rank of the first right entry, as the judge gave it.
    rank = models.PositiveSmallIntegerField(null=True, blank=True)
    rationale = models.TextField(blank=True)
    error = models.TextField(blank=True)
    # Provenance of the last call, as for a judge's verdict.
    request = models.JSONField(default=dict)
    response_body = models.TextField(blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    attempts = models.JSONField(default=list)
    model_version = models.CharField(max_length=200, blank=True)
    model_requested = models.CharField(max_length=200, blank=True)
    served_headers = models.JSONField(default=dict, blank=True)
    response_id = models.CharField(max_length=200, blank=True)
    system_fingerprint = models.CharField(max_length=200, blank=True)
    rate_limit_wait_ms = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost = models.FloatField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    # A retried write finds its row by it (as a verdict's).
    call_id = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["judge", "score"],
                condition=models.Q(outcome="ok"),
                name="judge_score_once",
            ),
            models.CheckConstraint(
                condition=~models.Q(outcome="ok") | models.Q(right__isnull=False),
                name="judge_score_ok_decides",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.judge} on {self.score_id}: {self.outcome}"


class Scorer(models.Model):
    """A clinician who decides the answers an exact match cannot, blinded to reader and arm:
    neither a reader nor an admin of the study."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="scorers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scoring"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "user"], name="scorer_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} scoring {self.study}"


def expected_answer(
    question: "Question",
    *,
    accepted_answers: list,
    expected_value: float | None,
    tolerance: float | None,
) -> scoring.Expected:
    """A case's expected answer to the study's answer question (stored as the import gives
    it), or a ScoringError whose `field` is the import column at fault."""
    accepted = tuple(
        scoring.Accepted(entry["answer"], tuple(entry.get("synonyms", ())))
        for entry in accepted_answers
    )
    return answers.expected_for(
        kind=question.answer_kind,
        accepted=accepted,
        value=expected_value,
        tolerance=tolerance,
        k=question.k,
        choices=[str(point["value"]) for point in question.scale],
    )


def case_expected(question: "Question", case: "Case") -> scoring.Expected:
    return expected_answer(
        question,
        accepted_answers=case.accepted_answers,
        expected_value=case.expected_value,
        tolerance=case.tolerance,
    )
