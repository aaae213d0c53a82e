"""The long-format tables a paper's analysis starts from, for a study's admins: JSON a page at
a time, or the whole table as CSV (`?format=csv`), streamed."""

import json
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from annotation import selectors, services
from annotation.api import filters
from annotation.api import serializers as s
from annotation.api.base import StudyScopedViewSet, rater_pseudonym
from annotation.core import rubric
from annotation.models import Item, JudgeRating, Rating, RatingRevision, Study
from evalapp.api import CSVRenderer, csv_stream, wants_csv

FORMAT = OpenApiParameter(
    "format",
    OpenApiTypes.STR,
    enum=["json", "csv"],
    description="csv: the whole table (filters apply) as one streamed CSV file, no pages.",
)


def table_schema(serializer: type) -> object:
    """A table's list: JSON pages of `serializer` rows, or with `?format=csv` one CSV file."""
    return extend_schema(
        parameters=[FORMAT],
        responses={
            (200, "application/json"): serializer,
            (200, "text/csv"): OpenApiTypes.STR,
        },
    )


# Kinds whose answer is a list (or, for omissions, an object); the CSV writes it as JSON text,
# in one cell.
LIST_KINDS = {rubric.MULTIPLE_CHOICE, rubric.CRITERIA, rubric.SPAN, rubric.RANKING, rubric.OMISSION}
ANSWER_COLUMNS = ("answer", "old_answer", "new_answer")


def as_json_row(row: dict, kinds: dict[str, str]) -> dict:
    """A CSV row as JSON gives it: null where CSV leaves an empty cell, and a list answer as
    the list. (A list kind's answer is a list, "na" or "none"; only a list is written as
    JSON text, so a string starting with "[" is one; an omission's object starts with "{".)"""
    row = dict(row)
    if row.get("output_slot") == "":
        row["output_slot"] = None
    if kinds.get(row.get("question")) in LIST_KINDS:
        for column in ANSWER_COLUMNS:
            value = row.get(column)
            if isinstance(value, str) and value.startswith(("[", "{")):
                row[column] = json.loads(value)
    return row


class TableViewSet(StudyScopedViewSet):
    """A table read from the database in its order (`study_queryset`) and shaped into rows by
    `rows`: a JSON page reads and shapes that page only, `?format=csv` streams every row."""

    renderer_classes = [JSONRenderer, CSVRenderer]
    filter_backends: list = []
    columns: list[str] = []
    filename = ""

    def rows(self, records: Iterable) -> Iterator[dict]:
        raise NotImplementedError

    def list(self, request: Request, study_token: str) -> Response:
        records = self.filter_queryset(self.get_queryset())
        if wants_csv(request):
            rows = self.rows(records.iterator(chunk_size=selectors.EXPORT_CHUNK))
            return csv_stream(rows, self.columns, f"{self.filename}-{self.study.token}.csv")
        page = self.paginate_queryset(records)
        return self.json_page(self.rows(page))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(self, "action", None) == "list" and response.status_code == 200:
            # Every page or file of a table reveals the study's data: each is recorded.
            services.audit_record(
                action=f"{self.filename.replace('-', '_')}.downloaded",
                study=self.study,
                details={
                    "format": "csv" if wants_csv(request) else "json",
                    "query": {
                        key: request.query_params.getlist(key) for key in request.query_params
                    },
                },
            )
        return response

    def json_page(self, rows: Iterable[dict]) -> Response:
        kinds = dict(self.study.questions.values_list("key", "kind"))
        shaped = [as_json_row(row, kinds) for row in rows]
        return self.get_paginated_response(self.get_serializer(shaped, many=True).data)


@table_schema(s.RatingRowSerializer)
class RatingViewSet(TableViewSet):
    """Every rating in long format (the columns are described in docs/api.md): one row per
    answer, pairwise values in the pair's canonical order; in an assisted-reading study each
    row's `arm` too."""

    serializer_class = s.RatingRowSerializer
    model = Rating
    filter_backends = api_settings.DEFAULT_FILTER_BACKENDS
    filterset_class = filters.RatingFilter
    columns = selectors.RATINGS_COLUMNS
    filename = "ratings"

    def study_queryset(self, study: Study):
        rater = rater_pseudonym(study, "assignment__rater_id")
        return selectors.study_ratings_query(study=study).annotate(pseudonym=rater)

    def list(self, request: Request, study_token: str) -> Response:
        ratings = self.filter_queryset(self.get_queryset())
        if wants_csv(request):
            columns, rows = selectors.study_ratings_export(study=self.study, ratings=ratings)
            return csv_stream(rows, columns, f"ratings-{self.study.token}.csv")
        page = self.paginate_queryset(ratings.only("pk"))
        on_page = Rating.objects.filter(pk__in=[rating.pk for rating in page])
        return self.json_page(selectors.study_ratings_iter(study=self.study, ratings=on_page))


@table_schema(s.JudgeRatingRowSerializer)
class JudgeRatingViewSet(TableViewSet):
    """Every LLM judge's answers in the ratings' long format, rater kind "llm"."""

    serializer_class = s.JudgeRatingRowSerializer
    model = JudgeRating
    columns = selectors.JUDGE_RATINGS_COLUMNS
    filename = "judge-ratings"

    def study_queryset(self, study: Study) -> QuerySet[JudgeRating]:
        return selectors.study_judge_ratings_query(study=study)

    def rows(self, records: Iterable[JudgeRating]) -> Iterator[dict]:
        return selectors.judge_rating_rows(records)


@table_schema(s.UnblindingRowSerializer)
class UnblindingViewSet(TableViewSet):
    """Which source wrote each item: the key that undoes blinding, for the analysis. In an
    assisted-reading study one row per item and arm read, naming a source only where the arm
    showed its output."""

    serializer_class = s.UnblindingRowSerializer
    model = Item
    columns = selectors.UNBLINDING_COLUMNS
    filename = "unblinding-key"

    def list(self, request: Request, study_token: str) -> Response:
        self.columns = selectors.study_unblinding_columns(study=self.study)
        return super().list(request, study_token)

    def study_queryset(self, study: Study) -> QuerySet[Item]:
        return selectors.study_unblinding_key_query(study=study)

    def rows(self, records: Iterable[Item]) -> Iterator[dict]:
        return selectors.unblinding_key_rows(records)


@table_schema(s.HistoryRowSerializer)
class RatingHistoryViewSet(TableViewSet):
    """Every change to every answer: item, rater, question, when, old and new answer."""

    serializer_class = s.HistoryRowSerializer
    model = RatingRevision
    columns = selectors.HISTORY_COLUMNS
    filename = "rating-history"

    def study_queryset(self, study: Study) -> QuerySet[RatingRevision]:
        return selectors.study_rating_history_query(study=study)

    def rows(self, records: Iterable[RatingRevision]) -> Iterator[dict]:
        return selectors.rating_history_rows(self.study, records)
