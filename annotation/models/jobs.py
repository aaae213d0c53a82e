"""Background jobs (task runs): their kind, status, lease and progress."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from annotation.models.endpoints import Judge, Source
from annotation.models.studies import Study


class TaskRun(models.Model):
    """A background job a study admin started, with the progress the dashboard shows."""

    class Kind(models.TextChoices):
        FETCH_OUTPUTS = "fetch_outputs", "Fetch model outputs"
        COMPUTE_AGREEMENT = "compute_agreement", "Compute agreement"
        RUN_JUDGE = "run_judge", "Run LLM judge"
        JUDGE_ANSWERS = "judge_answers", "LLM judge scores answers"
        EXPORT_BUNDLE = "export_bundle", "Build the paper bundle"
        IMPORT = "import", "Import cases and outputs"
        OPEN = "open_study", "Open the study"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="task_runs")
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.CASCADE)
    judge = models.ForeignKey(Judge, null=True, blank=True, on_delete=models.CASCADE)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    # A judge scoring answers (JUDGE_ANSWERS): how many answers exact match decided it scores
    # too, a seeded sample, so that its agreement can be measured on them.
    decided_sample = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # When the count in `done` began, if later than the start: the time left is reckoned from
    # here (an opening counts the assignments it writes only once the study has opened).
    counted_from = models.DateTimeField(null=True, blank=True)
    # Updated with every progress report; a running task silent for longer than the lease is dead.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set by an admin's cancel; a running task sees it within a second and stops.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one recomputation waits per study: ratings submitted while it waits are
            # in it too, so a burst of submits makes one computation, not one per click.
            models.UniqueConstraint(
                fields=["study"],
                condition=models.Q(kind="compute_agreement", status="queued"),
                name="task_run_one_waiting_recompute",
            ),
            # And one at work, recomputation or paper bundle: two recomputations at once would
            # each delete what the other had just stored, and a bundle read while the
            # statistics are half rewritten would hold some new and some old.
            models.UniqueConstraint(
                fields=["study"],
                condition=models.Q(
                    kind__in=["compute_agreement", "export_bundle"], status="running"
                ),
                name="task_run_one_running_statistics_job",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED, self.Status.CANCELLED)

    @property
    def eta_seconds(self) -> int | None:
        """Time left at the rate so far, while running with some work done and some still to
        do; else None. All counted and still running (an opening's commit, say) is not "0 s
        left": what remains is not counted, and its time not known."""
        if self.status != self.Status.RUNNING or not self.done or not self.started_at:
            return None
        if self.done >= self.total:
            return None
        elapsed = (timezone.now() - (self.counted_from or self.started_at)).total_seconds()
        return round(elapsed / self.done * (self.total - self.done))
