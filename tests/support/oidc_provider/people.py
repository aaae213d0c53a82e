"""The test provider's directory: accounts in its database, and the claims it keeps beside them
(in this process), set by the tests through POST /control/person."""

import json
import threading

from django.contrib.auth import get_user_model
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

_claims: dict[str, dict] = {}
_lock = threading.Lock()


def extra_claims(username: str) -> dict:
    with _lock:
        return dict(_claims.get(username, {}))


@csrf_exempt
@require_POST
def person_set(request: HttpRequest) -> JsonResponse:
    """Make or change a person: {"username", "password", "email", "email_verified", "groups"}.
    Answers with their `sub` (the provider's id for them)."""
    data = json.loads(request.body)
    user, _ = get_user_model().objects.get_or_create(username=data["username"])
    user.email = data.get("email", "")
    user.set_password(data["password"])
    user.save()
    with _lock:
        _claims[user.username] = {
            "email_verified": data.get("email_verified", True),
            "groups": list(data.get("groups", [])),
        }
    return JsonResponse({"sub": str(user.pk)})
