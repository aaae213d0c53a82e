"""What a user chose for themselves, kept across browsers: for now the interface language."""

from django.conf import settings
from django.db import models


class UserPreference(models.Model):
    """One row per user who has chosen something; a user without one gets the defaults (the
    browser's Accept-Language for the language)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="preference",
    )
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language or '-'}"
