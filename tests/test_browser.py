"""A rater in headless Chromium: log in, rate two items, reload, and find the work kept."""

import re

import pytest
from playwright.sync_api import expect

from annotation import services
from annotation.core import rubric
from tests.factories import alpha_of, submit_rated
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS


def test_rater_rates_two_items_and_finds_them_after_reload(live_server, open_study, raters):
    rater = raters[0]
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.get_by_role("link", name="Start").click()
        page.wait_for_selector("text=Item 1 of 4")

        page.click("label.point:has-text('Good')")  # value 4, saved by htmx
        page.wait_for_selector("#q-overall .ok")
        assert page.locator("#progress .count").inner_text() == "0 of 4 rated"
        first_url = page.url

        page.click("#submit button")  # submit and go on to the next item
        page.wait_for_selector("text=Item 2 of 4")
        page.wait_for_load_state()  # keys work once the page's script has loaded
        assert page.locator("#progress .count").inner_text() == "1 of 4 rated"
        page.keyboard.press("2")  # keyboard shortcut: the second point, "Poor"
        page.wait_for_selector("#q-overall .ok")
        page.keyboard.press("Enter")  # submit by keyboard
        page.wait_for_selector("text=Item 3 of 4")
        assert page.locator("#progress .count").inner_text() == "2 of 4 rated"
        page.click("#previous")  # back to item 2, then reload: the answer is kept
        page.wait_for_selector("text=Item 2 of 4")
        page.reload()
        assert page.locator("#q-overall input[name=answer][value='2']").is_checked()
        assert page.locator("#progress progress").get_attribute("value") == "2"
        assert page.locator("#progress .count").inner_text() == "2 of 4 rated"

        page.goto(first_url)
        assert page.locator("#q-overall input[name=answer][value='4']").is_checked()

    saved = open_study.assignments.filter(rater=rater, ratings__isnull=False)
    assert sorted(a.ratings.get().value for a in saved) == [2, 4]


@pytest.mark.worker
def test_admin_recomputes_agreement_and_watches_it_finish(
    live_server, celery_worker, open_study, study_admin, raters
):
    question = open_study.questions.get()
    for item, values in zip(open_study.items.order_by("token"), [(1, 1), (2, 3)] * 3, strict=True):
        for assignment, value in zip(item.assignments.order_by("rater_id"), values, strict=True):
            services.rating_save(assignment=assignment, question=question, answer=value)
    submit_rated(open_study)

    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.get_by_role("link", name=open_study.title).click()
        assert "Not computed yet" in page.locator("#agreement").inner_text()

        page.click("text=Recompute agreement")
        # The run appears at once (queued or running) and polls itself until the worker is done.
        page.wait_for_selector("#runs .task-run")
        page.wait_for_selector("#runs .badge.succeeded", timeout=30_000)
        # Finishing triggers a refresh of the agreement card without reloading the page.
        page.wait_for_selector("#agreement .stat-value", timeout=10_000)
        shown = page.locator("#agreement .stat-value").inner_text()
        page.click("text=Every coefficient")
        table = page.locator("#agreement table").first.inner_text()

    result = alpha_of(open_study)
    assert shown == f"{result.value:.3f}"
    fleiss = open_study.results.get(statistic="fleiss_kappa", source="")
    assert f"{fleiss.value:.3f}" in table
    assert "Gwet's AC1" in table
    assert "Fleiss' kappa" in table


@pytest.mark.worker
def test_admin_fetches_outputs_and_sees_the_counts_update(
    live_server, celery_worker, draft_study, study_admin, fake_llm
):
    services.source_create(
        study=draft_study, label="Echo-70B", base_url=fake_llm.base_url, model_name="echo-70b"
    )
    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.get_by_role("link", name=draft_study.title).click()
        row = page.locator("#sources tr", has_text="Echo-70B")
        assert "0 / 3" in row.inner_text()

        row.get_by_role("button", name="Fetch 3 missing outputs").click()
        page.wait_for_selector("#runs .badge.succeeded", timeout=30_000)
        assert page.locator("#no-runs").count() == 0
        page.wait_for_selector("#sources tr:has-text('Echo-70B'):has-text('3 / 3')", timeout=10_000)
        assert "3 of 3 outputs generated" in page.locator("#runs").inner_text()


def test_rater_answers_a_two_question_rubric_with_the_keyboard_alone(
    live_server, open_study, raters
):
    from annotation.models import Question

    Question.objects.create(
        study=open_study,
        key="harm",
        prompt="Could this harm the patient?",
        kind="yes_no",
        level="nominal",
        order=5,
    )
    rater = raters[0]
    first = open_study.assignments.filter(rater=rater).order_by("position").first()
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{open_study.token}/{first.token}/")
        page.keyboard.press("4")  # "overall": Good, then focus moves on to "harm"
        page.wait_for_selector("#q-overall .ok")
        page.keyboard.press("2")  # "harm": No
        page.wait_for_selector("#q-harm .ok")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Item 2 of 4")
        assert page.locator("#progress .count").inner_text() == "1 of 4 rated"
        page.click("#previous")
        page.wait_for_selector("text=Item 1 of 4")
        assert page.locator("#q-overall input[value='4']").is_checked()
        assert page.locator("#q-harm input[value='no']").is_checked()

    answers = dict(first.ratings.values_list("question__key", "answer"))
    assert answers == {"overall": 4, "harm": "no"}


def test_an_answer_given_offline_is_saved_when_the_connection_returns(
    live_server, open_study, raters
):
    rater = raters[0]
    first = open_study.assignments.filter(rater=rater).order_by("position").first()
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{open_study.token}/{first.token}/")
        page.context.set_offline(True)
        page.check("#q-overall input[value='2']")  # "Poor"
        page.wait_for_selector("#q-overall .warn:has-text('Retrying')")
        page.context.set_offline(False)
        page.wait_for_selector("#q-overall .ok", timeout=10_000)  # sent again by itself
        page.reload()
        assert page.locator("#q-overall input[value='2']").is_checked()

    assert first.ratings.get().answer == 2


def test_a_pairwise_item_is_rated_with_the_keyboard_alone(live_server, study_admin, raters):
    study = services.study_create(
        creator=study_admin,
        title="Pairs by keyboard",
        question_prompt="Which is better?",
        design="pairwise",
        seed=5,
    )
    rows = "case_id,input,source,output\nc1,Q,Alpha,First text\nc1,Q,Beta,Second text\n"
    services.study_import_file(study=study, filename="p.csv", content=rows.encode())
    services.study_add_raters(study=study, users=raters[:2])
    services.study_open(study=study)
    rater = raters[0]
    assignment = study.assignments.get(rater=rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{study.token}/{assignment.token}/")
        assert page.locator("h2:has-text('Response A')").count() == 1
        page.keyboard.press("1")  # the leftmost point: "A much better"
        page.wait_for_selector("#q-preference .ok")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=The only item is rated")

    rating = assignment.ratings.get()
    assert rating.answer == 2  # as shown: A much better
    assert rating.value == (-2.0 if assignment.flipped else 2.0)  # canonical: Alpha minus Beta
    assignment.refresh_from_db()
    assert assignment.submitted_at is not None


def test_a_rater_marks_a_span_in_the_browser_and_finds_it_after_reload(
    live_server, open_study, raters
):
    from annotation.models import Output, Question, Rating

    span_study = open_study
    Question.objects.create(
        study=span_study,
        key="errors",
        prompt="Mark any errors",
        kind="span",
        level="ratio",
        scale=[{"value": "factual", "label": "Factual error"}],
        required=False,
        order=4,
    )
    rater = raters[0]
    assignment = span_study.assignments.filter(rater=rater).order_by("position").first()
    Output.objects.filter(pk=assignment.item.output_id).update(
        text="Take <b>ibuprofen</b> 4 g daily.\nSee a doctor if it persists."
    )
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{span_study.token}/{assignment.token}/")
        # Select "4 g daily" in the response, as a rater would with the mouse.
        page.evaluate(
            """() => {
                const node = document.getElementById('output-text').firstChild;
                const start = node.textContent.indexOf('4 g daily');
                const range = document.createRange();
                range.setStart(node, start);
                range.setEnd(node, start + '4 g daily'.length);
                const selection = window.getSelection();
                selection.removeAllRanges();
                selection.addRange(range);
            }"""
        )
        page.select_option("#q-errors [data-span-severity]", "major")
        # Choosing a severity already saves the (empty) list: wait for the save of the span.
        with page.expect_response(
            lambda r: r.request.method == "POST" and "factual" in (r.request.post_data or "")
        ) as saved:
            page.click("#q-errors [data-span-mark]")
        assert saved.value.ok
        page.wait_for_selector("#q-errors .ok")
        page.reload()
        assert page.locator("#q-errors .spans li .quote").inner_text() == "4 g daily"
        assert "Factual error · Major" in page.locator("#q-errors .spans li").inner_text()

    rating = Rating.objects.get(assignment=assignment, question__key="errors")
    text = "Take <b>ibuprofen</b> 4 g daily.\nSee a doctor if it persists."
    [span] = rating.answer
    assert text[span["start"] : span["end"]] == "4 g daily"
    assert (span["category"], span["severity"], rating.value) == ("factual", "major", 1.0)


def test_a_side_by_side_item_is_rated_and_ranked_with_the_keyboard_alone(
    live_server, study_admin, raters
):
    study = services.study_create(
        creator=study_admin,
        title="Side by side by keyboard",
        question_prompt="How good is it?",
        design="side_by_side",
        seed=9,
    )
    services.question_add(
        study=study,
        draft=rubric.QuestionDraft(key="rank", prompt="Rank them", kind="ranking", level="ordinal"),
    )
    rows = "case_id,input,source,output\n" + "".join(
        f"c1,Q,{label},Text number {i}\n" for i, label in enumerate(["Alpha", "Beta", "Gamma"])
    )
    services.study_import_file(study=study, filename="s.csv", content=rows.encode())
    services.study_add_raters(study=study, users=raters[:2])
    services.study_open(study=study)
    rater = raters[0]
    assignment = study.assignments.get(rater=rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{study.token}/{assignment.token}/")
        for letter, key in zip("ABC", "531", strict=True):  # each response's Likert point
            page.keyboard.press(key)
            page.wait_for_selector(f"#q-overall-{letter} .ok")
        # Ranking: a digit ranks the highlighted response and moves on to the next, then back to
        # A. A rank already given moves: B takes 1 from A, C gets 2, and A, again, 3.
        for key in "112":
            page.keyboard.press(key)
        whole = ("rank-A=3", "rank-B=1", "rank-C=2")
        with page.expect_response(
            lambda r: all(part in (r.request.post_data or "") for part in whole)
        ) as saved:
            page.keyboard.press("3")
        assert saved.value.ok
        page.wait_for_function("document.querySelectorAll('#q-rank input:checked').length === 3")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=The only item is rated")

    shown = assignment.shown_outputs()
    overall = {r.output_id: r.answer for r in assignment.ratings.filter(question__key="overall")}
    assert overall == {shown[0].pk: 5, shown[1].pk: 3, shown[2].pk: 1}
    assert assignment.ratings.get(question__key="rank").answer == [3, 1, 2]
    assignment.refresh_from_db()
    assert assignment.submitted_at is not None


def test_a_rater_enlarges_and_zooms_a_case_image(live_server, study_admin, raters):
    from tests.test_attachments import image_bytes, zipped

    study = services.study_create(creator=study_admin, title="X-rays", question_prompt="Right?")
    content = zipped(
        {
            "cases.csv": "case_id,input,source,output,images\nx1,Fracture?,M,None seen.,x1.png\n",
            "x1.png": image_bytes(size=(400, 300)),
        }
    )
    services.study_import_file(study=study, filename="x.zip", content=content)
    services.study_add_raters(study=study, users=raters[:2])
    services.study_open(study=study)
    assignment = study.assignments.get(rater=raters[0])
    with browser_page(live_server.url) as page:
        log_in(page, raters[0].username)
        page.goto(f"/rate/{study.token}/{assignment.token}/")
        thumb = page.locator(".case-images img")
        # Waits through the element, not a string evaluated in the page: under the page's CSP a
        # polled string predicate can be refused as eval when the machine is slow.
        expect(thumb).to_have_js_property("naturalWidth", 400)
        assert thumb.count() == 1
        page.keyboard.press("i")  # the shortcut opens the first image
        page.wait_for_selector("#zoom[open]")
        zoomed = page.locator("#zoom img")
        expect(zoomed).to_have_attribute("style", re.compile(r"width:"))
        fitted = zoomed.bounding_box()["width"]
        page.keyboard.press("+")
        page.keyboard.press("+")
        assert page.locator("[data-zoom-level]").inner_text() == "200%"
        assert zoomed.bounding_box()["width"] == pytest.approx(2 * fitted, rel=0.02)
        page.keyboard.press("2")  # digits zoom nothing and answer nothing while it is open
        page.keyboard.press("Escape")
        page.wait_for_selector("#zoom", state="hidden")
        thumb.click()
        page.wait_for_selector("#zoom[open]")
        assert page.locator("[data-zoom-level]").inner_text() == "100%"
        page.click("[data-zoom-close]")
        page.wait_for_selector("#zoom", state="hidden")
    assert not assignment.ratings.exists()


@pytest.mark.worker
def test_admin_sees_the_figures_downloads_one_and_the_paper_bundle(
    live_server, celery_worker, open_study, study_admin, tmp_path
):
    import zipfile

    from annotation.models import TaskRun

    question = open_study.questions.get()
    for n, assignment in enumerate(open_study.assignments.order_by("pk")):
        services.rating_save(assignment=assignment, question=question, answer=n % 5 + 1)
    submit_rated(open_study)
    run = TaskRun.objects.create(study=open_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))

    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.goto(f"{live_server.url}/studies/{open_study.token}/")
        means = page.locator("figure[data-figure='overall-means'] img")
        means.scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=means.element_handle()
        )
        with page.expect_download() as png:
            page.locator("figure[data-figure='overall-means'] a", has_text="PNG").click()
        png_path = tmp_path / "means.png"
        png.value.save_as(png_path)

        page.click("text=Build the paper bundle")
        link = page.locator("#runs a", has_text="Download the bundle")
        link.wait_for(timeout=60_000)
        with page.expect_download() as bundle:
            link.click()
        bundle_path = tmp_path / "bundle.zip"
        bundle.value.save_as(bundle_path)

    assert png_path.read_bytes().startswith(b"\x89PNG")
    with zipfile.ZipFile(bundle_path) as archive:
        assert "ratings.csv" in archive.namelist()
        assert "figures/overall-means.pdf" in archive.namelist()
