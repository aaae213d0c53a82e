from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from annotation.models import Invitation
from annotation.services import api_token_rotate, invitation_accept, invitation_check


@login_required
def api_token(request: HttpRequest) -> HttpResponse:
    """Show (creating on POST) the caller's token for the REST API."""
    if request.method == "POST":
        token = api_token_rotate(user=request.user)
    else:
        token = Token.objects.filter(user=request.user).first()
    return render(request, "annotation/api_token.html", {"token": token})


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """A rater invitation: join with the account you are logged in with, or create one."""
    found = Invitation.objects.select_related("study").filter(token=token).first()
    if found is None:
        raise Http404("This invitation link is not valid.")
    form = UserCreationForm()
    if request.method == "POST":
        if request.user.is_authenticated:
            return _accept(request, token, request.user)
        form = UserCreationForm(request.POST)
        try:
            invitation_check(token=token)
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
        if form.is_valid():
            try:
                with transaction.atomic():  # no account without the membership it was for
                    user = form.save()
                    user.email = found.email
                    user.save(update_fields=["email"])
                    study = invitation_accept(token=token, user=user)
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            else:
                login(request, user)
                messages.success(request, f"You are a rater of {study.title!r}.")
                return redirect("rater_home")
    context = {"invitation": found, "form": form}
    return render(
        request, "annotation/invitation.html", context, status=400 if form.errors else 200
    )


def _accept(request: HttpRequest, token: str, user) -> HttpResponse:
    try:
        study = invitation_accept(token=token, user=user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("home")
    messages.success(request, f"You are a rater of {study.title!r}.")
    return redirect("rater_home")
