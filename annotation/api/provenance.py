"""How every output and every judge verdict was produced: one row per model call, with the
response id, the model the server says it served, tokens, latency, cost, retries and the
rendered prompt's hash. Study-admin data (it names the sources), read-only; the same rows as the
bundle's generations.csv and judge_calls.csv (`?format=csv` gives those files)."""

import json
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.api.exports import TableViewSet, table_schema
from annotation.models import Generation, JudgeVerdict, Study
from annotation.selectors import exports as tables
from annotation.selectors import judge_calls
from evalapp.api import csv_stream, wants_csv

# Columns the CSV writes as JSON text and a JSON page gives as what they are.
JSON_COLUMNS = ("served_headers", "retry_details")


class CallSerializer(serializers.Serializer):
    """What every stored model call records (`annotation.core.columns.calls._call_columns`)."""

    outcome = serializers.ChoiceField(choices=Generation.Outcome.choices)
    error = serializers.CharField(allow_blank=True)
    model_requested = serializers.CharField(
        allow_blank=True, help_text="The model the request asked for (a name or an alias)."
    )
    model_version = serializers.CharField(
        allow_blank=True, help_text="The model the server says it served (`model` in its reply)."
    )
    served_headers = serializers.DictField(
        child=serializers.CharField(),
        help_text="The reply's headers naming the deployment behind an alias, lower-case names.",
    )
    response_id = serializers.CharField(allow_blank=True)
    system_fingerprint = serializers.CharField(allow_blank=True)
    http_status = serializers.IntegerField(allow_null=True)
    retries = serializers.IntegerField()
    retry_details = serializers.ListField(child=serializers.DictField())
    rate_limit_wait_seconds = serializers.FloatField()
    prompt_tokens = serializers.IntegerField(allow_null=True)
    completion_tokens = serializers.IntegerField(allow_null=True)
    cost = serializers.FloatField(allow_null=True)
    latency_seconds = serializers.FloatField(allow_null=True)
    prompt_sha256 = serializers.CharField(
        allow_blank=True,
        help_text="SHA-256 of the request's messages as canonical JSON (sorted keys, no "
        "spaces); empty when nothing was sent.",
    )
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()


class GenerationRowSerializer(CallSerializer):
    case_id = serializers.CharField()
    source = serializers.CharField()
    sample = serializers.IntegerField()
    endpoint = serializers.CharField()


class JudgeCallRowSerializer(CallSerializer):
    judge = serializers.CharField()
    kind = serializers.ChoiceField(
        choices=[judge_calls.RATING, judge_calls.ANSWER],
        help_text="`rating`: an item rated with the rubric; `answer`: a reader's answer "
        "decided (assisted reading), its read's item in `item_token`.",
    )
    item_token = serializers.CharField()
    shown_order = serializers.CharField()
    variant = serializers.IntegerField()
    sample = serializers.IntegerField()


class CallTableViewSet(TableViewSet):
    """A table of calls: JSON pages give the JSON columns as objects and lists."""

    def json_page(self, page_rows: Iterable[dict]) -> Response:
        shaped = [_as_json(row) for row in page_rows]
        return self.get_paginated_response(self.get_serializer(shaped, many=True).data)


def _as_json(row: dict) -> dict:
    return {**row, **{column: json.loads(row[column]) for column in JSON_COLUMNS}}


@table_schema(GenerationRowSerializer)
class GenerationViewSet(CallTableViewSet):
    """Every call made to fetch the study's outputs, failed ones included (generations.csv)."""

    serializer_class = GenerationRowSerializer
    model = Generation
    columns = tables.GENERATIONS_COLUMNS
    filename = "generations"

    def study_queryset(self, study: Study) -> QuerySet[Generation]:
        return tables.study_generations_query(study=study)

    def rows(self, records: Iterable[Generation]) -> Iterator[dict]:
        return tables.generation_rows(records)


@table_schema(JudgeCallRowSerializer)
class JudgeCallViewSet(CallTableViewSet):
    """Every unit of every LLM judge's work with its last call's provenance (judge_calls.csv):
    the rubric's items (`kind` rating) and, in an assisted-reading study, the answers a judge
    decided (`kind` answer)."""

    serializer_class = JudgeCallRowSerializer
    model = JudgeVerdict
    columns = judge_calls.JUDGE_CALLS_COLUMNS
    filename = "judge-calls"

    def study_queryset(self, study: Study) -> QuerySet[JudgeVerdict]:
        return judge_calls.study_judge_calls_query(study=study)

    def list(self, request: Request, study_token: str) -> Response:
        if wants_csv(request):
            rows = judge_calls.study_judge_calls(study=self.study)
            return csv_stream(rows, self.columns, f"{self.filename}-{self.study.token}.csv")
        page = self.paginate_queryset(judge_calls.JudgeCallPages(study=self.study))
        return self.json_page(page)
