"""The audit log in headless Chromium: from the study dashboard to the log, filtered, with old
and new values, and exported as CSV."""

import csv

from annotation import services
from annotation.models import AuditEvent
from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.test_accessibility import findings

pytestmark = BROWSER_MARKS


def test_an_admin_reads_filters_and_exports_the_log_from_the_dashboard(
    live_server, open_study, study_admin
):
    services.study_analysis_update(study=open_study, p_adjustment="bonferroni", judge_epsilon=0.2)
    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.goto(f"/studies/{open_study.token}/")
        page.get_by_role("link", name="Audit log").click()
        page.wait_for_selector("h1:has-text('Audit log')")
        rows = page.locator("[data-testid=audit-row]")
        assert rows.count() >= 5
        # Newest first: the change, unless a worker has claimed the recomputation it queued
        # meanwhile (recorded then, as job.queued).
        newest = rows.first if "settings.changed" in rows.first.inner_text() else rows.nth(1)
        assert "settings.changed" in newest.inner_text()
        changed = newest.locator("dd")
        assert changed.locator("del").inner_text() == "holm"
        assert changed.locator("ins").inner_text() == "bonferroni"

        assert findings(page) == []  # axe-core: no serious accessibility finding

        page.select_option("select[name=action]", "study.opened")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url("**action=study.opened**")
        assert rows.count() == 1
        assert "study.opened" in rows.first.inner_text()

        with page.expect_download() as download:
            page.get_by_test_id("audit-csv").click()
        path = download.value.path()
        with open(path, newline="") as file:
            exported = list(csv.DictReader(file))
    # The filtered export holds this study's opening only (the fixture opened it outside any
    # request: no user); the export itself is recorded, with the filter it used.
    assert [row["action"] for row in exported] == ["study.opened"]
    assert exported[0]["actor_username"] == ""
    export = AuditEvent.objects.get(action="audit.exported")
    assert export.actor_username == study_admin.username
    assert export.details == {"format": "csv", "action": "study.opened"}
