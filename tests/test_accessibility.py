"""axe-core in headless Chromium on the pages people work in: the rater screen (one response,
a pair, several side by side), the study dashboard and a checklist sheet. Any serious or
critical finding fails, named with the elements it was found on, as do unnamed or duplicate
landmarks and empty table headers."""

from axe_playwright_python.sync_playwright import Axe

from annotation import services
from annotation.models import Question
from checklists import services as checklist_services
from tests.factories import UserFactory
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = BROWSER_MARKS

BLOCKING = ("serious", "critical")
# Found by hand before this test existed, and kept out whatever impact axe gives them.
NAMED = ("color-contrast", "landmark-unique", "empty-table-header")


def findings(page) -> list[str]:
    """Every serious or critical axe finding on the page as it is, and any of the NAMED rules,
    one line each."""
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(node["target"]) for node in v["nodes"])
        for v in results.response["violations"]
        if v["impact"] in BLOCKING or v["id"] in NAMED
    ]


def check(page, path: str) -> list[str]:
    page.goto(path)
    page.wait_for_load_state()
    return [f"{path}: {line}" for line in findings(page)]


def study_of(study_admin, raters, *, design: str, outputs: int, **options) -> str:
    study = services.study_create(
        creator=study_admin,
        title=f"A {design} study",
        question_prompt="How good is it?",
        design=design,
        instructions="Read the case first.",
        **options,
    )
    rows = "case_id,input,source,output\n" + "".join(
        f"c1,Question,{label},Answer {label}\n" for label in ["Alpha", "Beta", "Gamma"][:outputs]
    )
    services.study_import_file(study=study, filename="s.csv", content=rows.encode())
    return study


def test_the_rater_screens_have_no_serious_accessibility_findings(
    live_server, open_study, study_admin, raters
):
    # Beside the scale: free text, and marking errors with its "no errors found".
    Question.objects.create(
        study=open_study, key="why", prompt="Why?", kind="text", level="", order=5, required=False
    )
    Question.objects.create(
        study=open_study,
        key="errors",
        prompt="Mark any errors",
        kind="span",
        level="ratio",
        scale=[{"value": "factual", "label": "Factual error"}],
        required=False,
        order=6,
    )
    pair = study_of(study_admin, raters, design="pairwise", outputs=2)
    side = study_of(study_admin, raters, design="side_by_side", outputs=3)
    paths = []
    for study in (open_study, pair, side):
        if study is not open_study:
            services.study_add_raters(study=study, users=raters[:2])
            services.study_open(study=study)
        first = study.assignments.filter(rater=raters[0]).order_by("position").first()
        paths.append(f"/rate/{study.token}/{first.token}/")
    found = []
    with browser_page(live_server.url) as page:
        log_in(page, raters[0].username)
        for path in ["/rate/", *paths]:
            found += check(page, path)
        page.keyboard.press("?")  # the keys help, open
        page.wait_for_selector("#keys-help[open]")
        found += [f"keys help: {line}" for line in findings(page)]
    assert found == [], "\n".join(found)


def test_the_dashboard_and_a_checklist_have_no_serious_accessibility_findings(
    live_server, open_study, study_admin, mi_claim
):
    report = checklist_services.report_create(
        lead=study_admin, definition=mi_claim, title="An appraisal", study=open_study
    )
    found = []
    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        found += check(page, "/studies/")
        found += check(page, f"/studies/{open_study.token}/")
        page.get_by_role("button", name="Lock the study").click()  # the confirmation, open
        page.wait_for_selector("#confirm-dialog[open]")
        found += [f"confirmation: {line}" for line in findings(page)]
        found += check(page, f"/reports/{report.token}/")
        assert page.locator(".badge", has_text="appraising").count() == 1
    assert found == [], "\n".join(found)


def test_the_dashboard_on_a_phone_has_no_serious_accessibility_findings(
    live_server, study_admin, raters, draft_study
):
    """At 390 px the cards' wide tables scroll inside the card: a scrolling region must take the
    keyboard's focus, and every control of a draft study's rubric must have a name."""
    from tests.test_dashboard_planning import crossed_study  # a study with every statistic

    study = crossed_study(study_admin, [*raters, UserFactory(username="rater4")])
    found = []
    with browser_page(live_server.url, viewport={"width": 390, "height": 844}) as page:
        log_in(page, study_admin.username)
        for path in (f"/studies/{study.token}/", f"/studies/{draft_study.token}/"):
            found += check(page, path)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                found.append(f"{path}: the page is {width} px wide at 390")
    assert found == [], "\n".join(found)
