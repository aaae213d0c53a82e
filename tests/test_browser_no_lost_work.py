"""No answer lost in the rater's browser (headless Chromium): a session ended in another tab, a
server that went away, a page closed right after typing, and two tabs on one item."""

import re

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from annotation.models import Question
from tests.conftest import _worker_database_url
from tests.factories import PASSWORD
from tests.support.app_server import AppServer
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS

PENDING = "() => Object.keys(localStorage).filter(k => k.startsWith('evalapp.pending/'))"
NOTHING_PENDING = f"() => ({PENDING})().length === 0"


def first_item(study, rater):
    return study.assignments.filter(rater=rater).order_by("position").first()


def item_path(study, assignment) -> str:
    return f"/rate/{study.token}/{assignment.token}/"


def sign_out_in_another_tab(page) -> None:
    other = page.context.new_page()
    other.goto("/rate/")
    other.click("button:has-text('Log out')")
    other.wait_for_url("**/accounts/login/**")
    other.close()


def test_signed_out_in_another_tab_answers_are_kept_then_saved_after_signing_in_here(
    live_server, open_study, raters
):
    rater = raters[0]
    first = first_item(open_study, rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(item_path(open_study, first))
        page.wait_for_load_state()
        sign_out_in_another_tab(page)

        page.check("#q-overall input[value='2']")
        page.wait_for_selector("#signed-out:not([hidden])")
        status = page.locator("#q-overall .status").inner_text()
        assert "Saved" not in status
        assert "signed out" in status
        scope = page.locator("#unsaved").get_attribute("data-scope")
        assert page.evaluate(PENDING) == [
            f"evalapp.pending/{scope}/{open_study.token}/{first.token}/overall"
        ]
        page.click("#submit button")  # not submitted while an answer waits
        page.wait_for_selector("[data-submit-status]:has-text('You are signed out')")
        assert page.url.endswith(item_path(open_study, first))

        page.click("[data-sign-in]")
        page.fill("#sign-in-username", rater.username)
        page.fill("#sign-in-password", PASSWORD)
        page.click("#sign-in button[type=submit]")
        page.wait_for_selector("#q-overall .ok", timeout=10_000)
        assert page.locator("#signed-out").is_hidden()
        page.wait_for_function(NOTHING_PENDING)
        # Still on the item; later saves and the submit carry the token rotated at login.
        page.check("#q-overall input[value='5']")
        page.wait_for_selector("#q-overall .ok")
        page.click("#submit button")
        page.wait_for_selector("text=Item 2 of 4")

    rating = first.ratings.get()
    assert list(rating.revisions.values_list("answer", flat=True)) == [2, 5]
    first.refresh_from_db()
    assert first.submitted_at is not None


def test_signed_out_answers_are_saved_once_signed_in_again_in_a_new_tab(
    live_server, open_study, raters
):
    rater = raters[0]
    first = first_item(open_study, rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(item_path(open_study, first))
        page.wait_for_load_state()
        sign_out_in_another_tab(page)
        page.check("#q-overall input[value='3']")
        page.wait_for_selector("#signed-out:not([hidden])")

        with page.context.expect_page() as opened:
            page.click("[data-sign-in-tab]")
        login = opened.value
        login.wait_for_selector("#id_username")
        assert login.url.endswith(f"/accounts/login/?next={item_path(open_study, first)}")
        login.fill("#id_username", rater.username)
        login.fill("#id_password", PASSWORD)
        login.click("button[type=submit]")
        login.wait_for_url(f"**{item_path(open_study, first)}")
        login.close()

        # The first tab notices by itself (on focus, or within a few seconds) and saves.
        page.wait_for_selector("#signed-out[hidden]", state="attached", timeout=10_000)
        page.wait_for_selector("#q-overall .ok", timeout=10_000)
        page.wait_for_function(NOTHING_PENDING)

    assert first.ratings.get().answer == 3


@pytest.fixture
def app_server(transactional_db, tmp_path):
    server = AppServer(database_url=_worker_database_url(), log=tmp_path / "runserver.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def with_server_password(rater):
    """The server process checks passwords with the production hashers, not the tests' MD5."""
    rater.password = PBKDF2PasswordHasher().encode(PASSWORD, "saltsaltsalt")
    rater.save(update_fields=["password"])
    return rater


def test_answers_given_while_the_server_is_down_survive_leaving_the_page(
    app_server, open_study, raters
):
    rater = with_server_password(raters[0])
    first = first_item(open_study, rater)
    with browser_page(app_server.url) as page:
        page.on("dialog", lambda dialog: dialog.accept())  # "Leave site?": yes
        log_in(page, rater.username)
        page.goto(item_path(open_study, first))
        page.wait_for_load_state()

        app_server.stop()
        page.check("#q-overall input[value='2']")
        page.wait_for_selector("#q-overall .warn:has-text('no connection')", timeout=10_000)
        assert "Saved" not in page.locator("#q-overall .status").inner_text()
        page.goto("about:blank")

        app_server.start()
        page.goto(app_server.url + item_path(open_study, first))
        notice = page.locator("#pending-notice")
        assert page.locator("#q-overall input[value='2']").is_checked()
        page.wait_for_selector("#pending-notice:has-text('saved now')", timeout=10_000)
        assert notice.inner_text() == "1 answer from your last visit is saved now."
        page.wait_for_function(NOTHING_PENDING)

    assert first.ratings.get().answer == 2


@pytest.fixture
def comment(open_study):
    """A free-text question after the study's scale."""
    return Question.objects.create(
        study=open_study,
        key="comment",
        prompt="Anything else?",
        kind="text",
        level="",
        required=False,
        order=5,
    )


def test_a_comment_typed_then_the_page_closed_at_once_is_stored(
    live_server, open_study, raters, comment
):
    rater = raters[0]
    first = first_item(open_study, rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(item_path(open_study, first))
        page.wait_for_load_state()
        page.locator("#q-comment textarea").press_sequentially("Dose is wrong")
        context = page.context
        page.close()  # before the 600 ms the typing waits for

        again = context.new_page()
        again.goto(item_path(open_study, first))
        assert again.locator("#q-comment textarea").input_value() == "Dose is wrong"
        again.wait_for_function(NOTHING_PENDING, timeout=10_000)
        assert "Saved" in again.locator("#q-comment .status").inner_text()

    assert first.ratings.get(question__key="comment").answer == "Dose is wrong"


def test_a_change_in_another_tab_replaces_saved_for_the_old_answer(live_server, open_study, raters):
    rater = raters[0]
    first = first_item(open_study, rater)
    with browser_page(live_server.url) as tab1:
        log_in(tab1, rater.username)
        tab1.goto(item_path(open_study, first))
        tab1.check("#q-overall input[value='4']")
        tab1.wait_for_selector("#q-overall .ok")

        tab2 = tab1.context.new_page()
        tab2.goto(item_path(open_study, first))
        tab2.check("#q-overall input[value='2']")
        tab2.wait_for_selector("#q-overall .ok")

        # Shown at once through the shared storage, before tab 1 is even focused.
        tab1.wait_for_selector("#q-overall .changed-elsewhere")
        assert tab1.locator("#q-overall input[value='2']").is_checked()
        tab1.bring_to_front()
        tab1.evaluate("window.dispatchEvent(new Event('focus'))")
        tab1.wait_for_selector("#q-overall .status:has-text('Saved Changed in another tab')")
        assert tab1.locator("#q-overall input[value='2']").is_checked()
        assert not tab1.locator("#q-overall input[value='4']").is_checked()

    assert first.ratings.get().answer == 2


def test_a_tab_behind_another_browser_shows_the_newer_answer_and_submits_only_after(
    live_server, open_study, raters
):
    rater = raters[0]
    first = first_item(open_study, rater)
    with browser_page(live_server.url) as tab1:
        log_in(tab1, rater.username)
        tab1.goto(item_path(open_study, first))
        tab1.check("#q-overall input[value='4']")
        tab1.wait_for_selector("#q-overall .ok")

        # Another browser (no shared storage): only the server can tell tab 1.
        elsewhere = tab1.context.browser.new_context(base_url=live_server.url).new_page()
        log_in(elsewhere, rater.username)
        elsewhere.goto(item_path(open_study, first))
        elsewhere.check("#q-overall input[value='2']")
        elsewhere.wait_for_selector("#q-overall .ok")

        tab1.evaluate("window.dispatchEvent(new Event('focus'))")
        tab1.wait_for_selector("#q-overall .changed-elsewhere")
        assert tab1.locator("#q-overall input[value='2']").is_checked()
        status = tab1.locator("#q-overall .status").inner_text()
        assert "Changed in another tab" in status

        elsewhere.check("#q-overall input[value='3']")
        elsewhere.wait_for_selector("#q-overall .ok")
        # Submitted without being focused first: refused, and the newer answer shown.
        tab1.evaluate("document.getElementById('submit').requestSubmit()")
        tab1.wait_for_selector("[data-submit-status]:has-text('changed in another tab')")
        assert tab1.locator("#q-overall input[value='3']").is_checked()
        assert "/submit/" not in tab1.url
        tab1.click("#submit button")
        tab1.wait_for_selector("text=Item 2 of 4")

    first.refresh_from_db()
    assert first.submitted_at is not None
    assert first.ratings.get().answer == 3


def test_text_typed_then_leaving_at_once_is_sent_as_the_page_goes(
    live_server, open_study, raters, comment
):
    rater = raters[0]
    first = first_item(open_study, rater)
    with browser_page(live_server.url) as page:
        page.on("dialog", lambda dialog: dialog.accept())  # "Leave site?": yes
        log_in(page, rater.username)
        page.goto(item_path(open_study, first))
        page.wait_for_load_state()
        page.locator("#q-comment textarea").press_sequentially("Omits the dose")
        # Gone before the typing's 600 ms wait is over: only the flush as it goes can save it,
        # since this item is not opened again. (Playwright does not report that request.)
        # Leaving by script, not by a click: the text box keeps focus and fires no "change".
        page.evaluate("window.location.assign(document.getElementById('next').href)")
        page.wait_for_selector("text=Item 2 of 4")
        page.wait_for_timeout(1000)  # the request outlives the page; let it land

    assert first.ratings.get(question__key="comment").answer == "Omits the dose"


def test_answers_pending_for_another_item_are_pointed_out_there(live_server, open_study, raters):
    rater = raters[0]
    first, second = open_study.assignments.filter(rater=rater).order_by("position")[:2]
    with browser_page(live_server.url) as page:
        page.on("dialog", lambda dialog: dialog.accept())
        log_in(page, rater.username)
        page.goto(item_path(open_study, first))
        page.wait_for_load_state()
        # This item's saves fail (the server cannot be reached for them).
        page.route(f"**{item_path(open_study, first)}", lambda route: route.abort())
        page.check("#q-overall input[value='4']")
        page.wait_for_selector("#q-overall .warn:has-text('no connection')")
        page.click("#submit button")
        page.wait_for_selector(
            "[data-submit-status]:has-text('Not saved yet, so the item was not submitted: "
            "How well does the summary capture the question?.')",
            timeout=10_000,
        )
        page.click("#next")
        page.wait_for_selector("text=Item 2 of 4")
        page.unroute(f"**{item_path(open_study, first)}")

        # The notice is drawn by the page's script, once it has read this browser's storage.
        page.wait_for_selector("#other-items", state="visible")
        notice = page.locator("#other-items")
        assert "Item 1" in notice.inner_text()
        notice.get_by_role("link", name="Item 1").click()
        page.wait_for_selector("text=Item 1 of 4")
        assert page.locator("#q-overall input[value='4']").is_checked()
        page.wait_for_selector("#pending-notice:has-text('saved now')")
        page.wait_for_function(NOTHING_PENDING)

    assert first.ratings.get().answer == 4
    assert not second.ratings.exists()


def test_a_tab_with_its_own_unsaved_change_gets_a_conflict_note(live_server, open_study, raters):
    rater = raters[0]
    first = first_item(open_study, rater)
    with browser_page(live_server.url) as tab1:
        log_in(tab1, rater.username)
        tab1.goto(item_path(open_study, first))
        tab1.check("#q-overall input[value='4']")
        tab1.wait_for_selector("#q-overall .ok")
        tab1.route(
            f"**{item_path(open_study, first)}",
            lambda route: route.abort() if route.request.method == "POST" else route.continue_(),
        )
        tab1.check("#q-overall input[value='5']")  # not saved: its request fails
        tab1.wait_for_selector("#q-overall .warn:has-text('no connection')")

        elsewhere = tab1.context.browser.new_context(base_url=live_server.url).new_page()
        log_in(elsewhere, rater.username)
        elsewhere.goto(item_path(open_study, first))
        elsewhere.check("#q-overall input[value='2']")
        elsewhere.wait_for_selector("#q-overall .ok")

        tab1.evaluate("window.dispatchEvent(new Event('focus'))")
        tab1.wait_for_selector("#q-overall .changed-elsewhere:has-text('Also changed')")
        assert tab1.locator("#q-overall input[value='5']").is_checked()  # this tab's own
        assert "Saved" not in tab1.locator("#q-overall .status").inner_text()
        tab1.unroute(f"**{item_path(open_study, first)}")
        tab1.wait_for_selector("#q-overall .ok", timeout=10_000)  # the retry stores it

    assert first.ratings.get().answer == 5


def test_a_save_refused_for_its_csrf_token_is_not_saved_then_retried_with_a_fresh_one(
    live_server, open_study, raters
):
    rater = raters[0]
    first = first_item(open_study, rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(item_path(open_study, first))
        page.wait_for_load_state()
        # The CSRF cookie gone bad (as after a rotated secret): the next save is a 403.
        page.evaluate("document.cookie = 'csrftoken=bad; path=/'")
        with page.expect_response(lambda r: r.request.method == "POST") as refused:
            page.check("#q-overall input[value='3']")
        assert refused.value.status == 403
        assert "Saved" not in page.locator("#q-overall .status").inner_text()
        page.wait_for_selector("#q-overall .ok", timeout=10_000)
        page.wait_for_function(NOTHING_PENDING)

    assert first.ratings.get().answer == 3


def saves_fail(page, study, assignment) -> None:
    """The item's saves cannot reach the server; the page itself still opens."""
    page.route(
        f"**{item_path(study, assignment)}",
        lambda route: route.abort() if route.request.method == "POST" else route.continue_(),
    )


def stored_answers(page, study, assignment) -> dict:
    """The rater's answers as the server holds them, read from inside the browser."""
    url = f"/rate/{study.token}/{assignment.token}/answers/"
    return page.evaluate(
        "url => fetch(url, {headers: {'X-Requested-With': 'fetch'}}).then(r => r.json())", url
    )["answers"]


def test_kept_answers_are_shown_and_replayed_only_to_the_rater_who_gave_them(
    live_server, open_study, raters
):
    rater1, rater2 = raters[0], raters[1]
    mine = first_item(open_study, rater1)
    theirs = first_item(open_study, rater2)
    with browser_page(live_server.url) as page:
        page.on("dialog", lambda dialog: dialog.accept())  # "Leave site?": yes
        log_in(page, rater1.username)
        page.goto(item_path(open_study, mine))
        page.wait_for_load_state()
        scope1 = page.locator("#unsaved").get_attribute("data-scope")
        saves_fail(page, open_study, mine)
        page.check("#q-overall input[value='4']")
        page.wait_for_selector("#q-overall .warn:has-text('no connection')")

        # Logging out asks first, and staying signed in stays.
        page.click("button:has-text('Log out')")
        dialog = page.locator("#logout-kept")
        assert dialog.locator("h2").inner_text() == "1 answer is not saved yet"
        assert "until you sign in again here" in dialog.inner_text()
        page.click("#logout-kept [data-logout-choice=stay]")
        assert page.url.endswith(item_path(open_study, mine))
        page.click("button:has-text('Log out')")
        page.click("#logout-kept [data-logout-choice=keep]")
        page.wait_for_url("**/accounts/login/**")

        log_in(page, rater2.username)
        page.goto(item_path(open_study, theirs))
        page.wait_for_load_state()
        scope2 = page.locator("#unsaved").get_attribute("data-scope")
        page.wait_for_timeout(500)  # the page's script has read the storage by now
        assert page.locator("#other-items").is_hidden()
        assert page.locator("#pending-notice").is_hidden()
        assert page.locator("#q-overall input:checked").count() == 0
        assert stored_answers(page, open_study, theirs) == {}
        # What is kept is named for rater 1 alone, by no id or name a page shows.
        keys = page.evaluate(PENDING)
        assert [key.split("/")[1] for key in keys] == [scope1]
        assert scope1 != scope2
        assert re.fullmatch(r"[0-9a-f]{24}", scope1)
        # Rater 2 has nothing of their own kept: logging out does not ask.
        page.click("button:has-text('Log out')")
        page.wait_for_url("**/accounts/login/**")

        page.unroute(f"**{item_path(open_study, mine)}")
        log_in(page, rater1.username)
        page.goto(item_path(open_study, mine))
        assert page.locator("#q-overall input[value='4']").is_checked()
        page.wait_for_selector("#pending-notice:has-text('saved now')", timeout=10_000)
        page.wait_for_function(NOTHING_PENDING)

    assert mine.ratings.get().answer == 4
    assert not theirs.ratings.exists()


def test_a_kept_answer_is_not_put_silently_over_one_changed_in_another_browser(
    app_server, open_study, raters
):
    rater = with_server_password(raters[0])
    first = first_item(open_study, rater)
    with browser_page(app_server.url) as here:
        here.on("dialog", lambda dialog: dialog.accept())
        log_in(here, rater.username)
        here.goto(item_path(open_study, first))
        here.check("#q-overall input[value='4']")
        here.wait_for_selector("#q-overall .ok")
        app_server.stop()  # no save gets through, not even the one sent as the page goes
        here.check("#q-overall input[value='2']")  # kept here: the server cannot be reached
        here.wait_for_selector("#q-overall .warn:has-text('no connection')")
        here.goto("about:blank")
        app_server.start()

        elsewhere = here.context.browser.new_context(base_url=app_server.url).new_page()
        log_in(elsewhere, rater.username)
        elsewhere.goto(item_path(open_study, first))
        elsewhere.check("#q-overall input[value='5']")
        elsewhere.wait_for_selector("#q-overall .ok")

        here.goto(app_server.url + item_path(open_study, first))
        here.wait_for_selector("#q-overall [data-kept-use]")
        assert here.locator("#q-overall input[value='5']").is_checked()  # the server's
        assert "differs" in here.locator("#pending-notice").inner_text()
        here.click("#submit button")  # not before the rater has chosen
        here.wait_for_selector("[data-submit-status]:has-text('choose first')")
        here.wait_for_timeout(2000)  # long enough for a replay to have landed
        assert stored_answers(here, open_study, first)["overall"]["fields"] == {"answer": ["5"]}
        assert len(here.evaluate(PENDING)) == 1

        here.click("#q-overall [data-kept-use]")
        here.wait_for_selector("#q-overall .ok")
        assert here.locator("#q-overall input[value='2']").is_checked()
        here.wait_for_function(NOTHING_PENDING)
        assert here.locator("#pending-notice").is_hidden()

    assert list(first.ratings.get().revisions.values_list("answer", flat=True)) == [4, 5, 2]


def test_keeping_the_stored_answer_over_a_kept_one_discards_the_kept_one(
    app_server, open_study, raters
):
    rater = with_server_password(raters[0])
    first = first_item(open_study, rater)
    with browser_page(app_server.url) as here:
        here.on("dialog", lambda dialog: dialog.accept())
        log_in(here, rater.username)
        here.goto(item_path(open_study, first))
        here.check("#q-overall input[value='4']")
        here.wait_for_selector("#q-overall .ok")
        app_server.stop()  # no save gets through, not even the one sent as the page goes
        here.check("#q-overall input[value='2']")
        here.wait_for_selector("#q-overall .warn:has-text('no connection')")
        here.goto("about:blank")
        app_server.start()

        elsewhere = here.context.browser.new_context(base_url=app_server.url).new_page()
        log_in(elsewhere, rater.username)
        elsewhere.goto(item_path(open_study, first))
        elsewhere.check("#q-overall input[value='5']")
        elsewhere.wait_for_selector("#q-overall .ok")

        here.goto(app_server.url + item_path(open_study, first))
        here.click("#q-overall [data-kept-discard]")
        here.wait_for_function(NOTHING_PENDING)
        assert here.locator("#q-overall .status").inner_text() == "Saved"
        here.click("#submit button")
        here.wait_for_selector("text=Item 2 of 4")

    assert list(first.ratings.get().revisions.values_list("answer", flat=True)) == [4, 5]


def count_posts(page, study, assignment, fulfil) -> list:
    """Every save the page sends to the item, each answered by `fulfil`."""
    posts = []

    def handle(route):
        if route.request.method != "POST":
            route.continue_()
            return
        posts.append(route.request.post_data)
        fulfil(route, len(posts))

    page.route(f"**{item_path(study, assignment)}", handle)
    return posts


def test_a_redirect_in_answer_to_a_save_is_followed_and_the_answer_kept(
    live_server, open_study, raters
):
    rater = raters[0]
    first = first_item(open_study, rater)
    elsewhere = f"/rate/{open_study.token}/training-first/"
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(item_path(open_study, first))
        page.wait_for_load_state()
        # As the server answers while training is still to do. The page it sends to answers
        # 204, so the browser stays here, and what this page says stays readable.
        page.route(f"**{elsewhere}", lambda route: route.fulfill(status=204))
        posts = count_posts(
            page,
            open_study,
            first,
            lambda route, n: route.fulfill(status=204, headers={"HX-Redirect": elsewhere}),
        )
        with page.expect_request(f"**{elsewhere}"):
            page.check("#q-overall input[value='3']")
        status = page.locator("#q-overall .status")
        assert "another item first" in status.inner_text()
        page.wait_for_timeout(4000)  # no retries meanwhile
        assert len(posts) == 1
        assert "no connection" not in status.inner_text()
        assert len(page.evaluate(PENDING)) == 1


def test_an_item_no_longer_open_says_so_and_is_not_retried(live_server, open_study, raters):
    rater = raters[0]
    first = first_item(open_study, rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(item_path(open_study, first))
        page.wait_for_load_state()
        posts = count_posts(
            page, open_study, first, lambda route, n: route.fulfill(status=404, body="")
        )
        page.check("#q-overall input[value='3']")
        page.wait_for_selector("#q-overall .warn:has-text('no longer open to you')")
        assert "Kept in this browser" in page.locator("#q-overall .status").inner_text()
        page.wait_for_timeout(4000)
        assert len(posts) == 1
        assert len(page.evaluate(PENDING)) == 1


def test_a_server_error_is_retried_with_a_growing_wait_until_saved(live_server, open_study, raters):
    rater = raters[0]
    first = first_item(open_study, rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(item_path(open_study, first))
        page.wait_for_load_state()
        posts = count_posts(
            page,
            open_study,
            first,
            lambda route, n: route.fulfill(status=502, body="") if n <= 2 else route.continue_(),
        )
        page.check("#q-overall input[value='3']")
        page.wait_for_selector("#q-overall .warn:has-text('the server has a problem')")
        page.wait_for_selector("#q-overall .ok", timeout=15_000)
        page.wait_for_function(NOTHING_PENDING)
        assert len(posts) == 3

    assert first.ratings.get().answer == 3


def test_a_request_refused_again_and_again_stops_being_sent_and_says_so(
    live_server, open_study, raters
):
    rater = raters[0]
    first = first_item(open_study, rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(item_path(open_study, first))
        page.wait_for_load_state()
        posts = count_posts(
            page, open_study, first, lambda route, n: route.fulfill(status=400, body="")
        )
        page.check("#q-overall input[value='3']")
        page.wait_for_selector("#q-overall .warn:has-text('server answered 400. Retrying')")
        page.wait_for_selector("#q-overall .warn:has-text('Reload the page')", timeout=15_000)
        page.wait_for_timeout(4000)
        assert len(posts) == 3
        assert len(page.evaluate(PENDING)) == 1


def test_logging_out_may_remove_the_answers_kept_here(live_server, open_study, raters):
    rater = raters[0]
    first = first_item(open_study, rater)
    with browser_page(live_server.url) as page:
        page.on("dialog", lambda dialog: dialog.accept())
        log_in(page, rater.username)
        page.goto(item_path(open_study, first))
        page.wait_for_load_state()
        saves_fail(page, open_study, first)
        page.check("#q-overall input[value='4']")
        page.wait_for_selector("#q-overall .warn:has-text('no connection')")
        page.click("button:has-text('Log out')")
        page.click("#logout-kept [data-logout-choice=remove]")
        page.wait_for_url("**/accounts/login/**")
        assert page.evaluate(PENDING) == []


def test_answers_kept_before_the_secret_was_rotated_are_still_the_raters(
    live_server, open_study, raters, settings
):
    rater = raters[0]
    first = first_item(open_study, rater)
    with browser_page(live_server.url) as page:
        page.on("dialog", lambda dialog: dialog.accept())
        log_in(page, rater.username)
        page.goto(item_path(open_study, first))
        page.wait_for_load_state()
        before = page.locator("#unsaved").get_attribute("data-scope")
        saves_fail(page, open_study, first)
        page.check("#q-overall input[value='4']")
        page.wait_for_selector("#q-overall .warn:has-text('no connection')")
        page.goto("/rate/")
        assert [key.split("/")[1] for key in page.evaluate(PENDING)] == [before]

        settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
        settings.SECRET_KEY = "a-new-secret-for-this-test-only-a-new-secret"
        page.unroute(f"**{item_path(open_study, first)}")
        page.goto(live_server.url + item_path(open_study, first))
        assert page.locator("#unsaved").get_attribute("data-scope") != before
        assert page.locator("#q-overall input[value='4']").is_checked()
        page.wait_for_selector("#pending-notice:has-text('saved now')", timeout=10_000)
        page.wait_for_function(NOTHING_PENDING)

    assert first.ratings.get().answer == 4
