"""E-mails the worker sends on its own: reminders to stalled raters, notices to study admins."""

from django.conf import settings
from django.db import models

from annotation.models.jobs import TaskRun
from annotation.models.studies import Study


class Notification(models.Model):
    """One e-mail to one person for one occasion, recorded before it is sent: the unique
    occasion is what makes a reminder go at most once per interval, and a notice once per
    finish or per failed job, however many beats or workers look at the same moment."""

    class Kind(models.TextChoices):
        STALLED = "stalled", "Reminder to a stalled rater"
        FINISHED = "finished", "Every rater has finished"
        JOB_FAILED = "job_failed", "A background job failed"

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (tried again at the next beat)"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # Stalled: the idle spell's start and the reminder's number in it; finished: the manifest
    # the raters finished (raters added later make a new one); job failed: the run's id.
    occasion = models.CharField(max_length=80)
    task_run = models.ForeignKey(
        TaskRun, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.SENDING)
    # Why the last attempt failed, in words that name no host (the worker's log has details).
    error = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    attempted_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "recipient", "kind", "occasion"], name="notification_once"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="job_failed") | models.Q(task_run__isnull=False),
                name="notification_job_failed_names_run",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient} ({self.status})"
