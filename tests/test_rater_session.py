"""A rater whose session ended, and a tab that is behind another: nothing is stored unseen, no
script takes a login page for a save, and `next` is always a page one can open."""

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from annotation import selectors, services
from annotation.models import Rating, Study
from tests.factories import PASSWORD
from tests.test_sets import _study

pytestmark = pytest.mark.django_db


@pytest.fixture
def first(open_study, rater):
    return open_study.assignments.filter(rater=rater).order_by("position").first()


def item_url(study, assignment):
    return reverse("rater_item", args=[study.token, assignment.token])


def answers_url(study, assignment):
    return reverse("rater_answers", args=[study.token, assignment.token])


def next_of(url: str) -> str:
    return parse_qs(urlparse(url).query)["next"][0]


def test_an_htmx_save_while_signed_out_is_401_and_stores_nothing(client, open_study, first):
    response = client.post(
        item_url(open_study, first),
        {"question": "overall", "answer": "4"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 401
    assert "X-Answer-Saved" not in response.headers
    assert not Rating.objects.exists()


def test_a_fetch_while_signed_out_is_401(client, open_study, first):
    response = client.get(answers_url(open_study, first), headers={"X-Requested-With": "fetch"})
    assert response.status_code == 401
    assert response.json() == {"signed_in": False}


def test_a_submit_while_signed_out_goes_to_log_in_and_back_to_the_item_page(
    client, open_study, first, rater
):
    submit = reverse("rater_submit", args=[open_study.token, first.token])
    response = client.post(submit, {"elapsed_ms": "10"})
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert next_of(response.url) == item_url(open_study, first)
    # Signing in there opens the item page, not the POST-only address (which would be a 405).
    signed_in = client.post(
        response.url,
        {"username": rater.username, "password": PASSWORD, "next": next_of(response.url)},
        follow=True,
    )
    assert signed_in.status_code == 200
    assert signed_in.redirect_chain[-1][0] == item_url(open_study, first)
    first.refresh_from_db()
    assert first.submitted_at is None


def test_a_plain_save_while_signed_out_goes_to_log_in_with_the_item_page(client, open_study, first):
    response = client.post(item_url(open_study, first), {"question": "overall", "answer": "4"})
    assert response.status_code == 302
    assert next_of(response.url) == item_url(open_study, first)
    assert not Rating.objects.exists()


def test_the_item_page_while_signed_out_goes_to_log_in_and_back(client, open_study, first):
    response = client.get(item_url(open_study, first))
    assert response.status_code == 302
    assert next_of(response.url) == item_url(open_study, first)


def test_a_save_says_in_a_header_that_it_stored_the_answer_and_which_revision(
    client, open_study, first, rater
):
    client.force_login(rater)
    response = client.post(
        item_url(open_study, first),
        {"question": "overall", "answer": "4"},
        headers={"HX-Request": "true"},
    )
    rating = Rating.objects.get(assignment=first)
    assert response.headers["X-Answer-Saved"] == rating.updated_at.isoformat()
    assert "X-Answer-Refused" not in response.headers
    answers = client.get(answers_url(open_study, first)).json()
    assert answers["answers"]["overall"]["revision"] == response.headers["X-Answer-Saved"]


def test_a_refused_save_says_so_in_a_header_and_not_that_it_saved(client, open_study, first, rater):
    client.force_login(rater)
    response = client.post(
        item_url(open_study, first),
        {"question": "overall", "answer": "9"},
        headers={"HX-Request": "true"},
    )
    assert response.headers["X-Answer-Refused"] == "1"
    assert "X-Answer-Saved" not in response.headers


def test_the_answers_read_gives_the_raters_answers_as_the_form_posts_them(
    client, open_study, first, rater
):
    from annotation.models import Question

    Question.objects.create(
        study=open_study, key="comment", prompt="Comment", kind="text", level="", order=3
    )
    client.force_login(rater)
    services.rating_save(
        assignment=first, question=open_study.questions.get(key="overall"), answer=4
    )
    services.rating_save(
        assignment=first, question=open_study.questions.get(key="comment"), answer="Too long"
    )
    response = client.get(answers_url(open_study, first))
    assert response["Cache-Control"].startswith("max-age=0")
    body = response.json()
    assert body["signed_in"] is True
    assert body["submitted"] is False
    assert {key: a["fields"] for key, a in body["answers"].items()} == {
        "overall": {"answer": ["4"]},
        "comment": {"answer": ["Too long"]},
    }


def test_the_answers_read_is_blind_to_sources_and_closed_to_other_raters(
    client, study_admin, raters
):
    study = _study(study_admin, raters, design=Study.Design.SIDE_BY_SIDE)
    assignment = study.assignments.filter(rater=raters[0]).first()
    question = study.questions.exclude(key="rank").get()
    for place in range(3):
        services.rating_save(assignment=assignment, question=question, answer=3, shown=place)
    client.force_login(raters[0])
    text = client.get(answers_url(study, assignment)).content.decode()
    body = json.loads(text)
    # Only what the page itself shows: its forms' ids, values and an opaque revision each.
    assert set(body) == {"signed_in", "submitted", "answers"}
    assert set(body["answers"]) == {f"{question.key}-{letter}" for letter in "ABC"}
    for answer in body["answers"].values():
        assert set(answer) == {"fields", "revision"}
        assert answer["fields"] == {"answer": ["3"]}
    for source in study.sources.all():
        assert source.label not in text
    client.force_login(raters[1])
    other = client.get(answers_url(study, assignment))
    assert other.status_code == 404


def test_a_submit_from_a_tab_behind_another_is_refused_and_shows_the_current_answers(
    client, open_study, first, rater
):
    client.force_login(rater)
    question = open_study.questions.get()
    services.rating_save(assignment=first, question=question, answer=4)
    seen = client.get(answers_url(open_study, first)).json()["answers"]
    stale = {key: answer["revision"] for key, answer in seen.items()}
    services.rating_save(assignment=first, question=question, answer=2)  # another tab
    submit = reverse("rater_submit", args=[open_study.token, first.token])

    refused = client.post(submit, {"seen": json.dumps(stale)}, follow=True)
    assert "Some answers were changed in another tab" in refused.text
    assert 'value="2" data-key="2" checked' in refused.text
    first.refresh_from_db()
    assert first.submitted_at is None

    current = client.get(answers_url(open_study, first)).json()["answers"]
    fresh = {key: answer["revision"] for key, answer in current.items()}
    response = client.post(submit, {"seen": json.dumps(fresh)})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.submitted_at is not None


def test_a_submit_that_saw_no_answer_while_one_was_stored_elsewhere_is_refused(
    client, open_study, first, rater
):
    client.force_login(rater)
    services.rating_save(assignment=first, question=open_study.questions.get(), answer=4)
    submit = reverse("rater_submit", args=[open_study.token, first.token])
    client.post(submit, {"seen": "{}"})
    first.refresh_from_db()
    assert first.submitted_at is None
    client.post(submit, {"seen": ""})  # no script: not checked
    first.refresh_from_db()
    assert first.submitted_at is not None


def test_the_item_page_holds_the_revision_of_each_answer_it_shows(client, open_study, first, rater):
    client.force_login(rater)
    rating = services.rating_save(assignment=first, question=open_study.questions.get(), answer=4)
    page = client.get(item_url(open_study, first)).text
    revisions = page.split('<script id="answer-revisions" type="application/json">')[1]
    assert json.loads(revisions.split("</script>")[0]) == {"overall": rating.updated_at.isoformat()}


def scope_on(html: str, attribute: str) -> str:
    match = re.search(rf'{attribute}="([^"]*)"', html)
    assert match, attribute
    return match.group(1)


def test_answers_kept_in_the_browser_are_named_by_an_opaque_value_of_the_rater(
    client, open_study, raters
):
    names = []
    for user in raters[:2]:
        client.force_login(user)
        assignment = open_study.assignments.filter(rater=user).order_by("position").first()
        html = client.get(item_url(open_study, assignment)).content.decode()
        scope = scope_on(html, "data-scope")
        # The logout form names the same rater's kept answers, to ask before they are left.
        assert scope_on(html, "data-kept-answers") == scope
        assert re.fullmatch(r"[0-9a-f]{24}", scope)
        assert scope == selectors.rater_browser_scope(user=user)
        assert scope not in (str(user.pk), user.username, open_study.token, assignment.token)
        names.append(scope)
    assert names[0] != names[1]
    client.force_login(raters[0])
    again = client.get(item_url(open_study, open_study.assignments.filter(rater=raters[0]).first()))
    assert scope_on(again.content.decode(), "data-scope") == names[0]


def test_a_rotated_secret_names_the_raters_earlier_kept_answers_for_the_page_to_take_over(
    client, open_study, first, rater, settings
):
    client.force_login(rater)
    before = scope_on(client.get(item_url(open_study, first)).content.decode(), "data-scope")
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-for-this-test-only-a-new-secret"
    client.force_login(rater)
    html = client.get(item_url(open_study, first)).content.decode()
    assert scope_on(html, "data-scope") != before
    assert scope_on(html, "data-retired-scopes") == before


def test_the_changed_since_rule_compares_every_form_both_ways(open_study, first, rater):
    assert not selectors.rater_answers_changed_since(assignment=first, seen=None)
    assert not selectors.rater_answers_changed_since(assignment=first, seen={})
    services.rating_save(
        assignment=first, question=open_study.questions.get(key="overall"), answer=3
    )
    revision = selectors.rater_answers(assignment=first)["overall"].revision
    assert not selectors.rater_answers_changed_since(assignment=first, seen={"overall": revision})
    assert selectors.rater_answers_changed_since(assignment=first, seen={})
    assert selectors.rater_answers_changed_since(
        assignment=first, seen={"overall": revision, "other": "x"}
    )
