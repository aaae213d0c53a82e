"""In Chromium: the dashboard's comments card loads the raters' comments, without sources while
the study runs, and filters them by source once it is locked."""

from django.urls import reverse

from annotation import services
from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.test_study_comments import commented, expected_remarks  # noqa: F401 (a fixture)

pytestmark = BROWSER_MARKS

# Whether htmx has processed an element (set up its hx-* attributes).
HTMX_READY = """s => {
    const data = document.querySelector(s)?.["htmx-internal-data"];
    return Boolean(data && data.initHash);
}"""


def test_the_comments_card_reads_blind_then_filters_by_source_once_locked(
    live_server,
    study_admin,
    commented,  # noqa: F811
):
    url = reverse("study_dashboard", args=[commented.token])
    newest = expected_remarks(commented)[0]

    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.goto(url)
        card = page.locator("#comments")
        card.locator("#comments-list").wait_for()
        assert newest in card.locator(".comment-text").first.inner_text()
        assert card.locator("select[name=source]").count() == 0
        assert "MedSumm-7B" not in card.inner_text()

    services.study_lock(study=commented)
    about_model = expected_remarks(commented, source="MedSumm-7B")

    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.goto(url)
        card = page.locator("#comments")
        card.locator("select[name=source]").wait_for()
        # The filter arrives with the card: choose only once htmx has taken it in, as a person
        # could not act faster than that.
        page.wait_for_function(HTMX_READY, arg="#comments form.comments-filter")
        card.locator("select[name=source]").select_option("MedSumm-7B")
        page.wait_for_function(
            "n => document.querySelectorAll('#comments .comment-text').length === n",
            arg=len(about_model),
        )
        shown = [text.strip() for text in card.locator(".comment-text").all_inner_texts()]
        assert shown == about_model
        assert set(card.locator(".comment-sources").all_inner_texts()) == {"MedSumm-7B"}
