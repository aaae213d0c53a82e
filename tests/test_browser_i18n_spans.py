"""In Chromium with a German interface: a marked-span list redrawn from stored fields (an answer
from another tab, or restored from this browser) names the severity by its German label and
offers "Entfernen", not the code and the English "Remove"."""

import json

from playwright.sync_api import expect

from annotation.models import UserPreference
from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.test_browser_rater_answers import _first, span_study  # noqa: F401 (a fixture)

pytestmark = BROWSER_MARKS

REDRAW = """async ([answer]) => {
    const url = [...document.querySelectorAll("link[rel=modulepreload], script[type=module]")]
        .map((e) => e.href || e.src).find((u) => u.includes("/rater/fill"));
    const fill = await import(url);
    const form = document.querySelector("#q-errors");
    fill.applyFields(form, [["question", "errors"], ["answer", answer]]);
}"""


def test_a_redrawn_span_list_is_in_german(live_server, span_study, raters):  # noqa: F811
    rater = raters[0]
    UserPreference.objects.create(user=rater, language="de")
    assignment = _first(span_study, rater)
    with browser_page(live_server.url, locale="de-DE") as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{span_study.token}/{assignment.token}/")
        expect(page.locator("html")).to_have_attribute("lang", "de")
        major = page.locator("#q-errors [data-span-severity] option[value=major]").inner_text()
        assert major != "Major"
        spans = [{"start": 0, "end": 4, "category": "factual", "severity": "major"}]
        page.evaluate(REDRAW, [json.dumps(spans)])
        item = page.locator("#q-errors [data-span-list] li")
        expect(item).to_have_count(1)
        expect(item).to_contain_text(f"· {major} ")
        expect(item).not_to_contain_text("major")
        expect(item.locator("[data-span-remove]")).to_have_text("Entfernen")
