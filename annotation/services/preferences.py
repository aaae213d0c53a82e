"""A user's own choices, stored so that they follow the user to another browser."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from annotation.models import UserPreference


def user_language_set(*, user: AbstractBaseUser, language: str) -> UserPreference:
    """Remember `language` (one of settings.LANGUAGES) as the user's interface language."""
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": f"Unknown language {language!r}."})
    preference, _ = UserPreference.objects.update_or_create(
        user=user, defaults={"language": language}
    )
    return preference
