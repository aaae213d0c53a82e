"""A rater in headless Chromium: log in, rate two items, reload, and find the work kept."""

import os
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


@pytest.fixture
def page(live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the test
    # itself around it are ordinary synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
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
        context = browser.new_context(base_url=live_server.url)
        page = context.new_page()
        yield page
        context.close()
        browser.close()


def test_rater_rates_two_items_and_finds_them_after_reload(page, open_study, raters):
    rater = raters[0]
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
    values = sorted(
        a.ratings.get().value
        for a in open_study.assignments.filter(rater=rater, ratings__isnull=False)
    )
    assert values == [2, 4]
