"""The dashboard's adaptive card in headless Chromium: a draft study's admin turns adaptive
extra raters on with a range rule, sees the rule in words, and a bad m is refused by name."""

from annotation.models import AdaptiveDesign
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS


def test_an_admin_turns_adaptive_extra_raters_on_from_the_dashboard(
    live_server, draft_study, study_admin
):
    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.goto(f"/studies/{draft_study.token}/")
        card = page.locator("#adaptive")
        card.get_by_label("Offer more raters when").select_option("range")
        card.get_by_label("Question").select_option("overall")
        card.get_by_label("Range threshold").fill("2")
        card.get_by_label("At most m extra raters").fill("4")
        card.get_by_role("button", name="Save").click()
        page.wait_for_selector(".messages >> text=at most 1 are left to be extra raters")
        assert page.locator("[data-testid=adaptive-rule]").count() == 0  # still off

        card = page.locator("#adaptive")
        card.get_by_label("Offer more raters when").select_option("range")
        card.get_by_label("Range threshold").fill("2")
        card.get_by_label("At most m extra raters").fill("1")
        card.get_by_role("button", name="Save").click()
        page.wait_for_selector("[data-testid=adaptive-rule]")
        assert page.locator("[data-testid=adaptive-rule]").inner_text() == (
            "On: when the first 2 ratings of an item meet the rule (answers to 'overall' span "
            "2 or more points), up to 1 more rater."
        )
    assert AdaptiveDesign.objects.get(study=draft_study).extra_m == 1
