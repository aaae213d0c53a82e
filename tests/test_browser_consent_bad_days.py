"""Bad days on the consent and background pages, in headless Chromium: signed out (in another
tab) while filling in the background form, the rater is told so, signs in again and finds the
answers they typed back in the form, ready to save; signed out and in again in another tab
(which renews the CSRF token), Save brings the answers back in the form instead of a bare 403;
the server restarted between loading the consent statement and accepting it, the accept still
goes through."""

from playwright.sync_api import expect

from annotation import services
from annotation.models import Membership
from tests.conftest import study_drafted
from tests.support.browser import BROWSER_MARKS, PASSWORD, browser_page, log_in
from tests.test_browser_no_lost_work import (  # noqa: F401
    app_server,
    sign_out_in_another_tab,
    with_server_password,
)

pytestmark = BROWSER_MARKS

STATEMENT = "Your ratings are confidential to the study team."


def consent_study(admin, raters):
    study = study_drafted(admin, raters)
    services.study_consent_set(study=study, text=STATEMENT)
    services.rater_question_add_template(study=study, name="specialty")
    services.rater_question_add_template(study=study, name="years")
    services.study_open(study=study)
    study.refresh_from_db()
    return study


def test_signed_out_on_the_background_form_the_typed_answers_come_back(
    live_server, study_admin, raters
):
    study = consent_study(study_admin, raters)
    rater = raters[0]
    services.rater_consent_accept(
        membership=study.memberships.get(user=rater), version=study.consent_version
    )
    background = f"/rate/{study.token}/background/"
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(background)
        page.get_by_label("Internal medicine").check()
        page.get_by_label("How many years have you been in practice").fill("17")
        sign_out_in_another_tab(page)
        page.get_by_role("button", name="Save and go to my first item").click()

        # Told what happened, on the sign-in page, and that nothing typed is lost.
        page.wait_for_selector("#id_username")
        expect(
            page.get_by_text("You were signed out before your answers were saved")
        ).to_be_visible()
        page.fill("#id_username", rater.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")

        # Back on the form, the answers filled in, not yet saved: the rater saves them.
        page.wait_for_url(f"**{background}")
        expect(page.get_by_text("filled in again")).to_be_visible()
        assert page.get_by_label("Internal medicine").is_checked()
        expect(page.get_by_label("How many years have you been in practice")).to_have_value("17")
        page.get_by_role("button", name="Save and go to my first item").click()
        page.wait_for_selector("text=Item 1 of 4")

    answers = Membership.objects.get(study=study, user=rater).background
    assert answers == {"specialty": "internal", "years": 17}


def sign_out_and_in_again_in_another_tab(page, username: str) -> None:
    other = page.context.new_page()
    other.goto("/rate/")
    other.click("button:has-text('Log out')")
    other.wait_for_url("**/accounts/login/**")
    other.fill("#id_username", username)
    other.fill("#id_password", PASSWORD)
    other.click("button[type=submit]")
    other.wait_for_load_state()
    other.close()


def test_signed_in_again_in_another_tab_the_expired_form_comes_back_filled_in(
    live_server, study_admin, raters
):
    study = consent_study(study_admin, raters)
    rater = raters[0]
    services.rater_consent_accept(
        membership=study.memberships.get(user=rater), version=study.consent_version
    )
    background = f"/rate/{study.token}/background/"
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(background)
        page.get_by_label("Emergency medicine").check()
        page.get_by_label("How many years have you been in practice").fill("9")
        sign_out_and_in_again_in_another_tab(page, rater.username)
        page.get_by_role("button", name="Save and go to my first item").click()

        # Not Django's bare 403: the form again, the answers filled in, not yet saved.
        page.wait_for_url(f"**{background}")
        expect(page.get_by_text("This form had expired")).to_be_visible()
        expect(page.get_by_role("heading", name="About you")).to_be_visible()
        assert page.get_by_label("Emergency medicine").is_checked()
        expect(page.get_by_label("How many years have you been in practice")).to_have_value("9")
        page.get_by_role("button", name="Save and go to my first item").click()
        page.wait_for_selector("text=Item 1 of 4")

    answers = Membership.objects.get(study=study, user=rater).background
    assert answers == {"specialty": "emergency", "years": 9}


def test_answers_kept_for_one_rater_are_never_shown_to_another(live_server, study_admin, raters):
    study = consent_study(study_admin, raters)
    first, second = raters[0], raters[1]
    for rater in (first, second):
        services.rater_consent_accept(
            membership=study.memberships.get(user=rater), version=study.consent_version
        )
    background = f"/rate/{study.token}/background/"
    with browser_page(live_server.url) as page:
        log_in(page, first.username)
        page.goto(background)
        page.get_by_label("Internal medicine").check()
        page.get_by_label("How many years have you been in practice").fill("17")
        sign_out_in_another_tab(page)
        page.get_by_role("button", name="Save and go to my first item").click()
        page.wait_for_selector("#id_username")
        # Someone else signs in on the same browser: they get their own, empty form.
        page.fill("#id_username", second.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"**{background}")
        assert not page.get_by_label("Internal medicine").is_checked()
        expect(page.get_by_label("How many years have you been in practice")).to_have_value("")

    assert Membership.objects.get(study=study, user=first).background == {}


def test_the_server_restarted_between_reading_and_accepting_the_accept_still_works(
    app_server,  # noqa: F811
    study_admin,
    raters,
):
    study = consent_study(study_admin, raters)
    rater = with_server_password(raters[0])
    with browser_page(app_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{study.token}/consent/")
        expect(page.locator("#consent-text")).to_contain_text(STATEMENT)
        page.get_by_label("I have read this statement").check()

        app_server.stop()
        app_server.start()
        page.get_by_role("button", name="Accept and continue").click()
        expect(page.get_by_role("heading", name="About you")).to_be_visible()

    membership = Membership.objects.get(study=study, user=rater)
    assert membership.consent_version == study.consent_version
    assert membership.consent_accepted_at is not None
    assert membership.background == {}
