"""A German author in headless Chromium answers a checklist item with the keyboard shortcuts:
the keys are the same as in English, everything around the checklist is in German."""

from urllib.parse import parse_qs

from checklists import services
from checklists.models import Response
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS


def saved_item(code: str, **fields: str):
    """A save of the item, with these field values if given (typing may send several)."""

    def matches(response) -> bool:
        if response.request.method != "POST" or not response.url.endswith(f"/items/{code}/"):
            return False
        posted = parse_qs(response.request.post_data or "")
        return all(posted.get(name) == [value] for name, value in fields.items())

    return matches


def test_a_german_author_answers_an_item_with_the_keyboard(live_server, mi_claim, study_admin):
    report = services.report_create(lead=study_admin, definition=mi_claim, title="Ein Manuskript")
    item = f"#item-{mi_claim.items.get(code='1.1').pk}"

    with browser_page(live_server.url) as page:
        # The language a switcher (or Django's set_language) leaves behind.
        page.context.add_cookies(
            [{"name": "django_language", "value": "de", "url": live_server.url}]
        )
        log_in(page, study_admin.username)
        page.goto(f"/reports/{report.token}/")
        page.wait_for_selector("text=0 von 23 beantwortet")
        page.wait_for_load_state()  # the page's script listens for keys only once loaded

        # "?" opens the keys help, in German; Esc closes it.
        page.keyboard.press("?")
        help_dialog = page.locator("#keys-help")
        assert help_dialog.is_visible()
        assert "Tastenkürzel" in help_dialog.inner_text()
        assert "Nächstes und vorheriges Element" in help_dialog.inner_text()
        page.keyboard.press("Escape")
        assert not help_dialog.is_visible()

        # j highlights the first item, 1 chooses its first answer ("Ja").
        page.keyboard.press("j")
        with page.expect_response(saved_item("1.1")):
            page.keyboard.press("1")
        status = page.locator(f"{item} .status .ok")
        status.wait_for()
        assert status.inner_text().startswith("Gespeichert um ")
        assert page.locator(f"{item} label.choice:has(input:checked)").inner_text().endswith("Ja")

        # w goes to where the item is reported; typing is saved after a pause.
        page.keyboard.press("w")
        with page.expect_response(saved_item("1.1", location="Methoden, S. 4")):
            page.keyboard.type("Methoden, S. 4")
        page.keyboard.press("Escape")  # back to the item: the keys act again
        assert "1 von 23 beantwortet" in page.locator("#section-nav .total").inner_text()

        page.reload()
        assert page.locator(f"{item} input[value=yes]").is_checked()
        assert page.locator(f"{item} input[name=location]").input_value() == "Methoden, S. 4"
        assert "1 von 23 Elementen beantwortet" in page.locator("#finish").inner_text()

    saved = Response.objects.get(assessment__report=report, item__code="1.1")
    assert (saved.answer, saved.location) == ("yes", "Methoden, S. 4")
