"""In Chromium: "no errors found" chosen by click and by key and submitted; marked spans
highlighted in the response text; a locked study read by its rater."""

import pytest

from annotation import services
from annotation.models import Output, Question, Rating
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS

TEXT = "Take <b>ibuprofen</b> 4 g daily.\nSee a doctor if it persists."
SELECT = """(words) => {
    // Select the words in the response as a rater would with the mouse, through any
    // highlighting already there.
    const container = document.getElementById('output-text');
    const start = container.textContent.indexOf(words);
    const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    let seen = 0, node;
    while ((node = walker.nextNode())) {
        const length = node.textContent.length;
        if (seen <= start && start < seen + length) range.setStart(node, start - seen);
        if (seen < start + words.length && start + words.length <= seen + length) {
            range.setEnd(node, start + words.length - seen);
        }
        seen += length;
    }
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
}"""


@pytest.fixture
def span_study(open_study, raters):
    """The open study with a required span question; the first rater's first item has TEXT."""
    Question.objects.create(
        study=open_study,
        key="errors",
        prompt="Mark any errors",
        kind="span",
        level="ratio",
        scale=[
            {"value": "factual", "label": "Factual error"},
            {"value": "omission", "label": "Omission"},
        ],
        required=True,
        order=4,
    )
    assignment = open_study.assignments.filter(rater=raters[0]).order_by("position").first()
    Output.objects.filter(pk=assignment.item.output_id).update(text=TEXT)
    return open_study


def _first(study, rater):
    return study.assignments.filter(rater=rater).order_by("position").first()


def _mark(page, words):
    page.evaluate(SELECT, words)
    with page.expect_response(
        lambda r: r.request.method == "POST" and "errors" in (r.request.post_data or "")
    ) as saved:
        page.click("#q-errors [data-span-mark]")
    assert saved.value.ok


def _saved_after(page, action):
    with page.expect_response(lambda r: r.request.method == "POST") as saved:
        action()
    assert saved.value.ok


def test_no_errors_found_by_click_replaces_marked_spans_and_is_submitted(
    live_server, span_study, raters
):
    rater = raters[0]
    assignment = _first(span_study, rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{span_study.token}/{assignment.token}/")
        _saved_after(page, lambda: page.click("#q-overall label.point:has-text('Good')"))
        _mark(page, "4 g daily")
        none = page.locator("#q-errors [data-none]")
        # Asked first: dismissing keeps the span and leaves "no errors found" unticked.
        page.once("dialog", lambda dialog: dialog.dismiss())
        none.click()
        assert not none.is_checked()
        assert page.locator("#q-errors .spans li").count() == 1
        messages = []

        def accept(dialog):
            messages.append(dialog.message)
            dialog.accept()

        page.once("dialog", accept)
        _saved_after(page, none.click)
        assert messages == ["Throw away the 1 marked span and answer “No errors found”?"]
        assert none.is_checked()
        assert page.locator("#q-errors .spans li").count() == 0
        assert page.locator("#output-text mark").count() == 0
        page.wait_for_selector("#q-errors .ok")
        page.click("#submit button")
        page.wait_for_selector("text=Item 2 of 4")
        page.goto(f"/rate/{span_study.token}/{assignment.token}/")
        assert page.locator("#q-errors [data-none]").is_checked()

    rating = Rating.objects.get(assignment=assignment, question__key="errors")
    assert (rating.answer, rating.value) == ("none", 0.0)
    assignment.refresh_from_db()
    assert assignment.submitted_at is not None


def test_no_errors_found_by_key_n_and_a_marked_span_clears_it(live_server, span_study, raters):
    rater = raters[0]
    assignment = _first(span_study, rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{span_study.token}/{assignment.token}/")
        page.wait_for_load_state()
        page.focus("#q-errors")
        _saved_after(page, lambda: page.keyboard.press("n"))
        none = page.locator("#q-errors [data-none]")
        assert none.is_checked()
        # Marking a span is an error found: "no errors found" goes, and the span is saved.
        _mark(page, "ibuprofen")
        assert not none.is_checked()
        page.wait_for_selector("#q-errors .ok")
    rating = Rating.objects.get(assignment=assignment, question__key="errors")
    assert [TEXT[s["start"] : s["end"]] for s in rating.answer] == ["ibuprofen"]
    assert [answer for answer in rating.revisions.values_list("answer", flat=True)][0] == "none"


def test_marked_spans_are_highlighted_in_the_response_text(live_server, span_study, raters):
    rater = raters[0]
    assignment = _first(span_study, rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{span_study.token}/{assignment.token}/")
        _mark(page, "4 g daily")
        marks = page.locator("#output-text mark")
        assert marks.all_inner_texts() == ["4 g daily"]
        # Marked again through the highlighting: offsets still count the plain text.
        _mark(page, "See a doctor")
        assert marks.all_inner_texts() == ["4 g daily", "See a doctor"]
        assert page.locator("#output-text").evaluate("e => e.textContent") == TEXT
        page.reload()
        assert marks.all_inner_texts() == ["4 g daily", "See a doctor"]
        # Markup in the response stays text, highlighted or not.
        assert page.locator("#output-text b").count() == 0
        _saved_after(page, lambda: page.locator("#q-errors [data-span-remove]").first.click())
        assert marks.all_inner_texts() == ["See a doctor"]
        assert page.locator("#output-text").evaluate("e => e.textContent") == TEXT
        # A list rebuilt by another script (an answer restored from another tab) is followed.
        page.locator("#q-errors [data-span-list]").evaluate("list => list.replaceChildren()")
        page.wait_for_function("!document.querySelector('#output-text mark')")
    rating = Rating.objects.get(assignment=assignment, question__key="errors")
    assert [TEXT[s["start"] : s["end"]] for s in rating.answer] == ["See a doctor"]


def test_a_locked_study_is_read_by_its_rater(live_server, open_study, raters):
    rater = raters[0]
    question = open_study.questions.get()
    first = _first(open_study, rater)
    services.rating_save(assignment=first, question=question, answer=4)
    services.assignment_submit(assignment=first)
    services.study_lock(study=open_study)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto("/rate/")
        card = page.locator(".study-list li", has_text=open_study.title)
        assert card.locator(".badge").inner_text() == "Locked"
        card.get_by_role("link", name="Read my answers").click()
        page.wait_for_selector("h1:has-text('My answers')")
        assert "This study is locked" in page.locator(".locked-note").inner_text()
        row = page.locator("table.review-list tbody tr").first
        assert row.locator(".review-status").inner_text() == "Submitted"
        row.get_by_role("link").click()
        page.wait_for_selector("text=Item 1 of 4")
        answer = page.locator("#q-overall input[name=answer][value='4']")
        assert answer.is_checked()
        assert answer.is_disabled()
        assert page.locator("#submit").count() == 0
        assert "read-only" in page.locator(".locked-note").first.inner_text()
        page.locator("#q-overall label.point:has(input[value='2'])").click(force=True)
        page.keyboard.press("2")
        assert answer.is_checked()
    assert Rating.objects.get(assignment=first).answer == 4
