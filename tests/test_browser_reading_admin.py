"""The study admin's assisted-reading screens on a phone (390 px): the new-study page shows
only the fields of the chosen layout and answer, and the dashboard's wide tables scroll in a
labelled region rather than being cut off."""

from annotation import services
from annotation.models import AnswerScore, Study, TaskRun
from annotation.services.statistics import agreement_compute
from tests.reading_support import reading_study
from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.test_reading_statistics_stored import _read

pytestmark = BROWSER_MARKS
PHONE = {"viewport": {"width": 390, "height": 844}}
FITS = "() => document.documentElement.scrollWidth <= 390"


def test_the_new_study_page_shows_the_fields_of_the_choice_and_ties_the_error_to_its_field(
    live_server, study_admin
):
    with browser_page(live_server.url, **PHONE) as page:
        log_in(page, study_admin.username)
        page.goto("/studies/new-reading/")
        washout, k, choices = (
            page.locator(f'[data-field="{name}"]') for name in ("washout_days", "k", "choices")
        )
        # Sequential and a ranked list at first: no washout, no choices, the most entries.
        assert (washout.is_hidden(), k.is_visible(), choices.is_hidden()) == (True, True, True)
        page.check("#id_answer_kind_2")  # a choice
        assert (k.is_hidden(), choices.is_visible()) == (True, True)
        page.check("#id_answer_kind_0")  # a ranked list again
        page.check("#id_layout_1")  # crossover
        assert washout.is_visible()
        assert page.evaluate(FITS)
        # Every radio's text wraps within the page: nothing is cut off.
        cut = page.eval_on_selector_all(
            "fieldset label",
            "labels => labels.filter(l => l.getBoundingClientRect().right > 390 - 12)"
            ".map(l => l.textContent.trim())",
        )
        assert cut == []
        page.fill("#id_title", "Phone crossover")
        page.fill("#id_washout_days", "-3")
        # The browser's own check would stop the form: let the server answer, as without JS.
        page.evaluate("() => document.querySelector('form[data-reading-new]').noValidate = true")
        page.click("button.primary")
        error = page.locator("#id_washout_days_error")
        assert "whole number of days" in error.inner_text()
        assert error.evaluate("e => getComputedStyle(e).color") == "rgb(179, 38, 30)"
        assert error.evaluate("e => getComputedStyle(e).listStyleType") == "none"
        described = page.get_attribute("#id_washout_days", "aria-describedby").split()
        assert "id_washout_days_error" in described
        assert washout.is_visible()  # crossover was kept, and so its washout shows
        # Switching to sequential hides the washout and does not send it.
        page.check("#id_layout_0")
        assert washout.is_hidden()
        page.click("button.primary")
        page.wait_for_url("**/studies/*/")
    study = Study.objects.get(title="Phone crossover")
    assert (study.reading_layout, study.washout_days) == ("sequential", 0)


def test_the_reading_tables_scroll_in_a_labelled_region_on_a_phone(
    live_server, study_admin, raters
):
    readers = raters[:2]
    study = reading_study(study_admin, readers)
    services.study_open(study=study)
    _read(study, readers)
    AnswerScore.objects.filter(outcome="undecided").update(outcome="wrong", by="scorer")
    # Submitting queued a recomputation (committed here): run it now, in this process.
    run = TaskRun.objects.filter(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT).last()
    run = run or TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    agreement_compute(run=services.task_run_claim(run_id=run.pk))
    with browser_page(live_server.url, **PHONE) as page:
        log_in(page, study_admin.username)
        page.goto(f"/studies/{study.token}/")
        assert page.evaluate(FITS)
        region = page.get_by_role("region", name="Accuracy per arm", exact=True)
        assert region.get_attribute("tabindex") == "0"
        box = region.bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390
        # The table is wider than the phone: its region scrolls, by keyboard too.
        assert region.evaluate("r => r.scrollWidth > r.clientWidth")
        region.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "() => document.querySelector('[aria-label=\"Accuracy per arm\"]').scrollLeft > 0"
        )
        for name in ("Top-j accuracy per arm", "Arms"):
            assert page.get_by_role("region", name=name, exact=True).count() == 1
