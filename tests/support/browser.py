"""Headless Debian Chromium for the browser tests, driven by Playwright."""

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

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not CHROMIUM.exists() and not REQUIRED,
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)",
    ),
]


@contextmanager
def browser_page(base_url: str, **context) -> Iterator:
    """A page in headless Debian Chromium. Use the ORM only outside this block: Playwright runs
    the test inside a greenlet with its own context, where Django would open a second database
    connection that nothing closes. Keyword arguments go to the browser context, e.g.
    viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True."""
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
            yield browser.new_context(base_url=base_url, **context).new_page()
        finally:
            browser.close()


def log_in(page, username: str) -> None:
    page.goto("/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
