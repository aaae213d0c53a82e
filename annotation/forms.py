"""Input validation for study admins' and raters' forms."""

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.html import escape
from django.utils.safestring import SafeData
from django.utils.text import slugify

from annotation.core import disagreement, importing, judging, llm, rubric
from annotation.core.design import MAX_WASHOUT_DAYS, washout_problems
from annotation.core.reading import allocation
from annotation.models import Connection, Judge, Question, Source, Study


class PlainHelpText:
    """Help texts here are plain text. Django's form templates print them unescaped, so a
    `{{ metadata.<key> }}` in one lost its `<key>` to the browser as an unknown tag: every
    field's help is escaped once, as the form is made."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for form_field in self.fields.values():
            if form_field.help_text and not isinstance(form_field.help_text, SafeData):
                form_field.help_text = escape(form_field.help_text)


SCALE_HELP = "One point per line, lowest first, as 'value = label', e.g. '1 = Very poor'."


class StudyCreateForm(PlainHelpText, forms.Form):
    title = forms.CharField(max_length=200)
    design = forms.ChoiceField(
        choices=Study.Design.choices,
        initial=Study.Design.ABSOLUTE,
        required=False,
        help_text="Side by side: all of a case's outputs on one screen, in an order balanced "
        "across raters, each rated on every question. Pairwise: two outputs of a case as A and "
        "B; the first question is then an A/B preference on a 5-point scale. Ranking: all of a "
        "case's outputs ranked 1 (best) to n; the first question is then the ranking. For "
        "pairwise and ranking the scale below is not used.",
    )

    def clean_design(self) -> str:
        return self.cleaned_data["design"] or Study.Design.ABSOLUTE

    def clean_language(self) -> str:
        return self.cleaned_data["language"] or settings.LANGUAGE_CODE

    def clean_repeats_per_rater(self) -> int:
        return self.cleaned_data["repeats_per_rater"] or 0

    instructions = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    language = forms.ChoiceField(
        choices=settings.LANGUAGES,
        initial=settings.LANGUAGE_CODE,
        required=False,
        label="Study language",
        help_text="The language you write the instructions and questions in. Raters' pages "
        "mark them with it; the preset scales and rubric templates come in it.",
    )
    raters_per_item = forms.IntegerField(min_value=1, max_value=20, initial=2)
    repeats_per_rater = forms.IntegerField(
        min_value=0,
        max_value=50,
        initial=0,
        required=False,
        label="Hidden repeats per rater",
        help_text="Items each rater sees again later, unannounced, to measure test-retest "
        "consistency. Training and attention checks come from the imported file (role column).",
    )
    retests_per_rater = forms.IntegerField(
        min_value=0,
        max_value=50,
        initial=0,
        required=False,
        label="Re-reads per rater after a washout",
        help_text="Items each rater reads again in a second session, which opens once they "
        "have finished the first and the washout has passed: test-retest reliability across "
        "occasions, reported apart from hidden repeats.",
    )
    washout_days = forms.IntegerField(
        min_value=0,
        max_value=MAX_WASHOUT_DAYS,
        initial=0,
        required=False,
        label="Washout (days)",
        help_text="Days between a rater's last answer in the first session and the second.",
    )

    def clean_retests_per_rater(self) -> int:
        return self.cleaned_data["retests_per_rater"] or 0

    def clean_washout_days(self) -> int:
        return self.cleaned_data["washout_days"] or 0

    def clean(self) -> dict:
        data = super().clean()
        problems = washout_problems(
            retests=data.get("retests_per_rater") or 0, washout_days=data.get("washout_days") or 0
        )
        for field, message in problems.items():
            self.add_error(field, message)
        return data

    show_reference = forms.BooleanField(
        required=False,
        label="Show raters each case's reference answer",
        help_text="As Med-Flamingo did. Do not also rate a source whose outputs are the "
        "references: raters would recognise them.",
    )
    question_prompt = forms.CharField(
        max_length=500, initial="Overall, how good is this response for the patient's question?"
    )
    scale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        help_text=SCALE_HELP
        + " Left empty: the five-point scale from Very poor to Excellent, in the study's "
        "language.",
    )
    level = forms.ChoiceField(choices=Question.Level.choices, initial=Question.Level.ORDINAL)

    def clean_scale(self) -> list[dict] | None:
        if not self.cleaned_data["scale"].strip():
            return None  # the preset scale, in the study's language (services.study_create)
        points = []
        for number, line in enumerate(self.cleaned_data["scale"].splitlines(), start=1):
            if not line.strip():
                continue
            value, sep, label = line.partition("=")
            try:
                parsed = int(value.strip())
            except ValueError:
                raise forms.ValidationError(
                    f"Line {number}: '{value.strip()}' is not a whole number."
                ) from None
            if not sep or not label.strip():
                raise forms.ValidationError(f"Line {number}: give a label after '='.")
            points.append({"value": parsed, "label": label.strip()})
        Question.validate_scale(points)  # a ValidationError here becomes the field's error
        return points


class ImportForm(PlainHelpText, forms.Form):
    file = forms.FileField(
        help_text="CSV or JSONL with case_id, input, source, output; or a zip of such a file "
        "with the images its images column names.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.jsonl,.ndjson,.zip"}),
    )

    # Every column the importer accepts, with its format, for the form's help.
    columns = importing.COLUMNS

    def clean_file(self):
        # The operator's caps (IMPORT_MAX_*): a zip may carry images up to the upload cap, a
        # data file alone is held to the data file cap.
        upload = self.cleaned_data["file"]
        zipped = upload.name.lower().endswith(".zip")
        if zipped:
            limit, setting = settings.IMPORT_MAX_UPLOAD_BYTES, "IMPORT_MAX_UPLOAD_BYTES"
        else:
            limit, setting = settings.IMPORT_MAX_DATA_BYTES, "IMPORT_MAX_DATA_BYTES"
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is larger than {limit / 1024**2:g} MB ({setting}); split it."
            )
        return upload


class AddRatersForm(PlainHelpText, forms.Form):
    """Raters picked from people already in the admin's studies (selectors.study_rater_candidates);
    anyone else is invited by e-mail (InviteRatersForm)."""

    users = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="People in your studies",
        error_messages={
            "required": "Choose at least one person.",
            # The same words for an account that exists elsewhere and for none at all.
            "invalid_choice": "Choose among the people listed: anyone else is invited by e-mail.",
            "invalid_pk_value": "Choose among the people listed: anyone else is invited by e-mail.",
        },
    )

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["users"].queryset = candidates


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


OPTIONS_HELP = (
    "Likert and A/B preference: one point per line, lowest first, as 'value = label'. Choices, "
    "and a span question's error categories: one per line, as 'value = label' or just the "
    "label. Leave empty for yes / no, number, free text, criteria and omissions (criteria and "
    "facts come with each case)."
)


class QuestionForm(PlainHelpText, forms.Form):
    key = forms.SlugField(max_length=50, help_text="Short name used in exports, e.g. harm.")
    prompt = forms.CharField(max_length=500)
    help_text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    # The answer question of assisted reading comes with its study (ReadingStudyForm).
    kind = forms.ChoiceField(choices=[c for c in Question.Kind.choices if c[0] != rubric.ANSWER])
    options = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text=OPTIONS_HELP
    )
    level = forms.ChoiceField(
        choices=[("", "None (no statistics)"), *Question.Level.choices],
        required=False,
        help_text="Level of measurement for agreement statistics.",
    )
    allow_na = forms.BooleanField(required=False, label='Offer "not applicable"')
    required = forms.BooleanField(required=False, initial=True)
    minimum = forms.FloatField(required=False, help_text="Numbers only.")
    maximum = forms.FloatField(required=False)

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        kind = data["kind"]
        scale = _parse_options(data["options"], integer=kind == rubric.LIKERT)
        draft = rubric.QuestionDraft(
            key=data["key"],
            prompt=data["prompt"],
            kind=kind,
            level=data["level"],
            scale=tuple(scale),
            help_text=data["help_text"],
            allow_na=data["allow_na"],
            required=data["required"],
            minimum=data["minimum"],
            maximum=data["maximum"],
        )
        spec = rubric.QuestionSpec(kind, draft.scale, draft.allow_na, draft.minimum, draft.maximum)
        try:
            rubric.check_spec(spec, draft.level)
        except rubric.AnswerError as exc:
            raise forms.ValidationError(str(exc)) from None
        data["draft"] = draft
        return data


def _parse_options(text: str, *, integer: bool) -> list[dict]:
    options = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        value, sep, label = (part.strip() for part in line.partition("="))
        if not sep:
            value, label = slugify(line).replace("-", "_"), line.strip()
        if integer:
            try:
                value = int(value)
            except ValueError:
                raise forms.ValidationError(
                    f"Line {number}: '{value}' is not a whole number."
                ) from None
        options.append({"value": value, "label": label})
    return options


class RubricTemplateForm(PlainHelpText, forms.Form):
    template = forms.ChoiceField(choices=())
    language = forms.ChoiceField(
        choices=settings.LANGUAGES,
        required=False,
        help_text="The language of the questions added; the study's language unless you "
        "choose another. Translations are evalapp's own, not validated versions of the "
        "instruments.",
    )

    def __init__(self, *args, templates: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [
            (name, f"{t.title} ({len(t.questions)} question{'s' if len(t.questions) != 1 else ''})")
            for name, t in templates.items()
        ]


class InviteRatersForm(PlainHelpText, forms.Form):
    emails = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="E-mail addresses",
        help_text="One per line (or separated by commas). Each gets a link; its owner joins as "
        "a rater by following it, with an account that has the address or a new one.",
    )

    def clean_emails(self) -> list[str]:
        raw = self.cleaned_data["emails"].replace(",", "\n").split()
        field = forms.EmailField()
        emails = []
        for value in raw:
            try:
                emails.append(field.clean(value))
            except forms.ValidationError:
                raise forms.ValidationError(f"{value!r} is not an e-mail address.") from None
        if not emails:
            raise forms.ValidationError("Give at least one address.")
        return sorted(set(emails), key=emails.index)


class AnalysisSettingsForm(PlainHelpText, forms.ModelForm):
    """How the study's statistics are drawn: the paired tests' adjustment and the judge test's
    epsilon."""

    class Meta:
        model = Study
        fields = ["p_adjustment", "judge_epsilon"]
        labels = {
            "p_adjustment": "Adjust paired tests' p-values by",
            "judge_epsilon": "Alternative Annotator Test epsilon",
        }


# Numbers of readers a plan looks at: each is a scan of numbers of cases, about 50 ms, so a
# list stays quick (under about 2 s) at 30 of them.
PLAN_READERS = (2, 200)
PLAN_READERS_MOST = 30


def readers_list(text: str) -> list[int]:
    """'3-10', '3, 5, 8' or '4-6, 10': the numbers of readers, each 2-200, at most 30."""
    low, high = PLAN_READERS
    found: set[int] = set()
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        first, dash, last = part.partition("-")
        try:
            start, end = int(first), int(last if dash else first)
        except ValueError:
            raise forms.ValidationError(
                f"{part!r} is not a number of readers or a range such as 3-10."
            ) from None
        if start > end or start < low or end > high:
            raise forms.ValidationError(f"Numbers of readers run from {low} to {high}: {part!r}.")
        found.update(range(start, end + 1))
        if len(found) > PLAN_READERS_MOST:
            raise forms.ValidationError(
                f"At most {PLAN_READERS_MOST} numbers of readers at a time, e.g. 3-32 or a list."
            )
    if not found:
        raise forms.ValidationError("Give the numbers of readers, e.g. 3-10 or 4, 6, 8.")
    return sorted(found)


def _between(name: str, low: float, high: float):
    def check(value: float) -> None:
        if not low < value < high:
            raise forms.ValidationError(f"{name} lies strictly between {low:g} and {high:g}.")

    return check


def _positive(name: str, most: float):
    def check(value: float) -> None:
        if not value > 0:
            raise forms.ValidationError(f"{name} must be more than 0.")
        if value > most:
            raise forms.ValidationError(f"{name} must be at most {most:,.15g}.")

    return check


class PilotChoiceForm(PlainHelpText, forms.Form):
    """A form choosing one of the study's pilots, named by its stored result's id."""

    pilot = forms.TypedChoiceField(coerce=int, choices=())

    # Both parts of the card sit on the dashboard: their ids must differ ("plan_power_pilot").
    auto_id_prefix = "plan"

    def __init__(self, *args, pilots: list, **kwargs) -> None:
        super().__init__(*args, auto_id=f"{self.auto_id_prefix}_%s", **kwargs)
        self.pilots = {p.result.pk: p for p in pilots}
        self.fields["pilot"].choices = [(pk, self.pilot_label(p)) for pk, p in self.pilots.items()]

    def pilot_label(self, pilot) -> str:
        raise NotImplementedError

    def clean_pilot(self):
        return self.pilots[self.cleaned_data["pilot"]]


class PowerPlanForm(PilotChoiceForm):
    """Readers and cases for a chosen power to detect a chosen difference between two sources."""

    auto_id_prefix = "plan_power"

    difference = forms.FloatField(
        # Far past any scale: the power's noncentral F cannot be computed out there.
        validators=[_positive("The difference", 1e6)],
        help_text="The smallest difference between the two sources worth detecting, in the "
        "question's units: scale points for a score, a share for yes/no (the pilot's own "
        "difference is in its name above).",
    )
    power = forms.FloatField(initial=0.8, validators=[_between("Power", 0, 1)])
    alpha = forms.FloatField(
        initial=0.05,
        label="Alpha (two-sided)",
        validators=[_between("Alpha", 0, 0.5)],
    )
    readers = forms.CharField(
        initial="3-10",
        label="Numbers of readers",
        max_length=200,
        help_text=f"A range such as 3-10, or a list such as 4, 6, 8; each from "
        f"{PLAN_READERS[0]} to {PLAN_READERS[1]}, at most {PLAN_READERS_MOST} of them.",
    )

    field_order = ["pilot", "difference", "power", "alpha", "readers"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pilot"].label = "Pilot comparison"

    def pilot_label(self, pilot) -> str:
        seen = "" if pilot.observed is None else f", observed difference {pilot.observed:+.3g}"
        seen += f" {pilot.units}" if seen and pilot.units else ""
        return (
            f"“{pilot.question.key}”: {pilot.pair} ({pilot.readers} readers x "
            f"{pilot.pilot.cases} cases{seen})"
        )

    def clean_readers(self) -> list[int]:
        return readers_list(self.cleaned_data["readers"])

    def clean(self) -> dict:
        data = super().clean()
        pilot, difference = data.get("pilot"), data.get("difference")
        largest = pilot.largest_difference if pilot else None
        if difference and largest is not None and difference > largest:
            self.add_error(
                "difference",
                f"A difference in a share or an AUC is at most {largest:g}.",
            )
        return data


class WidthPlanForm(PilotChoiceForm):
    """Cases for Krippendorff's alpha's interval (these raters) of a chosen width."""

    auto_id_prefix = "plan_width"

    width = forms.FloatField(
        validators=[_positive("The width", 2)],  # alpha lies between -1 and 1
        label="Interval width",
        help_text="The whole width of the 95% interval, upper minus lower, e.g. 0.2.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pilot"].label = "Pilot question"

    def pilot_label(self, pilot) -> str:
        low, high = pilot.ci
        return (
            f"“{pilot.question.key}”: alpha {pilot.result.value:.3f} ({low:.3f} to {high:.3f}, "
            f"width {pilot.width:.3f}) on {pilot.cases} cases"
        )


class ReadingStudyForm(PlainHelpText, forms.Form):
    """A new assisted-reading study: its answer question (the arms come on the dashboard)."""

    title = forms.CharField(max_length=200)
    instructions = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    layout = forms.ChoiceField(
        choices=[
            (Study.ReadingLayout.SEQUENTIAL, Study.ReadingLayout.SEQUENTIAL.label),
            (Study.ReadingLayout.CROSSOVER, Study.ReadingLayout.CROSSOVER.label),
        ],
        initial=Study.ReadingLayout.SEQUENTIAL,
        # Radios rather than a select: a phone's select cuts a long option short.
        widget=forms.RadioSelect,
        help_text="Sequential: each reader answers a case alone, locks the answer, then reads "
        "it again with one assisting arm. Crossover: each reader reads every case once in "
        "every arm, one arm per session, each session opening a washout after they finish the "
        "one before; arms are balanced across readers and cases with a seeded Williams design.",
    )
    washout_days = forms.IntegerField(
        min_value=0,
        max_value=MAX_WASHOUT_DAYS,
        required=False,
        label="Washout (days, crossover only)",
        help_text="Crossover: whole days a reader waits after finishing one session before the "
        "next opens (0 or more; weeks are usual, so that readers forget their answers).",
        error_messages={
            "invalid": "The washout is a whole number of days, 0 or more.",
            "min_value": "The washout is a whole number of days, 0 or more.",
        },
    )
    answer_kind = forms.ChoiceField(
        choices=[
            ("ranked", "A ranked list (a differential diagnosis)"),
            ("text", "Free text"),
            ("choice", "A choice"),
            ("number", "A number"),
        ],
        initial="ranked",
        widget=forms.RadioSelect,
        label="The reader answers with",
    )
    prompt = forms.CharField(
        max_length=500, initial="Your differential diagnosis, most likely first"
    )
    k = forms.IntegerField(
        min_value=1,
        max_value=20,
        initial=10,
        required=False,
        label="Most entries (ranked list)",
        help_text="Ranked lists: the most entries a reader may give (McDuff et al.: 10).",
    )
    choices = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Choice answers: one per line as 'value = label', e.g. 'malignant = Malignant'.",
    )

    def clean_choices(self) -> list[dict]:
        points = []
        for line in self.cleaned_data["choices"].splitlines():
            if not line.strip():
                continue
            value, _, label = line.partition("=")
            points.append({"value": value.strip(), "label": (label or value).strip()})
        return points

    def clean(self) -> dict:
        data = super().clean()
        if data.get("answer_kind") != "ranked":
            data["k"] = None
        elif not data.get("k"):
            self.add_error("k", "A ranked list needs k, the most entries.")
        if "layout" in data and "washout_days" in data:
            problems = allocation.layout_problems(
                layout=data["layout"], washout_days=data["washout_days"]
            )
            for field, message in problems.items():
                self.add_error(field, message)
        return data


class ArmForm(PlainHelpText, forms.Form):
    """An assisting arm: a source's output beside the case, or a tool as described."""

    key = forms.SlugField(max_length=50, help_text="Your name for the arm; readers never see it.")
    kind = forms.ChoiceField(
        choices=[("source", "A source's output beside the case"), ("tool", "A tool")]
    )
    source = forms.ModelChoiceField(queryset=Source.objects.none(), required=False)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Tool arms: what readers are told to use, shown to them as written.",
    )
    named = forms.BooleanField(
        required=False,
        label="Readers may see the source's label",
        help_text="Unticked, the output is shown as 'Assistant'.",
    )

    def __init__(self, *args, study: Study, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = study.sources.order_by("label")


class NotificationSettingsForm(PlainHelpText, forms.ModelForm):
    """Whether the worker e-mails stalled raters (and after how many idle days) and the study's
    admins (every rater finished, a background job failed)."""

    class Meta:
        model = Study
        fields = ["reminders_enabled", "reminder_stall_days", "admin_notices_enabled"]
        labels = {
            "reminders_enabled": "Remind stalled raters by e-mail",
            "reminder_stall_days": "Days without a submit before a reminder",
            "admin_notices_enabled": "E-mail the admins when all raters finish or a job fails",
        }


class AdjudicationSelectForm(PlainHelpText, forms.Form):
    """Which decided items go to adjudication: a disagreement rule about one question, a
    seeded sample (a number of items or a fraction), or all."""

    mode = forms.ChoiceField(
        choices=[
            ("rule", "Raters disagree by a rule"),
            ("sample", "A random sample (seeded by the study)"),
            ("all", "Every decided item"),
        ]
    )
    kind = forms.ChoiceField(
        required=False,
        label="Rule",
        choices=[
            ("range", "Range of answers at least a threshold"),
            ("no_majority", "No answer given by a majority"),
            ("any_value", "Any rater gave a flagged answer"),
        ],
    )
    question = forms.ChoiceField(required=False, help_text="The question the rule is about.")
    threshold = forms.FloatField(required=False, help_text="Range rules: points apart.")
    values = forms.CharField(
        required=False,
        label="Flagged answers",
        help_text='Any-value rules: answers separated by commas (e.g. "severe" or 1).',
    )
    sample_size = forms.IntegerField(required=False, min_value=1, label="Sample: items")
    sample_fraction = forms.FloatField(
        required=False, min_value=0, max_value=1, label="Sample: or a fraction (0-1)"
    )

    def __init__(self, *args, study: Study, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        questions = study.questions.exclude(kind=Question.Kind.TEXT)
        self.fields["question"].choices = [(q.key, f"{q.key}: {q.prompt}") for q in questions]

    def selection(self) -> dict:
        """The service's arguments for the chosen mode (its checks name the field at fault)."""
        data = self.cleaned_data
        if data["mode"] == "sample":
            return {
                "mode": "sample",
                "sample_size": data["sample_size"],
                "sample_fraction": data["sample_fraction"],
            }
        if data["mode"] == "all":
            return {"mode": "all"}
        rule = {"kind": data["kind"], "question": data["question"]}
        if data["kind"] == "range":
            rule["threshold"] = data["threshold"]
        if data["kind"] == "any_value":
            rule["values"] = [_flagged(part) for part in data["values"].split(",") if part.strip()]
        return {"mode": "rule", "rule": rule}


def _flagged(text: str) -> object:
    """A flagged answer as typed: a whole number is a scale point, anything else a choice."""
    text = text.strip()
    return int(text) if text.lstrip("-").isdecimal() else text


class AdaptiveForm(PlainHelpText, forms.Form):
    """Adaptive extra raters: the disagreement rule about one question, k and m. The values
    are checked by the service (adaptive_design_set), which names the field at fault."""

    kind = forms.ChoiceField(label="Offer more raters when", choices=disagreement.LABELS.items())
    question = forms.ChoiceField(label="Question")
    threshold = forms.FloatField(
        label="Range threshold",
        required=False,
        help_text="Range rules: the smallest span of answers that counts, e.g. 2 on a 1-5 scale.",
    )
    values = forms.CharField(
        label="Flagged answers",
        required=False,
        help_text="Flagged-answer rules: the answers, separated by commas, e.g. 1, harmful.",
    )
    first_k = forms.IntegerField(
        label="First k ratings decide",
        required=False,
        min_value=2,
        help_text="Blank: the study's raters per item.",
    )
    extra_m = forms.IntegerField(label="At most m extra raters", min_value=1, initial=1)

    def __init__(self, *args, study: Study, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["question"].choices = [
            (q.key, f"{q.key}: {q.prompt}") for q in study.questions.all()
        ]

    def rule(self) -> dict:
        data = self.cleaned_data
        values = [_flagged(part) for part in data["values"].split(",") if part.strip()]
        return {
            "kind": data["kind"],
            "question": data["question"],
            "threshold": data["threshold"],
            "values": values,
        }


def _flagged(text: str) -> object:
    """A flagged answer as typed: a number where it reads as one, else the text."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number
