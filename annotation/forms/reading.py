"""Assisted reading: a new reading study and its assisting arms."""

from django import forms

from annotation.core.design import MAX_WASHOUT_DAYS
from annotation.core.reading import allocation
from annotation.forms.help_text import PlainHelpText
from annotation.models import Source, Study


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
