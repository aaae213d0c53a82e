"""The crossover layout's reads lock when submitted, and a session's reads close once the reader
finishes it: during the washout and in later sessions the reader can neither read a read of an
earlier session (nor the model's output beside it) nor change its answer, so a case met again in
the other arm is answered afresh (issue 23, docs/assisted-reading.md)."""

import datetime

import pytest
from django.urls import reverse

from annotation import services
from annotation.models import Assignment, Output, Rating, RatingRevision
from tests.reading_support import reading_study

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}
WASHOUT = 14
CLOSED = "Answers of session 1 are closed now that you have finished it"
LOCKED = "Your answer to this case was submitted and is locked"


@pytest.fixture
def study(study_admin, raters):
    study = reading_study(study_admin, raters[:2], washout_days=WASHOUT)
    services.study_open(study=study)
    study.refresh_from_db()
    return study


@pytest.fixture
def reader(raters):
    return raters[0]


def reads(study, reader, session: int) -> list[Assignment]:
    mine = study.assignments.filter(rater=reader, session=session).select_related("arm")
    return list(mine.order_by("position"))


def finish(study, reader, session: int) -> None:
    question = study.questions.get(key="answer")
    for read in reads(study, reader, session):
        if read.submitted_at is not None:
            continue  # locked
        services.rating_save(assignment=read, question=question, answer=["PE"])
        services.assignment_submit(assignment=read)


def washout_passes(study, reader) -> None:
    """Time travel: session 1's submits as if a day more than the washout ago."""
    for read in reads(study, reader, 1):
        read.submitted_at -= datetime.timedelta(days=WASHOUT + 1)
        read.save(update_fields=["submitted_at"])


def item_url(study, read) -> str:
    return reverse("rater_item", args=[study.token, read.token])


def api_url(study, read) -> str:
    return f"/api/v1/rate/{study.token}/items/{read.token}/"


def assert_closed(client, study, read, outputs: list[str]) -> None:
    """The read is refused on the page, its htmx save, its answers probe and the API, with the
    message and nothing of any model output or the stored answer."""
    page = client.get(item_url(study, read))
    assert page.status_code == 409
    text = " ".join(page.text.split())
    assert CLOSED in text
    assert 'name="answer"' not in text
    assert "entry-1" not in text
    probe = client.get(item_url(study, read) + "answers/", headers={"X-Requested-With": "fetch"})
    assert probe.status_code == 409
    assert "PE" not in probe.text
    api = client.get(api_url(study, read))
    assert api.status_code == 409
    assert CLOSED in api.json()["detail"]
    assert set(api.json()) == {"detail", "opens_at"}
    for body in (page.text, probe.text, api.text):
        assert not [output for output in outputs if output in body]


def test_a_submitted_crossover_read_is_locked_and_a_save_refused_with_409(client, study, reader):
    first = reads(study, reader, 1)[0]
    client.force_login(reader)
    url = item_url(study, first)
    assert client.post(url, {"question": "answer", "entry-1": "PE"}, headers=HX).status_code == 200
    assert client.post(reverse("rater_submit", args=[study.token, first.token])).status_code == 302
    first.refresh_from_db()
    assert first.locked_at is not None
    assert first.submitted_at is not None
    revisions = RatingRevision.objects.filter(rating__assignment=first).count()
    # The session is not finished: the read can be seen, but no longer changed.
    page = " ".join(client.get(url).text.split())
    assert "Your answer is submitted and locked: it can no longer change." in page
    assert "Locked · go to next" in page
    assert "You can still change your answers" not in page
    saved = client.post(url, {"question": "answer", "entry-1": "MI"}, headers=HX)
    assert saved.status_code == 409
    assert LOCKED in saved.text
    posted = client.post(
        api_url(study, first) + "answers/",
        {"question": "answer", "answer": ["MI"]},
        content_type="application/json",
    )
    assert posted.status_code == 409
    assert LOCKED in posted.json()["detail"]
    question = study.questions.get(key="answer")
    with pytest.raises(services.AnswerLocked):
        services.rating_save(assignment=first, question=question, answer=["MI"])
    assert Rating.objects.get(assignment=first).answer == ["PE"]
    assert RatingRevision.objects.filter(rating__assignment=first).count() == revisions
    # Submitting again changes nothing.
    services.assignment_submit(assignment=first)
    assert Assignment.objects.get(pk=first.pk).locked_at == first.locked_at


def test_session_one_reads_close_when_the_reader_finishes_it_and_stay_closed(client, study, reader):
    outputs = list(Output.objects.filter(case__study=study).values_list("text", flat=True))
    first = reads(study, reader, 1)
    assisted = next(read for read in first if read.arm.key == "llm")
    client.force_login(reader)
    # Before the session is finished, a submitted read can still be seen, with its output.
    question = study.questions.get(key="answer")
    services.rating_save(assignment=assisted, question=question, answer=["PE"])
    services.assignment_submit(assignment=assisted)
    seen = client.get(item_url(study, assisted))
    assert seen.status_code == 200
    assert assisted.item.output.text in seen.text
    finish(study, reader, 1)
    # During the washout: closed everywhere, the assisted read's output too.
    for read in first:
        assert_closed(client, study, read, outputs)
    later = reads(study, reader, 2)
    assert client.get(item_url(study, later[0])).status_code == 409  # not open yet
    # Session 2 open: session 1 stays closed.
    washout_passes(study, reader)
    assert client.get(item_url(study, later[0])).status_code == 200
    for read in first:
        assert_closed(client, study, read, outputs)
    # The same case, met again unassisted, shows nothing of the output it had in session 1.
    again = next(r for r in later if r.item.output.case_id == assisted.item.output.case_id)
    assert again.arm.key == "unassisted"
    assert not [o for o in outputs if o in client.get(item_url(study, again)).text]
    # Finishing session 2 closes it too.
    finish(study, reader, 2)
    page = client.get(item_url(study, later[0]))
    assert page.status_code == 409
    assert "Answers of session 2 are closed now that you have finished it" in page.text


def test_saves_and_submits_to_a_closed_read_are_refused_and_keep_no_time(client, study, reader):
    finish(study, reader, 1)
    read = reads(study, reader, 1)[0]
    client.force_login(reader)
    before = Assignment.objects.get(pk=read.pk).time_on_task_ms
    revisions = RatingRevision.objects.filter(rating__assignment=read).count()
    body = {"question": "answer", "entry-1": "MI", "elapsed_ms": "5000"}
    saved = client.post(item_url(study, read), body, headers=HX)
    assert saved.status_code == 409
    assert CLOSED in saved.text
    submit = reverse("rater_submit", args=[study.token, read.token])
    assert client.post(submit, {"elapsed_ms": "5000"}).status_code == 409
    posted = client.post(
        api_url(study, read) + "answers/",
        {"question": "answer", "answer": ["MI"]},
        content_type="application/json",
    )
    assert posted.status_code == 409
    assert client.post(api_url(study, read) + "submit/").status_code == 409
    with pytest.raises(services.SessionNotOpen):
        services.rating_save(
            assignment=read, question=study.questions.get(key="answer"), answer=["MI"]
        )
    assert Rating.objects.get(assignment=read).answer == ["PE"]
    assert RatingRevision.objects.filter(rating__assignment=read).count() == revisions
    assert Assignment.objects.get(pk=read.pk).time_on_task_ms == before


def test_the_review_list_shows_a_finished_sessions_reads_closed_without_a_link(
    client, study, reader, raters
):
    client.force_login(reader)
    review = reverse("rater_review", args=[study.token])
    question = study.questions.get(key="answer")
    first = reads(study, reader, 1)
    services.rating_save(assignment=first[0], question=question, answer=["PE"])
    services.assignment_submit(assignment=first[0])
    page = " ".join(client.get(review).text.split())
    assert "Closed:" not in page  # the session is not finished: every read is linked
    assert all(item_url(study, read) in page for read in first)
    assert ">Review<span" in page  # the locked read: to look at, not to change
    assert "Review or change" not in page
    finish(study, reader, 1)
    for moment in ("washout", "session 2"):
        page = " ".join(client.get(review).text.split())
        assert page.count("Closed: session 1 is finished") == len(first) == 4, moment
        assert not [read for read in first if item_url(study, read) in page], moment
        washout_passes(study, reader)
    assert all(item_url(study, read) in page for read in reads(study, reader, 2))
    # The other reader, who has not finished, is not closed.
    client.force_login(raters[1])
    assert "Closed:" not in client.get(review).text


def test_the_washout_counts_from_the_last_submit_of_the_session(client, study, reader):
    finish(study, reader, 1)
    last = max(read.submitted_at for read in reads(study, reader, 1))
    client.force_login(reader)
    home = " ".join(client.get(reverse("rater_home")).text.split())
    opens = last + datetime.timedelta(days=WASHOUT)
    utc = opens.astimezone(datetime.UTC)
    assert f'Session 2 opens on <time datetime="{utc.isoformat()}" data-local-time>' in home
    assert f"{utc.day} {utc:%B %Y, %H:%M} UTC</time>" in home


def test_the_home_page_says_when_session_two_opens_and_offers_nothing_to_resume(
    client, study, reader
):
    client.force_login(reader)
    home = reverse("rater_home")
    resume = reverse("rater_resume", args=[study.token])
    before = client.get(home).text
    assert f'class="button primary" href="{resume}"' in before  # session 1 to read
    finish(study, reader, 1)
    page = client.get(home).text
    assert f'class="button primary" href="{resume}"' not in page  # it would lead nowhere
    assert ">Resume<" not in page.replace(" ", "").replace("\n", "")
    last = max(read.submitted_at for read in reads(study, reader, 1))
    opens = (last + datetime.timedelta(days=WASHOUT)).astimezone(datetime.UTC)
    # The server's text in UTC; the <time> element's instant for the browser to localise.
    stamp = f'<time datetime="{opens.isoformat()}" data-local-time>'
    assert stamp in page
    assert f"{opens.day} {opens:%B %Y, %H:%M} UTC</time>" in page
    assert "Session 2 opens on" in page
    washout_passes(study, reader)
    after = client.get(home).text
    assert f'class="button primary" href="{resume}"' in after
    assert "data-local-time" not in after
