"""Reminders after review: work handed on restarts the idle clock, a change of the stall days
sends no second reminder within an interval, and items are counted as the rater's home counts."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from annotation import selectors, services
from annotation.models import Assignment, Membership, Notification, Study
from tests.notifications_support import make_idle

pytestmark = pytest.mark.django_db


@pytest.fixture
def study(open_study, study_admin, raters, settings):
    """The open study, opened 10 days ago, everyone with an e-mail address."""
    settings.SITE_URL = "https://evalapp.example.org"
    return make_idle(open_study, [study_admin, *raters])


def reminded(user):
    return [m for m in mail.outbox if m.to == [user.email]]


def test_work_reassigned_to_raters_who_finished_long_ago_is_not_reminded_at_once(study, raters):
    eight_days_ago = timezone.now() - timedelta(days=8)
    Assignment.objects.filter(study=study, rater__in=raters[1:]).update(submitted_at=eight_days_ago)
    assert services.assignments_reassign(study=study, rater=raters[0]) > 0
    given = Membership.objects.filter(study=study, user__in=raters[1:])
    assert all(m.work_given_at is not None for m in given)
    assert Membership.objects.get(study=study, user=raters[0]).work_given_at is None
    now = timezone.now()
    services.notifications_send_due(now=now)
    assert reminded(raters[1]) == []
    assert reminded(raters[2]) == []
    # Their clock runs from the hand-over: once the stall days pass, they are reminded.
    services.notifications_send_due(now=now + timedelta(days=study.reminder_stall_days))
    assert len(reminded(raters[1])) == 1
    assert len(reminded(raters[2])) == 1


def test_a_shorter_then_longer_interval_sends_no_second_reminder_within_it(study, raters):
    now = timezone.now()
    Study.objects.filter(pk=study.pk).update(reminder_stall_days=2)
    services.notifications_send_due(now=now)  # idle 10 days: reminder #5 of 2-day intervals
    Study.objects.filter(pk=study.pk).update(reminder_stall_days=4)
    services.notifications_send_due(now=now + timedelta(hours=1))  # #2 of 4 days: a new occasion
    assert len(reminded(raters[0])) == 1
    services.notifications_send_due(now=now + timedelta(days=4, hours=1))
    assert len(reminded(raters[0])) == 2
    assert Notification.objects.filter(recipient=raters[0], status="sent").count() == 2


def test_the_reminder_counts_the_items_the_raters_home_counts(study, raters):
    theirs = Assignment.objects.filter(study=study, rater=raters[0]).order_by("position")
    everything = theirs.count()
    Assignment.objects.filter(pk=theirs[0].pk).update(kind=Assignment.Kind.TRAINING)
    services.notifications_send_due(now=timezone.now())
    home = selectors.rater_study_summary(user=raters[0], study=study)
    left = home.total - home.done
    assert left == everything - 1
    assert (
        reminded(raters[0])[0].subject == f"Reminder: {left} items left to rate in {study.title!r}"
    )


def test_no_reminder_when_only_training_is_left(study, raters):
    theirs = Assignment.objects.filter(study=study, rater=raters[0]).order_by("position")
    first = theirs[0].pk
    Assignment.objects.filter(pk=first).update(kind=Assignment.Kind.TRAINING)
    Assignment.objects.filter(study=study, rater=raters[0]).exclude(pk=first).update(
        submitted_at=timezone.now() - timedelta(days=8)
    )
    services.notifications_send_due(now=timezone.now())
    assert reminded(raters[0]) == []
