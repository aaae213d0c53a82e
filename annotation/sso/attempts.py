"""What a single sign-on carries from its start to its callback, and how it fails: shared by
the pages (annotation.views.sso), the backend Django lists (annotation.sso.backends) and the
exchange with the provider (annotation.sso.oidc)."""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from annotation.sso.provider import ProviderUnavailable


@dataclass(frozen=True)
class OidcAttempt:
    """What the sign-in's start kept for its callback. Passed to `authenticate` as one object,
    so that nothing of it is spelled out in a failure signal's credentials."""

    nonce: str | None
    code_verifier: str | None


# What a person is told when single sign-on fails for a reason that is not theirs: one fixed
# sentence per kind of failure, saying what they can do. The detail (addresses, ports, settings,
# a library's words) is the operator's: it goes to the server log and the audit entry's reason.
PROVIDER_UNREACHABLE = gettext_lazy(
    "The sign-in service could not be reached. Try again in a few minutes; if it keeps "
    "happening, tell your IT department."
)
NOT_SET_UP = gettext_lazy(
    "Single sign-on is not set up correctly on this site, so it could not sign you in. Please "
    "tell your IT department."
)
NOT_VERIFIED = gettext_lazy(
    "The sign-in service's answer could not be verified, so you were not signed in. Start again "
    "from the sign-in page; if it happens again, tell your IT department."
)
NOT_ACCEPTED = gettext_lazy(
    "The sign-in service did not accept this sign-in. Start again from the sign-in page; if it "
    "happens again, tell your IT department."
)


def provider_unavailable_message(exc: ProviderUnavailable) -> Promise:
    """The sentence for a person when the provider's configuration could not be read."""
    return PROVIDER_UNREACHABLE if exc.unreachable else NOT_SET_UP


class SsoFailed(Exception):
    """A single sign-on that signs no one in: `message` is for the person, `status` the page's,
    `reason` (when set) the detail for the log and the audit trail, never shown."""

    def __init__(
        self,
        message: str | Promise,
        *,
        status: int = 403,
        reason: str = "",
        username: str = "",
        subject: str = "",
    ):
        super().__init__(message)
        self.message, self.status, self.reason = message, status, reason
        self.username, self.subject = username, subject
