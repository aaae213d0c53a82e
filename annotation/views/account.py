from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from annotation.models import Invitation
from annotation.services import (
    api_token_rotate,
    invitation_accept,
    invitation_accept_new_account,
    invitation_check,
    invitation_refusal,
)
from annotation.views.sso import SSO_INVITATION, sso_context
from evalapp.api import token_expired
from evalapp.errors import ShownNotFound


@never_cache  # Cache-Control: no-store among others: a new token must not stay in any cache
@login_required
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """The caller's REST API token: shown in full once, on the response that created it;
    afterwards only its first characters. Replacing one (POST, confirmed) ends the old one."""
    token = Token.objects.filter(user=request.user).first()
    context = {"token": token, "expired": token is not None and token_expired(token=token)}
    if request.method == "POST":
        if token is not None and not request.POST.get("confirm"):
            context["error"] = _(
                "Tick the box to confirm: the current token stops working at once."
            )
            return render(request, "annotation/api_token.html", context, status=400)
        context["token"] = api_token_rotate(user=request.user)
        context["new"], context["expired"] = True, False
    context["max_age_days"] = settings.API_TOKEN_MAX_AGE_DAYS
    return render(request, "annotation/api_token.html", context)


def login_locked_out(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """django-axes' answer to a login while the account or the address is locked out."""
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
    return render(request, "registration/locked_out.html", context, status=429)


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """A rater invitation: join with the account that has the invited address, or create one,
    which gets that address (not with LOCAL_PASSWORDS=0: then through single sign-on)."""
    found = Invitation.objects.select_related("study").filter(token=token).first()
    if found is None:
        raise ShownNotFound(_("This invitation link is not valid."))
    if request.user.is_authenticated:
        return _invitation_signed_in(request, found)
    form = UserCreationForm(request.POST if request.method == "POST" else None)
    problem = _invitation_problem(found)
    if request.method == "POST" and not settings.LOCAL_PASSWORDS:
        form.add_error(None, _("Accounts with a password cannot be created on this site."))
        context = {"invitation": found, "form": form, "problem": problem, **sso_context()}
        return render(request, "annotation/invitation.html", context, status=403)
    if request.method == "POST" and problem:
        form.add_error(None, problem)
    elif request.method == "POST" and form.is_valid():
        user = form.save(commit=False)
        try:
            study = invitation_accept_new_account(token=token, user=user)
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
        else:
            # Named: the account was just made, and django-axes' backend logs no one in.
            login(request, user, backend="evalapp.auth_cache.CachedModelBackend")
            messages.success(request, _joined(study))
            return redirect("rater_home")
    context = {"invitation": found, "form": form, "problem": problem, **sso_context()}
    return render(
        request, "annotation/invitation.html", context, status=400 if form.errors else 200
    )


def _invitation_problem(invitation: Invitation) -> str:
    """Why the link can no longer be accepted by anyone, or ""."""
    try:
        invitation_check(token=invitation.token)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return ""


def _invitation_signed_in(request: HttpRequest, found: Invitation) -> HttpResponse:
    if found.accepted_at is not None and found.accepted_by_id == request.user.pk:
        problem = ""  # their own, already accepted: the page says so
    else:
        problem = _invitation_problem(found) or invitation_refusal(
            invitation=found, user=request.user
        )
    # Back from a single sign-on started on this invitation's page: joining was what they asked.
    joining = request.session.pop(SSO_INVITATION, None) == found.token
    if (request.method == "POST" or joining) and not problem:
        try:
            study = invitation_accept(token=found.token, user=request.user)
        except ValidationError as exc:
            problem = " ".join(exc.messages)
        else:
            messages.success(request, _joined(study))
            return redirect("rater_home")
    context = {"invitation": found, "problem": problem, **sso_context()}
    status = 403 if problem and (request.method == "POST" or joining) else 200
    return render(request, "annotation/invitation.html", context, status=status)


def _joined(study) -> str:
    return _("You are a rater of “%(title)s”.") % {"title": study.title}
