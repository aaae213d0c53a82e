from django.conf import settings
from django.db import models


class ExternalIdentity(models.Model):
    """An account's sign-in at an OpenID Connect provider: the provider (its issuer) and the
    person's identifier there (`sub`), which the provider never reuses for someone else. An
    account is found by this pair at every single sign-on, never by a name or an address, which
    a provider may let people change."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="identity_unique_subject"),
            # One identity per provider per account: a second would let two people share one.
            models.UniqueConstraint(fields=["user", "issuer"], name="identity_one_per_issuer"),
        ]
        verbose_name = "single sign-on identity"
        verbose_name_plural = "single sign-on identities"

    def __str__(self) -> str:
        return f"{self.issuer} {self.subject}"
