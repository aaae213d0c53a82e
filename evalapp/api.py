"""What every part of the REST API shares: pagination, and CSV for the long-format exports."""

from collections.abc import Iterable, Sequence

from django.http import StreamingHttpResponse
from rest_framework.exceptions import ParseError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer

from annotation import exports, rubric


class Pagination(PageNumberPagination):
    """`?page=N`, 100 rows a page by default, `?page_size=` up to 1,000."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class StrictJSONParser(JSONParser):
    """JSON bodies, refused with 400 when nested too deep to read or holding a NUL character
    (which PostgreSQL cannot store), instead of failing with a server error."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("The JSON is nested too deeply.") from None
        if rubric.contains_nul(data):
            raise ParseError("A NUL character is not allowed.")
        return data


class CSVRenderer(BaseRenderer):
    """Chosen by `?format=csv` or `Accept: text/csv`. A view that offers it streams its rows
    itself (`csv_stream`); what reaches this renderer is an error body, kept readable."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> str:
        detail = data.get("detail", data) if isinstance(data, dict) else data
        return exports.to_csv([{"detail": str(detail)}], ["detail"])


def wants_csv(request) -> bool:
    renderer = getattr(request, "accepted_renderer", None)
    return getattr(renderer, "format", "") == "csv"


def csv_stream(
    rows: Iterable[dict], columns: Sequence[str], filename: str
) -> StreamingHttpResponse:
    return exports.csv_response(rows=rows, columns=columns, filename=filename)
