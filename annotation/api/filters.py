"""Query filters of the list endpoints (django-filter): `?source=GPT-4&sample=0`."""

import django_filters as filters
from django import forms

from annotation.models import (
    Assignment,
    AuditEvent,
    Case,
    Output,
    Rating,
    Result,
    Study,
    TaskRun,
)


class WholeNumberFilter(filters.NumberFilter):
    # A whole number, never a decimal: `1e1000000` would take the server minutes to expand.
    field_class = forms.IntegerField


class StudyFilter(filters.FilterSet):
    role = filters.ChoiceFilter(choices=[("admin", "admin"), ("rater", "rater")])

    class Meta:
        model = Study
        fields = ["status", "design", "role"]


class CaseFilter(filters.FilterSet):
    case_id = filters.CharFilter(field_name="external_id")

    class Meta:
        model = Case
        fields = ["role", "case_id"]


class OutputFilter(filters.FilterSet):
    source = filters.CharFilter(field_name="source__label", help_text="A source's label.")
    case_id = filters.CharFilter(field_name="case__external_id")
    sample = WholeNumberFilter()

    class Meta:
        model = Output
        fields = ["source", "case_id", "sample"]


class AssignmentFilter(filters.FilterSet):
    rater = filters.CharFilter(field_name="pseudonym", help_text="A rater's pseudonym, e.g. R1.")
    item = filters.CharFilter(field_name="item__token", help_text="An item's token.")
    submitted = filters.BooleanFilter(field_name="submitted_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Assignment
        fields = ["rater", "kind", "item", "submitted"]


class RatingFilter(filters.FilterSet):
    rater = filters.CharFilter(field_name="pseudonym", help_text="A rater's pseudonym, e.g. R1.")
    question = filters.CharFilter(field_name="question__key")
    item = filters.CharFilter(field_name="assignment__item__token")
    kind = filters.ChoiceFilter(field_name="assignment__kind", choices=Assignment.Kind.choices)
    submitted = filters.BooleanFilter(
        field_name="assignment__submitted_at", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = Rating
        fields = ["rater", "question", "item", "kind", "submitted"]


class ResultFilter(filters.FilterSet):
    question = filters.CharFilter(field_name="question__key")

    class Meta:
        model = Result
        fields = ["question", "statistic", "source", "judge"]


class TaskRunFilter(filters.FilterSet):
    class Meta:
        model = TaskRun
        fields = ["kind", "status"]


class AuditEventFilter(filters.FilterSet):
    user = filters.CharFilter(field_name="actor_username", help_text="the acting user's name")
    study = WholeNumberFilter(field_name="study_id", help_text="a study's id (staff's whole log)")

    class Meta:
        model = AuditEvent
        fields = ["action", "via", "user", "study"]
