"""The questions a study asks about each item."""

from django.core.exceptions import ValidationError
from django.db import models

from annotation.core import rubric
from annotation.models.studies import Study


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
        OMISSION = rubric.OMISSION, "Omissions against the case's source facts"
        CORRECTION = rubric.CORRECTION, "Corrected output (the rater edits it)"
        ANSWER = rubric.ANSWER, "The reader's answer to the case (assisted reading)"

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
    # The published rubric the question came from, as its methods section cites it (with the
    # note "translation by evalapp; not a validated translation" when translated); "" for a
    # question an admin wrote.
    citation = models.CharField(max_length=1000, blank=True, default="")
    # Answer questions (assisted reading): what the reader gives (choice, number, text or a
    # ranked list, core.reading.scoring.KINDS) and, for a ranked list, the most entries.
    answer_kind = models.CharField(max_length=10, blank=True)
    k = models.PositiveSmallIntegerField(null=True, blank=True)

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
            answer_kind=self.answer_kind,
            k=self.k,
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
