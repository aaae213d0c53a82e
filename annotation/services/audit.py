"""Writing the audit trail: one entry per action that changes a study or reveals its data.

Every entry is appended by `audit_record`, which takes the chain's lock, reads the newest entry
and links the new one to it (annotation.core.audit says how the hash is made). The entry is
part of the caller's transaction: if the action rolls back, so does its entry. Who acted and
from where come from the context that the middleware, the tasks and the commands set
(core.audit.acting_as); a caller that knows better passes `user=`.

A rater's saves and submits are not recorded: they are the study's data, kept with their own
history (RatingRevision), and the save path is the one that must stay fast.
"""

import contextlib
import getpass
from collections.abc import Iterator

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from annotation.core import audit
from annotation.models import AuditEvent, Study

# Any fixed 64-bit number: pg_advisory_xact_lock's key for "appending to the audit log".
_CHAIN_LOCK_KEY = 0x6576616C61756474  # "evalaudt"

# Sentinel: take the user from the context.
_FROM_CONTEXT = object()


def audit_record(
    *,
    action: str,
    study: Study | None = None,
    target: object | None = None,
    details: dict | None = None,
    user: AbstractBaseUser | None | object = _FROM_CONTEXT,
    username: str = "",
    object_type: str = "",
    object_id: str = "",
) -> AuditEvent:
    """Append an entry. `action`: a code from docs/audit.md (`study.created`); `target`: the
    object acted on (its type and id are recorded), or `object_type` and `object_id` for one
    that is gone; `details`: what changed, old and new values as {"field": {"old": ...,
    "new": ...}}; `username`: the name tried, for a failed sign-in (there is no user)."""
    acting = audit.acting_now()
    if user is _FROM_CONTEXT:
        user = acting.user()
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    with transaction.atomic():
        _lock_chain()
        last = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
        event = AuditEvent(
            seq=(last["seq"] + 1) if last else 1,
            at=timezone.now(),
            actor_id=user.pk if user is not None else None,
            actor_username=(user.get_username() if user is not None else "")
            or username
            or acting.username,
            via=acting.via,
            address=acting.address,
            action=action,
            study_id=study.pk if study is not None else None,
            study_title=study.title if study is not None else "",
            object_type=type(target).__name__.lower() if target is not None else object_type,
            object_id=str(getattr(target, "pk", "") or "") if target is not None else object_id,
            details=audit.plain_details(details or {}),
            prev_hash=last["hash"] if last else audit.GENESIS_HASH,
        )
        event.hash = audit.entry_hash(event.chained())
        event.save()
    return event


def _lock_chain() -> None:
    """Serialise appends, so that two transactions cannot both link to the same newest entry.
    On PostgreSQL an advisory lock held until the transaction ends; SQLite's transactions here
    take the write lock as they begin (settings: transaction_mode IMMEDIATE), which serialises
    them already. The unique seq is the last guard either way."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])


def changes(before: dict, after: dict) -> dict:
    """{field: {"old": ..., "new": ...}} for every field whose value differs."""
    return {
        name: {"old": before.get(name), "new": after.get(name)}
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }


def fields_of(row: object, names: list[str] | tuple[str, ...]) -> dict:
    return {name: getattr(row, name) for name in names}


@contextlib.contextmanager
def acting_from_command() -> Iterator[None]:
    """Entries written by a management command: via "command", attributed to the operating
    system's user who ran it (there is no signed-in user)."""
    try:
        who = getpass.getuser()
    except Exception:  # no name for this uid (a container): the command is still recorded
        who = ""
    with audit.acting_as(audit.Acting(via=audit.VIA_COMMAND, username=who)):
        yield


@contextlib.contextmanager
def acting_for_worker(*, user: AbstractBaseUser | None) -> Iterator[None]:
    """Entries written by a worker: by the user who queued the job, if known."""
    with audit.acting_as(audit.Acting(via=audit.VIA_WORKER, user=lambda: user)):
        yield


def signed_in(sender, request, user, **kwargs) -> None:
    audit_record(action="account.signed_in", user=user, target=user)


def signed_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(action="account.signed_out", user=user, target=user)


# What a failed sign-in's entry keeps of the credentials, beside the name tried: how it was
# tried and why it failed. Only these: a password, a code, a token or a secret never is.
_SIGN_IN_KEPT = ("method", "issuer", "subject", "reason")


def sign_in_failed(sender, credentials: dict, request=None, **kwargs) -> None:
    # Django has already masked the password in `credentials`; it is dropped all the same.
    tried = str(credentials.get("username", ""))[:150]
    details = {
        name: str(credentials[name])[:500]
        for name in _SIGN_IN_KEPT
        if credentials.get(name) not in (None, "")
    }
    if "method" not in details and "password" in credentials:
        # Django's authenticate() for the login form (or any password backend): a password was
        # tried. Its masked value is not kept, only that it was the method.
        details["method"] = "password"
    audit_record(action="account.sign_in_failed", user=None, username=tried, details=details)
