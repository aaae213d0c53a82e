"""In Chromium: the dashboard's comments card loads the raters' comments, without sources while
the study runs, and filters them by source once it is locked."""

from django.urls import reverse

from annotation import services
from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.test_study_comments import commented, expected_remarks  # noqa: F401 (a fixture)

pytestmark = BROWSER_MARKS


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
        card.locator("select[name=source]").select_option("MedSumm-7B")
        page.wait_for_function(
            "n => document.querySelectorAll('#comments .comment-text').length === n",
            arg=len(about_model),
        )
        shown = [text.strip() for text in card.locator(".comment-text").all_inner_texts()]
        assert shown == about_model
        assert set(card.locator(".comment-sources").all_inner_texts()) == {"MedSumm-7B"}
