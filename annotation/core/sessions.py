"""Reading sessions: when a rater's later session opens. Plain data, no Django.

A rater's items are read in sessions, numbered from 1. The first is open from the start. A
later one opens once the rater has submitted every item of the session before AND the study's
washout has passed since their last submit in it. The rule knows nothing of why an item sits
in a later session (a re-read after a washout, or the other arm of a crossover), so any kind of
assignment can use it.

A finished session's items can also close, so that a later reading is not compared with (or
brought into line with) answers the rater can still look up: an item read again in the next
session closes when that session opens; in a crossover, where every case comes back in another
arm, every item closes as soon as the rater finishes its session (`closes_on_finish`).
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SessionGate:
    """Whether one session of one rater is open."""

    session: int
    washout_days: int
    # The rater's last submit in the session before, once every item of it is submitted; None
    # while some are not (or for session 1, which waits for nothing).
    previous_done_at: datetime.datetime | None = None
    # For an item the rater reads again in the next session: their last submit in this session,
    # once every item of it is submitted. The next session opens a washout later, and from then
    # on this item's answers are closed, so that the re-read is compared with answers the rater
    # could not look up or change. None for any other item.
    done_at: datetime.datetime | None = None
    # Crossover: the item closes at `done_at` itself, not a washout later; the rater then waits
    # out the washout with none of the session's answers (or the outputs beside them) to read.
    closes_on_finish: bool = False

    @property
    def opens_at(self) -> datetime.datetime | None:
        """When the session opens; None for the first, or while the one before is unfinished."""
        if self.session <= 1 or self.previous_done_at is None:
            return None
        return self.previous_done_at + datetime.timedelta(days=self.washout_days)

    @property
    def closes_at(self) -> datetime.datetime | None:
        """When this item closes: as the rater finishes its session (closes_on_finish), or when
        the next session opens; None if it never closes."""
        if self.done_at is None:
            return None
        if self.closes_on_finish:
            return self.done_at
        return self.done_at + datetime.timedelta(days=self.washout_days)

    def is_closed(self, now: datetime.datetime) -> bool:
        """Whether this item has closed (closes_at has passed)."""
        closes_at = self.closes_at
        return closes_at is not None and now >= closes_at

    def is_open(self, now: datetime.datetime) -> bool:
        if self.is_closed(now):
            return False
        if self.session <= 1:
            return True
        opens_at = self.opens_at
        return opens_at is not None and now >= opens_at


@dataclass(frozen=True)
class SessionCount:
    """One session of one rater's: how many items, how many submitted, and when the last was."""

    session: int
    total: int
    done: int
    last_submit: datetime.datetime | None = None


def gate_of(counts: Sequence[SessionCount], session: int, *, washout_days: int) -> SessionGate:
    """The gate of `session`, from the rater's counts of every session."""
    before = next((c for c in counts if c.session == session - 1), None)
    finished = before is not None and before.done == before.total
    done_at = before.last_submit if finished else None
    return SessionGate(session=session, washout_days=washout_days, previous_done_at=done_at)


def next_closed(
    counts: Sequence[SessionCount], *, washout_days: int, now: datetime.datetime
) -> tuple[SessionGate, int] | None:
    """The rater's first session that is not open yet, with how many items it holds; None
    when every session is open."""
    for count in sorted(counts, key=lambda c: c.session):
        gate = gate_of(counts, count.session, washout_days=washout_days)
        if not gate.is_open(now):
            return gate, count.total
    return None
