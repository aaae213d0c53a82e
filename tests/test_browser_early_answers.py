"""An answer given before the rater page's scripts have started (a slow network, a quick
clinician) is still kept in the browser and acknowledged as saved, not left without a word."""

import time

from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS


def test_an_answer_given_before_the_scripts_start_is_saved_and_says_so(
    live_server, open_study, raters
):
    rater = raters[0]
    first = open_study.assignments.filter(rater=rater).order_by("position").first()
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)

        def slowly(route):  # the save queue's module arrives two seconds late
            time.sleep(2)
            route.continue_()

        page.route("**/js/rater/queue*.js", slowly)
        page.goto(f"/rate/{open_study.token}/{first.token}/", wait_until="commit")
        page.click("label.point:has-text('Good')", timeout=5000)  # before the modules run
        page.wait_for_selector("#q-overall .ok")
        assert (
            page.evaluate(
                "[...Array(localStorage.length).keys()].filter("
                "i => localStorage.key(i).startsWith('evalapp.pending/')).length"
            )
            == 0
        )  # acknowledged, so nothing is left waiting in the browser
    assert first.ratings.get().value == 4
