"""Work handed on (reassigning, removing a rater) never goes to a rater done with session 1 or
reading session 2: a new session-1 item would shut their session 2 and restart the washout."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation import selectors, services
from annotation.models import Assignment
from tests.test_washout_sessions import (
    WASHOUT,
    finish_session_one,
    move_back,
    second_session,
    washout_study,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def study(study_admin, raters):
    return washout_study(study_admin, raters)


def session_one(study, rater) -> list[int]:
    return sorted(study.assignments.filter(rater=rater, session=1).values_list("pk", flat=True))


def test_reassigning_leaves_a_rater_reading_session_two_as_they_were(client, study, raters):
    reader, other, leaver = raters
    finish_session_one(study, reader)
    move_back(study, reader, WASHOUT)
    reread = second_session(study, reader)[0]
    services.rating_save(assignment=reread, question=study.questions.get(), answer=4)
    mine = session_one(study, reader)
    kept_before = study.assignments.filter(rater=leaver, kind=Assignment.Kind.STUDY).count()
    moved = services.assignments_reassign(study=study, rater=leaver)
    assert moved > 0  # the other rater took what they could
    assert session_one(study, reader) == mine
    left = study.assignments.filter(rater=leaver, kind=Assignment.Kind.STUDY).count()
    assert left == kept_before - moved
    client.force_login(reader)
    assert client.get(reverse("rater_item", args=[study.token, reread.token])).status_code == 200


def test_a_rater_waiting_out_the_washout_takes_no_session_one_work(study, raters):
    waiting, other, leaver = raters
    finish_session_one(study, waiting)  # the washout has begun, session 2 not open yet
    mine = session_one(study, waiting)
    assert selectors.rater_session_wait(user=waiting, study=study).opens_at is not None
    services.assignments_reassign(study=study, rater=leaver)
    assert session_one(study, waiting) == mine
    assert selectors.rater_session_wait(user=waiting, study=study).opens_at is not None


def test_a_rater_still_in_session_one_takes_work(study, raters):
    reading, other, leaver = raters
    question = study.questions.get()
    first = study.assignments.filter(rater=reading, session=1).order_by("position").first()
    services.rating_save(assignment=first, question=question, answer=3)
    services.assignment_submit(assignment=first)
    before = len(session_one(study, reading))
    services.assignments_reassign(study=study, rater=leaver)
    assert len(session_one(study, reading)) > before


def test_removing_a_rater_whose_items_only_a_closed_rater_could_take_is_refused(study, raters):
    done, other, leaver = raters
    finish_session_one(study, done)
    before = sorted(study.assignments.values_list("pk", "rater_id", "position"))
    with pytest.raises(ValidationError, match="done with session 1"):
        services.rater_remove(study=study, pseudonym=study.memberships.get(user=leaver).pseudonym)
    assert sorted(study.assignments.values_list("pk", "rater_id", "position")) == before
