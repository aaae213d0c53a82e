"""Request checks that hold for every page and endpoint."""

from django.http import HttpRequest, HttpResponse, JsonResponse


class RejectNulMiddleware:
    """A NUL character in the path or the query string is refused with 400 before any view
    runs: no name, token or filter has one, and PostgreSQL cannot even compare text with it
    (a lookup would fail with a server error)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            return JsonResponse({"detail": "A NUL character is not allowed here."}, status=400)
        return self.get_response(request)
