"""Reading sessions as a rater meets them: whether the session of an item is open, and what the
rater's list says of a session still to come. The rule is annotation.core.sessions'; here are
the reads it needs. Nothing here says why an item is in a later session."""

import dataclasses
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, Q
from django.utils import formats, timezone
from django.utils.translation import gettext, ngettext

from annotation.core.sessions import SessionCount, SessionGate, gate_of, next_closed
from annotation.models import Assignment, Membership, Study


@dataclass(frozen=True)
class SessionWait:
    """A rater's next session that is not open yet, as their list shows it."""

    session: int
    items: int
    opens_at: object  # datetime, or None while the session before is unfinished
    after_days: int  # the washout, counted from the rater's last answer in the session before

    @property
    def previous(self) -> int:
        return self.session - 1


@dataclass(frozen=True)
class SessionProgress:
    """One rater's session as the admin's dashboard shows it."""

    session: int
    total: int
    done: int
    is_open: bool  # False before it opens, and in a crossover once finished (closed)
    opens_at: object  # datetime; None when open from the start or waiting for the one before


def study_session_progress(*, study: Study) -> dict[int, list[SessionProgress]]:
    """Each rater's sessions, by rater id, when some rater has more than one. One query."""
    rows = (
        Assignment.objects.filter(study=study)
        .values("rater_id", "session")
        .annotate(
            total=Count("pk"),
            done=Count("pk", filter=Q(submitted_at__isnull=False)),
            last=Max("submitted_at"),
        )
        .order_by("rater_id", "session")
    )
    counts: dict[int, list[SessionCount]] = {}
    for r in rows:
        counts.setdefault(r["rater_id"], []).append(
            SessionCount(r["session"], r["total"], r["done"], r["last"])
        )
    if all(len(mine) < 2 for mine in counts.values()):
        return {}
    now, crossover = timezone.now(), closes_on_finish(study)
    return {
        rater: _progress(mine, study.washout_days, now, crossover=crossover)
        for rater, mine in counts.items()
    }


def _progress(
    counts: list[SessionCount], washout_days: int, now, *, crossover: bool
) -> list[SessionProgress]:
    """Each session's progress; in a crossover a finished session is closed (not open)."""
    found = []
    for count in counts:
        gate = gate_of(counts, count.session, washout_days=washout_days)
        if crossover and count.done == count.total:
            gate = dataclasses.replace(gate, done_at=count.last_submit, closes_on_finish=True)
        found.append(
            SessionProgress(
                count.session, count.total, count.done, gate.is_open(now), gate.opens_at
            )
        )
    return found


def raters_closed_to_session_one(study: Study) -> set[str]:
    """The pseudonyms of raters with a later session who are done with session 1 (their washout
    runs) or have started a later one: a new session-1 item would shut that session again and
    restart the washout, so no work moves to them. One query."""
    later = Q(session__gt=1)
    started = Q(first_opened_at__isnull=False) | Q(submitted_at__isnull=False)
    rows = (
        Assignment.objects.filter(study=study)
        .values("rater_id")
        .annotate(
            later=Count("pk", filter=later),
            later_started=Count("pk", filter=later & started),
            first_open=Count("pk", filter=Q(session=1, submitted_at__isnull=True)),
        )
        .filter(later__gt=0)
        .filter(Q(later_started__gt=0) | Q(first_open=0))
        .values_list("rater_id", flat=True)
    )
    return set(study.memberships.filter(user_id__in=rows).values_list("pseudonym", flat=True))


def rater_session_counts(*, rater_id: int, study_id: int) -> list[SessionCount]:
    """Each of the rater's sessions in the study: items, submitted, last submit. One query."""
    rows = (
        Assignment.objects.filter(study_id=study_id, rater_id=rater_id)
        .values("session")
        .annotate(
            total=Count("pk"),
            done=Count("pk", filter=Q(submitted_at__isnull=False)),
            last=Max("submitted_at"),
        )
        .order_by("session")
    )
    return [SessionCount(r["session"], r["total"], r["done"], r["last"]) for r in rows]


def rater_session_gate(*, assignment: Assignment) -> SessionGate:
    """Whether the assignment's session is open to its rater: no query for an unsubmitted item
    of session 1, one for a later session. A submitted item can close: in a crossover once the
    rater finished its session, otherwise if it is read again in the next session, once that
    session opens (one query more to find the re-read)."""
    study = assignment.study
    washout = study.washout_days
    crossover = closes_on_finish(study)
    closes = assignment.submitted_at is not None and (crossover or _has_reread(assignment))
    if assignment.session <= 1 and not closes:
        return SessionGate(session=assignment.session, washout_days=washout)
    counts = rater_session_counts(rater_id=assignment.rater_id, study_id=assignment.study_id)
    gate = gate_of(counts, assignment.session, washout_days=washout)
    if not closes:
        return gate
    done_at = gate_of(counts, assignment.session + 1, washout_days=washout).previous_done_at
    return dataclasses.replace(gate, done_at=done_at, closes_on_finish=crossover)


def closes_on_finish(study: Study) -> bool:
    """Whether a study's reads close as soon as their reader finishes the session: a crossover,
    where every case comes back in another arm (core.sessions)."""
    return study.reading_layout == Study.ReadingLayout.CROSSOVER


def _has_reread(assignment: Assignment) -> bool:
    return Assignment.objects.filter(
        repeat_of_id=assignment.pk, kind=Assignment.Kind.RETEST
    ).exists()


def rater_session_wait(*, user: AbstractBaseUser, study: Study) -> SessionWait | None:
    """The rater's first session in the study that is not open yet; None if all are."""
    counts = rater_session_counts(rater_id=user.pk, study_id=study.pk)
    found = next_closed(counts, washout_days=study.washout_days, now=timezone.now())
    if found is None:
        return None
    gate, items = found
    return SessionWait(gate.session, items, gate.opens_at, study.washout_days)


def session_closed_message(gate: SessionGate) -> str:
    """Why an item of a session that is not open cannot be read or answered (yet, or any more),
    in the rater's language. A closed item's message says only that its session is over: not
    that it is read again."""
    if gate.is_closed(timezone.now()):
        if gate.closes_on_finish:
            message = gettext(
                "Answers of session %(session)s are closed now that you have finished it: "
                "they can no longer be read or changed."
            )
            return message % {"session": gate.session}
        message = gettext(
            "Answers of session %(session)s are closed now that session %(next)s has begun: "
            "they can no longer be read or changed."
        )
        return message % {"session": gate.session, "next": gate.session + 1}
    if gate.opens_at is None:
        return opens_after(gate)
    message = gettext("Session %(session)s is not open yet: it opens on %(when)s.")
    return message % {"session": gate.session, "when": when(gate.opens_at)}


def opens_after(gate: SessionGate) -> str:
    """Why a session is not open, said before the session before it is finished."""
    values = {"session": gate.session, "previous": gate.session - 1, "days": gate.washout_days}
    if not gate.washout_days:
        message = gettext(
            "Session %(session)s is not open yet: it opens as soon as you finish session "
            "%(previous)s."
        )
        return message % values
    message = ngettext(
        "Session %(session)s is not open yet: it opens %(days)s day after you finish session "
        "%(previous)s.",
        "Session %(session)s is not open yet: it opens %(days)s days after you finish session "
        "%(previous)s.",
        gate.washout_days,
    )
    return message % values


def when(moment) -> str:
    """A date and time as raters read them, in the site's time zone and the rater's locale."""
    local = timezone.localtime(moment)
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} ({local.tzname()})"


def raters_stopped(study: Study) -> set[str]:
    """The pseudonyms of raters who take no one else's work and no adaptive extra item: those
    whose own work an admin handed on (they stopped), and those who withdrew their consent."""
    stopped = study.memberships.filter(role=Membership.Role.RATER).filter(
        Q(reassigned_at__isnull=False) | Q(withdrawn_at__isnull=False)
    )
    return set(stopped.values_list("pseudonym", flat=True))
