"""What is rated: cases with their attachments, and each source's output for a case (with the
generations it took)."""

from django.db import models

from annotation.models.endpoints import Source
from annotation.models.studies import Study
from annotation.models.tokens import new_token


class Case(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="cases")
    external_id = models.CharField(max_length=100)
    input_text = models.TextField()
    # A reference answer (shown to raters only if the study says so) and facts about the case.
    reference = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # The case's own rubric (HealthBench style): [{"id", "text", "points"}, ...].
    criteria = models.JSONField(default=list, blank=True)
    # The facts of the case's source (MED-OMIT): [{"id", "text", "importance"}, ...], for
    # omission questions.
    facts = models.JSONField(default=list, blank=True)
    # Assisted reading: what counts as right (core.reading.answers): accepted answers with
    # their synonyms ([{"answer", "synonyms"}]), or for a number its value and tolerance.
    accepted_answers = models.JSONField(default=list, blank=True)
    expected_value = models.FloatField(null=True, blank=True)
    tolerance = models.FloatField(null=True, blank=True)

    class Role(models.TextChoices):
        STUDY = "study", "Study"
        TRAINING = "training", "Training (shown first, with feedback)"
        ATTENTION = "attention", "Attention check (hidden among the study items)"

    # Training and attention-check cases are quality control: they never enter the statistics.
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STUDY)
    # Quality control: {question key: [acceptable answers]}, pairwise in canonical order.
    expected = models.JSONField(default=dict, blank=True)
    feedback = models.TextField(blank=True, help_text="Shown after a training item.")

    class Meta:
        ordering = ["external_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "external_id"], name="case_external_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class Attachment(models.Model):
    """An image of a case (the X-ray a question is about), shown to raters beside the case.

    Kept in the database, so an import that fails writes none and web and worker need no shared
    disk. Raters reach it only by its random token; its file name stays with the admins."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    token = models.CharField(max_length=22, unique=True, default=new_token, editable=False)
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=255, help_text="The file's path in the imported zip.")
    content_type = models.CharField(max_length=50)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["case", "position"], name="attachment_position"),
        ]

    def __str__(self) -> str:
        return self.name


class Generation(models.Model):
    """One call to a model endpoint for one case: what was asked and what came back."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="generations")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="generations")
    sample = models.PositiveSmallIntegerField(default=0)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    request = models.JSONField(help_text="The request body as sent (no credentials).")
    endpoint = models.URLField()
    http_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    retries = models.JSONField(default=list, help_text="Earlier attempts: status or error each.")
    model_version = models.CharField(max_length=200, blank=True)
    response_id = models.CharField(max_length=200, blank=True)
    system_fingerprint = models.CharField(max_length=200, blank=True)
    # The model asked for (an alias, perhaps) beside what the server says served it:
    # model_version from the reply, served_headers from the headers (llm.SERVED_HEADERS).
    model_requested = models.CharField(max_length=200, blank=True)
    served_headers = models.JSONField(default=dict, blank=True)
    # Waited after 429/503 answers before the attempt that counted (each wait is in the retries).
    rate_limit_wait_ms = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(null=True)
    completion_tokens = models.PositiveIntegerField(null=True)
    cost = models.FloatField(null=True, help_text="At the source's prices per million tokens.")
    latency_ms = models.PositiveIntegerField(null=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    # Chosen before the row is first written: a write retried after a commit whose reply was
    # lost with the connection finds its row by it instead of recording the call twice.
    call_id = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.source} on {self.case}: {self.outcome}"


class Output(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="outputs")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="outputs")
    # Untrusted text: templates always escape it.
    text = models.TextField()
    # Which of the source's samples for the case (Source.samples_per_case): one unit of work
    # is (case, source, sample), and each gets one output at most. Raters see sample 0.
    sample = models.PositiveSmallIntegerField(default=0, db_default=0)
    # Automatic metrics computed elsewhere and imported (name -> number), for correlating with
    # the raters' scores. Admin data: never shown to raters.
    metrics = models.JSONField(default=dict, blank=True)
    generation = models.OneToOneField(
        Generation, null=True, blank=True, on_delete=models.SET_NULL, related_name="output"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "source", "sample"], name="output_per_case_source_sample"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} on {self.case}"
