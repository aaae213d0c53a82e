"""What a single sign-on carries from its start to its callback, and how it fails: shared by
the pages (annotation.views.sso), the backend Django lists (annotation.sso.backends) and the
exchange with the provider (annotation.sso.oidc)."""

from dataclasses import dataclass

from django.utils.functional import Promise


@dataclass(frozen=True)
class OidcAttempt:
    """What the sign-in's start kept for its callback. Passed to `authenticate` as one object,
    so that nothing of it is spelled out in a failure signal's credentials."""

    nonce: str | None
    code_verifier: str | None


class SsoFailed(Exception):
    """A single sign-on that signs no one in: `message` is for the person, `status` the page's."""

    def __init__(
        self, message: str | Promise, *, status: int = 403, username: str = "", subject: str = ""
    ):
        super().__init__(message)
        self.message, self.status = message, status
        self.username, self.subject = username, subject
