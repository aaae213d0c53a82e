"""The dashboard's reminders card in headless Chromium: the sent reminders by pseudonym, and
the settings saved in place (htmx), the rest of the page left as it was."""

from annotation import services
from tests.notifications_support import make_idle
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS


def test_the_admin_sees_the_reminders_and_turns_them_off_in_place(
    live_server, open_study, study_admin, raters
):
    make_idle(open_study, raters)
    services.notifications_send_due()
    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.goto(f"/studies/{open_study.token}/")
        card = page.locator("#notifications")
        rows = card.locator("[data-testid=notifications-sent] tbody tr")
        assert sorted(rows.nth(i).locator("td").nth(1).inner_text() for i in range(3)) == [
            "R1",
            "R2",
            "R3",
        ]
        assert rows.count() == 3
        page.evaluate("window.notReloaded = true")
        card.get_by_label("Remind stalled raters by e-mail").uncheck()
        card.get_by_label("Days without a submit before a reminder").fill("5")
        card.get_by_role("button", name="Save").click()
        page.wait_for_selector("[data-testid=notifications-saved]")
        assert page.evaluate("window.notReloaded") is True
        assert (
            not page.locator("#notifications")
            .get_by_label("Remind stalled raters by e-mail")
            .is_checked()
        )
    open_study.refresh_from_db()
    assert (open_study.reminders_enabled, open_study.reminder_stall_days) == (False, 5)
