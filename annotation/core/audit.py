"""The audit trail's hash chain, as plain Python: the canonical form of an entry, its hash, and
the check of a whole chain. An auditor can read this module (and docs/audit.md) and recompute
every hash without the app.

Also who is acting: a context variable that the web middleware, the Celery tasks and the
management commands set, and that `services.audit_record` reads, so that no service needs a
`user=` argument only to say who called it.
"""

import contextlib
import contextvars
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

# The hash of "no previous entry": what the first entry's prev_hash holds.
GENESIS_HASH = "0" * 64

# Every field an entry's hash covers, in the order docs/audit.md lists them. The canonical JSON
# sorts keys anyway; the tuple is what says which fields there are.
CHAINED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_username",
    "via",
    "address",
    "action",
    "study_id",
    "study_title",
    "object_type",
    "object_id",
    "details",
    "prev_hash",
)

# How an actor acted.
VIA_WEB = "web"
VIA_API = "api"
VIA_WORKER = "worker"
VIA_COMMAND = "command"
VIA_SYSTEM = "system"
VIAS = (VIA_WEB, VIA_API, VIA_WORKER, VIA_COMMAND, VIA_SYSTEM)


def format_time(at: datetime) -> str:
    """A time as the chain writes it: UTC, microseconds, a trailing Z
    (2026-12-06T15:04:05.123456Z)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def plain_details(value: object) -> object:
    """`details` made of JSON types that every language reads and writes the same way: objects
    with string keys, arrays, strings, whole numbers, booleans and null. A number with a
    fraction becomes its shortest decimal string (0.05 -> "0.05"), a date or time its ISO text,
    anything else its str(); a NUL character is dropped (PostgreSQL cannot store it)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, dict):
        return {str(key): plain_details(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain_details(item) for item in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def canonical(entry: dict) -> bytes:
    """The bytes an entry's hash is taken over: a JSON object of exactly CHAINED_FIELDS
    (`at` as format_time writes it), keys sorted, no whitespace, non-ASCII characters as
    themselves, in UTF-8."""
    fields = {name: entry[name] for name in CHAINED_FIELDS}
    if isinstance(fields["at"], datetime):
        fields["at"] = format_time(fields["at"])
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def entry_hash(entry: dict) -> str:
    """SHA-256 of the canonical form, as 64 lower-case hex digits."""
    return hashlib.sha256(canonical(entry)).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    what: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.what}"


def chain_problems(entries: Iterable[dict], *, after: dict | None = None) -> Iterator[ChainProblem]:
    """Walk entries in the order they are stored (by seq) and say what is wrong, first problem
    first: a gap in seq (an entry deleted), a seq out of order, a hash that does not match the
    entry (changed), a prev_hash that is not the previous entry's hash (deleted, inserted or
    reordered). `after`: the entry before the first one given (a check that starts midway)."""
    previous = after
    for entry in entries:
        seq = entry["seq"]
        expected_seq = previous["seq"] + 1 if previous else 1
        if seq != expected_seq:
            missing = "missing" if seq > expected_seq else "out of order"
            yield ChainProblem(seq, f"expected seq {expected_seq}, found {seq} ({missing})")
        if entry_hash(entry) != entry["hash"]:
            yield ChainProblem(seq, "its hash does not match its contents (changed)")
        expected_prev = previous["hash"] if previous else GENESIS_HASH
        if entry["prev_hash"] != expected_prev:
            yield ChainProblem(
                seq, "its prev_hash is not the previous entry's hash (deleted or reordered)"
            )
        previous = entry


@dataclass(frozen=True)
class Acting:
    """Who is acting now. `user` is called when an entry is written (the API authenticates
    inside the view, after the middleware has set this): a user object, or None."""

    via: str = VIA_SYSTEM
    address: str = ""
    user: Callable[[], object | None] = lambda: None
    username: str = ""  # when there is no user object: the operating-system user of a command


_NOBODY = Acting()
_acting: contextvars.ContextVar[Acting] = contextvars.ContextVar("audit_acting")


def acting_now() -> Acting:
    """Who is acting: the `system` when nothing has said."""
    return _acting.get(_NOBODY)


@contextlib.contextmanager
def acting_as(acting: Acting) -> Iterator[None]:
    token = _acting.set(acting)
    try:
        yield
    finally:
        _acting.reset(token)


# The log page's table shows at most this many characters of a value (around the first change);
# a disclosure beside it holds both values whole, as the exports do.
SHOWN_CHARS = 300
# How much of what old and new share is shown before the first difference.
SHOWN_BEFORE_CHANGE = 60


def shown_change(old: str, new: str, *, limit: int = SHOWN_CHARS) -> tuple[str, str]:
    """Old and new value cut to `limit` characters for the page, from a little before their first
    difference: two long texts that share their start still show what changed. "…" marks a cut."""
    if len(old) <= limit and len(new) <= limit:
        return old, new
    same = 0
    for a, b in zip(old, new, strict=False):
        if a != b:
            break
        same += 1
    start = max(0, same - SHOWN_BEFORE_CHANGE)
    return _cut(old, start, limit), _cut(new, start, limit)


def shown_value(value: str, *, limit: int = SHOWN_CHARS) -> str:
    return _cut(value, 0, limit)


def _cut(value: str, start: int, limit: int) -> str:
    if start == 0 and len(value) <= limit:
        return value
    head = "…" if start else ""
    body = value[start : start + limit - len(head)]
    tail = "…" if start + len(body) < len(value) else ""
    if tail:
        body = body[: len(body) - 1]
    return head + body + tail
