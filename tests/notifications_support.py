"""Shared set-up of the reminder tests: a study idle for days, its people reachable by e-mail."""

from datetime import timedelta

from django.utils import timezone

from annotation.models import Membership, Study


def make_idle(study: Study, people, *, days: int = 10) -> Study:
    """Give everyone in `people` an e-mail address and date the study's opening and every
    membership `days` ago, so that its raters have stalled for that long."""
    for person in people:
        person.email = f"{person.username}@example.org"
        person.save(update_fields=["email"])
    opened = timezone.now() - timedelta(days=days)
    Study.objects.filter(pk=study.pk).update(opened_at=opened)
    Membership.objects.filter(study=study).update(joined_at=opened)
    study.refresh_from_db()
    return study
