"""Layout in headless Chromium: a scale stays one row with its poles at the ends (a bipolar A/B
scale on a phone, a 7-point scale in side-by-side columns), key hints are hidden on touch
screens, the top bar and the lists fit a phone without a word per line, and there is a favicon."""

import itertools

import pytest

from annotation import services
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS

PHONE = {"viewport": {"width": 390, "height": 844}}
TOUCH_PHONE = {**PHONE, "has_touch": True, "is_mobile": True}
SEVEN_POINTS = [
    {"value": value, "label": label}
    for value, label in enumerate(
        ["Very poor", "Poor", "Somewhat poor", "Acceptable", "Somewhat good", "Good", "Excellent"],
        start=1,
    )
]

# Each point of a question's scale: where it is and what it says, in page order.
POINTS = """(question) => Array.from(document.querySelectorAll(question + ' .point')).map(p => {
    const box = p.getBoundingClientRect();
    return {top: Math.round(box.top), left: box.left, right: box.right,
            label: p.querySelector('.label').textContent.trim()};
})"""


def opened(study, raters):
    services.study_add_raters(study=study, users=raters[:2])
    services.study_open(study=study)
    return study.assignments.get(rater=raters[0])


def pairwise_item(study_admin, raters):
    study = services.study_create(
        creator=study_admin, title="Pairs", question_prompt="Which is better?", design="pairwise"
    )
    rows = "case_id,input,source,output\nc1,Q,Alpha,First text\nc1,Q,Beta,Second text\n"
    services.study_import_file(study=study, filename="p.csv", content=rows.encode())
    return f"/rate/{study.token}/{opened(study, raters).token}/"


def assert_one_row_poles_at_the_ends(points, first: str, last: str) -> None:
    assert len({p["top"] for p in points}) == 1, points
    lefts = [p["left"] for p in points]
    assert lefts == sorted(lefts), points
    assert all(a["right"] <= b["left"] for a, b in itertools.pairwise(points)), points
    assert (points[0]["label"], points[-1]["label"]) == (first, last)


def test_a_bipolar_scale_stays_one_row_on_a_phone(live_server, study_admin, raters):
    url = pairwise_item(study_admin, raters)
    with browser_page(live_server.url, **TOUCH_PHONE) as page:
        log_in(page, raters[0].username)
        page.goto(url)
        points = page.evaluate(POINTS, "#q-preference")
        assert len(points) == 5
        assert_one_row_poles_at_the_ends(points, "A much better", "B much better")
        # The row fits the phone: nothing scrolls sideways, every label can be read.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert all(p["right"] <= 390 for p in points)
        page.locator("#q-preference label.point").nth(4).tap()
        page.wait_for_selector("#q-preference .ok")


def test_a_seven_point_scale_stays_one_row_in_side_by_side_columns(
    live_server, study_admin, raters
):
    study = services.study_create(
        creator=study_admin,
        title="Three at once",
        question_prompt="How good?",
        design="side_by_side",
        scale=SEVEN_POINTS,
    )
    rows = "case_id,input,source,output\n" + "".join(
        f"c1,Q,{label},Text {i}\n" for i, label in enumerate(["Alpha", "Beta", "Gamma"])
    )
    services.study_import_file(study=study, filename="s.csv", content=rows.encode())
    assignment = opened(study, raters)
    with browser_page(live_server.url, viewport={"width": 1024, "height": 800}) as page:
        log_in(page, raters[0].username)
        page.goto(f"/rate/{study.token}/{assignment.token}/")
        columns = page.evaluate(
            "Array.from(document.querySelectorAll('.response'))"
            ".map(r => Math.round(r.getBoundingClientRect().top))"
        )
        assert len(columns) == 3
        assert len(set(columns)) == 1  # three columns side by side
        for letter in "ABC":
            points = page.evaluate(POINTS, f"#q-overall-{letter}")
            assert len(points) == 7
            assert_one_row_poles_at_the_ends(points, "Very poor", "Excellent")
            scale = page.locator(f"#q-overall-{letter} .scale")
            assert scale.evaluate("s => s.scrollWidth <= s.clientWidth")  # no need to scroll
            # The poles are named where they can be read; the middle labels only to readers.
            pole = scale.locator(".point").first.locator(".label")
            assert pole.is_visible()
            assert pole.bounding_box()["width"] > 30
            assert pole.bounding_box()["x"] >= scale.bounding_box()["x"] - 0.5
            last = scale.locator(".point").last.locator(".label").bounding_box()
            box = scale.bounding_box()
            assert last["x"] + last["width"] <= box["x"] + box["width"] + 0.5
        page.keyboard.press("7")
        page.wait_for_selector("#q-overall-A .ok")
        assert page.locator("#q-overall-A input[value='7']").is_checked()


@pytest.mark.parametrize("touch", [False, True])
def test_key_hints_are_hidden_on_touch_screens(live_server, open_study, raters, touch):
    assignment = open_study.assignments.filter(rater=raters[0]).order_by("position").first()
    with browser_page(live_server.url, **(TOUCH_PHONE if touch else PHONE)) as page:
        log_in(page, raters[0].username)
        page.goto(f"/rate/{open_study.token}/{assignment.token}/")
        page.wait_for_load_state()
        hints = [page.locator(".key-hints"), page.locator("#submit kbd")]
        assert [hint.is_visible() for hint in hints] == [not touch, not touch]
        assert page.locator("#submit button").is_visible()


def test_a_phone_fits_the_top_bar_the_studies_and_the_progress_line(
    live_server, open_study, raters
):
    assignment = open_study.assignments.filter(rater=raters[0]).order_by("position").first()
    lines = """(selector) => Array.from(document.querySelectorAll(selector)).map(e => {
        const height = e.getBoundingClientRect().height;
        const line = parseFloat(getComputedStyle(e).lineHeight);
        return [e.textContent.trim(), Math.round(height / line)];
    })"""
    with browser_page(live_server.url, **PHONE) as page:
        log_in(page, raters[0].username)
        page.goto("/rate/")
        top_bar = page.evaluate(lines, ".topbar nav a, .topbar nav button")
        assert [text for text, _ in top_bar][:3] == ["My ratings", "Checklists", "API token"]
        assert all(n == 1 for _, n in top_bar), top_bar
        studies = page.evaluate(lines, ".study-list .title, .study-list .muted")
        assert studies == [["Summaries of patient questions", 1], ["0 of 4 rated", 1]]
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        page.goto(f"/rate/{open_study.token}/{assignment.token}/")
        assert page.evaluate(lines, "#progress .count") == [["0 of 4 rated", 1]]
        bar = page.locator("#progress progress").bounding_box()
        count = page.locator("#progress .count").bounding_box()
        assert abs((bar["y"] + bar["height"] / 2) - (count["y"] + count["height"] / 2)) < 4
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        page.goto("/")
        icon = page.locator("link[rel=icon]").get_attribute("href")
        response = page.request.get(icon)
        assert response.ok
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert response.text().startswith("<svg")


def test_a_phone_fits_the_admins_studies_table(live_server, open_study, study_admin):
    with browser_page(live_server.url, **PHONE) as page:
        log_in(page, study_admin.username)
        page.goto("/studies/")
        table = page.locator("table.table")
        box = table.bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390
        assert table.evaluate("t => t.closest('.table-scroll').scrollWidth <= 390")
        badge = table.locator(".badge")
        assert badge.inner_text() == "Open for rating"
        one_line = "b => b.offsetHeight < 1.5 * parseFloat(getComputedStyle(b).lineHeight)"
        assert badge.evaluate(one_line)
