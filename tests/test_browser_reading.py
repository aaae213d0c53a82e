"""Assisted reading in headless Chromium: by keyboard alone, a ranked differential typed row by
row and reordered, locked with Enter (asked first, Escape keeps editing), then read again beside
the model's output; a crossover study's two sessions, the second opening once the washout has
passed; and a lock pressed after the session ended, which loses nothing and locks once the reader
signs in."""

import datetime

from django.utils import timezone

from annotation import services
from annotation.models import Assignment, Output, Rating
from tests.factories import PASSWORD
from tests.reading_support import CASES, OUTPUTS, reading_study
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
        assert page.inner_text("[data-read-stage]") == "Read 1 of 2: on your own"
        page.keyboard.press("Escape")  # back to the question card, where Enter submits
        # Enter asks first: locking cannot be undone. Escape keeps editing, the answer as typed.
        page.keyboard.press("Enter")
        yes = page.get_by_role("button", name="Yes, lock it")
        yes.wait_for()
        assert page.evaluate("document.activeElement.textContent") == "Yes, lock it"
        page.keyboard.press("Escape")
        assert page.locator("[data-lock-confirm]").is_hidden()
        assert page.url.endswith(f"/{first.token}/")
        assert page.input_value("input[name='entry-1']") == "PE"
        assert not page.locator("input[name='entry-1']").is_disabled()
        # Focus is back on "Lock my answer": Enter presses it, and Enter on "Yes" locks.
        page.keyboard.press("Enter")
        yes.wait_for()
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/{second.token}/")
        assert page.inner_text("[data-read-stage]") == "Read 2 of 2: with assistance"
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
        moves = page.locator("[data-move]")
        assert moves.count() == 6
        assert moves.evaluate_all("all => all.every(b => b.hasAttribute('disabled'))")
        assert "move an entry" not in page.inner_text(".pager")

    first.refresh_from_db()
    assert first.locked_at is not None
    assert Rating.objects.get(assignment=first).answer == ["PE", "Anxiety"]
    assert Rating.objects.get(assignment=second).answer == ["PE", "Pneumonia"]


WASHOUT = 21


def answer_by_keyboard(page, diagnosis: str) -> None:
    """Type a one-entry differential, wait until it is saved, and submit it with Enter."""
    page.wait_for_selector("input[name='entry-1']")
    page.wait_for_load_state()  # keys work once the page's script has loaded
    page.focus("input[name='entry-1']")
    with page.expect_response(posted(f"entry-1={diagnosis}")):
        page.keyboard.type(diagnosis)
    page.wait_for_selector("#q-answer .ok")
    page.keyboard.press("Escape")  # back to the question card, where Enter submits
    item = page.url
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Yes, lock it").wait_for()  # locking asks first
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: url != item)


def read_session(page, reads: list[dict], outputs: list[str]) -> list[str]:
    """Answer the session's reads in order, from the rater's list, checking what each shows:
    the model's output beside the case in the assisted arm, nothing of any model unassisted."""
    shown = []
    for read in reads:
        page.wait_for_url(f"**/{read['token']}/")
        body = page.content()
        if read["arm"] == "llm":
            assert page.locator("#assistance-title").inner_text() == "Assistant"
            assert page.locator("#output-text").inner_text() == read["output"]
        else:
            assert page.locator("#output-text").count() == 0
            assert "Assistant" not in body
            assert not [text for text in outputs if text in body]
        assert "Lock my answer" in body  # submitting a crossover read locks it
        assert page.inner_text("[data-read-stage]") == f"Session {read['session']}"
        shown.append(read["arm"])
        answer_by_keyboard(page, "PE")
    return shown


def test_a_reader_reads_a_crossover_study_in_two_sessions_a_washout_apart(
    live_server, study_admin, raters
):
    study = reading_study(study_admin, raters[:2], washout_days=WASHOUT)
    services.study_open(study=study)
    reader = raters[0]
    # The browser runs an event loop: the database is read and changed between its sessions.
    mine = Assignment.objects.filter(study=study, rater=reader).select_related(
        "arm", "item__output__case"
    )
    reads = {
        session: [
            {
                "token": a.token,
                "arm": a.arm.key,
                "case": a.item.output.case.external_id,
                "output": a.item.output.text,
                "session": session,
            }
            for a in mine.filter(session=session).order_by("position")
        ]
        for session in (1, 2)
    }
    outputs = list(Output.objects.filter(case__study=study).values_list("text", flat=True))
    assert len(outputs) == len(CASES) * len(OUTPUTS)
    with browser_page(live_server.url) as page:
        log_in(page, reader.username)
        assert "Then session 2, with 4 items" in page.locator(".study-list").inner_text()
        page.get_by_role("link", name="Start").click()
        first_arms = read_session(page, reads[1], outputs)
        page.wait_for_selector("h1:has-text('Session 1 done')")
        waiting = page.locator(".session-wait").inner_text()
        page.goto("/rate/")
        listed = page.inner_text(".study-list")
        # A session-2 read, opened by its address before the washout has passed: refused,
        # saying when it opens, and showing nothing of the case's model output.
        early = page.goto(f"/rate/{study.token}/{reads[2][0]['token']}/")
        assert early.status == 409
        refused = page.content()
        assert "Session 2 is not open yet" in refused
        assert not [text for text in outputs if text in refused]
        # A session-1 read, assisted, opened again during the washout: closed, with nothing
        # of the model's output, and the list shows it closed, not linked.
        assisted = next(read for read in reads[1] if read["arm"] == "llm")
        again = page.goto(f"/rate/{study.token}/{assisted['token']}/")
        assert again.status == 409
        closed = page.content()
        assert "Answers of session 1 are closed now that you have finished it" in closed
        assert not [text for text in outputs if text in closed]
        page.goto(f"/rate/{study.token}/review/")
        assert page.get_by_text("Closed: session 1 is finished").count() == 4
        assert page.locator(f"a[href*='{assisted['token']}']").count() == 0

    last = Assignment.objects.filter(study=study, rater=reader, session=1).latest("submitted_at")
    opens = timezone.localtime(last.submitted_at + datetime.timedelta(days=WASHOUT))
    assert f"Session 2 opens on {opens.day} {opens:%B %Y}" in waiting
    assert "4 items" in waiting
    assert f"Session 2 opens on {opens.day} {opens:%B %Y}" in listed
    assert not Assignment.objects.filter(
        study=study, rater=reader, session=2, first_opened_at__isnull=False
    ).exists()
    assert not Rating.objects.filter(assignment__study=study, assignment__session=2).exists()
    # The washout passes: session 1's submits as if a day more than the washout ago.
    earlier = timezone.now() - datetime.timedelta(days=WASHOUT + 1)
    Assignment.objects.filter(study=study, rater=reader, session=1).update(submitted_at=earlier)

    with browser_page(live_server.url) as page:
        log_in(page, reader.username)
        assert page.locator(".session-wait").count() == 0
        page.get_by_role("link", name="Resume").click()
        second_arms = read_session(page, reads[2], outputs)
        page.wait_for_selector("h1:has-text('All 8 items rated')")

    # Each case came back in the other arm; both sessions held both arms.
    by_case = {r["case"]: r["arm"] for r in reads[1]}
    assert all(by_case[r["case"]] != r["arm"] for r in reads[2])
    assert sorted(first_arms) == sorted(second_arms) == ["llm", "llm", "unassisted", "unassisted"]
    answers = Rating.objects.filter(assignment__study=study, assignment__rater=reader)
    assert sorted(answers.values_list("answer", flat=True)) == [["PE"]] * 8


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
        page.get_by_role("button", name="Yes, lock it").click()
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
        page.get_by_role("button", name="Yes, lock it").click()
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


PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}


def test_a_reader_on_a_phone_reorders_by_tapping_and_confirms_the_lock(
    live_server, study_admin, raters
):
    study = reading_study(study_admin, raters[:1])
    services.study_open(study=study)
    reader = raters[0]
    first, second = Assignment.objects.filter(study=study, rater=reader).order_by("position")[:2]
    with browser_page(live_server.url, **PHONE) as page:
        log_in(page, reader.username)
        page.goto(f"/rate/{study.token}/{first.token}/")
        page.wait_for_load_state()
        assert page.locator(".key-hints").first.is_hidden()  # no Alt+arrows on a phone
        page.locator("input[name='entry-1']").fill("Anxiety")
        with page.expect_response(posted("entry-2=PE")):
            page.locator("input[name='entry-2']").fill("PE")
        rows = page.locator(".ranked-entries li")
        assert rows.nth(0).get_by_role("button", name="Move up").is_disabled()
        with page.expect_response(posted("entry-1=PE&entry-2=Anxiety")):
            rows.nth(1).get_by_role("button", name="Move up").tap()
        assert page.input_value("input[name='entry-1']") == "PE"
        assert page.input_value("input[name='entry-2']") == "Anxiety"
        # By keyboard too: Enter on a focused "Move down" moves the entry, focus follows it.
        rows.nth(1).get_by_role("button", name="Move down").focus()
        with page.expect_response(posted("entry-2=&entry-3=Anxiety")):
            page.keyboard.press("Enter")
        assert page.input_value("input[name='entry-3']") == "Anxiety"
        focused = "document.activeElement.closest('li') === document.querySelectorAll("
        assert page.evaluate(focused + "'.ranked-entries li')[2]")
        page.wait_for_selector("#q-answer .ok")
        page.wait_for_function(NOTHING_PENDING)
        page.get_by_role("button", name="Lock my answer").tap()
        page.get_by_role("button", name="Keep editing").tap()  # nothing locked
        assert page.url.endswith(f"/{first.token}/")
        page.get_by_role("button", name="Lock my answer").tap()
        page.get_by_role("button", name="Yes, lock it").tap()
        page.wait_for_url(f"**/{second.token}/")
        assert page.locator("[data-read-stage]").inner_text() == "Read 2 of 2: with assistance"
        assert "Starting from your locked answer" in page.locator("#q-answer .status").inner_text()

    first.refresh_from_db()
    assert first.locked_at is not None
    assert Rating.objects.get(assignment=first).answer == ["PE", "Anxiety"]


def test_the_session_opening_is_shown_in_the_readers_time_and_in_utc(
    live_server, study_admin, raters
):
    study = reading_study(study_admin, raters[:2], washout_days=WASHOUT)
    services.study_open(study=study)
    reader = raters[0]
    question = study.questions.get(key="answer")
    for read in Assignment.objects.filter(study=study, rater=reader, session=1):
        services.rating_save(assignment=read, question=question, answer=["PE"])
        services.assignment_submit(assignment=read)
    last = Assignment.objects.filter(study=study, rater=reader, session=1).latest("submitted_at")
    opens = (last.submitted_at + datetime.timedelta(days=WASHOUT)).astimezone(datetime.UTC)
    # Kathmandu is UTC+05:45 all year: no daylight saving to reckon with.
    local = opens + datetime.timedelta(hours=5, minutes=45)
    with browser_page(live_server.url, timezone_id="Asia/Kathmandu", **PHONE) as page:
        log_in(page, reader.username)
        page.goto("/rate/")
        page.wait_for_selector("[data-utc-time]")
        wait = page.locator(".session-wait").inner_text()
        assert page.get_by_role("link", name="Resume").count() == 0
    assert f"Session 2 opens on {local.day} {local:%B %Y, %H:%M} GMT+5:45 (your time)" in wait
    assert f"({opens.day} {opens:%B %Y, %H:%M} UTC)" in wait


def test_without_script_the_lock_waits_for_its_box_ticked(live_server, study_admin, raters):
    study = reading_study(study_admin, raters[:1])
    services.study_open(study=study)
    first = Assignment.objects.filter(study=study, rater=raters[0]).order_by("position")[0]
    question = study.questions.get(key="answer")
    services.rating_save(assignment=first, question=question, answer=["PE"])
    with browser_page(live_server.url, java_script_enabled=False) as page:
        log_in(page, raters[0].username)
        page.goto(f"/rate/{study.token}/{first.token}/")
        page.get_by_role("button", name="Lock my answer").click()
        page.wait_for_timeout(300)  # a submit would have left the page by now
        assert page.url.endswith(f"/{first.token}/")
        page.reload()  # the browser refused (the box is required): nothing was locked
        assert not page.locator("input[name='entry-1']").is_disabled()
        assert page.locator(".locked-note").count() == 0
        page.get_by_label("Lock for good: my answer can no longer change after this.").check()
        page.get_by_role("button", name="Lock my answer").click()
        page.wait_for_url(lambda url: not url.endswith(f"/{first.token}/"))
        page.close()  # the block's end asks open pages to run script, which would never answer
    first.refresh_from_db()
    assert first.locked_at is not None
