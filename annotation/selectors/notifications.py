"""Reads for reminders and notices: who has stalled, whether every rater has finished, which
jobs failed, whom to tell, and what was sent (the dashboard's list)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery

from annotation.core.reminders import Stall, stall_of
from annotation.core.sessions import SessionCount
from annotation.models import (
    Assignment,
    Membership,
    Notification,
    PendingAssignments,
    Study,
    TaskRun,
)

# A failed job is told about if it failed this recently (or within two beats, if longer): the
# first beat after an upgrade does not mail every failure in the database's history, and a day
# is many beats to retry a send.
JOB_FAILED_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class StalledRater:
    rater: AbstractBaseUser
    pseudonym: str
    stall: Stall


def studies_reminding() -> QuerySet[Study]:
    """Studies whose stalled raters are reminded: open (a draft has no work yet; a locked or
    archived study takes no more answers), with reminders on."""
    return Study.objects.filter(status=Study.Status.OPEN, reminders_enabled=True)


def studies_noticing_finish() -> QuerySet[Study]:
    """Open studies whose admins want notices: the ones whose raters may finish."""
    return Study.objects.filter(status=Study.Status.OPEN, admin_notices_enabled=True)


def study_raters_stalled(*, study: Study, now: datetime) -> list[StalledRater]:
    """The study's raters due a reminder now. Only current raters count: a removed rater has
    no membership, and a rater who withdrew consent is asked for no more work, so neither is
    reminded. Three queries, whatever the number of raters."""
    memberships = _raters_at_work(study).select_related("user")
    counts = _session_counts(study)
    found = []
    for membership in memberships:
        moments = (study.opened_at, membership.joined_at, membership.work_given_at)
        started_at = max(moment for moment in moments if moment)
        stall = stall_of(
            counts.get(membership.user_id, []),
            washout_days=study.washout_days,
            started_at=started_at,
            stall_days=study.reminder_stall_days,
            now=now,
        )
        if stall is not None:
            found.append(StalledRater(membership.user, membership.pseudonym, stall))
    return found


def _session_counts(study: Study) -> dict[int, list[SessionCount]]:
    # Items left are counted as the rater's home page counts them (selectors.rater): training
    # apart. A training submit is still activity, so it counts as a last submit.
    counted = ~Q(kind=Assignment.Kind.TRAINING)
    rows = (
        Assignment.objects.filter(study=study)
        .values("rater_id", "session")
        .annotate(
            total=Count("pk", filter=counted),
            done=Count("pk", filter=counted & Q(submitted_at__isnull=False)),
            last=Max("submitted_at"),
        )
        .order_by("rater_id", "session")
    )
    counts: dict[int, list[SessionCount]] = defaultdict(list)
    for r in rows:
        counts[r["rater_id"]].append(SessionCount(r["session"], r["total"], r["done"], r["last"]))
    counts.update(_pending_counts(study))
    return counts


def _pending_counts(study: Study) -> dict[int, list[SessionCount]]:
    """The sessions of the raters whose assignments an opening left to write, from their
    pending rows: all still to do (their reminder's link writes them)."""
    counts = {}
    for pending in PendingAssignments.objects.filter(study=study).iterator():
        totals: dict[int, int] = defaultdict(int)
        for _, _, kind, _, _, session in pending.unpack():
            totals[session] += kind != Assignment.Kind.TRAINING
        counts[pending.rater_id] = [SessionCount(s, n, 0) for s, n in sorted(totals.items())]
    return counts


def rater_reminded_since(*, study: Study, rater: AbstractBaseUser, since: datetime) -> bool:
    """Whether a reminder to the rater in this study went out after `since` (by the beat's
    clock, when it was claimed)."""
    return Notification.objects.filter(
        study=study,
        recipient=rater,
        kind=Notification.Kind.STALLED,
        status=Notification.Status.SENT,
        attempted_at__gt=since,
    ).exists()


def _raters_at_work(study: Study) -> QuerySet[Membership]:
    return study.memberships.filter(role=Membership.Role.RATER, withdrawn_at__isnull=True)


def study_raters_finished(*, study: Study) -> bool:
    """Whether the study's raters have all submitted every item they were given (and were
    given some). A rater who withdrew has no work left, so their unrated items do not hold
    the notice back."""
    raters = _raters_at_work(study).values("user_id")
    if PendingAssignments.objects.filter(study=study, rater_id__in=raters).exists():
        return False  # some have not even been given theirs yet
    theirs = Assignment.objects.filter(study=study, rater_id__in=raters)
    return theirs.exists() and not theirs.filter(submitted_at__isnull=True).exists()


def study_admins(*, study: Study) -> list[AbstractBaseUser]:
    memberships = study.memberships.filter(role=Membership.Role.ADMIN).select_related("user")
    return [m.user for m in memberships.order_by("user__username")]


def task_runs_failed_recently(*, now: datetime) -> QuerySet[TaskRun]:
    """Jobs that failed within JOB_FAILED_WINDOW, in studies whose admins want notices."""
    window = max(JOB_FAILED_WINDOW, timedelta(seconds=2 * settings.NOTIFICATIONS_BEAT_SECONDS))
    return TaskRun.objects.filter(
        status=TaskRun.Status.FAILED,
        finished_at__gte=now - window,
        study__admin_notices_enabled=True,
    ).select_related("study")


@dataclass(frozen=True)
class NotificationLine:
    """One sent (or failed) e-mail as the dashboard lists it: a rater by pseudonym."""

    notification: Notification
    recipient: str


def study_notifications(*, study: Study, limit: int = 20) -> list[NotificationLine]:
    """The study's latest e-mails, newest first: raters named by pseudonym, admins by name.
    One query (the dashboard's count of queries is pinned)."""
    rater = study.memberships.filter(role=Membership.Role.RATER, user=OuterRef("recipient_id"))
    rows = study.notifications.select_related("recipient").annotate(
        pseudonym=Subquery(rater.values("pseudonym")[:1])
    )
    return [
        NotificationLine(row, row.pseudonym or row.recipient.get_username()) for row in rows[:limit]
    ]
