"""Assisted reading in headless Chromium: by keyboard alone, a ranked differential typed row by
row and reordered, locked with Enter, then read again beside the model's output; and a lock
pressed after the session ended, which loses nothing and locks once the reader signs in."""

from annotation import services
from annotation.models import Assignment, Rating
from tests.factories import PASSWORD
from tests.reading_support import reading_study
from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.test_browser_no_lost_work import NOTHING_PENDING, sign_out_in_another_tab

pytestmark = BROWSER_MARKS


def posted(fragment: str):
    def matches(response) -> bool:
        body = response.request.post_data or ""
        return response.request.method == "POST" and fragment in body

    return matches


def test_a_reader_answers_locks_and_reads_again_by_keyboard(live_server, study_admin, raters):
    study = reading_study(study_admin, raters[:1])
    services.study_open(study=study)
    reader = raters[0]
    first, second = Assignment.objects.filter(study=study, rater=reader).order_by("position")[:2]
    shown = second.item.output.text
    with browser_page(live_server.url) as page:
        log_in(page, reader.username)
        page.goto(f"/rate/{study.token}/{first.token}/")
        assert page.locator("#output-text").count() == 0  # nothing of the model
        page.focus("input[name='entry-1']")
        page.keyboard.type("Anxiety")
        page.keyboard.press("Tab")
        with page.expect_response(posted("entry-2=PE")):
            page.keyboard.type("PE")
        # Alt+Up moves the focused entry above the one before it.
        with page.expect_response(posted("entry-1=PE&entry-2=Anxiety")):
            page.keyboard.press("Alt+ArrowUp")
        page.wait_for_selector("#q-answer .ok")
        page.keyboard.press("Escape")  # back to the question card, where Enter submits
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/{second.token}/")
        assert page.locator("#assistance-title").inner_text() == "Assistant"
        assert page.locator("#output-text").inner_text() == shown
        assert page.input_value("input[name='entry-1']") == "PE"
        assert page.input_value("input[name='entry-2']") == "Anxiety"
        page.focus("input[name='entry-2']")
        page.keyboard.press("Control+A")
        with page.expect_response(posted("entry-2=Pneumonia")):
            page.keyboard.type("Pneumonia")
        page.wait_for_selector("#q-answer .ok")
        # The unassisted read, opened again, is read-only.
        page.goto(f"/rate/{study.token}/{first.token}/")
        assert page.locator("input[name='entry-1']").is_disabled()
        assert "locked" in page.locator(".locked-note").inner_text()

    first.refresh_from_db()
    assert first.locked_at is not None
    assert Rating.objects.get(assignment=first).answer == ["PE", "Anxiety"]
    assert Rating.objects.get(assignment=second).answer == ["PE", "Pneumonia"]


def test_a_lock_pressed_after_the_session_ended_loses_nothing_and_locks_after_signing_in(
    live_server, study_admin, raters
):
    study = reading_study(study_admin, raters[:1])
    services.study_open(study=study)
    reader = raters[0]
    first, second = Assignment.objects.filter(study=study, rater=reader).order_by("position")[:2]
    shown = second.item.output.text
    with browser_page(live_server.url) as page:
        log_in(page, reader.username)
        page.goto(f"/rate/{study.token}/{first.token}/")
        page.wait_for_load_state()
        sign_out_in_another_tab(page)

        # The unassisted answer typed after the session ended is kept in the page.
        page.focus("input[name='entry-1']")
        page.keyboard.type("PE")
        page.wait_for_selector("#signed-out:not([hidden])")
        assert "signed out" in page.locator("#q-answer .status").inner_text()
        lock = page.get_by_role("button", name="Lock my answer")
        lock.click()
        page.wait_for_selector("[data-submit-status]:has-text('You are signed out')")
        assert page.url.endswith(f"/{first.token}/")
        assert page.locator("#output-text").count() == 0  # still nothing of the model
        assert page.input_value("input[name='entry-1']") == "PE"  # not locked: still editable
        assert not page.locator("input[name='entry-1']").is_disabled()

        # Signed in again on the page: the answer is saved, and the lock then takes it.
        page.click("[data-sign-in]")
        page.fill("#sign-in-username", reader.username)
        page.fill("#sign-in-password", PASSWORD)
        page.click("#sign-in button[type=submit]")
        page.wait_for_selector("#q-answer .ok", timeout=10_000)
        page.wait_for_function(NOTHING_PENDING)
        lock.click()
        page.wait_for_url(f"**/{second.token}/")
        assert page.locator("#assistance-title").inner_text() == "Assistant"
        assert page.locator("#output-text").inner_text() == shown
        assert page.input_value("input[name='entry-1']") == "PE"

    first.refresh_from_db()
    assert first.locked_at is not None
    assert first.submitted_at is not None
    rating = Rating.objects.get(assignment=first)
    assert list(rating.revisions.values_list("answer", flat=True)) == [["PE"]]  # saved once
    assert Rating.objects.get(assignment=second).answer == ["PE"]
