"""Reminders to stalled raters and notices to study admins, e-mailed by the worker's beat.

Each e-mail is first claimed as a Notification row under its unique occasion, committed, and
only then sent: a second beat or worker looking at the same moment finds the row and sends
nothing, so a reminder goes at most once per interval and a notice once per finish or per
failed job. A send that fails is recorded on the row and tried again at the next beat; nothing
here lets one bad address or mail server stop the others.
"""

import logging
import smtplib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from annotation.models import Notification, Study, TaskRun
from annotation.selectors.notifications import (
    StalledRater,
    rater_reminded_since,
    studies_noticing_finish,
    studies_reminding,
    study_admins,
    study_raters_finished,
    study_raters_stalled,
    task_runs_failed_recently,
)
from annotation.selectors.preferences import user_language
from annotation.services.audit import audit_record, changes, fields_of

logger = logging.getLogger(__name__)

# A row left "sending" this long (its worker died mid-send) may be claimed and sent again: a
# rare second e-mail is better than a reminder lost for good. Longer than the beat's task may
# live (its hard time limit, counted from the same `now`), so a slow send still under way is
# never taken over and sent twice.
SENDING_LEASE = timedelta(seconds=settings.NOTIFICATIONS_TIME_LIMIT_SECONDS + 300)


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


@dataclass
class NotificationTally:
    """What one beat did: e-mails sent and failed (the failed ones are tried again)."""

    sent: int = 0
    failed: int = 0

    def add(self, status: str | None) -> None:
        if status == Notification.Status.SENT:
            self.sent += 1
        elif status == Notification.Status.FAILED:
            self.failed += 1


def notifications_send_due(*, now: datetime | None = None) -> NotificationTally:
    """The beat's work: every reminder and notice due at `now` (default: now), each sent once."""
    now = now or timezone.now()
    tally = NotificationTally()
    for study in studies_reminding():
        _guarded(study, lambda s: _remind_stalled(s, now, tally))
    for study in studies_noticing_finish():
        _guarded(study, lambda s: _notice_finished(s, now, tally))
    for run in task_runs_failed_recently(now=now):
        _guarded(run.study, lambda s, run=run: _notice_job_failed(s, run, now, tally))
    return tally


def _time_up() -> tuple[type[BaseException], ...]:
    """Celery's soft time limit (the beat's task is out of time), to be let through: raised
    only in a worker, which has loaded Celery. Elsewhere nothing, and Celery is not loaded for
    it: the web process imports this module with the other services (issue 22)."""
    loaded = sys.modules.get("celery.exceptions")
    return (loaded.SoftTimeLimitExceeded,) if loaded is not None else ()


def _guarded(study: Study, work: Callable[[Study], None]) -> None:
    # One study's unexpected error (a bad row, a bug) must not keep the others' e-mails back.
    try:
        work(study)
    except _time_up():
        raise  # the beat's time is up: stop, the rest goes at the next beat
    except Exception:
        logger.exception(
            "notifications for study %s failed; trying again at the next beat", study.pk
        )


def _remind_stalled(study: Study, now: datetime, tally: NotificationTally) -> None:
    # The occasion's number depends on the stall days: after they change, a new occasion may
    # fall due soon after the last reminder. The e-mail promises at most one per interval.
    interval = timedelta(days=study.reminder_stall_days)
    for stalled in study_raters_stalled(study=study, now=now):
        if rater_reminded_since(study=study, rater=stalled.rater, since=now - interval):
            continue
        mail = _stalled_mail(study, stalled, now)
        tally.add(
            _deliver(
                study, stalled.rater, Notification.Kind.STALLED, stalled.stall.occasion, mail, now
            )
        )


def _notice_finished(study: Study, now: datetime, tally: NotificationTally) -> None:
    if not study_raters_finished(study=study):
        return
    # The manifest the raters finished: raters who join later and finish again are news again.
    occasion = study.manifest_hash or "finished"
    mail = _finished_mail(study)
    for admin in study_admins(study=study):
        tally.add(_deliver(study, admin, Notification.Kind.FINISHED, occasion, mail, now))


def _notice_job_failed(study: Study, run: TaskRun, now: datetime, tally: NotificationTally) -> None:
    mail = _job_failed_mail(study, run)
    for admin in study_admins(study=study):
        tally.add(
            _deliver(study, admin, Notification.Kind.JOB_FAILED, str(run.pk), mail, now, run=run)
        )


def _deliver(
    study: Study,
    recipient: AbstractBaseUser,
    kind: str,
    occasion: str,
    mail: Mail,
    now: datetime,
    run: TaskRun | None = None,
) -> str | None:
    """Claim the occasion and send; the row's status after, or None if it was not ours."""
    note = _claim(study, recipient, kind, occasion, now, run)
    if note is None:
        return None
    try:
        error = _send(recipient, mail)
    except _time_up():
        # Recorded as failed, so the next beat tries it again without waiting out the lease.
        _record(note, "The mail server took too long; tried again at the next check.")
        raise
    _record(note, error)
    return note.status


def _record(note: Notification, error: str) -> None:
    note.status = Notification.Status.FAILED if error else Notification.Status.SENT
    note.error = error
    note.sent_at = None if error else timezone.now()
    note.save(update_fields=["status", "error", "sent_at"])


def _claim(
    study: Study,
    recipient: AbstractBaseUser,
    kind: str,
    occasion: str,
    now: datetime,
    run: TaskRun | None,
) -> Notification | None:
    """The occasion's row, now ours to send: new, or failed before (or left sending by a dead
    worker). None when it was sent or another worker is sending it."""
    key = {"study": study, "recipient": recipient, "kind": kind, "occasion": occasion}
    try:
        with transaction.atomic():
            return Notification.objects.create(**key, task_run=run, attempted_at=now)
    except IntegrityError:
        pass  # the occasion has a row: take it only if its last try failed or was abandoned
    claimable = Q(status=Notification.Status.FAILED) | Q(
        status=Notification.Status.SENDING, attempted_at__lt=now - SENDING_LEASE
    )
    rows = Notification.objects.filter(claimable, **key)
    claimed = rows.update(
        status=Notification.Status.SENDING, attempted_at=now, attempts=F("attempts") + 1
    )
    return Notification.objects.get(**key) if claimed else None


def _send(recipient: AbstractBaseUser, mail: Mail) -> str:
    """Send one e-mail; "" if it went, else why not in words that name no host or port."""
    address = (getattr(recipient, "email", "") or "").strip()
    if not address:
        return "The account has no e-mail address."
    try:
        send_mail(mail.subject, mail.body, from_email=None, recipient_list=[address])
    except smtplib.SMTPRecipientsRefused:
        return "The mail server refused the address."
    except _time_up():
        raise  # not a failure of this e-mail: the beat's time is up (_deliver)
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("notification e-mail to user %s failed: %r", recipient.pk, exc)
        return "The mail server could not be reached or refused the message (see the worker's log)."
    except Exception as exc:  # a misconfigured backend: recorded and retried, never a crash
        logger.exception("notification e-mail to user %s failed", recipient.pk)
        return f"Sending failed unexpectedly ({type(exc).__name__}; see the worker's log)."
    return ""


def _link(name: str, study: Study) -> str:
    return settings.SITE_URL + reverse(name, kwargs={"study_token": study.token})


def _stalled_mail(study: Study, stalled: StalledRater, now: datetime) -> Mail:
    """To the rater, in their own language (the one they chose, else the study's): their own
    count and a link to resume. Nothing about sources (blinding) or about other raters."""
    stall, days = stalled.stall, study.reminder_stall_days
    language = user_language(user=stalled.rater) or study.language
    with translation.override(language):
        items = ngettext("%(count)d item", "%(count)d items", stall.remaining) % {
            "count": stall.remaining
        }
        values = {"items": items, "title": repr(study.title)}
        subject = gettext("Reminder: %(items)s left to rate in %(title)s") % values
        idle = stall.idle_days(now)
        body = (
            ngettext(
                "You have %(items)s left to rate in the study %(title)s, and nothing was "
                "submitted for %(idle)d day. Your answers so far are saved; this link takes "
                "you to where you stopped (sign in first if asked):",
                "You have %(items)s left to rate in the study %(title)s, and nothing was "
                "submitted for %(idle)d days. Your answers so far are saved; this link takes "
                "you to where you stopped (sign in first if asked):",
                idle,
            )
            % {**values, "idle": idle}
            + f"\n\n{_link('rater_resume', study)}\n\n"
            + ngettext(
                "You get this reminder at most once every %(days)d day while work remains.",
                "You get this reminder at most once every %(days)d days while work remains.",
                days,
            )
            % {"days": days}
            + " "
            + gettext("If you can no longer take part, tell the study's admins.")
            + "\n"
        )
    return Mail(subject=subject, body=body)


def _finished_mail(study: Study) -> Mail:
    return Mail(
        subject=f"Every rater has finished {study.title!r}",
        body=(
            f"Every rater of the study {study.title!r} has submitted all of their items. "
            "Lock the study when you are ready, before the analysis:\n\n"
            f"{_link('study_dashboard', study)}\n"
        ),
    )


def _job_failed_mail(study: Study, run: TaskRun) -> Mail:
    # The run's message is what the dashboard already shows its admins (no host or path).
    return Mail(
        subject=f"A background job failed in {study.title!r}: {run.get_kind_display()}",
        body=(
            f"The background job {run.get_kind_display()!r} (job {run.pk}) of the study "
            f"{study.title!r} failed.\n\n{run.message or 'No message was recorded.'}\n\n"
            f"The dashboard lists it under Background jobs:\n\n{_link('study_dashboard', study)}\n"
        ),
    )


@transaction.atomic
def study_notifications_update(
    *,
    study: Study,
    reminders_enabled: bool,
    reminder_stall_days: int,
    admin_notices_enabled: bool,
) -> Study:
    """Change the study's reminder and notice settings; ValidationError naming the field."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    fields = ["reminders_enabled", "reminder_stall_days", "admin_notices_enabled"]
    before = fields_of(study, fields)
    study.reminders_enabled = reminders_enabled
    study.reminder_stall_days = reminder_stall_days
    study.admin_notices_enabled = admin_notices_enabled
    excluded = [f.name for f in Study._meta.fields if f.name not in fields]
    study.full_clean(exclude=excluded, validate_unique=False, validate_constraints=False)
    study.save(update_fields=fields)
    if diff := changes(before, fields_of(study, fields)):
        audit_record(action="notifications.changed", study=study, target=study, details=diff)
    return study
