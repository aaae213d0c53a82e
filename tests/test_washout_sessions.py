"""Reading sessions on the rater's side: re-reads after a washout wait in session 2, which opens
only once the rater finished session 1 and the washout passed since their last submit in it.
The list, the done page, the item page, the save, the submit and the API all keep to it."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from annotation import selectors, services
from annotation.core import sessions
from annotation.models import Assignment, Rating, Study
from tests.conftest import STUDY_ROWS
from tests.factories import UserFactory
from tests.test_pairwise import stored_digest
from tests.test_query_counts_rater import SAVE_MAX, statements

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}
WASHOUT = 14


def washout_study(admin, raters, *, retests: int = 2, washout: int = WASHOUT) -> Study:
    """tests/data/study.csv (3 cases, 2 sources: 4 items per rater with 3 raters, k=2) with
    `retests` of each rater's items re-read after a washout."""
    study = services.study_create(
        creator=admin,
        title="Washout study",
        raters_per_item=2,
        question_prompt="How well does the summary capture the question?",
        seed=1234,
        retests_per_rater=retests,
        washout_days=washout,
    )
    services.study_import_file(study=study, filename="study.csv", content=STUDY_ROWS)
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    study.refresh_from_db()
    return study


@pytest.fixture
def study(study_admin, raters) -> Study:
    return washout_study(study_admin, raters)


def finish_session_one(study: Study, rater) -> datetime.datetime:
    """Answer and submit every session-1 item of the rater's; the last submit's time."""
    question = study.questions.get()
    for assignment in study.assignments.filter(rater=rater, session=1).order_by("position"):
        services.rating_save(assignment=assignment, question=question, answer=3)
        services.assignment_submit(assignment=assignment)
    return study.assignments.filter(rater=rater, session=1).latest("submitted_at").submitted_at


def move_back(study: Study, rater, days: float) -> None:
    """Time travel: the rater's session-1 submits as if `days` earlier."""
    for assignment in study.assignments.filter(rater=rater, session=1):
        assignment.submitted_at -= datetime.timedelta(days=days)
        assignment.save(update_fields=["submitted_at"])


def second_session(study: Study, rater) -> list[Assignment]:
    return list(study.assignments.filter(rater=rater, session=2).order_by("position"))


def test_opening_puts_each_raters_rereads_in_session_two_after_all_of_session_one(study, raters):
    for rater in raters:
        mine = list(study.assignments.filter(rater=rater).order_by("position"))
        later = [a for a in mine if a.session == 2]
        assert [a.kind for a in later] == [Assignment.Kind.RETEST] * 2
        assert max(a.position for a in mine if a.session == 1) < min(a.position for a in later)
        for reread in later:
            original = reread.repeat_of
            assert original.rater_id == rater.pk
            assert original.kind == Assignment.Kind.STUDY
            assert original.session == 1
            assert original.item_id == reread.item_id
            assert (original.flipped, original.order) == (reread.flipped, reread.order)
    assert study.manifest_hash  # the design's digest, sessions included


def test_the_session_gate_opens_only_after_the_last_submit_and_the_washout():
    done = datetime.datetime(2026, 11, 30, 9, 30, tzinfo=datetime.UTC)
    counts = [sessions.SessionCount(1, 4, 4, done), sessions.SessionCount(2, 2, 0)]
    gate = sessions.gate_of(counts, 2, washout_days=WASHOUT)
    assert gate.opens_at == datetime.datetime(2026, 12, 14, 9, 30, tzinfo=datetime.UTC)
    assert not gate.is_open(gate.opens_at - datetime.timedelta(seconds=1))
    assert gate.is_open(gate.opens_at)
    unfinished = [sessions.SessionCount(1, 4, 3, done), sessions.SessionCount(2, 2, 0)]
    waiting = sessions.gate_of(unfinished, 2, washout_days=WASHOUT)
    assert waiting.opens_at is None
    assert not waiting.is_open(done + datetime.timedelta(days=400))
    assert sessions.gate_of(counts, 1, washout_days=WASHOUT).is_open(done)


def test_the_list_says_session_two_comes_after_session_one_without_naming_rereads(
    client, study, rater
):
    client.force_login(rater)
    page = client.get(reverse("rater_home")).content.decode()
    assert "Then session 2, with 2 items: it opens 14 days after your last answer in session 1" in (
        " ".join(page.split())
    )
    assert "re-read" not in page.lower()
    assert "retest" not in page.lower()


def test_a_rater_done_with_session_one_sees_when_session_two_opens(client, study, rater):
    last = finish_session_one(study, rater)
    opens = timezone.localtime(last + datetime.timedelta(days=WASHOUT))
    client.force_login(rater)
    # The server writes UTC in a <time> element, which the reader's browser localises.
    stamp = f'<time datetime="{opens.isoformat()}" data-local-time>'
    expected = f"Session 2 opens on {stamp}{opens.day} {opens:%B %Y}, {opens:%H:%M} UTC</time>, "
    expected += "with 2 items."
    done = client.get(reverse("rater_resume", args=[study.token]))
    assert done.status_code == 200
    text = " ".join(done.content.decode().split())
    assert "Session 1 done" in text
    assert expected in text
    assert "All " not in text  # not "all done"
    home = " ".join(client.get(reverse("rater_home")).content.decode().split())
    assert expected in home


def test_an_item_of_a_closed_session_is_refused_and_nothing_is_stored(client, study, rater):
    reread = second_session(study, rater)[0]
    client.force_login(rater)
    url = reverse("rater_item", args=[study.token, reread.token])
    before = client.get(url)
    assert before.status_code == 409
    assert "Session 2 is not open yet: it opens 14 days after you finish session 1." in (
        before.content.decode()
    )
    finish_session_one(study, rater)
    page = client.get(url)
    assert page.status_code == 409
    assert "Session 2 is not open yet: it opens on " in page.content.decode()
    saved = client.post(url, {"question": "overall", "answer": "4"}, headers=HX)
    assert saved.status_code == 409
    assert "not open yet" in saved.content.decode()
    assert "X-Answer-Saved" not in saved
    submit = client.post(reverse("rater_submit", args=[study.token, reread.token]))
    assert submit.status_code == 409
    assert not Rating.objects.filter(assignment__session=2).exists()
    assert not study.assignments.filter(session=2, submitted_at__isnull=False).exists()
    reread.refresh_from_db()
    assert reread.first_opened_at is None


def test_services_refuse_answers_in_a_closed_session(study, rater):
    finish_session_one(study, rater)
    reread = second_session(study, rater)[0]
    question = study.questions.get()
    with pytest.raises(services.SessionNotOpen):
        services.rating_save(assignment=reread, question=question, answer=4)
    with pytest.raises(ValidationError, match="not open yet"):
        services.assignment_submit(assignment=reread)


def test_after_the_washout_session_two_opens_and_is_rated(client, study, rater):
    finish_session_one(study, rater)
    move_back(study, rater, WASHOUT - 0.01)  # a quarter of an hour short: still closed
    reread = second_session(study, rater)[0]
    client.force_login(rater)
    url = reverse("rater_item", args=[study.token, reread.token])
    assert client.get(url).status_code == 409
    move_back(study, rater, 0.02)
    resume = client.get(reverse("rater_resume", args=[study.token]))
    assert resume.status_code == 302
    assert resume["Location"] == url
    assert client.get(url).status_code == 200
    saved = client.post(url, {"question": "overall", "answer": "4"}, headers=HX)
    assert saved.status_code == 200
    assert saved["X-Answer-Saved"]
    assert Rating.objects.get(assignment=reread).answer == 4
    assert selectors.rater_studies(user=rater)[0].waiting is None


def test_the_last_item_of_session_one_leads_to_the_wait_not_to_a_closed_item(client, study, rater):
    question = study.questions.get()
    firsts = list(study.assignments.filter(rater=rater, session=1).order_by("position"))
    for assignment in firsts[:-1]:
        services.rating_save(assignment=assignment, question=question, answer=3)
        services.assignment_submit(assignment=assignment)
    last = firsts[-1]
    services.rating_save(assignment=last, question=question, answer=3)
    client.force_login(rater)
    submitted = client.post(reverse("rater_submit", args=[study.token, last.token]))
    assert submitted["Location"] == reverse("rater_resume", args=[study.token])


def test_the_api_refuses_a_closed_session_and_the_list_says_when_it_opens(client, study, rater):
    client.force_login(rater)
    base = f"/api/v1/rate/{study.token}/items/"
    reread = second_session(study, rater)[0]
    listed = client.get("/api/v1/rate/").json()["results"][0]
    assert listed["waiting"] == {"session": 2, "items": 2, "opens_at": None, "after_days": 14}
    rows = client.get(base).json()["results"]
    assert [row["session"] for row in rows].count(2) == 2
    assert "kind" not in rows[0]
    finish_session_one(study, rater)
    refused = client.get(f"{base}{reread.token}/")
    assert refused.status_code == 409
    assert "not open yet" in refused.json()["detail"]
    answer = client.post(
        f"{base}{reread.token}/answers/",
        {"question": "overall", "answer": 4},
        content_type="application/json",
    )
    assert answer.status_code == 409
    assert client.post(f"{base}{reread.token}/submit/").status_code == 409
    assert not Rating.objects.filter(assignment=reread).exists()
    listed = client.get("/api/v1/rate/").json()["results"][0]
    assert listed["waiting"]["opens_at"] is not None
    move_back(study, rater, WASHOUT)
    assert client.get(f"{base}{reread.token}/").status_code == 200


def test_rereads_need_a_washout_on_the_form_and_in_the_api(client, study_admin):
    client.force_login(study_admin)
    form = client.post(
        reverse("study_create"),
        {
            "title": "No washout",
            "raters_per_item": 2,
            "retests_per_rater": 2,
            "washout_days": 0,
            "question_prompt": "Good?",
            "scale": "1 = Bad\n2 = Good",
            "level": "ordinal",
        },
    )
    assert form.status_code == 400
    assert "a washout of at least 1 day" in form.content.decode()
    api = client.post(
        "/api/v1/studies/",
        {"title": "No washout", "question_prompt": "Good?", "retests_per_rater": 2},
        content_type="application/json",
    )
    assert api.status_code == 400
    assert "washout_days" in api.json()
    made = client.post(
        "/api/v1/studies/",
        {
            "title": "Washout",
            "question_prompt": "Good?",
            "retests_per_rater": 2,
            "washout_days": 14,
        },
        content_type="application/json",
    )
    assert made.status_code == 201
    assert (made.json()["retests_per_rater"], made.json()["washout_days"]) == (2, 14)


def test_opening_refuses_more_rereads_than_a_rater_has_items(study_admin, raters):
    with pytest.raises(ValidationError, match="re-reads 5 of their items"):
        washout_study(study_admin, raters, retests=5)


def test_raters_see_the_study_settings_of_neither_repeats_nor_rereads(client, study, rater):
    client.force_login(rater)
    data = client.get(f"/api/v1/studies/{study.token}/").json()
    assert data["retests_per_rater"] is None
    assert data["washout_days"] is None


@pytest.mark.django_db(transaction=True)
def test_a_save_in_session_two_reads_its_gate_in_the_same_statement(client, study, rater):
    finish_session_one(study, rater)
    move_back(study, rater, WASHOUT)
    reread = second_session(study, rater)[0]
    client.force_login(rater)
    url = reverse("rater_item", args=[study.token, reread.token])
    with statements() as sent:
        saved = client.post(url, {"question": "overall", "answer": "4"}, headers=HX)
    assert saved["X-Answer-Saved"]
    assert len(sent) <= SAVE_MAX, sent


def test_the_dashboard_shows_each_raters_sessions_and_rereads(client, study, study_admin, rater):
    last = finish_session_one(study, rater)
    opens = timezone.localtime(last + datetime.timedelta(days=WASHOUT))
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[study.token])).content.decode()
    text = " ".join(page.split())
    assert f"session 2: 0/2, opens {opens.day} {opens:%b %Y}, {opens:%H:%M}" in text
    assert text.count("session 2: 0/2, after session 1") == 2  # the other two raters
    assert text.count("re-reads 0/2") == 3
    rows = client.get(f"/api/v1/studies/{study.token}/raters/").json()
    mine = next(row for row in rows if row["username"] == rater.username)
    assert (mine["retests_done"], mine["retests_total"]) == (0, 2)
    assert [(s["session"], s["done"], s["total"], s["is_open"]) for s in mine["sessions"]] == [
        (1, 4, 4, True),
        (2, 0, 2, False),
    ]
    assert mine["done"] == 4
    assert mine["total"] == 6


def test_the_stored_digest_covers_sessions(study):
    assert study.manifest_hash == stored_digest(study)


def test_a_rater_joining_later_rereads_their_own_items_in_session_two(study, raters):
    late = UserFactory(username="late")
    services.study_add_raters(study=study, users=[late])
    study.refresh_from_db()
    assert study.manifest_hash == stored_digest(study)
    theirs = list(study.assignments.filter(rater=late).order_by("position"))
    rereads = [a for a in theirs if a.kind == Assignment.Kind.RETEST]
    assert len(rereads) == 2
    assert {a.session for a in rereads} == {2}
    assert max(a.position for a in theirs if a.session == 1) < min(a.position for a in rereads)
    # Every re-read, anyone's, points at its own rater's first reading of the same item.
    for reread in study.assignments.filter(kind=Assignment.Kind.RETEST):
        assert reread.repeat_of.rater_id == reread.rater_id
        assert reread.repeat_of.item_id == reread.item_id


def test_reassigning_a_rater_drops_the_rereads_of_items_that_moved(study, raters):
    leaver = raters[2]
    moved = services.assignments_reassign(study=study, rater=leaver)
    assert moved > 0
    left = study.assignments.filter(rater=leaver)
    assert not left.filter(kind__in=[Assignment.Kind.STUDY, Assignment.Kind.RETEST]).exists()
    study.refresh_from_db()
    assert study.manifest_hash == stored_digest(study)
    for reread in study.assignments.filter(kind=Assignment.Kind.RETEST):
        assert reread.repeat_of.rater_id == reread.rater_id
    for rater in raters[:2]:  # the takers' moved items join session 1, before their re-reads
        sessions = list(
            study.assignments.filter(rater=rater)
            .order_by("position")
            .values_list("session", flat=True)
        )
        assert sessions == sorted(sessions)


def test_the_review_list_marks_session_two_and_links_it_only_once_open(client, study, rater):
    later = second_session(study, rater)
    client.force_login(rater)
    url = reverse("rater_review", args=[study.token])
    page = " ".join(client.get(url).content.decode().split())
    assert page.count("· session 2") == 2
    assert page.count("Session 2 is not open yet") == 2
    for reread in later:
        assert reverse("rater_item", args=[study.token, reread.token]) not in page
    finish_session_one(study, rater)
    move_back(study, rater, WASHOUT)
    page = client.get(url).content.decode()
    assert "not open yet" not in page
    for reread in later:
        assert reverse("rater_item", args=[study.token, reread.token]) in page
