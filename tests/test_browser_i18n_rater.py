"""A German and a Spanish rater in Chromium: the item page in their language, answers saved by
key and by click with the status in their language (also when the connection drops), the
keyboard help in their language with the same keys, and submitting by Enter."""

import pytest

from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS

WORDS = {
    "de": {
        "item1": "Element 1 von 4",
        "item2": "Element 2 von 4",
        "saved": "Gespeichert",
        "retrying": "Noch nicht gespeichert: keine Verbindung. Neuer Versuch…",
        "help": "Tastenkürzel",
        "na_help": "Vorheriges und nächstes Element",
        "progress": "1 von 4 bewertet",
    },
    "es": {
        "item1": "Elemento 1 de 4",
        "item2": "Elemento 2 de 4",
        "saved": "Guardado",
        "retrying": "Aún sin guardar: sin conexión. Reintentando…",
        "help": "Atajos de teclado",
        "na_help": "Elemento anterior y siguiente",
        "progress": "1 de 4 valorados",
    },
}


def speak(page, base_url: str, language: str) -> None:
    """The cookie the language switcher sets."""
    page.context.add_cookies([{"name": "django_language", "value": language, "url": base_url}])


@pytest.mark.parametrize("language", ["de", "es"])
def test_a_rater_works_by_keyboard_in_their_language(live_server, open_study, raters, language):
    rater = raters[0]
    first, second = open_study.assignments.filter(rater=rater).order_by("position")[:2]
    words = WORDS[language]
    with browser_page(live_server.url) as page:
        speak(page, live_server.url, language)
        log_in(page, rater.username)
        page.goto(f"/rate/{open_study.token}/{first.token}/")
        page.wait_for_selector(f"h1:has-text('{words['item1']}')")
        page.wait_for_load_state()  # keys work once the page's modules have loaded

        # The connection drops: the answer is kept, and the page says so in the rater's words.
        page.context.set_offline(True)
        page.keyboard.press("2")  # the same key in every language: the second point
        page.wait_for_selector(f"#q-overall .warn:has-text('{words['retrying']}')")
        page.context.set_offline(False)
        page.wait_for_selector(f"#q-overall .ok:has-text('{words['saved']}')", timeout=10_000)

        # "?" opens the help in the rater's language; the keys it lists are the keys.
        page.keyboard.press("?")
        help_dialog = page.locator("#keys-help")
        help_dialog.wait_for(state="visible")
        assert words["help"] in help_dialog.inner_text()
        assert words["na_help"] in help_dialog.inner_text()
        assert help_dialog.locator("kbd", has_text="Enter").count() >= 1
        page.keyboard.press("Escape")
        help_dialog.wait_for(state="hidden")

        page.keyboard.press("Enter")  # submit by keyboard
        page.wait_for_selector(f"h1:has-text('{words['item2']}')")
        assert page.locator("#progress .count").inner_text() == words["progress"]
        page.click("#q-overall label.point >> nth=3")  # by pointer, the fourth point
        page.wait_for_selector(f"#q-overall .ok:has-text('{words['saved']}')")

    assert first.ratings.get().answer == 2
    assert second.ratings.get().answer == 4
    first.refresh_from_db()
    assert first.submitted_at is not None
