"""When a rater is due a reminder (annotation.core.reminders): pure rules, explicit "now"."""

from datetime import UTC, datetime, timedelta

from annotation.core.reminders import stall_of
from annotation.core.sessions import SessionCount

OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def due(counts, now, *, stall_days=3, washout_days=0, started_at=OPENED):
    return stall_of(
        counts, washout_days=washout_days, started_at=started_at, stall_days=stall_days, now=now
    )


def test_a_rater_who_never_submitted_is_due_once_the_stall_days_have_passed():
    counts = [SessionCount(1, total=10, done=0)]
    assert due(counts, OPENED + timedelta(days=2, hours=23)) is None
    stall = due(counts, OPENED + timedelta(days=3))
    assert (stall.since, stall.number, stall.remaining) == (OPENED, 1, 10)


def test_each_further_interval_is_a_new_reminder_and_the_same_interval_is_the_same():
    counts = [SessionCount(1, total=10, done=0)]
    first = due(counts, OPENED + timedelta(days=3, hours=1))
    same = due(counts, OPENED + timedelta(days=5, hours=23))
    second = due(counts, OPENED + timedelta(days=6))
    assert first.occasion == same.occasion != second.occasion
    assert second.number == 2


def test_the_clock_starts_again_at_the_last_submit():
    last = OPENED + timedelta(days=4)
    counts = [SessionCount(1, total=10, done=4, last_submit=last)]
    assert due(counts, last + timedelta(days=2)) is None
    stall = due(counts, last + timedelta(days=3))
    assert (stall.since, stall.remaining) == (last, 6)


def test_a_rater_with_no_work_left_is_never_due():
    counts = [SessionCount(1, total=10, done=10, last_submit=OPENED)]
    assert due(counts, OPENED + timedelta(days=30)) is None
    assert due([], OPENED + timedelta(days=30)) is None


def test_a_rater_waiting_out_a_washout_is_not_due_until_the_session_has_been_open_long_enough():
    finished = OPENED + timedelta(days=1)
    counts = [SessionCount(1, 5, 5, finished), SessionCount(2, 5, 0)]
    opens = finished + timedelta(days=14)
    assert due(counts, opens - timedelta(hours=1), washout_days=14) is None
    assert due(counts, opens + timedelta(days=2), washout_days=14) is None
    stall = due(counts, opens + timedelta(days=3), washout_days=14)
    assert (stall.since, stall.remaining) == (opens, 5)


def test_a_rater_who_joined_late_counts_from_joining():
    joined = OPENED + timedelta(days=10)
    counts = [SessionCount(1, total=4, done=0)]
    assert due(counts, joined + timedelta(days=1), started_at=joined) is None
    assert due(counts, joined + timedelta(days=3), started_at=joined).since == joined
