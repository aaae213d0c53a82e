"""The consenting rater in headless Chromium, by keyboard: the statement, the background form,
the first item; then My consent and the withdrawal, after which no item opens."""

from concurrent.futures import ThreadPoolExecutor

from django.db import connection
from playwright.sync_api import expect

from annotation import services
from tests.conftest import study_drafted
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS

STATEMENT = "Your ratings are confidential to the study team."


def off_the_loop(change, **kwargs) -> None:
    """A change to the study while the browser is open: Playwright's loop runs in this thread,
    where Django refuses database calls, so it is made in another (its connection closed)."""

    def run() -> None:
        try:
            change(**kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result()


def test_rater_consents_answers_background_rates_and_withdraws(live_server, study_admin, raters):
    study = study_drafted(study_admin, raters)
    services.study_consent_set(study=study, text=STATEMENT)
    services.rater_question_add_template(study=study, name="specialty")
    services.rater_question_add_template(study=study, name="years")
    services.study_open(study=study)
    rater = raters[0]
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.get_by_role("link", name="Start").click()
        # The statement comes first, whichever item the rater aimed for.
        expect(page.get_by_role("heading", name="Consent to take part")).to_be_visible()
        expect(page.locator("#consent-text")).to_contain_text(STATEMENT)
        page.get_by_label("I have read this statement").focus()
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")  # "Accept and continue"
        expect(page.get_by_role("heading", name="About you")).to_be_visible()
        page.get_by_label("Emergency medicine").focus()
        page.keyboard.press("Space")
        page.get_by_label("How many years have you been in practice").fill("8")
        page.get_by_role("button", name="Save and go to my first item").click()
        page.wait_for_selector("text=Item 1 of 4")

        # A new version of the statement while the rater works: their next answer is not
        # stored, the page takes them to the statement, and they come back to the same item.
        off_the_loop(
            services.study_consent_set, study=study, text=STATEMENT + " Now also for audits."
        )
        page.click("label.point:has-text('Good')")
        expect(page.get_by_text("The statement has changed since you accepted it")).to_be_visible()
        page.get_by_label("I have read this statement").check()
        page.get_by_role("button", name="Accept and continue").click()
        page.wait_for_selector("text=Item 1 of 4")
        # The answer the gate refused was kept by the page, and is saved now.
        page.wait_for_selector("#q-overall .ok")
        assert page.locator("#q-overall input[name=answer][value='4']").is_checked()

        page.goto(f"{live_server.url}/rate/{study.token}/my-consent/")
        expect(page.locator(".consent-text")).to_contain_text(STATEMENT)
        expect(page.get_by_text("ratings you have already submitted are kept")).to_be_visible()
        page.get_by_role("button", name="Withdraw my consent").click()
        # Not without the confirmation: the box is required.
        assert page.url.endswith("/my-consent/")
        page.get_by_label("I understand, and I withdraw").check()
        page.get_by_role("button", name="Withdraw my consent").click()
        expect(page.get_by_text("You withdrew your consent on")).to_be_visible()
        page.goto(f"{live_server.url}/rate/{study.token}/")
        expect(page.get_by_text("no further work is asked of you").first).to_be_visible()

    member = study.memberships.get(user=rater)
    assert member.consent_version == 2
    assert member.background == {"specialty": "emergency", "years": 8.0}
    assert member.withdrawn_at is not None
    assert study.assignments.get(rater=rater, position=1).ratings.get().value == 4
