"""A locked study whose analysis is reopened says so at the top of its dashboard (when, by whom,
why, and that figures may change until the analysis is closed, with a link to the close form),
and offers no "Archive the study" button, which the server would refuse."""

import html

import pytest
from django.urls import reverse

from annotation import services
from annotation.models import Study
from tests.test_study_statistics import compute, rate_absolute

pytestmark = pytest.mark.django_db

ARCHIVE_BUTTON = "Archive the study</button>"


@pytest.fixture
def admin_client(client, study_admin):
    client.force_login(study_admin)
    return client


@pytest.fixture
def locked(open_study) -> Study:
    services.study_lock(study=open_study)
    open_study.refresh_from_db()
    return open_study


def dashboard(client, study) -> str:
    response = client.get(reverse("study_dashboard", args=[study.token]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_reopened_analysis_is_announced_at_the_top_with_a_link_to_close_it(
    admin_client, locked, study_admin
):
    reopening = services.analysis_reopen(
        study=locked, by=study_admin, reason="Reviewer 2 asked for a <second> judge"
    )
    page = dashboard(admin_client, locked)
    notice = page[page.index('data-testid="analysis-reopened"') :].split("</p>")[0]
    when = f"{reopening.opened_at:%Y-%m-%d %H:%M}"
    assert f"reopened</strong> on {when} by {study_admin.get_username()}" in notice
    # The reason is the admin's own text: escaped, never markup.
    assert html.escape("Reviewer 2 asked for a <second> judge") in notice
    assert "<second>" not in page
    assert "Figures may change until you" in notice
    assert '<a href="#close-analysis">close the analysis</a>' in notice
    # Near the top: before the agreement figures, and the link leads to the close form.
    assert page.index('data-testid="analysis-reopened"') < page.index(
        '<h2 id="agreement-title">Agreement</h2>'
    )
    close_form = reverse("study_analysis_close", args=[locked.token])
    assert f'action="{close_form}" id="close-analysis"' in page


def test_a_reopened_analysis_offers_no_archive_button(admin_client, locked, study_admin):
    services.analysis_reopen(study=locked, by=study_admin, reason="Add a judge")
    page = dashboard(admin_client, locked)
    assert ARCHIVE_BUTTON not in page
    assert reverse("study_archive", args=[locked.token]) not in page
    assert "Close the analysis before archiving the study." in page
    # What the button would have asked for is refused by the server all the same.
    admin_client.post(reverse("study_archive", args=[locked.token]), {"confirm": "yes"})
    locked.refresh_from_db()
    assert locked.status == Study.Status.LOCKED


def test_once_closed_the_notice_goes_and_archiving_is_offered_again(
    admin_client, locked, study_admin
):
    services.analysis_reopen(study=locked, by=study_admin, reason="Add a judge")
    services.analysis_close(study=locked, by=study_admin)
    page = dashboard(admin_client, locked)
    assert 'data-testid="analysis-reopened"' not in page
    assert ARCHIVE_BUTTON in page
    # The Study card still lists the reopening, closed.
    assert "Analysis reopened by" in page
    assert "(closed by" in page


def test_a_locked_study_never_reopened_has_no_notice_and_can_be_archived(admin_client, locked):
    page = dashboard(admin_client, locked)
    assert 'data-testid="analysis-reopened"' not in page
    assert ARCHIVE_BUTTON in page


def test_the_agreement_card_names_alphas_interval_as_bca_over_cases(admin_client, open_study):
    rate_absolute(open_study)
    compute(open_study)
    page = dashboard(admin_client, open_study)
    named = page[page.index('data-testid="alpha-interval-method"') :].split("</span>")[0]
    seed = open_study.seed
    assert f"For these raters, BCa bootstrap over cases: 1000 resamples, seed {seed}" in named
    assert "for raters like these, the variance over cases plus the jackknife over raters" in named
    assert "Percentile bootstrap over items" not in page
