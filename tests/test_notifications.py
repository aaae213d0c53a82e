"""Reminders to stalled raters and notices to study admins (services/notifications.py), with
an explicit "now" and Django's locmem e-mail backend."""

import smtplib
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotation import services
from annotation.models import Assignment, Membership, Notification, Source, Study, TaskRun
from tests.notifications_support import make_idle

pytestmark = pytest.mark.django_db

SITE = "https://evalapp.example.org"


@pytest.fixture
def study(open_study, study_admin, raters, settings):
    """The open study, opened 10 days ago, everyone with an e-mail address."""
    settings.SITE_URL = SITE
    return make_idle(open_study, [study_admin, *raters])


def beat(at=None):
    return services.notifications_send_due(now=at or timezone.now())


def submit_all(study, rater=None, at=None):
    theirs = Assignment.objects.filter(study=study, submitted_at=None)
    if rater is not None:
        theirs = theirs.filter(rater=rater)
    theirs.update(submitted_at=at or timezone.now())


def reminded(user):
    return [m for m in mail.outbox if m.to == [user.email]]


def test_every_stalled_rater_gets_one_reminder_with_a_link_to_resume(study, raters):
    tally = beat()
    assert (tally.sent, tally.failed) == (3, 0)
    message = reminded(raters[0])[0]
    left = Assignment.objects.filter(study=study, rater=raters[0]).count()
    assert message.subject == f"Reminder: {left} items left to rate in {study.title!r}"
    assert f"{SITE}/rate/{study.token}/" in message.body
    assert "nothing was submitted for 10 days" in message.body
    note = Notification.objects.get(recipient=raters[0])
    assert (note.kind, note.status, note.error, note.attempts) == ("stalled", "sent", "", 1)
    assert note.sent_at is not None


def test_a_reminder_names_no_source_and_no_other_rater(study, raters):
    beat()
    labels = list(Source.objects.filter(study=study).values_list("label", flat=True))
    names = list(Membership.objects.filter(study=study).values_list("pseudonym", flat=True))
    others = [u.username for u in raters[1:]] + [n for n in names if n]
    message = reminded(raters[0])[0]
    text = message.subject + message.body
    assert labels
    assert not [label for label in labels if label in text]
    assert not [name for name in others if name in text]


def test_a_rater_is_reminded_at_most_once_per_interval(study, raters):
    now = timezone.now()
    beat(now)
    beat(now)
    beat(now + timedelta(days=1))
    assert len(reminded(raters[0])) == 1
    # The next interval of the idle spell begins 2 days on (day 12 of 3-day intervals), but
    # the e-mail promises at most one reminder every 3 days: the second waits for that.
    beat(now + timedelta(days=2))
    assert len(reminded(raters[0])) == 1
    beat(now + timedelta(days=3))
    beat(now + timedelta(days=3, hours=1))
    assert len(reminded(raters[0])) == 2
    assert Notification.objects.filter(recipient=raters[0]).count() == 2


def test_a_recent_submit_stops_the_reminder(study, raters):
    one = Assignment.objects.filter(study=study, rater=raters[0]).first()
    Assignment.objects.filter(pk=one.pk).update(submitted_at=timezone.now() - timedelta(days=2))
    beat()
    assert reminded(raters[0]) == []
    assert len(reminded(raters[1])) == 1
    beat(timezone.now() + timedelta(days=1, hours=1))
    assert len(reminded(raters[0])) == 1


def test_not_before_the_stall_days_nor_a_joiner_counting_from_joining(study, raters):
    Study.objects.filter(pk=study.pk).update(reminder_stall_days=14)
    beat()
    assert mail.outbox == []
    Study.objects.filter(pk=study.pk).update(reminder_stall_days=3)
    Membership.objects.filter(study=study, user=raters[2]).update(joined_at=timezone.now())
    beat()
    assert sorted(m.to[0] for m in mail.outbox) == [raters[0].email, raters[1].email]


def test_no_reminder_when_no_work_remains(study, raters):
    submit_all(study, rater=raters[0], at=timezone.now() - timedelta(days=9))
    beat()
    assert reminded(raters[0]) == []


def test_the_off_switch_stops_reminders(study):
    Study.objects.filter(pk=study.pk).update(reminders_enabled=False)
    beat()
    assert mail.outbox == []
    assert not Notification.objects.exists()


@pytest.mark.parametrize("status", [Study.Status.LOCKED, Study.Status.ARCHIVED])
def test_a_locked_or_archived_study_reminds_nobody(study, status):
    Study.objects.filter(pk=study.pk).update(status=status)
    beat()
    assert mail.outbox == []


def test_a_removed_rater_gets_nothing(study, raters):
    # Whatever is left of their work, without a membership they are no rater of the study.
    Membership.objects.filter(study=study, user=raters[0]).delete()
    beat()
    assert reminded(raters[0]) == []
    assert len(mail.outbox) == 2


def test_a_rater_who_withdrew_consent_gets_no_reminder(study, raters):
    Membership.objects.filter(study=study, user=raters[0]).update(withdrawn_at=timezone.now())
    beat()
    assert reminded(raters[0]) == []
    assert sorted(m.to[0] for m in mail.outbox) == [raters[1].email, raters[2].email]


def test_a_withdrawn_raters_unrated_items_do_not_hold_back_the_finished_notice(
    study, raters, study_admin
):
    Membership.objects.filter(study=study, user=raters[0]).update(withdrawn_at=timezone.now())
    for rater in raters[1:]:
        submit_all(study, rater=rater, at=timezone.now() - timedelta(days=1))
    assert Assignment.objects.filter(rater=raters[0], submitted_at=None).exists()
    beat()
    assert [m.to for m in mail.outbox] == [[study_admin.email]]
    assert mail.outbox[0].subject == f"Every rater has finished {study.title!r}"


def test_the_admins_hear_once_when_every_rater_has_finished(study, study_admin):
    submit_all(study, at=timezone.now() - timedelta(days=1))
    beat()
    beat()
    assert [m.to for m in mail.outbox] == [[study_admin.email]]
    message = mail.outbox[0]
    assert message.subject == f"Every rater has finished {study.title!r}"
    assert f"{SITE}/studies/{study.token}/" in message.body
    note = Notification.objects.get()
    assert (note.kind, note.occasion, note.status) == ("finished", study.manifest_hash, "sent")


def test_the_admins_hear_nothing_while_work_remains_or_with_notices_off(study, study_admin):
    beat()
    assert reminded(study_admin) == []
    submit_all(study)
    Study.objects.filter(pk=study.pk).update(admin_notices_enabled=False)
    beat()
    assert reminded(study_admin) == []


def failed_run(study, *, ago=timedelta(minutes=5)):
    return TaskRun.objects.create(
        study=study,
        kind=TaskRun.Kind.EXPORT_BUNDLE,
        status=TaskRun.Status.FAILED,
        message="Failed unexpectedly; the worker's log has the details (task run 9).",
        finished_at=timezone.now() - ago,
    )


def test_a_failed_job_is_told_to_the_admins_once(study, study_admin):
    run = failed_run(study)
    Study.objects.filter(pk=study.pk).update(reminders_enabled=False)
    beat()
    beat()
    assert [m.to for m in mail.outbox] == [[study_admin.email]]
    message = mail.outbox[0]
    assert message.subject == (
        f"A background job failed in {study.title!r}: Build the paper bundle"
    )
    assert run.message in message.body
    assert Notification.objects.get().task_run == run


def test_an_old_failure_and_a_study_with_notices_off_are_not_told(study):
    Study.objects.filter(pk=study.pk).update(reminders_enabled=False)
    failed_run(study, ago=timedelta(days=2))
    beat()
    assert mail.outbox == []
    Study.objects.filter(pk=study.pk).update(admin_notices_enabled=False)
    failed_run(study)
    beat()
    assert mail.outbox == []


def test_a_failed_send_is_recorded_and_tried_again_at_the_next_beat(study, raters):
    refused = smtplib.SMTPServerDisconnected("mail.internal.example:25 went away")
    with mock.patch("annotation.services.notifications.send_mail", side_effect=refused):
        tally = beat()
    assert (tally.sent, tally.failed) == (0, 3)
    note = Notification.objects.get(recipient=raters[0])
    assert note.status == "failed"
    assert "mail.internal" not in note.error
    assert note.error.startswith("The mail server could not be reached")
    tally = beat()
    assert (tally.sent, tally.failed) == (3, 0)
    note.refresh_from_db()
    assert (note.status, note.error, note.attempts) == ("sent", "", 2)
    assert len(reminded(raters[0])) == 1


def test_a_rater_without_an_address_is_recorded_not_sent(study, raters):
    raters[0].email = ""
    raters[0].save(update_fields=["email"])
    beat()
    note = Notification.objects.get(recipient=raters[0])
    assert (note.status, note.error) == ("failed", "The account has no e-mail address.")
    assert len(mail.outbox) == 2


def test_a_send_in_progress_is_not_sent_twice(study, raters):
    beat()
    Notification.objects.update(status="sending", attempted_at=timezone.now())
    beat()
    assert len(mail.outbox) == 3


def test_settings_are_changed_and_a_bad_value_names_its_field(study):
    services.study_notifications_update(
        study=study, reminders_enabled=False, reminder_stall_days=7, admin_notices_enabled=True
    )
    study.refresh_from_db()
    assert (study.reminders_enabled, study.reminder_stall_days) == (False, 7)
    with pytest.raises(ValidationError) as caught:
        services.study_notifications_update(
            study=study, reminders_enabled=True, reminder_stall_days=0, admin_notices_enabled=True
        )
    assert "reminder_stall_days" in caught.value.message_dict
    study.refresh_from_db()
    assert (study.reminders_enabled, study.reminder_stall_days) == (False, 7)


def test_a_failure_between_two_long_beats_is_still_told(study, settings):
    settings.NOTIFICATIONS_BEAT_SECONDS = 2 * 24 * 3600
    Study.objects.filter(pk=study.pk).update(reminders_enabled=False)
    failed_run(study, ago=timedelta(days=3))
    beat()
    assert len(mail.outbox) == 1


def test_a_reminder_is_in_the_raters_chosen_language_else_the_studys(study, raters):
    study.language = "de"
    study.save(update_fields=["language"])
    services.user_language_set(user=raters[1], language="es")
    beat()
    german, spanish = reminded(raters[0])[0], reminded(raters[1])[0]
    left = Assignment.objects.filter(study=study, rater=raters[0]).count()
    assert german.subject == f"Erinnerung: {left} Elemente in {study.title!r} noch zu bewerten"
    assert "seit 10 Tagen wurde nichts abgeschickt" in german.body
    assert spanish.subject.startswith("Recordatorio: le quedan")
    assert "no se ha enviado nada en 10 días" in spanish.body
    for message in (german, spanish):
        assert f"{SITE}/rate/{study.token}/" in message.body
        assert "left to rate" not in message.body


def test_a_reminder_after_one_idle_day_says_day_not_days(open_study, study_admin, raters, settings):
    settings.SITE_URL = SITE
    study = make_idle(open_study, [study_admin, *raters], days=1)
    study.reminder_stall_days = 1
    study.save(update_fields=["reminder_stall_days"])
    beat()
    body = reminded(raters[0])[0].body
    assert "nothing was submitted for 1 day." in body
    assert "1 days" not in body


@pytest.fixture
def pending_study(draft_study, study_admin, raters, settings):
    """Opened 10 days ago by a worker that wrote the first rater's assignments and stopped:
    the other two raters' are still to be written."""
    settings.SITE_URL = SITE
    services.study_open(study=draft_study, defer=True)
    services.rater_assignments_write(user=raters[0])
    return make_idle(draft_study, [study_admin, *raters])


def test_raters_whose_assignments_are_not_written_yet_are_reminded_too(pending_study, raters):
    tally = beat()
    assert (tally.sent, tally.failed) == (3, 0)
    message = reminded(raters[2])[0]  # nothing of theirs written: counted from what is pending
    assert message.subject == f"Reminder: 4 items left to rate in {pending_study.title!r}"
    assert f"{SITE}/rate/{pending_study.token}/" in message.body  # which writes them


def test_the_admins_hear_nothing_while_raters_assignments_are_not_written(
    pending_study, study_admin, raters
):
    submit_all(pending_study, at=timezone.now() - timedelta(days=1))  # the first rater's four
    beat()
    assert reminded(study_admin) == []
    services.pending_assignments_write_all(pending_study)
    submit_all(pending_study, at=timezone.now() - timedelta(days=1))
    beat()
    assert [m.subject for m in reminded(study_admin)] == [
        f"Every rater has finished {pending_study.title!r}"
    ]
