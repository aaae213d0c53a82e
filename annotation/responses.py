"""HTTP responses the pages and the API send alike: images, and CSV downloads streamed."""

from collections.abc import Iterable, Sequence

from django.http import HttpResponse, StreamingHttpResponse

from annotation.core.tables import csv_chunks
from annotation.models import Attachment


def image_response(image: Attachment) -> HttpResponse:
    """A case's image as sent to a rater, by the pages and by the API alike."""
    response = HttpResponse(bytes(image.data), content_type=image.content_type)
    # The stored name (which could say anything) never leaves; browsers must not sniff.
    response["Content-Disposition"] = f'inline; filename="image-{image.position}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def csv_response(
    *, rows: Iterable[dict], columns: Sequence[str], filename: str
) -> StreamingHttpResponse:
    """A CSV download streamed as it is written."""
    response = StreamingHttpResponse(
        csv_chunks(rows, columns), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
