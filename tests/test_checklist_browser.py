"""An author in headless Chromium fills three MI-CLAIM-GEN items, reloads, and exports Markdown."""

import time
from pathlib import Path

from checklists import services
from checklists.models import Response
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS


def wait_for_notes(report, code: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = Response.objects.filter(assessment__report=report, item__code=code).first()
        if found and found.notes:
            return found.notes
        time.sleep(0.1)
    return ""


def saved_item(code: str):
    def matches(response) -> bool:
        return response.request.method == "POST" and response.url.endswith(f"/items/{code}/")

    return matches


def test_author_fills_one_item_of_each_kind_and_finds_them_after_reload(
    live_server, mi_claim, study_admin, tmp_path
):
    report = services.report_create(lead=study_admin, definition=mi_claim, title="Browser paper")
    ids = {code: f"#item-{mi_claim.items.get(code=code).pk}" for code in ("1.1", "1.5", "6.1")}

    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.get_by_role("link", name="Checklists").click()
        page.get_by_role("link", name="Browser paper").click()
        page.wait_for_selector("text=0 of 23 answered")
        page.wait_for_load_state()  # the page's script listens for keys only once loaded

        # Yes / no / not applicable, by keyboard: j focuses the first item, 1 picks "Yes".
        page.keyboard.press("j")
        page.keyboard.press("1")
        page.wait_for_selector(f"{ids['1.1']} .status .ok")

        # Multiple choice: two boxes ticked by clicking.
        page.click(f"{ids['1.5']} label.choice:has-text('Categorical')")
        page.wait_for_selector(f"{ids['1.5']} .status .ok")
        with page.expect_response(saved_item("1.5")):
            page.click(f"{ids['1.5']} label.choice:has-text('Unstructured')")
        with page.expect_response(saved_item("1.5")):
            page.fill(f"{ids['1.5']} textarea[name=notes]", "Free-text summaries only.")
        page.wait_for_function(
            "document.querySelector('[data-testid=\"count-1\"]').textContent.trim() === '2/6'"
        )

        # Single choice, with where it is reported.
        with page.expect_response(saved_item("6.1")):
            page.click(f"{ids['6.1']} label.choice:has-text('Tier 2B')")
        # Typing is saved after a short pause, without leaving the field.
        with page.expect_response(saved_item("6.1")):
            page.fill(f"{ids['6.1']} input[name=location]", "Data availability statement")
        assert "3 of 23 answered" in page.locator("#section-nav .total").inner_text()

        page.reload()
        assert page.locator(f"{ids['1.1']} input[value=yes]").is_checked()
        assert page.locator(f"{ids['1.5']} input[value=categorical]").is_checked()
        assert page.locator(f"{ids['1.5']} input[value=unstructured]").is_checked()
        assert not page.locator(f"{ids['1.5']} input[value=continuous]").is_checked()
        assert page.locator(f"{ids['6.1']} input[value=tier_2b]").is_checked()
        notes = page.locator(f"{ids['1.5']} textarea[name=notes]").input_value()
        assert notes == "Free-text summaries only."
        where = page.locator(f"{ids['6.1']} input[name=location]").input_value()
        assert where == "Data availability statement"
        assert page.locator("[data-testid='count-1']").inner_text() == "2/6"

        with page.expect_download() as download:
            page.get_by_role("link", name="MD", exact=True).click()
        saved = tmp_path / "export.md"
        download.value.save_as(saved)

        # Typing and leaving at once, before the autosave pause: sent as the page goes away.
        page.fill(f"{ids['1.1']} textarea[name=notes]", "Typed just before leaving.")
        page.goto("/checklists/")  # no click, so no blur: only the page-leave beacon saves it

    markdown = Path(saved).read_text()
    assert markdown.startswith("# MI-CLAIM-GEN checklist: Browser paper\n")
    assert "- Items answered: 3 of 23" in markdown
    assert "| 1.1 | The manuscript describes the clinical problem" in markdown
    assert "| Categorical; Unstructured (free text, images) |   | Free-text summaries only. |" in (
        markdown
    )
    assert "| Tier 2B: full code shared, no data | Data availability statement |" in markdown
    assert wait_for_notes(report, "1.1") == "Typed just before leaving."
    answers = dict(
        Response.objects.filter(assessment__report=report).values_list("item__code", "answer")
    )
    assert answers == {
        "1.1": "yes",
        "1.5": ["categorical", "unstructured"],
        "6.1": "tier_2b",
    }
