"""A rater who signs in on a phone just after a large study opened, before the worker has
written their assignments: a list short enough is written there and then and they start on
their first item; a longer one is said to be in preparation, the sentence fitting the phone,
until the worker has written it."""

from concurrent.futures import ThreadPoolExecutor

from django.db import connection

from annotation import services
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}


def off_the_page(work):
    """`work` done in a thread of its own: Playwright's loop runs in this one, where Django
    refuses database calls."""

    def done():
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(done).result()


def test_a_rater_first_in_starts_on_their_first_item(live_server, draft_study, raters):
    services.study_open(study=draft_study, defer=True)  # as a worker's opening leaves it
    with browser_page(live_server.url, **PHONE) as page:
        log_in(page, raters[1].username)
        page.goto("/rate/")
        page.get_by_role("link", name="Start").tap()
        theirs = draft_study.assignments.filter(rater=raters[1]).order_by("position")
        first = off_the_page(theirs.first)
        page.wait_for_url(f"**/rate/{draft_study.token}/{first.token}/")
        assert page.locator("#progress .count").inner_text() == "0 of 4 rated"


def test_a_list_too_long_for_a_page_is_said_to_be_coming(
    live_server, draft_study, raters, settings
):
    settings.RATER_ASSIGNMENTS_WRITE_MAX = 3  # each rater has 4
    services.study_open(study=draft_study, defer=True)
    with browser_page(live_server.url, **PHONE) as page:
        log_in(page, raters[1].username)
        page.goto("/rate/")
        note = page.locator("[data-testid=preparing] .preparing")
        assert note.inner_text() == (
            "Your items in this study are being prepared. Reload this page in a minute."
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert note.bounding_box()["x"] + note.bounding_box()["width"] <= 390
        assert page.get_by_role("link", name="Start").count() == 0

        off_the_page(lambda: services.pending_assignments_write_all(draft_study))  # the worker
        page.reload()
        assert page.locator("[data-testid=preparing]").count() == 0
        page.get_by_role("link", name="Start").tap()
        page.wait_for_url(f"**/rate/{draft_study.token}/*/")
