from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.authtoken.models import Token

from annotation.services import api_token_rotate


@login_required
def api_token(request: HttpRequest) -> HttpResponse:
    """Show (creating on POST) the caller's token for the REST API."""
    if request.method == "POST":
        token = api_token_rotate(user=request.user)
    else:
        token = Token.objects.filter(user=request.user).first()
    return render(request, "annotation/api_token.html", {"token": token})
