"""A study's rubric: one question, or a template's questions."""

from django import forms
from django.conf import settings
from django.utils.text import slugify

from annotation.core import rubric
from annotation.forms.help_text import PlainHelpText
from annotation.models import Question

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
