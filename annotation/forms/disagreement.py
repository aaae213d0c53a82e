"""Items chosen by a disagreement rule: for adjudication, and for adaptive extra raters."""

import math

from django import forms

from annotation.core import disagreement
from annotation.forms.help_text import PlainHelpText
from annotation.models import Question, Study


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
    """A flagged answer as typed: a number where it reads as one (a whole one as an int), else
    the text, such as a choice's code ("nan" and "inf" are texts: no scale has them)."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return int(number) if number.is_integer() else number
