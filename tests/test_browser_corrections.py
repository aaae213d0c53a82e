"""A correction by keyboard in headless Chromium: the box starts with the response's text,
typing edits it (digits and Enter stay in the box), "Accept unchanged" and "Reset to original"
are buttons reached by Tab, and each state is saved as the server sees it."""

from annotation.models import Question
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS


def _with_correction(study) -> None:
    Question.objects.create(
        study=study,
        key="corrected",
        prompt="Edit it into what you would sign",
        kind="correction",
        level="ratio",
        order=4,
    )


def _posted(fragment: str):
    def matches(response) -> bool:
        body = response.request.post_data or ""
        return (
            response.request.method == "POST" and "question=corrected" in body and fragment in body
        )

    return matches


def test_edit_then_accept_unchanged_then_submit_by_keyboard(live_server, open_study, raters):
    _with_correction(open_study)
    rater = raters[0]
    first = open_study.assignments.filter(rater=rater).order_by("position").first()
    original = first.item.output.text
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{open_study.token}/{first.token}/")
        box = page.locator("#q-corrected textarea")
        assert box.input_value() == original
        assert (
            "Not answered yet" in page.locator("#q-corrected [data-correction-state]").inner_text()
        )
        page.keyboard.press("4")  # the Likert question, by its key
        page.wait_for_selector("#q-overall .ok")
        page.focus("#q-corrected textarea")
        page.keyboard.press("Control+End")
        with page.expect_response(_posted("Call%20111")):
            page.keyboard.type(" Call 111 if it gets worse.")
        page.keyboard.press("Enter")  # a new line in the box, not a submit
        assert box.input_value().endswith("worse.\n")
        assert page.locator("#q-overall input[value='4']").is_checked()  # digits were typed
        assert page.locator("#q-corrected [data-correction-state]").inner_text() == "Edited."
        page.keyboard.press("Tab")  # to "Accept unchanged"
        assert page.evaluate("document.activeElement.textContent") == "Accept unchanged"
        page.once("dialog", lambda dialog: dialog.accept())  # throw away the edit
        with page.expect_response(_posted("accepted=1")):
            page.keyboard.press("Enter")
        assert box.input_value() == original
        assert (
            page.locator("#q-corrected [data-correction-state]").inner_text()
            == "Accepted unchanged."
        )
        page.wait_for_selector("#q-corrected .ok")
        page.keyboard.press("Escape")  # back to the question card, where Enter submits
        with page.expect_response(lambda r: r.url.endswith("/submit/")):
            page.keyboard.press("Enter")

    first.refresh_from_db()
    assert first.submitted_at is not None
    rating = first.ratings.get(question__key="corrected")
    assert (rating.answer["text"], rating.answer["chars"], rating.value) == (original, 0, 0.0)
    texts = [r.answer for r in rating.revisions.order_by("pk")]
    assert any(isinstance(t, dict) and "Call 111" in t["text"] for t in texts)


def test_reset_to_original_takes_the_answer_back(live_server, open_study, raters):
    _with_correction(open_study)
    rater = raters[0]
    first = open_study.assignments.filter(rater=rater).order_by("position").first()
    original = first.item.output.text
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{open_study.token}/{first.token}/")
        page.focus("#q-corrected textarea")
        with page.expect_response(_posted("Stop")):
            page.keyboard.type("Stop. ")
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")  # past "Accept unchanged" to "Reset to original"
        assert page.evaluate("document.activeElement.textContent") == "Reset to original"
        page.once("dialog", lambda dialog: dialog.accept())
        with page.expect_response(_posted("accepted=&")):
            page.keyboard.press("Enter")
        page.wait_for_selector("#q-corrected .ok")
        assert page.locator("#q-corrected textarea").input_value() == original
        state = page.locator("#q-corrected [data-correction-state]").inner_text()
        assert state.startswith("Not answered yet")
        page.reload()
        assert page.locator("#q-corrected textarea").input_value() == original

    assert first.ratings.get(question__key="corrected").answer == ""


def test_an_edit_that_could_not_be_saved_comes_back_and_is_saved(live_server, open_study, raters):
    _with_correction(open_study)
    rater = raters[0]
    first, second = open_study.assignments.filter(rater=rater).order_by("position")[:2]
    path = f"/rate/{open_study.token}/{first.token}/"
    original = first.item.output.text
    with browser_page(live_server.url) as page:
        page.on("dialog", lambda dialog: dialog.accept())  # "Leave site?": yes
        log_in(page, rater.username)
        page.goto(path)
        page.wait_for_load_state()
        # This item's saves fail (the server cannot be reached for them).
        page.route(f"**{path}", lambda route: route.abort())
        page.focus("#q-corrected textarea")
        page.keyboard.press("Control+End")
        page.keyboard.type(" Kept edit.")
        page.wait_for_selector("#q-corrected .warn:has-text('no connection')", timeout=10_000)
        page.goto(f"/rate/{open_study.token}/{second.token}/")
        page.unroute(f"**{path}")
        page.goto(path)
        page.wait_for_selector("#pending-notice:has-text('saved now')", timeout=10_000)
        assert page.locator("#q-corrected textarea").input_value() == original + " Kept edit."
        assert page.locator("#q-corrected [data-correction-state]").inner_text() == "Edited."

    assert first.ratings.get(question__key="corrected").answer["text"] == original + " Kept edit."
