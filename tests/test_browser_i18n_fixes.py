"""In Chromium with a German interface: a stored decimal answer re-saved unchanged is kept
(a localized "12,5" in the number box would show it empty and erase it on saving)."""

from playwright.sync_api import expect

from annotation import services
from annotation.core import consent
from annotation.models import Membership
from tests.conftest import study_drafted
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS


def test_resaving_the_after_study_answers_in_german_keeps_the_number(
    live_server, study_admin, raters
):
    study = study_drafted(study_admin, raters)
    services.rater_question_add(
        study=study,
        draft=consent.RaterQuestionDraft(
            key="hours",
            prompt="Hours per week?",
            kind="number",
            phase=consent.POST_STUDY,
            required=False,
            minimum=0.5,
            maximum=80.5,
        ),
    )
    services.study_open(study=study)
    rater = raters[0]
    Membership.objects.filter(study=study, user=rater).update(post_study={"hours": 12.5})
    with browser_page(live_server.url, locale="de-DE") as page:
        log_in(page, rater.username)
        page.goto(f"{live_server.url}/rate/{study.token}/after-study/")
        expect(page.locator("html")).to_have_attribute("lang", "de")
        expect(page.locator("#rq-hours")).to_have_value("12.5")
        page.get_by_role("button", name="Meine Antworten speichern").click()
        expect(page.get_by_text("Vielen Dank")).to_be_visible()
    assert Membership.objects.get(study=study, user=rater).post_study["hours"] == 12.5
