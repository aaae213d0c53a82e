"""Errors whose message is written for the person reading the page.

A plain Http404 or PermissionDenied may carry a message meant for developers ("No such
figure."), in English; the 404 and 403 pages never show it. Raise these instead when the message
is a translated sentence a user should read (an invitation that is not valid, a step only the
report's lead may take): the pages show it under their own heading."""

import secrets
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied
from django.http import Http404


class ShownNotFound(Http404):
    """A 404 whose message (translated) is shown on the page."""


class ShownPermissionDenied(PermissionDenied):
    """A 403 whose message (translated) is shown on the page."""


def shown_message(exception: Exception | None) -> str:
    """The message to show for an error page: only a deliberate, user-facing one."""
    if isinstance(exception, ShownNotFound | ShownPermissionDenied) and exception.args:
        return str(exception.args[0])
    return ""


def failure_time() -> str:
    """The time of a failure as a person can quote it to IT: UTC, to the second, as the server
    log has it."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def error_reference() -> str:
    """A short reference for one server error, shown on its page and written to the log with
    the exception: eight characters a person can read out on the phone."""
    return secrets.token_hex(4)
