"""In Chromium: the language switcher used with the keyboard alone, its choice kept by the
browser, and the signed-in user's choice brought to a fresh browser at sign-in."""

import pytest
from playwright.sync_api import expect

from annotation.models import UserPreference
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS


def tab_to(page, selector: str, limit: int = 20) -> None:
    """Press Tab until the element is focused, as a keyboard user gets there."""
    for _press in range(limit):
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
        page.keyboard.press("Tab")
    pytest.fail(f"{selector} is not reached with Tab")


def test_switch_language_with_the_keyboard_and_keep_it_across_browsers(live_server, rater):
    with browser_page(live_server.url, locale="en-GB") as page:
        page.goto("/")
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        tab_to(page, "#language-select")
        expect(page.get_by_label("Language")).to_be_focused()
        page.keyboard.press("ArrowDown")  # English -> Deutsch
        expect(page.locator("#language-select")).to_have_value("de")
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Change language")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "de")
        # The cookie keeps the choice on this browser.
        page.reload()
        expect(page.get_by_label("Sprache")).to_have_value("de")
        log_in(page, rater.username)
        expect(page.get_by_role("link", name="Meine Bewertungen")).to_be_visible()
        # Spanish for this user, chosen while signed in: stored for other browsers.
        page.get_by_label("Sprache").select_option("es")
        page.get_by_role("button", name="Sprache wechseln").click()
        expect(page.get_by_role("link", name="Mis valoraciones")).to_be_visible()
    assert UserPreference.objects.get(user=rater).language == "es"

    # A fresh browser whose own language is German: the login page follows it, and signing in
    # brings the user's stored Spanish.
    with browser_page(live_server.url, locale="de-DE") as page:
        page.goto("/")
        expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()
        log_in(page, rater.username)
        expect(page.get_by_role("link", name="Mis valoraciones")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "es")
        page.goto("/account/token/")
        expect(page.get_by_role("heading", name="Token de la API")).to_be_visible()
