"""A rater in headless Chromium: log in, rate two items, reload, and find the work kept."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.factories import PASSWORD

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# CI installs Debian's chromium; a developer machine without it skips, CI never does.
REQUIRED = os.environ.get("CI", "").lower() in ("1", "true") or bool(
    os.environ.get("REQUIRE_BROWSER")
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not CHROMIUM.exists() and not REQUIRED,
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)",
    ),
]


@contextmanager
def browser_page(base_url: str) -> Iterator:
    """A page in headless Debian Chromium. Use the ORM only outside this block: Playwright runs
    the test inside a greenlet with its own context, where Django would open a second database
    connection that nothing closes."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser.new_context(base_url=base_url).new_page()
        finally:
            browser.close()


def test_rater_rates_two_items_and_finds_them_after_reload(live_server, open_study, raters):
    rater = raters[0]
    with browser_page(live_server.url) as page:
        page.goto("/")
        page.fill("#id_username", rater.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.get_by_role("link", name="Start").click()
        page.wait_for_selector("text=Item 1 of 4")

        page.click("label.point:has-text('Good')")  # value 4, saved by htmx
        page.wait_for_selector("#rating .ok")
        assert page.locator("#progress .count").inner_text() == "1 of 4 rated"
        first_url = page.url

        page.click("#next")
        page.wait_for_selector("text=Item 2 of 4")
        page.keyboard.press("2")  # keyboard shortcut: the second point, "Poor"
        page.wait_for_selector("#rating .ok")
        assert page.locator("#progress .count").inner_text() == "2 of 4 rated"

        page.reload()
        assert page.locator("input[name=value][value='2']").is_checked()
        assert page.locator("#progress progress").get_attribute("value") == "2"
        assert page.locator("#progress .count").inner_text() == "2 of 4 rated"

        page.goto(first_url)
        assert page.locator("input[name=value][value='4']").is_checked()

    saved = open_study.assignments.filter(rater=rater, ratings__isnull=False)
    assert sorted(a.ratings.get().value for a in saved) == [2, 4]
