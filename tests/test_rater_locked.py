"""A locked study stays in its raters' list, read-only: every item with their answers, no save,
no submit, and a refused POST is a polite message, never a server error. An archived study is
put away, out of raters' sight. Also the rater's review list and the first item's instructions."""

import pytest
from django.urls import reverse

from annotation import services
from annotation.models import Question, Rating, Study
from tests.test_quality_control import _study
from tests.test_rater_views import item_url
from tests.test_rater_views import own_assignments as own

pytestmark = pytest.mark.django_db


@pytest.fixture
def locked_study(open_study, rater):
    """Locked with the rater's first item submitted (answer 4) and the second started (2)."""
    question = open_study.questions.get()
    first, second = own(open_study, rater)[:2]
    services.rating_save(assignment=first, question=question, answer=4)
    services.assignment_submit(assignment=first)
    services.rating_save(assignment=second, question=question, answer=2)
    services.study_lock(study=open_study)
    open_study.refresh_from_db()
    return open_study


def test_a_locked_study_stays_in_my_studies_marked_locked(rater_client, locked_study):
    page = rater_client.get(reverse("rater_home")).text
    review = reverse("rater_review", args=[locked_study.token])
    title = (
        f'<a class="title" href="{review}" lang="{locked_study.language}">{locked_study.title}</a>'
    )
    assert title in page
    assert '<span class="badge locked">Locked</span>' in page
    assert "1 of 4 rated · read-only" in page
    assert f'<a class="button" href="{review}">Read my answers</a>' in page


def test_the_study_page_of_a_locked_study_leads_to_the_answers(rater_client, locked_study, rater):
    response = rater_client.get(reverse("rater_resume", args=[locked_study.token]))
    assert response.status_code == 302
    assert response.url == reverse("rater_review", args=[locked_study.token])


def test_a_locked_study_all_submitted_opens_without_a_server_error(rater_client, open_study, rater):
    # Every item submitted: the study page used to count only open studies and failed.
    question = open_study.questions.get()
    for assignment in own(open_study, rater):
        services.rating_save(assignment=assignment, question=question, answer=3)
        services.assignment_submit(assignment=assignment)
    services.study_lock(study=open_study)
    response = rater_client.get(reverse("rater_resume", args=[open_study.token]), follow=True)
    assert response.status_code == 200
    assert "4 of 4 items submitted." in response.text
    assert "This study is locked: you can read your answers" in response.text


def test_a_locked_item_shows_the_answer_read_only(rater_client, locked_study, rater):
    first = own(locked_study, rater)[0]
    response = rater_client.get(item_url(locked_study, first))
    assert response.status_code == 200
    page = response.text
    assert "<fieldset disabled>" in page
    assert 'name="answer" value="4" data-key="4" checked' in page
    assert "This study is locked: your answers are shown read-only" in page
    assert 'id="submit"' not in page  # no submit button
    assert page.count("This study is locked") == 1  # said once, at the top
    # The keys line offers only what still works: moving between items.
    assert "<kbd>Enter</kbd> submit" not in page
    assert "answer the highlighted question" not in page
    assert "<kbd>←</kbd> <kbd>→</kbd> items" in page


def test_saving_in_a_locked_study_is_refused_politely(rater_client, locked_study, rater):
    first = own(locked_study, rater)[0]
    url = item_url(locked_study, first)
    response = rater_client.post(
        url, {"question": "overall", "answer": "1"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "This study is locked: answers can no longer change." in response.text
    plain = rater_client.post(url, {"question": "overall", "answer": "1"})
    assert plain.status_code == 302
    assert Rating.objects.get(assignment=first).answer == 4


def test_submitting_in_a_locked_study_is_refused_politely(rater_client, locked_study, rater):
    second = own(locked_study, rater)[1]
    submit = reverse("rater_submit", args=[locked_study.token, second.token])
    response = rater_client.post(submit, follow=True)
    assert response.status_code == 200
    assert "This study is locked: answers can no longer change." in response.text
    second.refresh_from_db()
    assert second.submitted_at is None


def test_an_archived_study_is_put_away(rater_client, locked_study, rater):
    services.study_archive(study=locked_study)
    assert locked_study.title not in rater_client.get(reverse("rater_home")).text
    assert rater_client.get(reverse("rater_resume", args=[locked_study.token])).status_code == 404
    assert rater_client.get(reverse("rater_review", args=[locked_study.token])).status_code == 404
    first = own(locked_study, rater)[0]
    assert rater_client.get(item_url(locked_study, first)).status_code == 404


def test_review_lists_my_items_with_their_status(rater_client, locked_study, rater):
    page = rater_client.get(reverse("rater_review", args=[locked_study.token])).text
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("<tr ")[1:]
    assignments = own(locked_study, rater)
    assert len(rows) == len(assignments) == 4
    statuses = ["Submitted", "Started", "Not started", "Not started"]
    for number, (row, assignment, status) in enumerate(
        zip(rows, assignments, statuses, strict=True), 1
    ):
        assert f'<th scope="row">Item {number}</th>' in row
        assert f">{status}</span>" in row
        assert f'href="{item_url(locked_study, assignment)}">Read' in row


def test_review_is_reachable_while_open_and_leads_to_each_item(client, open_study, raters):
    rater, other = raters[:2]
    client.force_login(rater)
    page = client.get(reverse("rater_review", args=[open_study.token])).text
    assert "0 of 4 items submitted." in page
    assert "This study is locked" not in page
    for assignment in own(open_study, rater):
        assert f'href="{item_url(open_study, assignment)}">Start' in page
    for assignment in own(open_study, other):  # another rater's items are not listed
        assert assignment.token not in page


def test_review_names_training_items_and_numbers_study_items_after_them(
    client, study_admin, raters
):
    study = _study(study_admin, raters)
    client.force_login(raters[0])
    page = client.get(reverse("rater_review", args=[study.token])).text
    heads = ["Training 1", "Training 2", "Item 1", "Item 2"]
    places = [page.index(f'<th scope="row">{head}</th>') for head in heads]
    assert places == sorted(places)


def test_review_refuses_outsiders(client, open_study, outsider):
    client.force_login(outsider)
    assert client.get(reverse("rater_review", args=[open_study.token])).status_code == 404


def test_instructions_are_open_on_the_first_item_only(rater_client, open_study, rater):
    Study.objects.filter(pk=open_study.pk).update(instructions="Read the whole question.")
    first, second = own(open_study, rater)[:2]
    first_page = rater_client.get(item_url(open_study, first)).text
    assert '<details class="instructions" open><summary>Instructions</summary>' in first_page
    second_page = rater_client.get(item_url(open_study, second)).text
    assert '<details class="instructions"><summary>Instructions</summary>' in second_page


def test_the_not_applicable_key_is_hinted_only_where_offered(rater_client, open_study, rater):
    first = own(open_study, rater)[0]
    question = open_study.questions.get()
    hint = "<kbd>0</kbd> not applicable"
    assert hint not in rater_client.get(item_url(open_study, first)).text
    Question.objects.filter(pk=question.pk).update(allow_na=True)
    assert hint in rater_client.get(item_url(open_study, first)).text


def test_the_rater_api_lists_a_locked_study_as_locked(client, locked_study, open_study, rater):
    from tests.test_api import auth

    rows = client.get("/api/v1/rate/", headers=auth(rater)).json()["results"]
    assert [(row["token"], row["done"], row["locked"]) for row in rows] == [
        (locked_study.token, 1, True)
    ]


def test_reading_a_locked_item_records_no_opening(rater_client, locked_study, rater):
    untouched = own(locked_study, rater)[3]
    assert rater_client.get(item_url(locked_study, untouched)).status_code == 200
    untouched.refresh_from_db()
    assert untouched.first_opened_at is None


def test_my_studies_links_an_open_study_to_my_answers_once_one_is_submitted(
    rater_client, open_study, rater
):
    review = f'<a href="{reverse("rater_review", args=[open_study.token])}">My answers</a>'
    assert review not in rater_client.get(reverse("rater_home")).text
    first = own(open_study, rater)[0]
    services.rating_save(assignment=first, question=open_study.questions.get(), answer=4)
    services.assignment_submit(assignment=first)
    assert review in rater_client.get(reverse("rater_home")).text
