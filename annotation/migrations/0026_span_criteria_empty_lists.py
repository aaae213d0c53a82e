"""Span and criteria answers stored as an empty list before "none" existed.

Until this migration, an emptied list (every span removed, every criterion unticked) was the
only way to say "no errors found" / "no criterion met", and was coded 0 spans / a score of 0. It
now means "unanswered", and "none" is an answer of its own. So that the statistics of finished
studies do not change and every reader agrees on what such a row means:
- in a submitted item (the rater stood by it), the empty list becomes "none", keeping its code;
- in an item not yet submitted, it becomes unanswered (no code), as the rater page now stores it;
- a judge's empty list becomes "none", as a judge's reply is read now.
The rating history is left as it was saved: it records what the rater did, in the form of its time.
"""

from django.db import migrations

KINDS = ("span", "criteria")


def _empty(rows):
    return (row for row in rows.only("pk", "answer").iterator(chunk_size=2000) if row.answer == [])


def forwards(apps, schema_editor):
    Rating = apps.get_model("annotation", "Rating")
    JudgeRating = apps.get_model("annotation", "JudgeRating")
    ratings = Rating.objects.filter(question__kind__in=KINDS)
    submitted = [r.pk for r in _empty(ratings.filter(assignment__submitted_at__isnull=False))]
    unsubmitted = [r.pk for r in _empty(ratings.filter(assignment__submitted_at__isnull=True))]
    judged = [r.pk for r in _empty(JudgeRating.objects.filter(question__kind__in=KINDS))]
    for start in range(0, len(submitted), 2000):
        Rating.objects.filter(pk__in=submitted[start : start + 2000]).update(answer="none")
    for start in range(0, len(unsubmitted), 2000):
        Rating.objects.filter(pk__in=unsubmitted[start : start + 2000]).update(value=None)
    for start in range(0, len(judged), 2000):
        JudgeRating.objects.filter(pk__in=judged[start : start + 2000]).update(answer="none")


class Migration(migrations.Migration):
    dependencies = [("annotation", "0025_call_ids")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
