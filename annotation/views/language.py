"""The interface language: the switcher's view, and the signed-in user's stored choice applied
at sign-in on any browser (docs/translation.md)."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views import i18n
from django.views.decorators.http import require_POST

from annotation import selectors, services

# The session notes a language chosen with the switcher before signing in: Django's login()
# keeps an anonymous session's data, so the choice outlives the sign-in and wins over the
# stored one (a choice made now is newer than one stored on another day).
CHOSEN_BEFORE_SIGN_IN = "language_chosen_before_sign_in"


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's set_language (the cookie, then back to `next`), which also stores the choice
    of a signed-in user. A code that is not one of LANGUAGES changes nothing: Django's own view
    would accept any language Django has a catalogue for."""
    language = request.POST.get(i18n.LANGUAGE_QUERY_PARAMETER, "")
    if language not in dict(settings.LANGUAGES):
        request.POST = request.POST.copy()
        request.POST.pop(i18n.LANGUAGE_QUERY_PARAMETER, None)
        return i18n.set_language(request)
    if request.user.is_authenticated:
        services.user_language_set(user=request.user, language=language)
    else:
        request.session[CHOSEN_BEFORE_SIGN_IN] = language
    return i18n.set_language(request)


def language_at_sign_in(
    sender: object, request: HttpRequest | None, user: AbstractBaseUser, **kwargs
) -> None:
    """`user_logged_in` receiver: the user's stored language becomes this browser's (the
    cookie is set by evalapp.middleware.LanguageMiddleware). A language chosen with the
    switcher in this session, before signing in, wins instead and becomes the stored one; a
    user who never chose one but has a language cookie on this browser keeps that, stored."""
    if request is None:
        return
    session = getattr(request, "session", None)
    chosen = session.pop(CHOSEN_BEFORE_SIGN_IN, "") if session is not None else ""
    if chosen in dict(settings.LANGUAGES):
        services.user_language_set(user=user, language=chosen)
        request.language_at_sign_in = chosen
        translation.activate(chosen)
        request.LANGUAGE_CODE = chosen
        return
    stored = selectors.user_language(user=user)
    if stored is None:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if chosen in dict(settings.LANGUAGES):
            services.user_language_set(user=user, language=chosen)
        return
    request.language_at_sign_in = stored
    translation.activate(stored)
    request.LANGUAGE_CODE = stored
