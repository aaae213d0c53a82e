"""When a rater is due a reminder: pure rules over one rater's session counts, no Django.

A rater has stalled when work remains in a session open to them and nothing was submitted for
`stall_days`. The clock starts at the latest of: when they got their work (the study opened,
they joined later, or work was handed on to them), their last submit, and when their current
session opened after its washout; a rater waiting out a washout has nothing to do, so is never
reminded.
"""

import dataclasses
import datetime
from collections.abc import Sequence

from annotation.core.sessions import SessionCount, gate_of


@dataclasses.dataclass(frozen=True)
class Stall:
    """A rater due a reminder: since when they have been idle, and the reminder's number in
    this idle spell (1 once `stall_days` have passed, 2 after twice that, ...)."""

    since: datetime.datetime
    number: int
    remaining: int

    @property
    def occasion(self) -> str:
        """What makes this reminder unique: one per stall interval of one idle spell."""
        return f"{self.since.isoformat()}#{self.number}"

    def idle_days(self, now: datetime.datetime) -> int:
        return (now - self.since).days


def stall_of(
    counts: Sequence[SessionCount],
    *,
    washout_days: int,
    started_at: datetime.datetime,
    stall_days: int,
    now: datetime.datetime,
) -> Stall | None:
    """The rater's stall if they are due a reminder now; None if not (no work left, their
    next session not open yet, or not idle for `stall_days`)."""
    remaining = sum(c.total - c.done for c in counts)
    if remaining <= 0 or stall_days < 1:
        return None
    current = min(c.session for c in counts if c.done < c.total)
    gate = gate_of(counts, current, washout_days=washout_days)
    if not gate.is_open(now):
        return None
    moments = [started_at, gate.opens_at, *(c.last_submit for c in counts)]
    since = max(moment for moment in moments if moment is not None)
    number = int((now - since) / datetime.timedelta(days=stall_days))
    if number < 1:
        return None
    return Stall(since=since, number=number, remaining=remaining)
