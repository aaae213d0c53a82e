"""Reader-study data: what is rated (cases, outputs, items), by whom (assignments), how (ratings).

A Source's identity is what blinding hides. Rater-facing code never receives a Source; it gets the
view objects built in `selectors.rater_item_view`. Everything a rater's browser can name is an
opaque random token, never a sequential primary key.
"""

import datetime
import os
import secrets
import string
from pathlib import Path, PurePath
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from annotation.core import llm, rubric

TOKEN_ALPHABET = string.ascii_letters + string.digits


def new_token() -> str:
    # 16 letters and digits, 95 random bits: unguessable, not ordered by creation, and never
    # starting with a character a spreadsheet would read as a formula.
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(16))


def new_seed() -> int:
    return secrets.randbelow(2**31)


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
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    seed = models.BigIntegerField(default=new_seed, help_text="Seeds the assignment manifest.")
    # SHA-256 of the stored manifest (see design.Manifest.digest), set when the study opens and
    # whenever raters join later.
    manifest_hash = models.CharField(max_length=64, blank=True)

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
    show_reference = models.BooleanField(
        default=False, help_text="Show each case's reference answer to raters beside the case."
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
        return self.accepted_at is None and timezone.now() >= self.expires_at

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


class Connection(models.Model):
    """A model endpoint the operator set up: its host, the models study admins may pick on it,
    and where its key comes from. Only the operator (the connections file, or staff in the
    admin) names a key, so a study admin can never send the organisation's key to another host."""

    name = models.SlugField(max_length=100, unique=True)
    base_url = models.URLField(help_text="OpenAI-compatible API root, e.g. https://host/v1")
    allowed_models = models.JSONField(
        default=list, help_text="The model names study admins may choose (at least one)."
    )
    # The key itself never touches the database: only the name of the variable that holds it,
    # or of a file in LLM_SECRETS_DIR (e.g. a Docker secret). Neither: a keyless endpoint.
    api_key_env = models.CharField(max_length=100, blank=True)
    api_key_file = models.CharField(max_length=100, blank=True)
    # Caps on what a source or judge on this connection may ask for, and its default prices.
    max_concurrency = models.PositiveSmallIntegerField(null=True, blank=True)
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    prompt_price = models.FloatField(null=True, blank=True)
    completion_price = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        names = self.allowed_models
        if not isinstance(names, list) or not names:
            raise ValidationError({"allowed_models": "List the models it allows (at least one)."})
        if not all(isinstance(x, str) and x.strip() for x in names):
            raise ValidationError({"allowed_models": "Each model is a non-empty name."})
        prefix = settings.LLM_KEY_ENV_PREFIX
        if self.api_key_env and not self.api_key_env.startswith(prefix):
            raise ValidationError({"api_key_env": f"The variable's name must start with {prefix}."})
        if self.api_key_env and self.api_key_file:
            raise ValidationError({"api_key_file": "Name a variable or a file, not both."})
        # A bare file name in the secrets folder: never a path to any file the server can read.
        name = self.api_key_file
        if name and (name != PurePath(name).name or name.startswith(".")):
            raise ValidationError({"api_key_file": "Give a file name in LLM_SECRETS_DIR, no path."})
        if self.max_concurrency is not None and not 1 <= self.max_concurrency <= 200:
            raise ValidationError({"max_concurrency": "From 1 to 200 calls at once."})
        for price in ("prompt_price", "completion_price"):
            if getattr(self, price) is not None and getattr(self, price) < 0:
                raise ValidationError({price: "A price cannot be negative."})

    def key_problem(self) -> str:
        """Why the key cannot be read now (empty when it can, or when there is no key)."""
        if self.api_key_env and not os.environ.get(self.api_key_env):
            return f"Connection {self.name}: its key variable {self.api_key_env} is not set."
        if self.api_key_file and not self._read_key_file():
            return (
                f"Connection {self.name}: its key file {self.api_key_file} in LLM_SECRETS_DIR "
                "is missing or empty."
            )
        return ""

    def api_key(self) -> str:
        """The key, read when a call is made: from the environment or the secrets folder."""
        if self.api_key_env:
            return os.environ.get(self.api_key_env, "")
        return self._read_key_file() if self.api_key_file else ""

    def _read_key_file(self) -> str:
        try:
            return (Path(settings.LLM_SECRETS_DIR) / self.api_key_file).read_text().strip()
        except OSError:
            return ""


class EndpointNotReady(Exception):
    """An endpoint that must not be called as it stands (its connection's key is missing)."""


class ModelEndpoint(models.Model):
    """An OpenAI-compatible chat-completions endpoint and how to call it: what a model source
    and an LLM judge both have."""

    # The operator's connection: its base URL and key go together, always. Without one, a
    # keyless endpoint the admin typed (only to a host in LLM_KEYLESS_HOSTS).
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Empty base_url (sources only) means outputs are imported. With a connection it is a copy
    # of the connection's, for display; calls always use the connection's own.
    base_url = models.URLField(blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    temperature = models.FloatField(null=True, blank=True)
    max_tokens = models.PositiveIntegerField(null=True, blank=True)
    system_prompt = models.TextField(blank=True)
    send_images = models.BooleanField(
        default=False, help_text="Send the case's images with the prompt (vision models)."
    )
    top_p = models.FloatField(null=True, blank=True)
    seed = models.BigIntegerField(null=True, blank=True, help_text="Sent as the request's seed.")
    stop = models.JSONField(default=list, blank=True, help_text="Stop sequences.")
    # How hard calls may press the endpoint: calls at once, and calls started per minute.
    max_concurrency = models.PositiveSmallIntegerField(
        default=4, help_text="Calls to the endpoint at the same time (1-200)."
    )
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Calls started per minute at most (empty: no limit)."
    )
    # For the cost estimate of each call, in the account's currency per million tokens.
    prompt_price = models.FloatField(null=True, blank=True)
    completion_price = models.FloatField(null=True, blank=True)

    class Meta:
        abstract = True

    def clean_endpoint(self) -> None:
        if self.connection_id is not None:
            self._clean_connection()
        elif self.base_url:
            self._clean_keyless()
        if self.base_url and not self.model_name:
            raise ValidationError({"model_name": "An endpoint needs a model name."})
        allowed = settings.LLM_ALLOWED_HOSTS
        if self.base_url and allowed and urlsplit(self.base_url).hostname not in allowed:
            raise ValidationError({"base_url": "This host is not in LLM_ALLOWED_HOSTS."})
        if not isinstance(self.stop, list) or not all(isinstance(x, str) and x for x in self.stop):
            raise ValidationError({"stop": "A list of non-empty strings."})
        if len(self.stop) > 4:
            raise ValidationError({"stop": "At most 4 stop sequences (the OpenAI limit)."})
        if not 1 <= self.max_concurrency <= 200:
            raise ValidationError({"max_concurrency": "From 1 to 200 calls at once."})
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValidationError({"top_p": "Between 0 (excluded) and 1."})
        for price in ("prompt_price", "completion_price"):
            if getattr(self, price) is not None and getattr(self, price) < 0:
                raise ValidationError({price: "A price cannot be negative."})

    def _clean_connection(self) -> None:
        """The host comes from the connection: a key is never paired with a host typed here."""
        connection = self.connection
        if self.base_url and self.base_url != connection.base_url:
            raise ValidationError({"base_url": "The connection sets the base URL; leave it empty."})
        self.base_url = connection.base_url
        if self.model_name not in connection.allowed_models:
            allowed = ", ".join(connection.allowed_models)
            raise ValidationError(
                {"model_name": f"Connection {connection.name} allows these models: {allowed}."}
            )
        cap = connection.max_concurrency
        if cap is not None and self.max_concurrency > cap:
            raise ValidationError(
                {"max_concurrency": f"Connection {connection.name} allows {cap} calls at once."}
            )
        rpm = connection.requests_per_minute
        if rpm is not None and self.requests_per_minute is None:
            self.requests_per_minute = rpm
        if rpm is not None and self.requests_per_minute > rpm:
            raise ValidationError(
                {"requests_per_minute": f"Connection {connection.name} allows {rpm} a minute."}
            )
        for price in ("prompt_price", "completion_price"):
            if getattr(self, price) is None:
                setattr(self, price, getattr(connection, price))

    def _clean_keyless(self) -> None:
        """An endpoint without a connection carries no key, and only to a host the operator
        named in LLM_KEYLESS_HOSTS (none by default)."""
        host = urlsplit(self.base_url).hostname
        if host not in settings.LLM_KEYLESS_HOSTS:
            raise ValidationError(
                {
                    "connection": "Choose a connection: this server allows no endpoint of your own "
                    "at this host."
                }
            )

    def endpoint_problem(self) -> str:
        """Why calls cannot be made now (empty when they can): checked before any call."""
        return self.connection.key_problem() if self.connection_id is not None else ""

    def endpoint(self, **extra) -> llm.Endpoint:
        connection = self.connection if self.connection_id is not None else None
        problem = self.endpoint_problem()
        if problem:
            raise EndpointNotReady(problem)
        return llm.Endpoint(
            base_url=connection.base_url if connection else self.base_url,
            model=self.model_name,
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            seed=self.seed,
            stop=tuple(self.stop),
            system_prompt=self.system_prompt,
            api_key=connection.api_key() if connection else "",
            **extra,
        )


class Source(ModelEndpoint):
    """One arm of the study: a model or a human reference. Its identity is what blinding hides."""

    class Kind(models.TextChoices):
        MODEL = "model", "Model"
        HUMAN_REFERENCE = "human_reference", "Human reference"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="sources")
    label = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MODEL)
    # The user message, filled from each case: {{ input }}, {{ reference }}, {{ case_id }},
    # {{ metadata.<key> }} (see annotation.core.llm.render_template).
    user_template = models.TextField(default="{{ input }}")
    # How many outputs to ask for per case (repeated sampling, e.g. to measure consistency);
    # raters rate sample 0.
    samples_per_case = models.PositiveSmallIntegerField(default=1)

    ENDPOINT_FIELDS = (
        "connection",
        "base_url",
        "model_name",
        "temperature",
        "top_p",
        "max_tokens",
        "seed",
        "stop",
        "system_prompt",
        "user_template",
        "send_images",
        "samples_per_case",
        "max_concurrency",
        "requests_per_minute",
        "prompt_price",
        "completion_price",
    )

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(fields=["study", "label"], name="source_label_unique"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def can_generate(self) -> bool:
        return self.kind == self.Kind.MODEL and bool(self.base_url and self.model_name)

    def clean(self) -> None:
        if self.kind == self.Kind.HUMAN_REFERENCE and self.base_url:
            raise ValidationError({"base_url": "A human reference has no model endpoint."})
        self.clean_endpoint()
        try:
            llm.check_template(self.user_template)
        except llm.TemplateError as exc:
            raise ValidationError({"user_template": str(exc)}) from None
        if not 1 <= self.samples_per_case <= 100:
            raise ValidationError({"samples_per_case": "From 1 to 100 samples per case."})


class Case(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="cases")
    external_id = models.CharField(max_length=100)
    input_text = models.TextField()
    # A reference answer (shown to raters only if the study says so) and facts about the case.
    reference = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # The case's own rubric (HealthBench style): [{"id", "text", "points"}, ...].
    criteria = models.JSONField(default=list, blank=True)

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


class Question(models.Model):
    """One rubric question. What each kind accepts, and its numeric code for statistics, is in
    `annotation.core.rubric`."""

    class Kind(models.TextChoices):
        LIKERT = rubric.LIKERT, "Likert scale"
        SINGLE_CHOICE = rubric.SINGLE_CHOICE, "Single choice"
        MULTIPLE_CHOICE = rubric.MULTIPLE_CHOICE, "Multiple choice"
        YES_NO = rubric.YES_NO, "Yes / no"
        NUMBER = rubric.NUMBER, "Number"
        TEXT = rubric.TEXT, "Free text"
        PAIRWISE = rubric.PAIRWISE, "Pairwise preference (A / B)"
        CRITERIA = rubric.CRITERIA, "Per-case criteria (met / not met, with points)"
        SPAN = rubric.SPAN, "Span marking (errors in the output's text)"
        RANKING = rubric.RANKING, "Ranking of the outputs shown side by side"

    class Level(models.TextChoices):
        NOMINAL = "nominal", "Nominal"
        ORDINAL = "ordinal", "Ordinal"
        INTERVAL = "interval", "Interval"
        RATIO = "ratio", "Ratio"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="questions")
    key = models.SlugField(max_length=50)
    prompt = models.CharField(max_length=500)
    help_text = models.TextField(blank=True, help_text="Guidance shown under the question.")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.LIKERT)
    # Likert: [{"value": 1, "label": "Very poor"}, ...] lowest first; choices: [{"value": "a",
    # "label": "..."}] in display order; empty for the other kinds.
    scale = models.JSONField(default=list, blank=True)
    allow_na = models.BooleanField(default=False, help_text='Offer "not applicable".')
    required = models.BooleanField(default=True)
    minimum = models.FloatField(null=True, blank=True)
    maximum = models.FloatField(null=True, blank=True)
    # Blank for kinds without statistics (free text, multiple choice).
    level = models.CharField(
        max_length=10, choices=Level.choices, default=Level.ORDINAL, blank=True
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "key"]
        constraints = [
            models.UniqueConstraint(fields=["study", "key"], name="question_key_unique"),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def spec(self) -> rubric.QuestionSpec:
        return rubric.QuestionSpec(
            kind=self.kind,
            scale=tuple(self.scale),
            allow_na=self.allow_na,
            minimum=self.minimum,
            maximum=self.maximum,
        )

    @property
    def values(self) -> list:
        return self.spec.values

    @property
    def has_statistics(self) -> bool:
        return bool(self.level) and bool(rubric.LEVELS[self.kind])

    @staticmethod
    def validate_scale(scale: list[dict]) -> None:
        """At least two points, integer values listed once from lowest to highest, each labelled."""
        Question._checked(rubric.QuestionSpec(kind=rubric.LIKERT, scale=tuple(scale)), "")

    @staticmethod
    def _checked(spec: rubric.QuestionSpec, level: str) -> None:
        try:
            rubric.check_spec(spec, level)
        except rubric.AnswerError as exc:
            raise ValidationError(str(exc)) from None

    def clean(self) -> None:
        self._checked(self.spec, self.level)


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

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="assignments")
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

    # Quality control besides the study proper (annotation.core.design.add_quality_control). Only
    # training announces itself to the rater; checks and repeats look like any other item.
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.STUDY)
    # A hidden repeat: the rater's first sight of the same item, for test-retest consistency.
    repeat_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="repeat"
    )
    # Pairs only: True when this rater sees the item's second (canonical) output as "A".
    flipped = models.BooleanField(default=False)
    # Sets only: the canonical slots in the order this rater sees them, e.g. [2, 0, 1] shows
    # slot 2 as "A"; empty for one output or a pair.
    order = models.JSONField(default=list, blank=True)
    token = models.CharField(max_length=22, unique=True, default=new_token, editable=False)
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
                condition=models.Q(repeat_of__isnull=True),
                name="assignment_item_rater",
            ),
            models.UniqueConstraint(
                fields=["study", "rater", "position"], name="assignment_rater_position"
            ),
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


class Judge(ModelEndpoint):
    """An LLM that answers the study's rubric about the same blinded items the raters see."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="judges")
    label = models.CharField(max_length=100)
    # How many times each item is judged (in each order): more than one, at a temperature above
    # 0, measures how consistent the judge is with itself.
    samples = models.PositiveSmallIntegerField(default=1)
    # Pairs and sets are judged in their canonical order and reversed, to measure position bias.
    both_orders = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    ENDPOINT_FIELDS = (
        "connection",
        "base_url",
        "model_name",
        "temperature",
        "top_p",
        "max_tokens",
        "seed",
        "system_prompt",
        "send_images",
        "samples",
        "both_orders",
        "max_concurrency",
        "requests_per_minute",
        "prompt_price",
        "completion_price",
    )

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(fields=["study", "label"], name="judge_label_unique"),
        ]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        if not self.base_url and self.connection_id is None:
            raise ValidationError({"connection": "A judge needs its model's endpoint."})
        self.clean_endpoint()
        if not 1 <= self.samples <= 20:
            raise ValidationError({"samples": "From 1 to 20 samples per item."})


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


class Result(models.Model):
    """The latest value of one statistic for one question, with what it was computed from.

    `source` narrows it to one source's outputs (or names a pair, "A vs B"); empty is every
    source. `judge` names the LLM judge whose answers were added to the humans' (or compared
    with them); empty is the humans alone. Labels rather than keys: results are read by study
    admins and exported into papers, and are recomputed whenever their inputs change."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="results")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="results")
    statistic = models.CharField(max_length=50)
    source = models.CharField(max_length=250, blank=True, default="")
    judge = models.CharField(max_length=100, blank=True, default="")
    value = models.FloatField(null=True, help_text="Null when the data cannot define it.")
    n_units = models.PositiveIntegerField()
    n_raters = models.PositiveIntegerField()
    n_ratings = models.PositiveIntegerField()
    detail = models.JSONField(default=dict)
    inputs_hash = models.CharField(max_length=64)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["study", "question", "statistic", "source", "judge"],
                name="result_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.statistic} on {self.question}: {self.value}"


class TaskRun(models.Model):
    """A background job a study admin started, with the progress the dashboard shows."""

    class Kind(models.TextChoices):
        FETCH_OUTPUTS = "fetch_outputs", "Fetch model outputs"
        COMPUTE_AGREEMENT = "compute_agreement", "Compute agreement"
        RUN_JUDGE = "run_judge", "Run LLM judge"
        EXPORT_BUNDLE = "export_bundle", "Build the paper bundle"
        IMPORT = "import", "Import cases and outputs"

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
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
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
        """Time left at the rate so far, while running with some work done; else None."""
        if self.status != self.Status.RUNNING or not self.done or not self.started_at:
            return None
        elapsed = (timezone.now() - self.started_at).total_seconds()
        return round(elapsed / self.done * (self.total - self.done))


class ImportUpload(models.Model):
    """An uploaded import file waiting for the worker that imports it (TaskRun.Kind.IMPORT).

    The bytes live in the database, which the web and every worker share wherever they run;
    they are stored in ImportUploadChunk rows of at most CHUNK_BYTES, so neither the web
    process that stores them nor the worker that reads them holds the whole upload (up to
    IMPORT_MAX_UPLOAD_BYTES) in memory. Deleted with its chunks once the import ends.
    """

    CHUNK_BYTES = 1024 * 1024

    run = models.OneToOneField(TaskRun, on_delete=models.CASCADE, related_name="upload")
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.filename


class ImportUploadChunk(models.Model):
    upload = models.ForeignKey(ImportUpload, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["upload", "position"], name="import_upload_chunk_unique_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.upload_id}:{self.position}"
