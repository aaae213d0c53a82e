"""What the API reads and writes. Input serializers check types and ranges; the services make
the rules that span rows (a draft study, a design that fits), as they do for the pages."""

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotation import services
from annotation.api import schema
from annotation.core import disagreement, rubric
from annotation.core.design import MAX_WASHOUT_DAYS, washout_problems
from annotation.models import (
    AnalysisReopening,
    Assignment,
    Case,
    Connection,
    Judge,
    Output,
    Question,
    Result,
    Source,
    Study,
    TaskRun,
)

# --- free-form JSON, with the shape the schema gives it ------------------------------------


@extend_schema_field(schema.answer_schema())
class AnswerField(serializers.JSONField):
    """An answer as the question's kind stores it (a list stays a list)."""


@extend_schema_field(schema.answer_schema(nullable=True))
class NullableAnswerField(serializers.JSONField):
    pass


@extend_schema_field(schema.SCALE_VALUE)
class ScaleValueField(serializers.JSONField):
    pass


@extend_schema_field(schema.METADATA)
class MetadataField(serializers.JSONField):
    pass


@extend_schema_field(schema.CRITERIA)
class CriteriaField(serializers.JSONField):
    pass


@extend_schema_field(schema.FACTS)
class FactsField(serializers.JSONField):
    pass


@extend_schema_field(schema.EXPECTED)
class ExpectedField(serializers.JSONField):
    pass


@extend_schema_field(schema.METRICS)
class MetricsField(serializers.JSONField):
    pass


@extend_schema_field(schema.DETAIL)
class DetailField(serializers.JSONField):
    pass


# --- studies --------------------------------------------------------------------------------

# What a study's raters may know of it; every other field is null for them (hidden repeats must
# stay hidden, and the seed rebuilds the assignment), so a field added later stays hidden too.
STUDY_RATER_FIELDS = (
    "token",
    "title",
    "instructions",
    "status",
    "design",
    "raters_per_item",
    "language",
    "role",
    "created_at",
    "opened_at",
)
STUDY_ADMIN_FIELDS = (
    "seed",
    "manifest_hash",
    "repeats_per_rater",
    "retests_per_rater",
    "washout_days",
    "reading_layout",
    "show_reference",
    "training_items",
    "p_adjustment",
    "judge_epsilon",
)


class StudyAdaptiveSerializer(serializers.Serializer):
    rule = serializers.JSONField(help_text="The disagreement rule about one question.")
    rule_text = serializers.CharField(help_text="The rule in words.")
    first_k = serializers.IntegerField(help_text="How many first regular ratings decide.")
    extra_m = serializers.IntegerField(help_text="At most this many extra raters per item.")


class StudySerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=["admin", "rater"], help_text="Your role in the study.")
    adaptive = serializers.SerializerMethodField(
        help_text="Adaptive extra raters (admins only): null when off. Read-only here: set it "
        "with POST adaptive/setting/ (or turn it off with adaptive/off/) while the study is a "
        "draft; it is part of the design once the study is open."
    )

    class Meta:
        model = Study
        fields = [*STUDY_RATER_FIELDS, *STUDY_ADMIN_FIELDS, "adaptive"]
        extra_kwargs = {name: {"allow_null": True} for name in STUDY_ADMIN_FIELDS}
        read_only_fields = fields

    @extend_schema_field(StudyAdaptiveSerializer(allow_null=True))
    def get_adaptive(self, study: Study) -> dict | None:
        adaptive = getattr(study, "adaptive", None)  # the reverse one-to-one: absent when off
        if adaptive is None:
            return None
        return {
            "rule": adaptive.rule,
            "rule_text": disagreement.describe(adaptive.parsed_rule),
            "first_k": adaptive.first_k,
            "extra_m": adaptive.extra_m,
        }

    def to_representation(self, study: Study) -> dict:
        data = super().to_representation(study)
        if data["role"] != "admin":
            data.update({k: None for k in data if k not in STUDY_RATER_FIELDS})
        return data


class AnalysisReopenSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=2000,
        help_text="Why the locked study's analysis is reopened; recorded with who and when, and "
        "listed in the paper bundle.",
    )


class AnalysisReopeningSerializer(serializers.ModelSerializer):
    """A reopening of a locked study's analysis: who, when, why, and when it was closed."""

    opened_by = serializers.CharField(source="opened_by.get_username", read_only=True)
    closed_by = serializers.CharField(
        source="closed_by.get_username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = AnalysisReopening
        fields = ["reason", "opened_by", "opened_at", "closed_by", "closed_at"]
        read_only_fields = fields


class ScalePointSerializer(serializers.Serializer):
    value = ScaleValueField()
    label = serializers.CharField(max_length=200)


class StudyCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    design = serializers.ChoiceField(choices=Study.Design.choices, default=Study.Design.ABSOLUTE)
    instructions = serializers.CharField(required=False, allow_blank=True, default="")
    language = serializers.ChoiceField(
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text="The language of the study's own content (instructions, questions).",
    )
    raters_per_item = serializers.IntegerField(min_value=1, max_value=20, default=2)
    repeats_per_rater = serializers.IntegerField(min_value=0, max_value=50, default=0)
    retests_per_rater = serializers.IntegerField(
        min_value=0,
        max_value=50,
        default=0,
        help_text="Items each rater reads again in session 2, after the washout.",
    )
    washout_days = serializers.IntegerField(
        min_value=0,
        max_value=MAX_WASHOUT_DAYS,
        default=0,
        help_text="Days after a rater's last answer in one session before the next opens; at "
        "least 1 with re-reads.",
    )
    show_reference = serializers.BooleanField(default=False)
    question_prompt = serializers.CharField(
        max_length=500,
        help_text="The first question (the preference or ranking for those designs).",
    )
    scale = ScalePointSerializer(
        many=True, required=False, help_text="The first question's Likert scale, lowest first."
    )
    level = serializers.ChoiceField(choices=Question.Level.choices, default=Question.Level.ORDINAL)
    seed = serializers.IntegerField(
        min_value=0, max_value=2**63 - 1, required=False, help_text="Default: drawn at random."
    )

    def validate(self, data: dict) -> dict:
        # Pairwise and ranking studies ask their first question on a fixed scale: say so rather
        # than drop what was sent.
        fixed = {
            Study.Design.PAIRWISE: ("scale",),
            Study.Design.RANKING: ("scale", "level"),
        }.get(data["design"], ())
        given = [name for name in fixed if name in self.initial_data]
        if given:
            raise serializers.ValidationError(
                {name: f"A {data['design']} study's first question sets its own." for name in given}
            )
        problems = washout_problems(
            retests=data["retests_per_rater"], washout_days=data["washout_days"]
        )
        if problems:
            raise serializers.ValidationError(problems)
        return data


class StudyAnalysisSerializer(serializers.Serializer):
    """The study's settings that may change after it is created: how its statistics are drawn,
    and the language of its own content."""

    p_adjustment = serializers.ChoiceField(choices=Study.Adjustment.choices, required=False)
    judge_epsilon = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    language = serializers.ChoiceField(
        choices=settings.LANGUAGES,
        required=False,
        help_text="The language of the study's own content; changes no content.",
    )

    def validate(self, data: dict) -> dict:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if "adaptive" in unknown:
            raise serializers.ValidationError(
                {
                    "adaptive": "Not changed here: set adaptive extra raters with POST "
                    "adaptive/setting/ (or adaptive/off/) while the study is a draft."
                }
            )
        if unknown:
            allowed = " and ".join(self.fields)
            message = f"Only {allowed} can change; not {', '.join(unknown)}."
            raise serializers.ValidationError({"detail": message})
        if not data:
            raise serializers.ValidationError({"detail": "Nothing to change."})
        return data


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV or JSONL with case_id, input, source, output; or a zip of such a file "
        "with its images."
    )


class ImportSummarySerializer(serializers.Serializer):
    cases_created = serializers.IntegerField()
    sources_created = serializers.IntegerField()
    outputs_created = serializers.IntegerField()
    images_created = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class OpenedSerializer(serializers.Serializer):
    assignments = serializers.IntegerField(help_text="Assignments created.")
    study = StudySerializer()


# --- what is rated ---------------------------------------------------------------------------


def connection_field() -> serializers.SlugRelatedField:
    """An operator's connection, by name: the only way a study admin reaches a key. A key
    variable or file sent with the endpoint is not a field here, and is ignored."""
    return serializers.SlugRelatedField(
        slug_field="name",
        queryset=Connection.objects.all(),
        required=False,
        allow_null=True,
        help_text="Name of a connection the operator set up; its host and key are used, and "
        "`model_name` must be one it allows. Without one, `base_url` is a keyless endpoint, "
        "accepted only at a host the operator allows.",
    )


class SourceSerializer(serializers.ModelSerializer):
    connection = connection_field()
    n_outputs = serializers.IntegerField(read_only=True, help_text="Outputs of every sample.")

    class Meta:
        model = Source
        fields = ["id", "label", "kind", *Source.ENDPOINT_FIELDS, "n_outputs"]
        read_only_fields = ["id", "n_outputs"]


class CaseSerializer(serializers.ModelSerializer):
    case_id = serializers.CharField(source="external_id")
    metadata = MetadataField()
    criteria = CriteriaField()
    facts = FactsField()
    expected = ExpectedField()
    n_images = serializers.IntegerField()

    class Meta:
        model = Case
        fields = [
            "id",
            "case_id",
            "role",
            "input_text",
            "reference",
            "metadata",
            "criteria",
            "facts",
            "expected",
            "feedback",
            "n_images",
            "accepted_answers",
            "expected_value",
            "tolerance",
        ]
        read_only_fields = fields


class OutputSerializer(serializers.ModelSerializer):
    case_id = serializers.CharField(source="case.external_id")
    source = serializers.CharField(source="source.label")
    model_version = serializers.CharField(
        source="generation.model_version",
        allow_null=True,
        default=None,
        help_text="As the endpoint reported it; null for imported outputs.",
    )
    metrics = MetricsField()

    class Meta:
        model = Output
        fields = ["id", "case_id", "source", "sample", "text", "metrics", "model_version"]
        read_only_fields = fields


class QuestionSerializer(serializers.ModelSerializer):
    scale = ScalePointSerializer(many=True, required=False, default=list)
    level = serializers.ChoiceField(
        choices=[("", "None"), *Question.Level.choices],
        required=False,
        default="",
        help_text="Level of measurement for the statistics; empty for none.",
    )

    class Meta:
        model = Question
        fields = [
            "key",
            "prompt",
            "help_text",
            "kind",
            "scale",
            "allow_na",
            "required",
            "minimum",
            "maximum",
            "level",
            "order",
            "answer_kind",
            "k",
        ]
        # An answer question comes with its assisted-reading study (POST reading-studies/).
        read_only_fields = ["order", "answer_kind", "k"]
        # The key is checked once, by the service, with a message that names the study.
        extra_kwargs = {"key": {"validators": []}, "kind": {"required": True}}

    def draft(self) -> rubric.QuestionDraft:
        data = dict(self.validated_data)
        data["scale"] = tuple(dict(point) for point in data.get("scale", ()))
        return rubric.QuestionDraft(**data)


class AssignmentSerializer(serializers.ModelSerializer):
    rater = serializers.CharField(source="pseudonym", help_text="The rater's pseudonym.")
    item = serializers.CharField(source="item.token", help_text="The item's token.")
    shown_order = serializers.ListField(
        source="order",
        child=serializers.IntegerField(),
        help_text="Sets: the canonical slots in the order this rater sees them.",
    )
    repeat_of = serializers.CharField(
        source="repeat_of.token",
        allow_null=True,
        default=None,
        help_text="A hidden repeat: the token of the rater's first sight of the item.",
    )
    arm = serializers.CharField(
        source="arm.key",
        allow_null=True,
        default=None,
        help_text="Assisted reading: the arm's key (what the reader saw); null elsewhere.",
    )

    class Meta:
        model = Assignment
        fields = [
            "token",
            "rater",
            "position",
            "kind",
            "item",
            "flipped",
            "shown_order",
            "repeat_of",
            "first_opened_at",
            "submitted_at",
            "time_on_task_ms",
            "arm",
            "session",
            "phase",
            "locked_at",
        ]
        read_only_fields = fields


# --- long-format rows (the same columns as the CSV exports) ----------------------------------


class RatingRowSerializer(serializers.Serializer):
    item_token = serializers.CharField()
    rater = serializers.CharField()
    question = serializers.CharField()
    answer = AnswerField(help_text="As given: a list (choices, ranks, spans) as a JSON list.")
    value = serializers.FloatField(allow_null=True)
    flipped = serializers.BooleanField()
    shown_order = serializers.CharField(allow_blank=True)
    output_slot = serializers.IntegerField(allow_null=True)
    kind = serializers.ChoiceField(choices=Assignment.Kind.choices)
    first_saved_at = serializers.DateTimeField()
    last_saved_at = serializers.DateTimeField()
    revisions = serializers.IntegerField()
    submitted = serializers.BooleanField()
    time_on_task_seconds = serializers.FloatField(
        allow_null=True,
        help_text="Seconds the item was on screen before it was submitted, as the rater's "
        "browser recorded it; null when none was recorded (answered through the API, imported).",
    )
    session = serializers.IntegerField(
        help_text="The rater's reading session the item was in: 1, or 2 and later after a washout."
    )
    reference_answer = NullableAnswerField(
        help_text="The adjudicated reference for this item and question, as adjudications.csv "
        "gives it (pairwise in the pair's canonical order); null where none is decided.",
    )
    reference_value = serializers.FloatField(
        allow_null=True, help_text="The reference answer's numeric code, as `value` codes one."
    )
    arm = serializers.CharField(
        required=False,
        help_text="Assisted-reading studies only (absent otherwise): the arm the read was in, "
        "which says what the reader was shown.",
    )


class JudgeRatingRowSerializer(serializers.Serializer):
    item_token = serializers.CharField()
    rater = serializers.CharField(help_text="The judge's label.")
    rater_kind = serializers.CharField()
    model_version = serializers.CharField(allow_blank=True)
    question = serializers.CharField()
    answer = AnswerField()
    value = serializers.FloatField(allow_null=True)
    shown_order = serializers.CharField(allow_blank=True)
    output_slot = serializers.IntegerField(allow_null=True)
    sample = serializers.IntegerField()
    judged_at = serializers.DateTimeField()


class UnblindingRowSerializer(serializers.Serializer):
    item_token = serializers.CharField()
    case_id = serializers.CharField()
    source = serializers.CharField(allow_blank=True)
    source_kind = serializers.CharField(allow_blank=True)
    source_b = serializers.CharField(allow_blank=True)
    sources = serializers.CharField(help_text="Every source shown, canonical order, JSON list.")
    arm = serializers.CharField(
        required=False,
        help_text="Assisted-reading studies only (absent otherwise): one row per item and arm; "
        "the source columns are empty for an arm that showed no output.",
    )
    arm_kind = serializers.CharField(
        required=False, help_text="Assisted-reading studies only: unassisted, source or tool."
    )


class HistoryRowSerializer(serializers.Serializer):
    item_token = serializers.CharField()
    rater = serializers.CharField()
    question = serializers.CharField()
    output_slot = serializers.IntegerField(allow_null=True)
    saved_at = serializers.DateTimeField()
    old_answer = NullableAnswerField(
        allow_null=True, help_text='"" when the answer had none before.'
    )
    new_answer = AnswerField()


# --- judges, statistics, jobs ----------------------------------------------------------------


class JudgeSerializer(serializers.ModelSerializer):
    connection = connection_field()
    n_verdicts = serializers.IntegerField(read_only=True, help_text="Units judged successfully.")

    class Meta:
        model = Judge
        fields = ["id", "label", *Judge.ENDPOINT_FIELDS, "created_at", "n_verdicts"]
        read_only_fields = ["id", "created_at", "n_verdicts"]


class ResultSerializer(serializers.ModelSerializer):
    question = serializers.CharField(source="question.key")
    ci_low = serializers.FloatField(allow_null=True, help_text="`detail.ci`, when it has one.")
    ci_high = serializers.FloatField(allow_null=True)
    detail = DetailField()

    class Meta:
        model = Result
        fields = [
            "id",
            "question",
            "statistic",
            "source",
            "judge",
            "value",
            "ci_low",
            "ci_high",
            "n_units",
            "n_raters",
            "n_ratings",
            "detail",
            "inputs_hash",
            "computed_at",
        ]
        read_only_fields = fields

    def to_representation(self, result: Result) -> dict:
        result.ci_low, result.ci_high = result.detail.get("ci") or (None, None)
        return super().to_representation(result)


class TaskRunSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="source.label", allow_null=True, default=None)
    judge = serializers.CharField(source="judge.label", allow_null=True, default=None)
    eta_seconds = serializers.IntegerField(allow_null=True)

    class Meta:
        model = TaskRun
        fields = [
            "id",
            "kind",
            "status",
            "done",
            "total",
            "message",
            "source",
            "judge",
            "decided_sample",
            "created_at",
            "started_at",
            "finished_at",
            "eta_seconds",
        ]
        read_only_fields = fields


class QuestionsAddedSerializer(serializers.Serializer):
    added = QuestionSerializer(many=True)
    citation = serializers.CharField(
        help_text="The template's citation for a methods section; a translated template's "
        'adds "translation by evalapp; not a validated translation".'
    )


class RubricTemplateSerializer(serializers.Serializer):
    template = serializers.ChoiceField(choices=(), help_text="A built-in rubric template.")
    language = serializers.ChoiceField(
        choices=settings.LANGUAGES,
        required=False,
        help_text="The template's language; default: the study's language.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read when used: the templates are files the operator may add to.
        self.fields["template"].choices = sorted(services.rubric_templates())


class FigureSerializer(serializers.Serializer):
    name = serializers.CharField()
    urls = serializers.DictField(
        child=serializers.CharField(), help_text="The figure's address by format: svg, png, pdf."
    )


class FiguresSerializer(serializers.Serializer):
    figures = FigureSerializer(many=True)


class JudgeAnswersSerializer(serializers.Serializer):
    decided_sample = serializers.IntegerField(
        min_value=0,
        max_value=100_000,
        default=0,
        help_text="How many answers exact match decided the judge scores too (a seeded "
        "sample), so that its agreement can be measured on them.",
    )
