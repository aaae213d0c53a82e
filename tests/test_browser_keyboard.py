"""Keyboard shortcuts in headless Chromium: a shortcut never takes a key the focused control
needs (Enter on a link or a toggle, arrows in a radio group, digits in a text box), any key a
control declares answers it, and "?" lists every key."""

from annotation.models import Question, Study
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS


def first_two(study, rater):
    return list(study.assignments.filter(rater=rater).order_by("position")[:2])


def saved_answer(value):
    def matches(response) -> bool:
        body = response.request.post_data or ""
        return response.request.method == "POST" and f"answer={value}&" in body + "&"

    return matches


def submits_of(page) -> list[str]:
    """Every submit the page sends from now on."""
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/submit/") else None)
    return sent


def test_enter_on_the_instructions_toggle_opens_it_and_does_not_submit(
    live_server, open_study, raters
):
    Study.objects.filter(pk=open_study.pk).update(instructions="Rate accuracy first.")
    rater = raters[0]
    _, second = first_two(open_study, rater)  # not the first item: its instructions start open
    url = f"/rate/{open_study.token}/{second.token}/"
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(url)
        page.check("#q-overall input[value='4']")
        page.wait_for_selector("#q-overall .ok")
        sent = submits_of(page)
        toggle = page.locator("details.instructions")
        assert toggle.get_attribute("open") is None
        page.focus("details.instructions summary")
        page.keyboard.press("Enter")
        page.wait_for_selector("details.instructions[open]")
        assert page.locator("details.instructions p").is_visible()
        page.keyboard.press("Enter")  # and closes it again
        page.wait_for_selector("details.instructions:not([open])", state="attached")
        # Enter on a link follows the link, and submits nothing either.
        page.focus("a:has-text('My studies')")
        page.keyboard.press("Enter")
        page.wait_for_url("**/rate/")
        assert sent == []

    second.refresh_from_db()
    assert second.submitted_at is None
    assert second.ratings.get().answer == 4


def test_arrow_keys_move_the_choice_within_a_radio_group_and_not_the_item(
    live_server, open_study, raters
):
    rater = raters[0]
    first, second = first_two(open_study, rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{open_study.token}/{first.token}/")
        with page.expect_response(saved_answer(2)):
            page.check("#q-overall input[value='2']")  # "Poor"; the radio now has focus
        with page.expect_response(saved_answer(3)):
            page.keyboard.press("ArrowRight")  # the radio group's own key: the next point
        with page.expect_response(saved_answer(4)):
            page.keyboard.press("ArrowRight")
        with page.expect_response(saved_answer(3)):
            page.keyboard.press("ArrowLeft")
        assert page.locator("#q-overall input[value='3']").is_checked()
        assert page.url.endswith(f"/{first.token}/")  # still the same item
        # Esc leaves the group for its question card; there the arrows move between items.
        page.keyboard.press("Escape")
        assert page.evaluate("document.activeElement.id") == "q-overall"
        page.keyboard.press("ArrowRight")
        page.wait_for_url(f"**/{second.token}/")

    assert first.ratings.get().answer == 3
    assert [r.answer for r in first.ratings.get().revisions.order_by("pk")] == [2, 3, 4, 3]


def test_question_mark_and_the_button_open_the_keys_help_and_escape_closes_it(
    live_server, open_study, raters
):
    rater = raters[0]
    first, _ = first_two(open_study, rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{open_study.token}/{first.token}/")
        page.wait_for_load_state()
        help_dialog = page.locator("#keys-help")
        assert not help_dialog.is_visible()
        page.keyboard.press("?")
        page.wait_for_selector("#keys-help[open]")
        rows = help_dialog.locator("tr:visible").all_inner_texts()
        keys = [row.split("\t")[0].strip() for row in rows]
        assert keys == ["1–9", "Enter", "← →", "Tab", "?"]  # no "0", "n", ranking, image here
        page.keyboard.press("4")  # keys do nothing behind the open dialog
        page.keyboard.press("Escape")
        page.wait_for_selector("#keys-help", state="hidden")
        assert not page.locator("#q-overall input:checked").count()

        page.get_by_role("button", name="All keyboard shortcuts").click()
        page.wait_for_selector("#keys-help[open]")
        page.get_by_role("button", name="Close").click()
        page.wait_for_selector("#keys-help", state="hidden")
    assert not first.ratings.exists()


def test_digits_and_letters_in_a_text_box_are_typed_not_taken(live_server, open_study, raters):
    Question.objects.create(
        study=open_study, key="why", prompt="Why?", kind="text", level="", order=5, required=False
    )
    rater = raters[0]
    first, _ = first_two(open_study, rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{open_study.token}/{first.token}/")
        sent = submits_of(page)
        page.focus("#q-why textarea")
        with page.expect_response(lambda r: "answer=4%3F%20mg" in (r.request.post_data or "")):
            page.keyboard.type("4? mg")
        assert page.locator("#q-why textarea").input_value() == "4? mg"
        assert page.locator("#keys-help").is_hidden()
        assert page.locator("#q-overall input:checked").count() == 0
        page.keyboard.press("ArrowLeft")  # moves the caret, not to another item
        page.keyboard.press("Enter")  # a new line in the box, not a submit
        page.wait_for_function("document.querySelector('#q-why textarea').value.length === 6")
        assert page.url.endswith(f"/{first.token}/")
        assert sent == []

    answers = dict(first.ratings.values_list("question__key", "answer"))
    assert answers["why"].startswith("4? m")
    assert "overall" not in answers
    first.refresh_from_db()
    assert first.submitted_at is None


def test_a_key_a_control_declares_answers_the_highlighted_question(live_server, open_study, raters):
    Question.objects.create(
        study=open_study,
        key="errors",
        prompt="Mark any errors",
        kind="span",
        level="ratio",
        scale=[{"value": "factual", "label": "Factual error"}],
        required=False,
        order=5,
    )
    rater = raters[0]
    first, _ = first_two(open_study, rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{open_study.token}/{first.token}/")
        assert page.locator("#q-errors input[data-key='n']").count() == 1
        page.keyboard.press("4")  # "overall": Good; then "errors" is highlighted
        page.wait_for_selector("#q-overall .ok")
        assert page.evaluate("document.activeElement.id") == "q-errors"
        page.keyboard.press("n")  # its "No errors found"
        page.wait_for_selector("#q-errors .ok")
        assert page.locator("#q-errors input[data-key='n']").is_checked()

    answers = dict(first.ratings.values_list("question__key", "answer"))
    assert answers == {"overall": 4, "errors": "none"}


def test_answering_by_key_passes_over_a_free_text_question_to_the_next_it_can_answer(
    live_server, open_study, raters
):
    Question.objects.create(
        study=open_study, key="why", prompt="Why?", kind="text", level="", order=4, required=False
    )
    Question.objects.create(
        study=open_study,
        key="errors",
        prompt="Mark any errors",
        kind="span",
        level="ratio",
        scale=[
            {"value": "factual", "label": "Factual"},
            {"value": "omission", "label": "Omission"},
        ],
        required=False,
        order=5,
    )
    rater = raters[0]
    first, _ = first_two(open_study, rater)
    with browser_page(live_server.url) as page:
        log_in(page, rater.username)
        page.goto(f"/rate/{open_study.token}/{first.token}/")
        page.keyboard.press("4")  # "overall": Good; the free-text "why" has no key to answer
        page.wait_for_selector("#q-overall .ok")
        assert page.evaluate("document.activeElement.id") == "q-errors"
        page.keyboard.press("n")
        page.wait_for_selector("#q-errors .ok")

    answers = dict(first.ratings.values_list("question__key", "answer"))
    assert answers == {"overall": 4, "errors": "none"}


def test_checklist_keys_leave_typing_to_the_fields_and_show_their_help(
    live_server, mi_claim, study_admin
):
    from checklists import services as checklist_services

    report = checklist_services.report_create(
        lead=study_admin, definition=mi_claim, title="Keys paper"
    )
    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.goto(f"/reports/{report.token}/")
        page.wait_for_load_state()
        page.keyboard.press("j")  # the first item
        item = "#" + page.evaluate("document.activeElement.id")
        page.keyboard.press("w")  # its "where reported" box
        with page.expect_response(lambda r: "location=j1%20k2" in (r.request.post_data or "")):
            page.keyboard.type("j1 k2")  # typed, not navigation nor answers
        assert page.locator(f"{item} input:checked").count() == 0
        page.keyboard.press("Escape")
        page.keyboard.press("?")
        page.wait_for_selector("#keys-help[open]")
        assert "Next and previous item" in page.locator("#keys-help").inner_text()
        page.keyboard.press("Escape")
        page.wait_for_selector("#keys-help", state="hidden")
        page.keyboard.press("1")  # the sheet's keys work again on the highlighted item
        page.wait_for_selector(f"{item} .status .ok")

    response = report.assessments.get().responses.get(item_id=int(item.removeprefix("#item-")))
    assert (response.location, response.answer) == ("j1 k2", "yes")
