"""The study dashboard in headless Chromium: irreversible actions ask first, saying what cannot be
undone, and do nothing when the question is dismissed; the raters table fits its card."""

import pytest

from annotation.models import Study
from tests.factories import UserFactory
from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.test_quality_control import _study as study_with_quality_control

pytestmark = BROWSER_MARKS


def test_locking_asks_first_and_does_nothing_when_dismissed(live_server, open_study, study_admin):
    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.goto(f"/studies/{open_study.token}/")
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        dialog = page.locator("#confirm-dialog")
        for dismiss in ("Cancel", "Escape"):
            page.get_by_role("button", name="Lock the study").click()
            page.wait_for_selector("#confirm-dialog[open]")
            assert dialog.locator("h2").inner_text() == "Lock the study?"
            assert "This cannot be undone: a locked study cannot be opened again." in (
                dialog.inner_text()
            )
            if dismiss == "Escape":
                page.keyboard.press("Escape")
            else:
                dialog.get_by_role("button", name="Cancel").click()
            page.wait_for_selector("#confirm-dialog", state="hidden")
        assert posts == []
        assert page.locator(".dash-head .badge").inner_text() == "Open for rating"

        page.get_by_role("button", name="Lock the study").click()
        dialog.get_by_role("button", name="Lock the study").click()
        page.wait_for_selector(".messages >> text=The study is locked.")
        assert page.locator(".dash-head .badge").inner_text() == "Locked"

    open_study.refresh_from_db()
    assert open_study.status == Study.Status.LOCKED


def test_reassigning_asks_naming_the_rater(live_server, open_study, study_admin):
    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.goto(f"/studies/{open_study.token}/")
        page.locator("#raters tr", has_text="R2").get_by_role("button").click()
        page.wait_for_selector("#confirm-dialog[open]")
        assert page.locator("#confirm-dialog h2").inner_text() == "Reassign R2's unstarted items?"
        page.keyboard.press("Enter")  # Cancel has the focus: Enter cannot move work by mistake
        page.wait_for_selector("#confirm-dialog", state="hidden")
    assert open_study.assignments.filter(rater__username="rater2").count() == 4


@pytest.mark.parametrize("width", [1024, 1366])
def test_the_raters_table_fits_its_card(live_server, study_admin, raters, width):
    long_names = [UserFactory(username=f"dr.margaret.oyelaran-whitfield{i}") for i in range(3)]
    study = study_with_quality_control(study_admin, raters + long_names)
    with browser_page(live_server.url, viewport={"width": width, "height": 900}) as page:
        log_in(page, study_admin.username)
        page.goto(f"/studies/{study.token}/")
        assert page.locator("table.raters tbody tr").count() == 6
        sizes = page.evaluate(
            """() => {
                const table = document.querySelector('table.raters');
                const card = table.closest('.card');
                const style = getComputedStyle(card);
                const padding = parseFloat(style.paddingRight) + parseFloat(style.borderRightWidth);
                return {
                    table: table.scrollWidth, card: card.clientWidth,
                    overhang: table.getBoundingClientRect().right
                        - (card.getBoundingClientRect().right - padding),
                };
            }"""
        )
    assert sizes["table"] <= sizes["card"], sizes
    assert sizes["overhang"] <= 0.5, sizes  # not into the card's padding either
