"""A lead in headless Chromium scopes a TRIPOD-LLM report and watches the item count follow."""

from checklists import services
from checklists.models import ChecklistDefinition, Report
from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.test_accessibility import findings

pytestmark = BROWSER_MARKS


def test_choosing_designs_and_tasks_changes_the_items_shown_and_counted(
    live_server, mi_claim, study_admin
):
    tripod = ChecklistDefinition.objects.get(slug="tripod-llm")
    report = services.report_create(lead=study_admin, definition=tripod, title="Scoped paper")
    item_6b = f"#item-{tripod.items.get(code='6b').pk}"

    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.goto(f"/reports/{report.token}/")
        total = page.locator("#section-nav .total")
        assert "0 of 49 answered" in total.inner_text()
        assert findings(page) == []  # the scope card's boxes, among the rest
        assert page.locator(item_6b).count() == 1
        scope = page.locator("#scope")
        scope.get_by_label("E: LLM evaluation").check()
        scope.get_by_label("QA: Long-form question answering").check()
        scope.get_by_role("button", name="Show the items that apply").click()
        page.wait_for_selector("text=Scope saved: 42 items apply.")
        assert "0 of 42 answered" in total.inner_text()
        assert page.locator(item_6b).count() == 0  # 6b is for methods and development only
        chosen = page.locator("[data-testid=scope-chosen]").inner_text()
        assert "Research design: E: LLM evaluation" in chosen

        # Widening the scope brings the items back: H adds the healthcare-setting items.
        scope.get_by_text("Edit the scope").click()  # folded away once a scope is chosen
        scope.get_by_label("H: LLM evaluation in healthcare settings").check()
        scope.get_by_role("button", name="Change the scope").click()
        page.wait_for_selector("text=Scope saved: 45 items apply.")
        assert "0 of 45 answered" in page.locator("#section-nav .total").inner_text()

    report = Report.objects.get(pk=report.pk)
    assert report.scope == {"design": ["E", "H"], "task": ["QA"]}
    assert report.scope_changes.count() == 2
