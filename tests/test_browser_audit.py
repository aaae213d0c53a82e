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


# A user's walk (the audit UX review): a long value squeezed the What column to a letter a line
# (rows ~10,000 px tall at 390 and 1024 px), and on a phone the table scrolled sideways.

SHARED = "Ihre Daten werden gemäß DSGVO verarbeitet und nach Studienende gelöscht. " * 8
LONG_CHANGE = {
    "consent_text": {"old": SHARED + "Widerruf per Brief.", "new": SHARED + "Widerruf per E-Mail."},
    "consent_version": {"old": 1, "new": 2},
    "source": "https://example.org/" + "a-very-long-unbroken-path-segment" * 4,
}

MEASURE = """(row) => {
    const box = (element) => element.getBoundingClientRect();
    const card = row.closest('.card');
    const what = row.querySelector('td.audit-what');
    const time = row.querySelector('time');
    return {
        rowHeight: box(row).height,
        whatWidth: box(what).width,
        timeTopInRow: box(time).top - box(row).top,
        timeLines: time.getClientRects().length,
        cardScrolls: card.scrollWidth - card.clientWidth,
        pageScrolls: document.documentElement.scrollWidth - window.innerWidth,
    };
}"""


def test_a_long_value_keeps_every_column_readable_on_a_phone_and_a_laptop(
    live_server, open_study, study_admin
):
    services.audit_record(action="consent.changed", study=open_study, details=LONG_CHANGE)
    study_admin.is_staff = True  # reads the whole log too
    study_admin.save(update_fields=["is_staff"])
    pages = {"study": f"/studies/{open_study.token}/audit/", "staff": "/audit/"}
    seen = {}
    for width in (390, 1024):
        with browser_page(live_server.url, viewport={"width": width, "height": 900}) as page:
            log_in(page, study_admin.username)
            for name, url in pages.items():
                page.goto(f"{url}?action=consent.changed")
                row = page.locator("[data-testid=audit-row]")
                assert row.count() == 1
                seen[name, width] = row.evaluate(MEASURE)
                # The change is in sight without opening anything; the whole text on demand.
                assert "Widerruf per E-Mail." in row.locator("ins").first.inner_text()
                full = row.get_by_test_id("audit-full").first
                assert not full.locator("ins").is_visible()
                full.locator("summary").click()
                assert full.locator("ins").inner_text() == SHARED.strip() + " Widerruf per E-Mail."
            if width == 390:
                assert findings(page) == []  # axe-core, on the stacked layout
    for (name, width), measured in seen.items():
        where = f"{name} page at {width}px: {measured}"
        # The row was 9,408 px (390) and 10,450 px (1024) tall, the What column one letter wide.
        assert measured["rowHeight"] < 1200, where
        assert measured["whatWidth"] >= (300 if width == 390 else 280), where
        # The time starts at the top of its row (cells aligned to the top), on one line.
        assert measured["timeTopInRow"] < 40, where
        assert measured["timeLines"] == 1, where
        # Nothing to scroll sideways for (on a phone each entry is a block), even for a long
        # unbroken address in the details.
        assert measured["pageScrolls"] <= 0, where
        assert measured["cardScrolls"] <= 0, where
