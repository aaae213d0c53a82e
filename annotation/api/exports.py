"""The long-format tables a paper's analysis starts from, for a study's admins: JSON a page at
a time, or the whole table as CSV (`?format=csv`), streamed."""

from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from annotation import selectors
from annotation.api import filters
from annotation.api import serializers as s
from annotation.api.base import StudyScopedViewSet, rater_pseudonym
from annotation.models import Item, JudgeRating, Rating, RatingRevision, Study
from evalapp.api import CSVRenderer, csv_stream, wants_csv

FORMAT = OpenApiParameter(
    "format",
    OpenApiTypes.STR,
    enum=["json", "csv"],
    description="csv: the whole table (filters apply) as one streamed CSV file, no pages.",
)


def _slot(row: dict) -> dict:
    # CSV leaves an empty cell where JSON says null.
    return {**row, "output_slot": None if row["output_slot"] == "" else row["output_slot"]}


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
        shaped = [_slot(row) if "output_slot" in row else row for row in self.rows(page)]
        return self.get_paginated_response(self.get_serializer(shaped, many=True).data)


@extend_schema(parameters=[FORMAT])
class RatingViewSet(TableViewSet):
    """Every rating in long format (the columns are described in docs/api.md): one row per
    answer, pairwise values in the pair's canonical order."""

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
            rows = selectors.study_ratings_iter(study=self.study, ratings=ratings)
            return csv_stream(rows, self.columns, f"ratings-{self.study.token}.csv")
        page = self.paginate_queryset(ratings.only("pk"))
        on_page = Rating.objects.filter(pk__in=[rating.pk for rating in page])
        rows = [
            _slot(row) for row in selectors.study_ratings_iter(study=self.study, ratings=on_page)
        ]
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)


@extend_schema(parameters=[FORMAT])
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


@extend_schema(parameters=[FORMAT])
class UnblindingViewSet(TableViewSet):
    """Which source wrote each item: the key that undoes blinding, for the analysis."""

    serializer_class = s.UnblindingRowSerializer
    model = Item
    columns = selectors.UNBLINDING_COLUMNS
    filename = "unblinding-key"

    def study_queryset(self, study: Study) -> QuerySet[Item]:
        return selectors.study_unblinding_key_query(study=study)

    def rows(self, records: Iterable[Item]) -> Iterator[dict]:
        return selectors.unblinding_key_rows(records)


@extend_schema(parameters=[FORMAT])
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
