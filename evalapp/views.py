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


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form posted with a token gone stale (signing in, in any tab, renews
    it). The background and post-study forms keep what the rater typed and send them back to
    it (annotation.views.consent); anything else gets a page that says what happened, or, for
    a script, a short 403 (the rater item page's saves fetch a fresh token and retry)."""
    from annotation.views.consent import answers_kept_after_csrf_failure

    kept = answers_kept_after_csrf_failure(request)
    if kept is not None:
        return kept
    if (
        request.path.startswith("/api/")
        or getattr(request, "htmx", False)
        or request.headers.get("X-Requested-With") == "fetch"
    ):
        return JsonResponse({"detail": "CSRF verification failed."}, status=403)
    return render(request, "csrf_failure.html", status=403)
