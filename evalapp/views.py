from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from evalapp.errors import shown_message


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers and docker-compose: the app runs and reaches its database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for an address no route matches, or a page that raised Http404: under /api/ the API's
    own JSON error (what its schema documents, and what a client can parse), elsewhere
    templates/404.html in the user's language, with the message only when it was written for
    them (evalapp.errors)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    context = {"message": shown_message(exception)}
    return render(request, "404.html", context, status=404)


def denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """403 for a page the user may not see: as `not_found`, with templates/403.html."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "You do not have permission to perform this action."}, status=403
        )
    context = {"message": shown_message(exception)}
    return render(request, "403.html", context, status=403)
