"""An LLM judge's verdicts and the answers read from them."""

from django.db import models

from annotation.models.cases import Output
from annotation.models.endpoints import Judge
from annotation.models.items import Item
from annotation.models.questions import Question


class JudgeVerdict(models.Model):
    """One unit of a judge's work, (item, order shown, sample): the call or calls made for it
    and, when a reply parsed, its answers (JudgeRating). Failed units keep their record and
    are tried again by the next run."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"

    judge = models.ForeignKey(Judge, on_delete=models.CASCADE, related_name="verdicts")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="judge_verdicts")
    # The canonical slots in the order shown as A, B, ... ([0] for one output; [1, 0] is a
    # pair shown the other way round), and which of the judge's orders that is (0 canonical).
    order = models.JSONField(default=list)
    variant = models.PositiveSmallIntegerField(default=0)
    sample = models.PositiveSmallIntegerField(default=0)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error = models.TextField(blank=True)
    # The judge's reasoning, as it gave it before its answers.
    rationale = models.TextField(blank=True)
    # Provenance of the last call, as for a generation; `attempts` lists every call's problem.
    request = models.JSONField(default=dict)
    response_body = models.TextField(blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    attempts = models.JSONField(default=list)
    model_version = models.CharField(max_length=200, blank=True)
    response_id = models.CharField(max_length=200, blank=True)
    system_fingerprint = models.CharField(max_length=200, blank=True)
    # The model asked for (an alias, perhaps) beside what the server says served it:
    # model_version from the reply, served_headers from the headers (llm.SERVED_HEADERS).
    model_requested = models.CharField(max_length=200, blank=True)
    served_headers = models.JSONField(default=dict, blank=True)
    # Waited after 429/503 answers before trying again, over all of the verdict's calls.
    rate_limit_wait_ms = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost = models.FloatField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    # As for a generation: a retried write finds its verdict by it (failed ones included).
    call_id = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["judge", "item", "variant", "sample"],
                condition=models.Q(outcome="ok"),
                name="judge_verdict_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.judge} on {self.item_id} ({self.outcome})"


class JudgeRating(models.Model):
    """One answer of a judge, in the same form as a rater's Rating: `answer` as given about
    the outputs in the order shown, `value` the code statistics read, in canonical order."""

    verdict = models.ForeignKey(JudgeVerdict, on_delete=models.CASCADE, related_name="ratings")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="judge_ratings")
    output = models.ForeignKey(
        Output, null=True, blank=True, on_delete=models.PROTECT, related_name="judge_ratings"
    )
    answer = models.JSONField()
    value = models.FloatField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["verdict", "question"],
                condition=models.Q(output__isnull=True),
                name="judge_rating_unique",
            ),
            models.UniqueConstraint(
                fields=["verdict", "question", "output"],
                condition=models.Q(output__isnull=False),
                name="judge_rating_unique_per_output",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question}={self.answer}"
