"""Once a rater's session 2 opens, the session-1 items they read again in it are closed: their
answers can be neither read nor changed, so the re-read is compared with answers the rater
could not look up or bring into line. Items not read again stay open."""

import datetime

import pytest
from django.db.models import F
from django.urls import reverse

from annotation import services
from annotation.core import sessions
from annotation.models import Assignment, Rating, RatingRevision
from annotation.services.statistics.washout import washout_pairs
from tests.test_query_counts_rater import SAVE_MAX, statements
from tests.test_washout_sessions import (
    HX,
    WASHOUT,
    finish_session_one,
    move_back,
    second_session,
    washout_study,
)

pytestmark = pytest.mark.django_db

CLOSED = "Answers of session 1 are closed now that session 2 has begun"


@pytest.fixture
def study(study_admin, raters):
    return washout_study(study_admin, raters)


@pytest.fixture
def in_session_two(study, rater):
    """The rater's first re-read, with session 2 open to them."""
    finish_session_one(study, rater)
    move_back(study, rater, WASHOUT)
    return second_session(study, rater)[0]


def api(study, assignment) -> str:
    return f"/api/v1/rate/{study.token}/items/{assignment.token}/"


def test_the_gate_closes_an_item_when_the_next_session_opens():
    done = datetime.datetime(2026, 11, 30, 9, 30, tzinfo=datetime.UTC)
    gate = sessions.SessionGate(session=1, washout_days=WASHOUT, done_at=done)
    opens = done + datetime.timedelta(days=WASHOUT)
    assert gate.closes_at == opens
    assert gate.is_open(opens - datetime.timedelta(seconds=1))
    assert not gate.is_open(opens)
    assert gate.is_closed(opens)
    assert sessions.SessionGate(session=1, washout_days=WASHOUT).is_open(opens)


def test_an_original_is_still_open_before_session_two_opens(client, study, rater):
    finish_session_one(study, rater)
    move_back(study, rater, WASHOUT - 0.01)
    original = second_session(study, rater)[0].repeat_of
    client.force_login(rater)
    url = reverse("rater_item", args=[study.token, original.token])
    assert client.get(url).status_code == 200
    saved = client.post(url, {"question": "overall", "answer": "5"}, headers=HX)
    assert saved["X-Answer-Saved"]
    assert Rating.objects.get(assignment=original).answer == 5


def test_the_page_of_an_original_is_closed_during_session_two(client, study, rater, in_session_two):
    original = in_session_two.repeat_of
    client.force_login(rater)
    page = client.get(reverse("rater_item", args=[study.token, original.token]))
    assert page.status_code == 409
    text = " ".join(page.content.decode().split())
    assert CLOSED in text
    assert "re-read" not in text.lower()
    assert 'name="answer"' not in text  # no form, so no session-1 answer
    listed = client.get(api(study, original))
    assert listed.status_code == 409
    assert CLOSED in listed.json()["detail"]
    assert "answers" not in listed.json()


def test_saves_and_submits_to_an_original_are_refused_during_and_after_session_two(
    client, study, rater, in_session_two
):
    original = in_session_two.repeat_of
    client.force_login(rater)
    url = reverse("rater_item", args=[study.token, original.token])
    question = study.questions.get()
    revisions = RatingRevision.objects.filter(rating__assignment=original).count()

    def refused_everywhere():
        with statements() as sent:
            saved = client.post(url, {"question": "overall", "answer": "1"}, headers=HX)
        assert saved.status_code == 409
        assert CLOSED in saved.content.decode()
        assert len(sent) <= SAVE_MAX, sent
        body = {"question": "overall", "answer": 1}
        posted = client.post(
            f"{api(study, original)}answers/", body, content_type="application/json"
        )
        assert posted.status_code == 409
        assert client.post(f"{api(study, original)}submit/").status_code == 409
        submit = reverse("rater_submit", args=[study.token, original.token])
        assert client.post(submit, {"elapsed_ms": "5000"}).status_code == 409
        with pytest.raises(services.SessionNotOpen):
            services.rating_save(assignment=original, question=question, answer=1)
        assert Rating.objects.get(assignment=original).answer == 3
        assert RatingRevision.objects.filter(rating__assignment=original).count() == revisions

    time_before = Assignment.objects.get(pk=original.pk).time_on_task_ms
    refused_everywhere()
    for reread in second_session(study, rater):
        services.rating_save(assignment=reread, question=question, answer=5)
        services.assignment_submit(assignment=reread)
    refused_everywhere()
    # The refused submits kept no time on task for the closed item.
    assert Assignment.objects.get(pk=original.pk).time_on_task_ms == time_before


def test_an_item_not_read_again_stays_open_during_session_two(client, study, rater, in_session_two):
    read_again = Assignment.objects.filter(repeat_of__isnull=False).values("repeat_of_id")
    other = study.assignments.filter(rater=rater, session=1).exclude(pk__in=read_again).first()
    client.force_login(rater)
    url = reverse("rater_item", args=[study.token, other.token])
    assert client.get(url).status_code == 200
    saved = client.post(url, {"question": "overall", "answer": "5"}, headers=HX)
    assert saved["X-Answer-Saved"]
    assert Rating.objects.get(assignment=other).answer == 5


def test_the_retest_pairs_take_the_first_answer_as_it_stood_when_session_two_opened(
    study, rater, in_session_two
):
    question = study.questions.get()
    firsts = RatingRevision.objects.filter(rating__assignment__rater=rater)
    firsts.update(saved_at=F("saved_at") - datetime.timedelta(days=WASHOUT))  # as move_back
    later = second_session(study, rater)
    for reread in later:
        services.rating_save(assignment=reread, question=question, answer=5)
        services.assignment_submit(assignment=reread)
    opened = study.assignments.filter(rater=rater, session=1).latest("submitted_at").submitted_at
    opened += datetime.timedelta(days=WASHOUT)
    # A change made during the washout counts; one that got in after session 2 opened (the
    # item is closed by then, so only by going around the app) does not.
    rating = Rating.objects.get(assignment=later[0].repeat_of)
    during = RatingRevision.objects.create(rating=rating, answer=4, value=4.0)
    RatingRevision.objects.filter(pk=during.pk).update(saved_at=opened - datetime.timedelta(days=1))
    RatingRevision.objects.create(rating=rating, answer=5, value=5.0)
    Rating.objects.filter(pk=rating.pk).update(answer=5, value=5.0)
    name = study.memberships.get(user=rater).pseudonym
    pairs = [p for p in washout_pairs(study, question) if p.rater == name]
    assert sorted((p.first, p.second) for p in pairs) == [(3.0, 5.0), (4.0, 5.0)]


def test_the_review_list_shows_the_closed_items_as_closed_without_a_link(
    client, study, rater, in_session_two
):
    closed = {a.repeat_of.token for a in second_session(study, rater)}
    client.force_login(rater)
    page = " ".join(
        client.get(reverse("rater_review", args=[study.token])).content.decode().split()
    )
    assert page.count("Closed: session 2 has begun") == len(closed) == 2
    for assignment in study.assignments.filter(rater=rater, session=1):
        link = reverse("rater_item", args=[study.token, assignment.token])
        assert (link in page) == (assignment.token not in closed)
    assert "re-read" not in page.lower()
