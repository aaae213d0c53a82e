import logging
import sys

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.views.decorators.cache import never_cache

from evalapp.errors import error_reference, failure_time, shown_message

logger = logging.getLogger(__name__)


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


def server_error(request: HttpRequest) -> HttpResponse:
    """500: templates/500.html with the time (UTC) and a short reference the person can quote
    to IT, the reference written to the log with the exception (django.request logs the
    traceback next). Nothing else is read: not the request's user or session, not the database,
    not a static file; any of them may be what failed."""
    reference, at = error_reference(), failure_time()
    error = sys.exc_info()[1]
    logger.error(
        # The path as %r: a line break in it must not write a second, forged log line.
        "Server error %s at %s on %s %r: %r",
        reference,
        at,
        request.method,
        request.path,
        error,
    )
    page = loader.get_template("500.html").render({"reference": reference, "failed_at": at})
    return HttpResponseServerError(page)


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
    # A "Log out" from a tab older than the last sign-in: not "your form was not saved" but
    # whether the person is still signed in, with a Log out button that works (a fresh token).
    # Never signed out without a valid token: a page elsewhere could post here.
    logout = request.path == reverse("logout")
    return render(request, "csrf_failure.html", {"logout": logout}, status=403)
