"""A study's creation, its import file and its settings (statistics, notifications)."""

from django import forms
from django.conf import settings

from annotation.core import importing
from annotation.core.design import MAX_WASHOUT_DAYS, washout_problems
from annotation.forms.help_text import PlainHelpText
from annotation.models import Question, Study

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
