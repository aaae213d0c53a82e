"""Irreversible admin actions (open, lock, archive, reassign) are done only once confirmed: a bare
POST, as a browser without script sends it, changes nothing and answers with a page that says
what cannot be undone and asks again."""

import pytest
from django.urls import reverse

from annotation import services
from annotation.models import Assignment, Study

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, study_admin):
    client.force_login(study_admin)
    return client


def asks(response, *phrases: str) -> None:
    assert response.status_code == 200
    text = response.text
    assert "This cannot be undone:" in text
    assert '<input type="hidden" name="confirm" value="yes">' in text
    for phrase in phrases:
        assert phrase in text


def test_opening_unconfirmed_asks_and_stores_nothing(admin_client, draft_study):
    url = reverse("study_open", args=[draft_study.token])
    asks(
        admin_client.post(url),
        "Open the study to raters?",
        "the study never goes back to draft",
        f'action="{url}"',
    )
    draft_study.refresh_from_db()
    assert draft_study.status == Study.Status.DRAFT
    assert not Assignment.objects.filter(study=draft_study).exists()
    admin_client.post(url, {"confirm": "yes"})
    draft_study.refresh_from_db()
    assert draft_study.status == Study.Status.OPEN


def test_opening_says_which_sources_still_miss_outputs(admin_client, draft_study):
    services.source_create(
        study=draft_study, label="Local-LLM", base_url="http://127.0.0.1:9/v1", model_name="m"
    )
    url = reverse("study_open", args=[draft_study.token])
    asks(admin_client.post(url), "Local-LLM is missing 3 outputs")
    dashboard = admin_client.get(reverse("study_dashboard", args=[draft_study.token])).text
    assert "Local-LLM is missing 3 outputs" in dashboard  # in the dialog's template
    # The imported sources are complete: nothing is said about them.
    assert dashboard.count("is missing") == 1


@pytest.mark.parametrize(
    ("action", "before", "phrase", "after"),
    [
        ("study_lock", "open", "a locked study cannot be opened again", "locked"),
        ("study_archive", "locked", "an archived study cannot be unlocked", "archived"),
    ],
)
def test_locking_and_archiving_unconfirmed_ask_and_change_nothing(
    admin_client, open_study, action, before, phrase, after
):
    if before == "locked":
        services.study_lock(study=open_study)
    url = reverse(action, args=[open_study.token])
    for unconfirmed in ({}, {"confirm": ""}, {"confirm": "no"}):
        asks(admin_client.post(url, unconfirmed), phrase)
        open_study.refresh_from_db()
        assert open_study.status == before
    admin_client.post(url, {"confirm": "yes"})
    open_study.refresh_from_db()
    assert open_study.status == after


def test_reassigning_unconfirmed_asks_naming_the_rater_and_moves_nothing(
    admin_client, open_study, raters
):
    url = reverse("study_reassign", args=[open_study.token, "R3"])
    before = list(Assignment.objects.filter(study=open_study, rater=raters[2]))
    asks(admin_client.post(url), "Reassign R3's unstarted items?", "do not come back to R3")
    assert list(Assignment.objects.filter(study=open_study, rater=raters[2])) == before
    response = admin_client.post(url, {"confirm": "yes"}, follow=True)
    assert "Moved 4 unstarted items from R3 to the others." in response.text


def test_the_confirmation_page_is_only_for_the_studys_admins(client, open_study, raters, outsider):
    for user in (raters[0], outsider):
        client.force_login(user)
        assert client.post(reverse("study_lock", args=[open_study.token])).status_code == 404


def test_the_dashboard_marks_each_irreversible_form_with_its_question(admin_client, open_study):
    text = admin_client.get(reverse("study_dashboard", args=[open_study.token])).text
    # Lock, and for each of the three raters: reassign their unstarted items, and remove them.
    assert text.count("data-confirm>") == 7
    assert text.count('<input type="hidden" name="confirm" value="">') == 7
    assert "Lock the study?" in text
    assert "Reassign R2's unstarted items?" in text
    assert "Remove R2 from the study?" in text
    assert '<dialog id="confirm-dialog"' in text
