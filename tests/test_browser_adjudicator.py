"""The adjudicator in headless Chromium, by keyboard alone: from their home page to an item,
the readers' answers under Reader labels, a reference chosen with the arrow keys and a reason
typed, recorded, and the queue empty at the end; never a rater or source named on the way."""

import re

from annotation import services
from annotation.models import Adjudication, AdjudicationRevision
from tests.adjudication_support import rated_study
from tests.factories import UserFactory
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS


def test_an_adjudicator_records_a_reference_by_keyboard(live_server, study_admin, raters):
    study = rated_study(study_admin, raters)
    services.adjudication_select(
        study=study, by=study_admin, mode="rule", rule={"kind": "no_majority", "question": "harm"}
    )
    services.adjudicator_add(study=study, user=UserFactory(username="senior"))
    secrets = ("MedSumm", "Expert-written", "rater1", "rater2", "rater3", "R1", "R2", "R3")

    with browser_page(live_server.url) as page:
        log_in(page, "senior")
        page.goto("/rate/")
        link = page.get_by_role("link", name=study.title).last
        link.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("[data-testid=reader]")
        text = page.content()
        for secret in secrets:
            # As whole words: a random token on the page may hold "R2" by chance.
            assert not re.search(rf"(?<![\w-]){secret}(?![\w-])", text), secret
        readers = page.locator("[data-testid=reader] h3").all_inner_texts()
        assert readers == ["Reader 1", "Reader 2"]
        answers = page.locator("[data-testid=readers]").inner_text()
        assert "severe (Severe harm)" in answers
        assert "none (No harm)" in answers
        # Overall: the first point, then two arrows down to 3; harm: down once to "mild".
        page.locator("input[name=overall]").first.focus()
        page.keyboard.press("Space")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Tab")
        page.keyboard.press("Space")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Tab")
        page.keyboard.type("One reader saw severe harm; on reading, it is mild.")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Nothing to adjudicate")

    adjudication = Adjudication.objects.get()
    assert adjudication.answers == {"overall": 3, "harm": "mild"}
    assert adjudication.reason == "One reader saw severe harm; on reading, it is mild."
    assert AdjudicationRevision.objects.count() == 1
