"""Model sources and LLM judges: the endpoint they call, added and changed."""

from django import forms

from annotation.core import judging, llm
from annotation.forms.help_text import PlainHelpText
from annotation.models import Connection, Judge, Source


class HttpsURLField(forms.URLField):
    """A URL typed without a scheme is taken as https (Django 6's default, chosen explicitly)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("assume_scheme", "https")
        super().__init__(**kwargs)


# What a model source's form and a judge's call the endpoint's fields, and say about them.
ENDPOINT_LABELS = {
    "base_url": "Base URL",
    "model_name": "Model",
    "top_p": "Top-p",
    "max_tokens": "Max tokens",
    "send_images": "Send the case's images",
    "max_concurrency": "Calls at once",
    "requests_per_minute": "Calls a minute",
}


ENDPOINT_HELP = {
    "base_url": "Only for a keyless endpoint this server allows; a connection sets its own.",
    "model_name": "One the connection allows.",
    "prompt_price": "Price per million prompt tokens, for cost estimates.",
    "completion_price": "Price per million completion tokens.",
}


class ConnectionChoiceField(forms.ModelChoiceField):
    """The operator's connections, chosen by name: the only way a study admin reaches a key."""

    def __init__(self, **kwargs):
        super().__init__(
            queryset=Connection.objects.all(),
            to_field_name="name",
            required=False,
            help_text="A connection the operator set up (its host, models and key).",
            **kwargs,
        )

    def label_from_instance(self, obj: Connection) -> str:
        return f"{obj.name} ({', '.join(obj.allowed_models)})"


class EndpointChoiceMixin:
    """A connection, or a keyless base URL (where the operator allows one), but one of them."""

    def clean(self):
        cleaned = super().clean()
        chosen = cleaned.get("connection") or cleaned.get("base_url")
        if not chosen and "connection" not in self.errors and "base_url" not in self.errors:
            self.add_error("connection", "Choose a connection.")
        return cleaned


class SourceEndpointForm(EndpointChoiceMixin, PlainHelpText, forms.ModelForm):
    connection = ConnectionChoiceField()
    stop = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Stop sequences, one per line (at most 4).",
    )

    class Meta:
        model = Source
        fields = ["label", *Source.ENDPOINT_FIELDS]
        field_classes = {"base_url": HttpsURLField}
        labels = ENDPOINT_LABELS
        widgets = {
            "system_prompt": forms.Textarea(attrs={"rows": 2}),
            "user_template": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            **ENDPOINT_HELP,
            "user_template": "The user message: {{ input }}, {{ reference }}, {{ case_id }}, "
            "{{ metadata.<key> }}.",
        }

    def __init__(self, *args, study, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.study = study
        self.fields["base_url"].required = False
        self.fields["model_name"].required = True
        self.fields["user_template"].required = False
        self.fields["user_template"].initial = llm.DEFAULT_USER_TEMPLATE
        for name in ("max_concurrency", "samples_per_case"):
            self.fields[name].required = False

    def clean_max_concurrency(self) -> int:
        return _or_default(self.cleaned_data["max_concurrency"], Source, "max_concurrency")

    def clean_samples_per_case(self) -> int:
        return _or_default(self.cleaned_data["samples_per_case"], Source, "samples_per_case")

    def clean_user_template(self) -> str:
        return self.cleaned_data["user_template"] or llm.DEFAULT_USER_TEMPLATE

    def clean_stop(self) -> list[str]:
        return [line for line in self.cleaned_data["stop"].splitlines() if line]


class JudgeForm(EndpointChoiceMixin, PlainHelpText, forms.ModelForm):
    connection = ConnectionChoiceField()

    class Meta:
        model = Judge
        fields = ["label", *Judge.ENDPOINT_FIELDS]
        field_classes = {"base_url": HttpsURLField}
        widgets = {"system_prompt": forms.Textarea(attrs={"rows": 4})}
        labels = {
            **ENDPOINT_LABELS,
            "system_prompt": "Instructions",
            "both_orders": "Judge pairs in both orders",
        }
        help_texts = {
            **ENDPOINT_HELP,
            "model_name": "One the connection allows; it must support structured output "
            "(a JSON schema).",
            "system_prompt": "Sent as the system message; the case, the responses and the "
            "rubric's questions follow in the user message.",
            "samples": "Times each item is judged; more than 1, with a temperature above 0, "
            "measures the judge's consistency.",
        }

    def __init__(self, *args, study, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.study = study
        self.fields["base_url"].required = False
        self.fields["model_name"].required = True
        self.fields["system_prompt"].initial = judging.DEFAULT_INSTRUCTIONS
        for name in ("max_concurrency", "samples"):
            self.fields[name].required = False

    def clean_max_concurrency(self) -> int:
        return _or_default(self.cleaned_data["max_concurrency"], Judge, "max_concurrency")

    def clean_samples(self) -> int:
        return _or_default(self.cleaned_data["samples"], Judge, "samples")

    def clean_system_prompt(self) -> str:
        return self.cleaned_data["system_prompt"] or judging.DEFAULT_INSTRUCTIONS


class EndpointEditMixin:
    """The add form, filled from the row it changes: the connection by name, and the base URL
    empty when a connection sets it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        endpoint = self.instance
        if endpoint.connection_id is not None:
            self.initial["connection"] = endpoint.connection.name
            self.initial["base_url"] = ""
        if "stop" in self.fields:
            self.initial["stop"] = "\n".join(endpoint.stop)


class SourceEditForm(EndpointEditMixin, SourceEndpointForm):
    """A draft study's source changed: the add form's fields and checks, and its kind. A human
    reference has no endpoint."""

    class Meta(SourceEndpointForm.Meta):
        fields = ["label", "kind", *Source.ENDPOINT_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.data.get("kind", self.instance.kind) == Source.Kind.HUMAN_REFERENCE:
            self.fields["model_name"].required = False

    def clean(self):
        if self.cleaned_data.get("kind") == Source.Kind.HUMAN_REFERENCE:
            return forms.ModelForm.clean(self)  # no endpoint to choose
        return super().clean()


class JudgeEditForm(EndpointEditMixin, JudgeForm):
    """A judge changed before it has run: the add form's fields and checks."""


def _or_default(value, model, field: str):
    """The value given, or the model's default when the field was left empty (a 0 is kept,
    for the model to refuse)."""
    return _default(model, field) if value is None else value


def _default(model, field: str):
    return model._meta.get_field(field).default
