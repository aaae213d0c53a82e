"""The models the worker calls: operators' connections, the endpoint settings (ModelEndpoint)
that sources and judges share, and the sources (a study's arms) and LLM judges themselves."""

import os
from pathlib import Path, PurePath
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from annotation.core import llm
from annotation.models.studies import Study


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
