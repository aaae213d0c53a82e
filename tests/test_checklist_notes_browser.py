"""In Chromium: "Use as notes" fills an item's notes with the linked study's facts, and the notes
box grows to show all of them, as it does while the author types on."""

from django.urls import reverse

from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.test_checklist_evidence import linked_report, rated_study  # noqa: F401 (fixtures)

pytestmark = BROWSER_MARKS

SHOWS_ALL = "box => box.value.length > 0 && box.scrollHeight <= box.clientHeight + 2"


def test_use_as_notes_leaves_every_line_of_the_notes_in_view(
    live_server,
    linked_report,  # noqa: F811
    study_admin,
    mi_claim,
):
    item = f"#item-{mi_claim.items.get(code='3.2').pk}"
    url = reverse("report_detail", args=[linked_report.token])

    with browser_page(live_server.url, viewport={"width": 1024, "height": 800}) as page:
        log_in(page, study_admin.username)
        page.goto(url)
        page.wait_for_load_state()
        page.click(f"{item} details.evidence summary")
        page.click(f"{item} button:has-text('Use as notes')")
        page.wait_for_selector(f"{item} .evidence .badge:has-text('In notes')")

        notes = page.locator(f"{item} textarea[name=notes]")
        assert notes.input_value().count("\n") >= 3  # more lines than the box's two rows
        assert notes.evaluate(SHOWS_ALL), notes.evaluate(
            "box => [box.scrollHeight, box.clientHeight]"
        )

        # The author goes on typing: the box keeps growing with the text.
        before = notes.evaluate("box => box.clientHeight")
        notes.click()
        page.keyboard.press("Control+End")
        page.keyboard.type("\nChecked against the protocol.\nSee also table 2.\nAnd 3.")
        assert notes.evaluate("box => box.clientHeight") > before
        assert notes.evaluate(SHOWS_ALL)

        # A reload shows the saved notes, fitted from the start.
        page.wait_for_timeout(800)  # the autosave's delay
        page.reload()
        page.wait_for_load_state()
        reloaded = page.locator(f"{item} textarea[name=notes]")
        assert "See also table 2." in reloaded.input_value()
        assert reloaded.evaluate(SHOWS_ALL)
