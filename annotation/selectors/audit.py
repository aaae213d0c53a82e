"""Reading the audit trail: a study's entries for its admins, the whole log for staff, the rows
its CSV and JSON exports hold, and the walk along the chain that `manage.py verify_audit` makes."""

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from annotation.core import audit
from annotation.models import AuditEvent, Membership, Study

# The columns of an export, in order (docs/audit.md describes each): every chained field, then
# the entry's own hash.
AUDIT_COLUMNS = [*audit.CHAINED_FIELDS, "hash"]

# How many entries the chain walk reads at once.
CHAIN_CHUNK = 2000


def audit_study_access(*, user, study_token: str) -> tuple[Study | None, str]:
    """The study and the caller's role in it ("admin", "rater", ...), or (None, "") when the
    caller is not a member (the page then says the study does not exist)."""
    membership = (
        Membership.objects.filter(user=user, study__token=study_token)
        .select_related("study")
        .first()
    )
    if membership is None:
        return None, ""
    return membership.study, membership.role


def audit_events(
    *, study_id: int | None = None, action: str = "", username: str = ""
) -> QuerySet[AuditEvent]:
    """Entries newest first: of one study (`study_id`), or all; filtered by action code and by
    the acting user's name (exact)."""
    events = AuditEvent.objects.order_by("-seq")
    if study_id is not None:
        events = events.filter(study_id=study_id)
    if action:
        events = events.filter(action=action)
    if username:
        events = events.filter(actor_username=username)
    return events


# The user filter lists at most this many names; past it, the page asks for a name instead.
FILTER_NAMES_MAX = 500


def audit_filter_choices(*, study_id: int | None = None) -> tuple[list[str], list[str] | None]:
    """The action codes and user names that occur (in a study, or anywhere), for the filters;
    the names are None when there are more than FILTER_NAMES_MAX of them. Each is one
    SELECT DISTINCT, not a read of every entry. A name typed at a failed sign-in and nowhere
    else is not listed: it names no account, and may be a password typed in the wrong box (the
    exports and a typed ?user= still find it)."""
    events = AuditEvent.objects.order_by()
    if study_id is not None:
        events = events.filter(study_id=study_id)
    actions = list(events.values_list("action", flat=True).order_by("action").distinct())
    names = list(
        events.exclude(actor_username="")
        .exclude(action="account.sign_in_failed", actor__isnull=True)
        .values_list("actor_username", flat=True)
        .order_by("actor_username")
        .distinct()[: FILTER_NAMES_MAX + 1]
    )
    return actions, (names if len(names) <= FILTER_NAMES_MAX else None)


def audit_rows(events: QuerySet[AuditEvent]) -> Iterator[dict]:
    """Export rows: every chained field, `at` as the chain writes it, and the entry's hash."""
    for values in events.values(*AUDIT_COLUMNS).iterator(chunk_size=CHAIN_CHUNK):
        yield {**values, "at": audit.format_time(values["at"])}


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head_hash: str
    head_seq: int
    problems: list[audit.ChainProblem]


def audit_chain_check(*, since: int = 1, stop_after: int = 20) -> ChainReport:
    """Recompute every hash from entry `since` on and check the links; at most `stop_after`
    problems are kept, the first first; the walk goes on to the end to count the entries."""
    fields = [*audit.CHAINED_FIELDS, "hash"]
    after = None
    if since > 1:
        after = AuditEvent.objects.filter(seq__lt=since).order_by("-seq").values(*fields).first()
    rows = AuditEvent.objects.filter(seq__gte=since).order_by("seq").values(*fields)
    problems: list[audit.ChainProblem] = []
    count, head = 0, after

    def walked() -> Iterator[dict]:
        nonlocal count, head
        for row in rows.iterator(chunk_size=CHAIN_CHUNK):
            count += 1
            head = row
            yield row

    for problem in audit.chain_problems(walked(), after=after):
        if len(problems) < stop_after:
            problems.append(problem)
    return ChainReport(
        entries=count,
        head_hash=head["hash"] if head else audit.GENESIS_HASH,
        head_seq=head["seq"] if head else 0,
        problems=problems,
    )


def audit_head() -> tuple[int, str]:
    """The newest entry's seq and hash ((0, the genesis hash) for an empty log)."""
    newest = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
    return (newest["seq"], newest["hash"]) if newest else (0, audit.GENESIS_HASH)
