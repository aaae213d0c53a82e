"""Each rating's stored count of revisions (ratings.csv's `revisions`, read by the exports
instead of a count per rating: issue 22) is the number of revisions it has, whatever appended
them: a first answer, a change, the same answer again (no revision), a read's locked answer
carried into the next read, an import of published ratings; and the migration counts those
saved before it."""

import importlib
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from annotation import selectors, services
from annotation.models import Rating, RatingRevision
from tests.test_reading_flow import _reads, opened  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def _stored_and_counted(study) -> list[tuple[int, int]]:
    ratings = Rating.objects.filter(assignment__study=study).annotate(n=Count("revisions"))
    return list(ratings.values_list("revision_count", "n"))


def _exported(study) -> list[int]:
    return [row["revisions"] for row in selectors.study_ratings_iter(study=study)]


def test_a_first_answer_a_change_and_the_same_answer_again(open_study):
    question = open_study.questions.get()
    assignment = open_study.assignments.order_by("pk").first()
    services.rating_save(assignment=assignment, question=question, answer=4)
    services.rating_save(assignment=assignment, question=question, answer=4)  # no revision
    assert _stored_and_counted(open_study) == [(1, 1)]
    services.rating_save(assignment=assignment, question=question, answer=2)
    services.rating_save(assignment=assignment, question=question, answer=3)
    assert _stored_and_counted(open_study) == [(3, 3)]
    assert _exported(open_study) == [3]
    other = open_study.assignments.order_by("pk")[1]
    services.rating_save(assignment=other, question=question, answer=5)
    assert sorted(_stored_and_counted(open_study)) == [(1, 1), (3, 3)]
    assert sorted(_exported(open_study)) == [1, 3]


def test_a_locked_answer_carried_into_the_next_read(opened, raters):  # noqa: F811
    first, second = _reads(opened, raters[0])[:2]
    question = opened.questions.get(key="answer")
    services.rating_save(assignment=first, question=question, answer=["MI"])
    services.rating_save(assignment=first, question=question, answer=["MI", "Pericarditis"])
    services.assignment_submit(assignment=first)
    found = _stored_and_counted(opened)
    assert sorted(found) == [(1, 1), (2, 2)]  # the carried answer: one revision of its own
    assert Rating.objects.get(assignment=second).revision_count == 1


def test_imported_ratings(imported):
    found = _stored_and_counted(imported)
    assert len(found) == 1496
    assert set(found) == {(1, 1)}


def test_the_migration_counts_the_revisions_saved_before_it(open_study):
    question = open_study.questions.get()
    first, second, third = open_study.assignments.order_by("pk")[:3]
    for answer in (1, 2, 3):
        services.rating_save(assignment=first, question=question, answer=answer)
    services.rating_save(assignment=second, question=question, answer=5)
    # A rating with no revision at all (as a test's or an old import's could be).
    Rating.objects.create(assignment=third, question=question, answer=4, value=4.0)
    Rating.objects.update(revision_count=0)  # as the column's default left them
    migration = importlib.import_module("annotation.migrations.0053_rating_revision_count")
    with connection.cursor() as cursor:
        cursor.execute(migration.COUNTED)
    assert sorted(_stored_and_counted(open_study)) == [(0, 0), (1, 1), (3, 3)]
    assert RatingRevision.objects.count() == 4


def test_the_recount_command_mends_only_the_counts_that_differ(open_study):
    question = open_study.questions.get()
    first, second = open_study.assignments.order_by("pk")[:2]
    for answer in (1, 2):
        services.rating_save(assignment=first, question=question, answer=answer)
    services.rating_save(assignment=second, question=question, answer=5)
    # As the old code left an answer saved between the migration and the restart.
    Rating.objects.filter(assignment=first).update(revision_count=1)
    out = io.StringIO()
    call_command("recount_revisions", stdout=out)
    assert out.getvalue() == "Ratings recounted: 1\n"
    assert sorted(_stored_and_counted(open_study)) == [(1, 1), (2, 2)]
    out = io.StringIO()
    call_command("recount_revisions", stdout=out)  # nothing left to mend
    assert out.getvalue() == "Ratings recounted: 0\n"
