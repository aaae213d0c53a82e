"""Request checks that hold for every page and endpoint."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation

from annotation.core import audit
from evalapp.api import client_address

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RejectNulMiddleware:
    """A NUL character in the path, the query string or a form field is refused with 400
    before any view runs: no name, token, filter or answer has one, and PostgreSQL can neither
    compare nor store text with it (a lookup or a save would fail with a server error).

    Form bodies are checked here rather than in each form because every page form (the rater's
    answers and comment, the checklist's responses, the admin pages) reaches the database.
    Uploaded files are not: an image or a zip holds NUL bytes as a matter of course, and the
    import checks the text it reads from them. JSON bodies are the API parser's to check
    (evalapp.api.StrictJSONParser)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            return JsonResponse({"detail": "A NUL character is not allowed here."}, status=400)
        field = _form_field_with_nul(request)
        if field is not None:
            detail = f"The field {field!r} holds a NUL character, which is not allowed."
            return JsonResponse({"detail": detail, "field": field}, status=400)
        return self.get_response(request)


def _form_field_with_nul(request: HttpRequest) -> str | None:
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    if request.content_type not in FORM_TYPES:
        return None
    # Reading request.POST here is what CsrfViewMiddleware does next anyway; DRF reuses the
    # parsed form when the stream has been read.
    for name, values in request.POST.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return name.replace("\x00", "\\x00")
    return None


class AuditActingMiddleware:
    """Says who is acting, and from where, to the audit trail (annotation.services.audit) for
    the length of the request. The user is read when an entry is written, not here: the REST
    API signs its token callers in inside the view (DRF then sets request.user too)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        acting = audit.Acting(
            via=audit.VIA_API if request.path.startswith("/api/") else audit.VIA_WEB,
            address=client_address(request),
            user=lambda: getattr(request, "user", None),
        )
        with audit.acting_as(acting):
            return self.get_response(request)


class LanguageMiddleware:
    """What LocaleMiddleware (just before it) leaves to the project, in one middleware to keep
    the stack shallow (a request's JSON is parsed recursively under it):

    - the REST API answers in English whatever the caller's Accept-Language or cookie: its
      messages are read by scripts and documented in English (docs/translation.md);
    - when a sign-in chose a language for this browser (the `user_logged_in` receiver in
      annotation/views/language.py has the request, not the response, and leaves the user's
      stored language on it), the language cookie is set, as Django's set_language sets it."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
        response = self.get_response(request)
        language = getattr(request, "language_at_sign_in", None)
        if language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response
