"""Responses the rater's pages and the API send alike."""

from django.http import HttpResponse

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
