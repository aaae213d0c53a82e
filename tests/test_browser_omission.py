"""The omission widget by keyboard in headless Chromium: Tab reaches each fact's two boxes and
the "none" box, Space ticks them, each change is saved as the criteria boxes are, a fact is
never both omitted and stated wrongly, and Enter on a box submits."""

from urllib.parse import parse_qs

import pytest

from annotation import services
from annotation.core import rubric
from annotation.models import Case, Rating
from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.test_omission import FACTS

pytestmark = BROWSER_MARKS


@pytest.fixture
def omission_item(draft_study, raters):
    """The first item of rater1 in an open study whose one required question is omissions."""
    draft_study.questions.all().delete()
    draft = rubric.QuestionDraft(
        key="omitted", prompt="Which facts are left out?", kind="omission", level="ratio"
    )
    services.question_add(study=draft_study, draft=draft)
    Case.objects.filter(study=draft_study).update(facts=FACTS)
    services.study_open(study=draft_study)
    assignment = draft_study.assignments.filter(rater=raters[0]).order_by("position").first()
    return draft_study, raters[0], assignment


def saved(omitted: list[str], wrong: list[str], answer: list[str] = ()):
    """The save of exactly these ticks, acknowledged by the server."""

    def matches(response) -> bool:
        if response.request.method != "POST" or not response.headers.get("x-answer-saved"):
            return False
        sent = parse_qs(response.request.post_data or "")
        return (sent.get("omitted", []), sent.get("wrong", []), sent.get("answer", [])) == (
            omitted,
            wrong,
            list(answer),
        )

    return matches


def box(name: str, fact: str) -> str:
    return f"#q-omitted input[name={name}][value={fact}]"


def test_a_rater_ticks_facts_by_keyboard_and_submits(live_server, omission_item):
    study, rater, assignment = omission_item
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{study.token}/{assignment.token}/")
        assert page.get_by_label("Omitted: Taking lisinopril 10 mg daily").count() == 1
        page.focus(box("omitted", "f1"))
        with page.expect_response(saved(["f1"], [])):
            page.keyboard.press("Space")
        page.keyboard.press("Tab")  # f1, stated wrongly
        page.keyboard.press("Tab")  # f2, omitted
        with page.expect_response(saved(["f1", "f2"], [])):
            page.keyboard.press("Space")
        page.keyboard.press("Tab")  # f2, stated wrongly: ticking it unticks f2's "omitted"
        with page.expect_response(saved(["f1"], ["f2"])):
            page.keyboard.press("Space")
        assert not page.is_checked(box("omitted", "f2"))
        assert page.is_checked(box("wrong", "f2"))
        page.wait_for_selector("#q-omitted .ok")
        with page.expect_navigation():
            page.keyboard.press("Enter")  # from a box: submits the item

    rating = Rating.objects.get(assignment=assignment)
    assert rating.answer == {"omitted": ["f1"], "wrong": ["f2"]}
    assert rating.value == pytest.approx(3 / 7)
    assignment.refresh_from_db()
    assert assignment.submitted_at is not None


def test_none_omitted_by_keyboard_clears_the_ticked_facts(live_server, omission_item):
    study, rater, assignment = omission_item
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{study.token}/{assignment.token}/")
        page.focus(box("wrong", "f4"))
        with page.expect_response(saved([], ["f4"])):
            page.keyboard.press("Space")
        page.keyboard.press("Tab")  # the "none omitted, none wrong" box after the list
        assert page.evaluate("document.activeElement.value") == "none"
        with page.expect_response(saved([], [], ["none"])):
            page.keyboard.press("Space")
        assert not page.is_checked(box("wrong", "f4"))
        page.reload()  # as stored: "none" ticked, no fact
        assert page.is_checked("#q-omitted input[data-none]")
        assert page.locator("#q-omitted input[data-fact]:checked").count() == 0

    assert Rating.objects.get(assignment=assignment).answer == "none"
