"""Single sign-on's pages: the sign-in page (with the provider's button, and without the password
form when LOCAL_PASSWORDS=0), the start of a sign-in at the provider, its callback, and sign-out
(at the provider too, when it publishes where)."""

import logging
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render, resolve_url
from django.urls import Resolver404, resolve, reverse
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.generic import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from annotation.core.sso import provider_error_code
from annotation.sso.attempts import OidcAttempt, SsoFailed, provider_unavailable_message
from annotation.sso.provider import (
    ProviderUnavailable,
    provider_config,
    provider_logout_endpoint,
    provider_name,
    sso_enabled,
)
from evalapp.errors import failure_time

logger = logging.getLogger(__name__)

UNKNOWN_STATE = gettext_lazy(
    "This sign-in answer does not belong to a sign-in started in this browser, or it was "
    "already used. Start again from the sign-in page."
)
NO_CODE = gettext_lazy(
    "The provider's answer carried no authorisation code. Start again from the sign-in page."
)

# The session key under which a sign-in started from an invitation names it: the invitation
# page then joins the study on the way back (annotation.views.account).
SSO_INVITATION = "sso_invitation"


def sso_context() -> dict:
    """What the sign-in and invitation pages show about single sign-on."""
    return {
        "sso_enabled": sso_enabled(),
        "sso_provider_name": provider_name(),
        "local_passwords": settings.LOCAL_PASSWORDS,
    }


class LoginView(auth_views.LoginView):
    """Django's sign-in page, with the provider's button; with LOCAL_PASSWORDS=0 it shows no
    password form and refuses a posted password (superusers sign in at /admin/ instead)."""

    def get_context_data(self, **kwargs):
        context = {**super().get_context_data(**kwargs), **sso_context()}
        if self.request.method == "POST":
            # After a refused password the switcher comes back here (not to the start page, the
            # default for a page answering a POST), keeping where to go next.
            next_url = context.get(self.redirect_field_name) or ""
            query = f"?{urlencode({self.redirect_field_name: next_url})}" if next_url else ""
            context["language_next"] = reverse("login") + query
        return context

    def post(self, request, *args, **kwargs):
        if settings.LOCAL_PASSWORDS:
            return super().post(request, *args, **kwargs)
        # Refused unread, and recorded as a failed sign-in (django-axes counts it too).
        credentials = {
            "username": request.POST.get("username", "")[:150],
            "method": "password",
            "reason": "passwords are turned off (LOCAL_PASSWORDS=0)",
        }
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        context = {**self.get_context_data(), "password_refused": True}
        return self.render_to_response(context, status=403)


@method_decorator(never_cache, name="dispatch")
class SsoStartView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider. `next` is kept for the way back only when it is a
    path on this site (the library checks it with Django's url_has_allowed_host_and_scheme)."""

    def __init__(self, **kwargs):
        # Not the library's: it reads the endpoint from the settings here; get() finds it.
        View.__init__(self, **kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request):
        if not sso_enabled():
            raise Http404("Single sign-on is not configured on this site.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider_config().authorization_endpoint
        except ProviderUnavailable as exc:
            message = provider_unavailable_message(exc)
            return _sso_failure(request, message, status=503, reason=str(exc))
        return super().get(request)


@method_decorator(never_cache, name="dispatch")
class SsoCallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back. Every way this can fail shows a page saying
    why (never a bare 400 or a 500) and sends `user_login_failed` once."""

    def get(self, request):
        if not sso_enabled():
            raise Http404("Single sign-on is not configured on this site.")
        states = request.session.get("oidc_states") or {}
        entry = states.pop(request.GET.get("state", ""), None)
        if entry is None:
            # Not an answer to a sign-in this browser started: whatever else the link says
            # (an `error` with a description, say) is someone else's text, and not shown.
            return _sso_failure(request, UNKNOWN_STATE, status=400, reason="unknown state")
        # Used once: the same answer sent again finds nothing. Saved now, as the session is
        # read again below.
        request.session["oidc_states"] = states
        request.session.save()
        if request.GET.get("error"):
            return _provider_refused(request)
        if not request.GET.get("code"):
            return _sso_failure(request, NO_CODE, status=400, reason="no authorisation code")
        # Read again after the provider's answer, as the library does: another tab may have
        # changed the session meanwhile.
        request.session = request.session.__class__(request.session.session_key)
        attempt = OidcAttempt(nonce=entry.get("nonce"), code_verifier=entry.get("code_verifier"))
        try:
            self.user = auth.authenticate(request, oidc_attempt=attempt)
        except SsoFailed as exc:
            return _sso_failure(
                request,
                exc.message,
                status=exc.status,
                reason=exc.reason,
                username=exc.username,
                subject=exc.subject,
            )
        if self.user is None:
            # Django sent user_login_failed already (no backend took the answer).
            return _failed_page(
                request, gettext("Single sign-on is not set up on this site."), status=403
            )
        response = self.login_success()
        _invitation_remember(request, self.success_url)
        return response

    @property
    def success_url(self):
        return self.request.session.get("oidc_login_next") or resolve_url(
            settings.LOGIN_REDIRECT_URL
        )


def _provider_refused(request: HttpRequest) -> HttpResponse:
    """The provider's error answer to this browser's own sign-in. Only a standard error code
    is shown and recorded; the free-text description goes to the operator's log alone."""
    raw = request.GET.get("error", "")
    code = provider_error_code(raw)
    logger.warning(
        "Single sign-on: the provider answered error=%r, error_description=%r",
        raw[:100],
        request.GET.get("error_description", "")[:300],
    )
    if code:
        message = format_lazy(
            gettext_lazy(
                "{provider} did not sign you in ({code}). Try again, or ask your "
                "organisation's IT if you should have access."
            ),
            provider=provider_name(),
            code=code,
        )
    else:
        message = format_lazy(
            gettext_lazy(
                "{provider} did not sign you in. Try again, or ask your organisation's IT if "
                "you should have access."
            ),
            provider=provider_name(),
        )
    return _sso_failure(
        request, message, status=403, reason=f"provider error: {code or 'non-standard code'}"
    )


def _invitation_remember(request: HttpRequest, next_url: str) -> None:
    """A sign-in that goes back to an invitation joins its study there (the invitation page
    still checks that the account has the invited address)."""
    try:
        match = resolve(urlsplit(next_url).path)
    except Resolver404:
        return
    if match.url_name == "invitation":
        request.session[SSO_INVITATION] = match.kwargs["token"]


def _sso_failure(
    request: HttpRequest,
    message: str | Promise,
    *,
    status: int,
    reason: str = "",
    username: str = "",
    subject: str = "",
) -> HttpResponse:
    """The failure page, after `user_login_failed` with what is known (no code, token or
    secret): the audit trail records it like a wrong password."""
    if not reason:
        # The audit trail and the log say it in the site's language, not the visitor's.
        with translation.override(settings.LANGUAGE_CODE):
            reason = str(message)
    credentials = {
        "method": "oidc",
        "issuer": settings.OIDC_ISSUER,
        "username": username,
        "subject": subject,
        "reason": reason,
    }
    # For the operator: what went wrong, with the provider's identifier for the person.
    logger.warning("Single sign-on failed (%s, sub=%r): %s", status, subject, reason)
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    return _failed_page(request, message, status=status)


def _failed_page(request: HttpRequest, message: str | Promise, *, status: int) -> HttpResponse:
    # The language switcher leads to the sign-in page: the callback's URL cannot be used twice,
    # and its query (the provider's answer) is not echoed into the page. The time (UTC, as the
    # server log's) is what the person can quote to their IT department, who find the detail
    # in the log and the audit trail by it.
    context = {
        "message": message,
        "failed_at": failure_time(),
        "language_next": reverse("login"),
        **sso_context(),
    }
    return render(request, "registration/sso_failed.html", context, status=status)


class LogoutView(auth_views.LogoutView):
    """Django's sign-out; after a single sign-on, also at the provider when it publishes an
    end_session_endpoint (and OIDC_PROVIDER_LOGOUT is on). The browser is sent there by a page,
    not a redirect: the Content-Security-Policy lets a form lead only to this site."""

    def post(self, request, *args, **kwargs):
        id_token = request.session.get("oidc_id_token")
        response = super().post(request, *args, **kwargs)
        if not (id_token and sso_enabled() and settings.OIDC_PROVIDER_LOGOUT):
            return response
        context = {"sso_provider_name": provider_name()}
        try:
            target = _provider_logout_url(request, id_token)
        except ProviderUnavailable as exc:
            # Signed out here, but the provider's session may live on: the next "Sign in with"
            # on this computer would reach this person's account without a password. Say so.
            logger.warning("Sign-out: the provider's session was not ended: %s", exc)
            context["provider_unreached"] = True
            return render(request, "registration/sso_signed_out.html", context)
        if not target:
            return response
        context["target"] = target
        return render(request, "registration/sso_signed_out.html", context)


def _provider_logout_url(request: HttpRequest, id_token: str) -> str:
    """Where the browser ends the provider's session, "" when the provider names no place;
    ProviderUnavailable when its discovery document cannot be read."""
    endpoint = provider_logout_endpoint()
    if not endpoint:
        return ""
    params = {
        "id_token_hint": id_token,
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(
            resolve_url(settings.LOGOUT_REDIRECT_URL)
        ),
    }
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"
