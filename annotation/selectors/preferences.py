"""What a user chose for themselves (models/preferences.py)."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from annotation.models import UserPreference


def user_language(*, user: AbstractBaseUser) -> str | None:
    """The user's stored interface language, or None when they never chose one (or chose one
    this site no longer offers)."""
    language = UserPreference.objects.filter(user=user).values_list("language", flat=True).first()
    return language if language in dict(settings.LANGUAGES) else None
