"""A rater's two reading sessions in headless Chromium, by keyboard: session 1 rated, the wait
for session 2 shown with its date, and once the washout has passed (moved in the database),
session 2 rated the same way."""

import datetime

from django.utils import timezone

from annotation.models import Assignment, Rating
from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.test_washout_sessions import WASHOUT, washout_study

pytestmark = BROWSER_MARKS


def rate_by_keyboard(page, key: str) -> None:
    """Answer the item's one question with a digit and submit it with Enter."""
    page.wait_for_selector("#q-overall")
    page.wait_for_load_state()  # keys work once the page's script has loaded
    page.keyboard.press(key)
    page.wait_for_selector("#q-overall .ok")
    item = page.url
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: url != item)  # the next item, or the page after the last


def test_a_rater_finishes_session_one_waits_for_the_washout_then_rates_session_two(
    live_server, study_admin, raters
):
    study = washout_study(study_admin, raters)
    rater = raters[0]
    firsts = study.assignments.filter(rater=rater, session=1).count()
    # The browser runs an event loop: the database is read and changed between its sessions.
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        assert "Then session 2, with 2 items" in page.locator(".study-list").inner_text()
        page.get_by_role("link", name="Start").click()
        for _ in range(firsts):
            rate_by_keyboard(page, "4")
        page.wait_for_selector("h1:has-text('Session 1 done')")
        waiting = page.locator(".session-wait").inner_text()
        page.goto("/rate/")
        listed = page.inner_text(".study-list")

    last = study.assignments.filter(rater=rater, session=1).latest("submitted_at")
    opens = timezone.localtime(last.submitted_at + datetime.timedelta(days=WASHOUT))
    assert f"Session 2 opens on {opens.day} {opens:%B %Y}" in waiting
    assert "2 items" in waiting
    assert f"Session 2 opens on {opens.day} {opens:%B %Y}" in listed
    assert not study.assignments.filter(rater=rater, session=2, first_opened_at__isnull=False)
    # The washout passes: session 1's submits as if fifteen days ago.
    earlier = timezone.now() - datetime.timedelta(days=WASHOUT + 1)
    Assignment.objects.filter(study=study, rater=rater, session=1).update(submitted_at=earlier)

    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        assert page.locator(".session-wait").count() == 0
        page.get_by_role("link", name="Resume").click()
        for key in ("3", "5"):
            rate_by_keyboard(page, key)
        page.wait_for_selector("h1:has-text('All 6 items rated')")

    rereads = study.assignments.filter(rater=rater, session=2).order_by("position")
    assert all(a.submitted_at for a in rereads)
    answers = [Rating.objects.get(assignment=a).answer for a in rereads]
    assert answers == [3, 5]
