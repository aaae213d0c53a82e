"""On PostgreSQL an assignment's study, item and rater are checked once per statement, not by
foreign keys (migration 0036): what the foreign keys guaranteed must still hold, and an item of
another study is refused too."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from annotation import services
from annotation.models import Assignment
from annotation.services import studies
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="these checks replace PostgreSQL's foreign keys; SQLite keeps its foreign keys "
        "(CI runs this on PostgreSQL)",
    ),
]

MISSING = 10**9


@pytest.fixture
def other_study(study_admin, raters):
    study = services.study_create(creator=study_admin, title="Other", question_prompt="Good?")
    content = b"case_id,input,source,output\nx1,Q,M1,A\nx1,Q,M2,B\n"
    services.study_import_file(study=study, filename="s.csv", content=content)
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    return study


def _add(study, **fields) -> None:
    """One assignment more at the end of the study, as the ORM writes it (an INSERT)."""
    values = {"study_id": study.pk, "position": 10_000, "token": "t" * 16} | fields
    with transaction.atomic():
        Assignment.objects.create(**values)


def _copy(study, *, item_id: int, rater_id: int) -> None:
    """One assignment more through the COPY study_open writes with."""
    with transaction.atomic():
        studies._assignments_insert(
            [(study.pk, item_id, rater_id, 10_000, "study", False, [], "c" * 16, None)]
        )


def _at_commit(sql: str, params: list) -> None:
    """Run `sql`, then the checks deferred to commit, as a commit would."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_an_assignment_of_a_valid_item_and_rater_is_stored(open_study, other_study):
    rater = UserFactory(username="late")
    item = open_study.items.first()
    _add(open_study, item_id=item.pk, rater_id=rater.pk)
    _copy(open_study, item_id=item.pk, rater_id=UserFactory(username="later").pk)
    assert open_study.assignments.filter(position=10_000).count() == 2


@pytest.mark.parametrize("write", [_add, _copy])
def test_an_item_of_another_study_is_refused(open_study, other_study, write):
    rater = UserFactory(username="late")
    with pytest.raises(IntegrityError, match="another study"):
        write(open_study, item_id=other_study.items.first().pk, rater_id=rater.pk)


@pytest.mark.parametrize("write", [_add, _copy])
def test_a_missing_item_is_refused(open_study, write):
    rater = UserFactory(username="late")
    with pytest.raises(IntegrityError, match="item is missing"):
        write(open_study, item_id=MISSING, rater_id=rater.pk)


@pytest.mark.parametrize("write", [_add, _copy])
def test_a_missing_rater_is_refused(open_study, write):
    with pytest.raises(IntegrityError, match="rater is missing"):
        write(open_study, item_id=open_study.items.first().pk, rater_id=MISSING)


def test_a_missing_study_is_refused(open_study):
    item = open_study.items.first()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        # A study that does not exist has no items either: the item check speaks first.
        cursor.execute(
            "INSERT INTO annotation_assignment (study_id, item_id, rater_id, position, kind, "
            'flipped, "order", token, time_on_task_ms) '
            "VALUES (%s, %s, %s, 1, 'study', false, '[]', %s, 0)",
            [MISSING, item.pk, item.study.created_by_id, "m" * 16],
        )


def test_moving_an_assignment_to_a_missing_rater_or_foreign_item_is_refused(
    open_study, other_study
):
    assignment = open_study.assignments.first()
    with pytest.raises(IntegrityError, match="rater is missing"), transaction.atomic():
        Assignment.objects.filter(pk=assignment.pk).update(rater_id=MISSING)
    foreign, rater = other_study.items.first(), UserFactory(username="late")
    with pytest.raises(IntegrityError, match="another study"), transaction.atomic():
        Assignment.objects.filter(pk=assignment.pk).update(item_id=foreign.pk, rater_id=rater.pk)


def test_a_rater_with_assignments_is_protected(open_study):
    rater = open_study.assignments.first().rater
    with pytest.raises(ProtectedError):
        rater.delete()
    # And in the database itself, past the ORM, checked at commit as the foreign key was (a
    # rater who is no member: nothing else refers to them).
    late = UserFactory(username="late")
    _add(open_study, item_id=open_study.items.first().pk, rater_id=late.pk)
    with pytest.raises(IntegrityError, match="still referenced"):
        _at_commit("DELETE FROM auth_user WHERE id = %s", [late.pk])


def test_an_item_with_assignments_cannot_go_from_under_them(open_study, other_study):
    item = open_study.assignments.first().item
    with pytest.raises(IntegrityError, match="still referenced"):
        _at_commit("DELETE FROM annotation_item WHERE id = %s", [item.pk])
    moved = [other_study.pk, item.pk]
    with pytest.raises(IntegrityError, match="still referenced"):
        _at_commit("UPDATE annotation_item SET study_id = %s WHERE id = %s", moved)


def test_truncating_what_assignments_refer_to_is_refused(open_study):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no TRUNCATE with checks pending
    with (
        pytest.raises(IntegrityError, match="truncated"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE annotation_item CASCADE")
