"""Who may call what: a study's admins, its raters, and everyone else.

Anyone who is not a member of a study gets 404 for all of it, so its existence is not
disclosed; a rater asking for what only admins may read gets 403. A rater knows a study only
while it is open or locked (read-only), as on the rater's pages.
"""

from dataclasses import dataclass

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request

from annotation.models import Membership, Study

ADMIN = Membership.Role.ADMIN
RATER = Membership.Role.RATER
RATER_SEES = (Study.Status.OPEN, Study.Status.LOCKED)


@dataclass(frozen=True)
class StudyAccess:
    study: Study
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


def study_access(request: Request, token: str, *, admins_only: bool) -> StudyAccess:
    """The study with this token and the caller's role in it, or the error to answer."""
    membership = (
        Membership.objects.filter(user=request.user, study__token=token)
        .select_related("study")
        .first()
    )
    if membership is None or (
        membership.role == RATER and membership.study.status not in RATER_SEES
    ):
        raise NotFound("No such study.")
    if admins_only and membership.role != ADMIN:
        raise PermissionDenied("Only the study's admins can see this.")
    return StudyAccess(membership.study, membership.role)


def as_api_error(exc: DjangoValidationError) -> serializers.ValidationError:
    """A service's refusal as a 400: field by field when it names fields."""
    if hasattr(exc, "error_dict"):
        errors = dict(exc.message_dict)
        if whole := errors.pop(NON_FIELD_ERRORS, None):
            errors["detail"] = " ".join(whole)
        return serializers.ValidationError(errors)
    return serializers.ValidationError({"detail": " ".join(exc.messages)})
