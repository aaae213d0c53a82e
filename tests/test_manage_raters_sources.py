"""Removing a rater, withdrawing an invitation and changing a draft study's source or a judge
that has not run (issue 21): each rule of the services, the dashboard's controls and messages,
and the API doing what the page does on a twin study."""

import re
from collections import Counter

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation import services
from annotation.models import Assignment, Invitation, Judge, Membership, Source, Study, TaskRun
from tests.factories import UserFactory
from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.test_api_parity import API, call, placements, twin

pytestmark = pytest.mark.django_db

KEYLESS = "http://127.0.0.1:9/v1"  # a keyless host the test settings allow


def pseudonyms(study: Study) -> list[str]:
    raters = study.memberships.filter(role=Membership.Role.RATER)
    return sorted(raters.values_list("pseudonym", flat=True))


def dashboard(client, study: Study) -> str:
    return client.get(reverse("study_dashboard", args=[study.token])).text


def shown_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- removing a rater: the service ------------------------------------------------------------


def test_a_draft_studys_rater_is_removed_and_their_name_is_never_given_again(draft_study, raters):
    assert services.rater_remove(study=draft_study, pseudonym="R3") == 0
    assert pseudonyms(draft_study) == ["R1", "R2"]
    assert not Membership.objects.filter(study=draft_study, user=raters[2]).exists()

    newcomer = UserFactory(username="newcomer")
    added = services.study_add_raters(study=draft_study, users=[newcomer])

    assert [m.pseudonym for m in added] == ["R4"]  # R3 was someone else
    services.rater_remove(study=draft_study, pseudonym="R4")
    again = services.study_add_raters(study=draft_study, users=[UserFactory(username="later")])
    assert [m.pseudonym for m in again] == ["R5"]


def test_an_open_studys_untouched_rater_hands_every_item_to_the_others_evenly(open_study, raters):
    before = open_study.manifest_hash
    theirs = set(
        Assignment.objects.filter(study=open_study, rater=raters[1]).values_list("item", flat=True)
    )

    moved = services.rater_remove(study=open_study, pseudonym="R2")

    assert moved == 4
    assert pseudonyms(open_study) == ["R1", "R3"]
    assert not Assignment.objects.filter(study=open_study, rater=raters[1]).exists()
    rows = Assignment.objects.filter(study=open_study)
    # Every item still has its two raters, and the two who stay share the work evenly.
    assert Counter(rows.values_list("item", flat=True)) == dict.fromkeys(
        open_study.items.values_list("pk", flat=True), 2
    )
    assert Counter(rows.values_list("rater__username", flat=True)) == {"rater1": 6, "rater3": 6}
    assert {a.item_id for a in rows if a.item_id in theirs} == theirs
    open_study.refresh_from_db()
    assert open_study.manifest_hash != before


def test_an_item_opened_but_not_rated_moves_as_if_never_opened(open_study, raters):
    first = Assignment.objects.filter(study=open_study, rater=raters[1]).order_by("position")[0]
    services.assignment_mark_opened(assignment=first)

    assert services.rater_remove(study=open_study, pseudonym="R2") == 4

    first.refresh_from_db()
    assert first.rater != raters[1]
    assert first.first_opened_at is None


def test_a_rater_with_a_saved_rating_stays_and_is_told_to_reassign_instead(open_study, raters):
    first = Assignment.objects.filter(study=open_study, rater=raters[1]).order_by("position")[0]
    services.rating_save(assignment=first, question=open_study.questions.get(), answer=4)
    before = placements(open_study)

    with pytest.raises(ValidationError) as refused:
        services.rater_remove(study=open_study, pseudonym="R2")

    assert "Reassign their remaining items instead." in str(refused.value)
    assert pseudonyms(open_study) == ["R1", "R2", "R3"]
    assert placements(open_study) == before


def test_a_rater_nobody_can_stand_in_for_is_not_removed(study_admin, raters):
    study = services.study_create(
        creator=study_admin, title="Two raters", raters_per_item=2, question_prompt="Q?", seed=7
    )
    from tests.conftest import STUDY_ROWS

    services.study_import_file(study=study, filename="study.csv", content=STUDY_ROWS)
    services.study_add_raters(study=study, users=raters[:2])
    services.study_open(study=study)
    before = placements(study)

    with pytest.raises(ValidationError) as refused:
        services.rater_remove(study=study, pseudonym="R2")

    assert "could not go to another rater" in str(refused.value)
    assert placements(study) == before  # nothing changed, the quality control included
    assert pseudonyms(study) == ["R1", "R2"]


@pytest.mark.parametrize("change", [services.study_lock, "archive"])
def test_a_locked_or_archived_studys_raters_stay(open_study, change):
    services.study_lock(study=open_study)
    if change == "archive":
        services.study_archive(study=open_study)

    with pytest.raises(ValidationError) as refused:
        services.rater_remove(study=open_study, pseudonym="R2")

    assert "a locked study's raters are part of its record" in str(refused.value)
    assert pseudonyms(open_study) == ["R1", "R2", "R3"]


# --- removing a rater: the page and the API ---------------------------------------------------


def test_the_dashboard_asks_first_then_removes_and_says_what_happened(
    client, study_admin, open_study, raters
):
    client.force_login(study_admin)
    assert "Remove R2" in dashboard(client, open_study)
    url = reverse("study_remove_rater", args=[open_study.token, "R2"])

    asked = client.post(url)

    assert asked.status_code == 200
    assert "Remove R2 from the study?" in asked.text
    assert 'name="confirm" value="yes"' in asked.text
    assert pseudonyms(open_study) == ["R1", "R2", "R3"]

    done = client.post(url, {"confirm": "yes"}, follow=True)

    assert shown_messages(done) == [
        "Removed R2: their 4 items went to the other raters. "
        "The name R2 will not be given to anyone else."
    ]
    assert pseudonyms(open_study) == ["R1", "R3"]


def test_the_dashboard_says_why_a_rater_with_ratings_stays(client, study_admin, open_study, raters):
    first = Assignment.objects.filter(study=open_study, rater=raters[1]).order_by("position")[0]
    services.rating_save(assignment=first, question=open_study.questions.get(), answer=4)
    client.force_login(study_admin)

    response = client.post(
        reverse("study_remove_rater", args=[open_study.token, "R2"]),
        {"confirm": "yes"},
        follow=True,
    )

    assert shown_messages(response) == [
        "R2 has saved ratings, which are the study's data, so they stay a rater. "
        "Reassign their remaining items instead."
    ]


def test_removing_through_the_api_leaves_what_the_page_leaves(
    client, study_admin, open_study, raters
):
    page_study = twin(open_study, study_admin, raters)
    client.force_login(study_admin)
    client.post(reverse("study_remove_rater", args=[page_study.token, "R2"]), {"confirm": "yes"})
    client.logout()

    response = call(client, study_admin, "delete", API.format(open_study.token) + "raters/R2/")

    assert response.status_code == 200
    assert response.json() == {"removed": "R2", "moved": 4}
    assert placements(open_study) == placements(page_study)
    assert pseudonyms(open_study) == pseudonyms(page_study) == ["R1", "R3"]
    open_study.refresh_from_db()
    page_study.refresh_from_db()
    assert open_study.manifest_hash == page_study.manifest_hash
    again = call(client, study_admin, "delete", API.format(open_study.token) + "raters/R2/")
    assert again.status_code == 404


def test_the_api_refuses_removing_as_the_page_does(client, study_admin, open_study, raters):
    services.study_lock(study=open_study)

    response = call(client, study_admin, "delete", API.format(open_study.token) + "raters/R2/")

    assert response.status_code == 409
    assert "a locked study's raters are part of its record" in response.json()["detail"]


def test_only_the_studys_admins_remove_raters(client, open_study, raters, outsider):
    url = reverse("study_remove_rater", args=[open_study.token, "R2"])
    anonymous = client.post(url, {"confirm": "yes"})
    assert anonymous.status_code == 302
    assert "/login" in anonymous["Location"]
    for user in (raters[0], outsider):
        client.force_login(user)
        assert client.post(url, {"confirm": "yes"}).status_code == 404
    api = API.format(open_study.token) + "raters/R2/"
    client.logout()
    assert client.delete(api).status_code == 401
    assert call(client, raters[0], "delete", api).status_code == 403
    assert call(client, outsider, "delete", api).status_code == 404
    assert pseudonyms(open_study) == ["R1", "R2", "R3"]


# --- withdrawing an invitation ----------------------------------------------------------------


@pytest.fixture
def invited(client, study_admin, draft_study):
    client.force_login(study_admin)
    client.post(
        reverse("study_invite", args=[draft_study.token]),
        {"emails": "a.clinician@example.org"},
    )
    client.logout()
    link = re.search(r"http://testserver(/invite/\w+/)", mail.outbox[-1].body).group(1)
    return Invitation.objects.get(study=draft_study), link


def test_a_withdrawn_link_says_so_to_anyone_who_follows_it(client, study_admin, invited):
    invitation, link = invited
    client.force_login(study_admin)
    assert "Revoke" in dashboard(client, invitation.study)

    done = client.post(
        reverse("study_revoke_invitation", args=[invitation.study.token, invitation.pk]),
        follow=True,
    )

    assert shown_messages(done) == [
        "Withdrew the invitation to a.clinician@example.org: its link no longer works, and "
        "says so. Invite the address again to send a new one."
    ]
    assert "withdrawn" in done.text
    withdrawn = "This invitation was withdrawn by the study&#x27;s admin."
    # The same words for the invited address's account, another account and nobody.
    pages = []
    for user in (
        UserFactory(username="invited", email="a.clinician@example.org"),
        UserFactory(username="other", email="someone@example.org"),
        None,
    ):
        client.logout()
        if user:
            client.force_login(user)
        page = client.get(link)
        assert withdrawn in page.text
        pages.append(page.status_code)
        client.post(link)
    assert len(set(pages)) == 1
    assert (
        not Membership.objects.filter(study=invitation.study, role="rater")
        .exclude(pseudonym__in=["R1", "R2", "R3"])
        .exists()
    )


def test_an_accepted_invitation_cannot_be_withdrawn(client, study_admin, invited):
    invitation, link = invited
    joiner = UserFactory(username="joiner", email="a.clinician@example.org")
    client.force_login(joiner)
    client.post(link)

    with pytest.raises(ValidationError) as refused:
        services.invitation_revoke(study=invitation.study, invitation_id=invitation.pk)

    assert "Remove the rater instead." in str(refused.value)
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_revoking_through_the_api_does_what_the_page_does(
    client, study_admin, draft_study, raters, invited
):
    invitation, _ = invited
    page_study = twin(draft_study, study_admin, raters)
    client.force_login(study_admin)
    client.post(reverse("study_invite", args=[page_study.token]), {"emails": invitation.email})
    on_page = Invitation.objects.get(study=page_study)
    client.post(reverse("study_revoke_invitation", args=[page_study.token, on_page.pk]))
    client.logout()
    base = API.format(draft_study.token) + "invitations/"

    response = call(client, study_admin, "post", f"{base}{invitation.pk}/revoke/")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"]) == (invitation.pk, "revoked")
    on_page.refresh_from_db()
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert on_page.revoked_at is not None
    listed = call(client, study_admin, "get", base).json()["results"]
    assert [(i["email"], i["status"]) for i in listed] == [(invitation.email, "revoked")]
    # Another study's invitation is not this study's to revoke.
    other = call(client, study_admin, "post", f"{base}{on_page.pk}/revoke/")
    assert other.status_code == 404


# --- changing a source ------------------------------------------------------------------------


@pytest.fixture
def model_source(draft_study) -> Source:
    return services.source_create(
        study=draft_study, label="GPT", base_url=KEYLESS, model_name="m", temperature=0.2
    )


def test_a_draft_studys_source_changes_with_the_checks_of_adding_one(draft_study, model_source):
    changed = services.source_update(
        source=model_source, label="GPT-4o", model_name="m2", stop=["END"], temperature=0.0
    )

    assert (changed.label, changed.model_name, changed.stop, changed.temperature) == (
        "GPT-4o",
        "m2",
        ["END"],
        0.0,
    )
    with pytest.raises(ValidationError) as taken:
        services.source_update(source=model_source, label="MedSumm-7B")
    assert "Another source of this study is called MedSumm-7B." in str(taken.value)
    with pytest.raises(ValidationError) as bad:
        services.source_update(source=model_source, stop=["a", "b", "c", "d", "e"])
    assert "At most 4 stop sequences" in str(bad.value)
    with pytest.raises(TypeError):
        services.source_update(source=model_source, study=None)
    model_source.refresh_from_db()
    assert model_source.label == "GPT-4o"


def test_an_open_studys_sources_are_fixed(open_study):
    source = open_study.sources.first()

    with pytest.raises(ValidationError) as refused:
        services.source_update(source=source, label="Renamed")

    assert "Sources can only be changed while the study is a draft" in str(refused.value)


def source_form(source: Source, **changes) -> dict:
    data = {
        "label": source.label,
        "kind": source.kind,
        "base_url": source.base_url,
        "model_name": source.model_name,
        "temperature": "" if source.temperature is None else source.temperature,
        "user_template": source.user_template,
        "stop": "\n".join(source.stop),
        "max_concurrency": source.max_concurrency,
        "samples_per_case": source.samples_per_case,
    }
    return {**data, **changes}


def test_the_dashboard_changes_a_source_on_a_filled_in_form(client, study_admin, model_source):
    study = model_source.study
    client.force_login(study_admin)
    url = reverse("study_edit_source", args=[study.token, model_source.pk])
    assert url in dashboard(client, study)
    form = client.get(url)
    assert form.status_code == 200
    assert 'value="GPT"' in form.text
    assert 'value="m"' in form.text

    bad = client.post(url, source_form(model_source, label="MedSumm-7B"))
    assert bad.status_code == 400
    assert "Another source of this study is called MedSumm-7B." in bad.text

    done = client.post(url, source_form(model_source, label="GPT-4o", stop="A\nB"), follow=True)

    assert shown_messages(done) == ["Saved the source GPT-4o."]
    model_source.refresh_from_db()
    assert (model_source.label, model_source.stop) == ("GPT-4o", ["A", "B"])


def test_an_imported_source_can_become_a_human_reference_on_the_page(
    client, study_admin, draft_study
):
    source = draft_study.sources.get(label="MedSumm-7B")
    client.force_login(study_admin)
    url = reverse("study_edit_source", args=[draft_study.token, source.pk])

    client.post(url, source_form(source, kind="human_reference", label="Second expert"))

    source.refresh_from_db()
    assert (source.kind, source.label) == ("human_reference", "Second expert")


def test_changing_a_source_through_the_api_matches_the_page(
    client, study_admin, draft_study, raters, model_source
):
    page_study = twin(draft_study, study_admin, raters)
    page_source = services.source_create(
        study=page_study, label="GPT", base_url=KEYLESS, model_name="m", temperature=0.2
    )
    client.force_login(study_admin)
    client.post(
        reverse("study_edit_source", args=[page_study.token, page_source.pk]),
        source_form(page_source, label="GPT-4o", model_name="m2", temperature="0.7"),
    )
    client.logout()
    url = API.format(draft_study.token) + f"sources/{model_source.pk}/"

    response = call(
        client,
        study_admin,
        "patch",
        url,
        {"label": "GPT-4o", "model_name": "m2", "temperature": 0.7},
    )

    assert response.status_code == 200
    page = call(
        client, study_admin, "get", API.format(page_study.token) + f"sources/{page_source.pk}/"
    )
    assert {**response.json(), "id": None} == {**page.json(), "id": None}
    assert response.json()["label"] == "GPT-4o"
    taken = call(client, study_admin, "patch", url, {"label": "MedSumm-7B"})
    assert taken.status_code == 400
    assert taken.json() == {"label": ["Another source of this study is called MedSumm-7B."]}
    services.study_open(study=draft_study)
    fixed = call(client, study_admin, "patch", url, {"label": "Late"})
    assert fixed.status_code == 409
    assert "Sources can only be changed while the study is a draft" in fixed.json()["detail"]


# --- changing a judge -------------------------------------------------------------------------


@pytest.fixture
def judge(open_study) -> Judge:
    return services.judge_create(
        study=open_study, label="judge", base_url=KEYLESS, model_name="m", samples=1
    )


def judge_form(judge: Judge, **changes) -> dict:
    data = {
        "label": judge.label,
        "base_url": judge.base_url,
        "model_name": judge.model_name,
        "system_prompt": judge.system_prompt,
        "samples": judge.samples,
        "max_concurrency": judge.max_concurrency,
        "both_orders": "on" if judge.both_orders else "",
    }
    return {**data, **changes}


def test_a_judge_changes_until_it_has_run(judge):
    changed = services.judge_update(judge=judge, samples=3, temperature=0.7, label="judge-2")
    assert (changed.samples, changed.temperature, changed.label) == (3, 0.7, "judge-2")

    TaskRun.objects.create(study=judge.study, judge=judge, kind=TaskRun.Kind.RUN_JUDGE)

    with pytest.raises(ValidationError) as refused:
        services.judge_update(judge=judge, samples=5)
    assert "judge-2 has already been run" in str(refused.value)
    assert "Add another judge" in str(refused.value)
    judge.refresh_from_db()
    assert judge.samples == 3


def test_a_locked_studys_judges_stay_as_they_are(judge):
    services.study_lock(study=judge.study)

    with pytest.raises(ValidationError) as refused:
        services.judge_update(judge=judge, samples=2)

    assert "reopen its analysis" in str(refused.value)


def test_the_dashboard_changes_a_judge_and_the_api_does_the_same(
    client, study_admin, open_study, raters, judge
):
    page_study = twin(open_study, study_admin, raters)
    page_judge = services.judge_create(
        study=page_study, label="judge", base_url=KEYLESS, model_name="m", samples=1
    )
    client.force_login(study_admin)
    url = reverse("study_edit_judge", args=[page_study.token, page_judge.pk])
    assert url in dashboard(client, page_study)
    assert client.get(url).status_code == 200
    done = client.post(url, judge_form(page_judge, samples="2", model_name="m3"), follow=True)
    assert shown_messages(done) == ["Saved the judge judge."]
    client.logout()
    api = API.format(open_study.token) + f"judges/{judge.pk}/"

    response = call(client, study_admin, "patch", api, {"samples": 2, "model_name": "m3"})

    assert response.status_code == 200
    page = call(
        client, study_admin, "get", API.format(page_study.token) + f"judges/{page_judge.pk}/"
    )
    ignore = {"id": None, "created_at": None}
    assert {**response.json(), **ignore} == {**page.json(), **ignore}
    TaskRun.objects.create(study=open_study, judge=judge, kind=TaskRun.Kind.RUN_JUDGE)
    ran = call(client, study_admin, "patch", api, {"samples": 4})
    assert ran.status_code == 409
    assert "has already been run" in ran.json()["detail"]


def test_only_the_studys_admins_change_sources_and_judges(
    client, draft_study, raters, outsider, model_source
):
    judge = services.judge_create(
        study=draft_study, label="judge", base_url=KEYLESS, model_name="m"
    )
    pages = [
        reverse("study_edit_source", args=[draft_study.token, model_source.pk]),
        reverse("study_edit_judge", args=[draft_study.token, judge.pk]),
    ]
    for url in pages:
        assert client.get(url).status_code == 302
    for user in (raters[0], outsider):
        client.force_login(user)
        for url in pages:
            assert client.get(url).status_code == 404
            assert client.post(url, {"label": "x"}).status_code == 404
    client.logout()
    api = API.format(draft_study.token)
    for url in (f"{api}sources/{model_source.pk}/", f"{api}judges/{judge.pk}/"):
        assert client.patch(url, "{}", content_type="application/json").status_code == 401
        # A draft study is not shown to its raters at all: 404, as to an outsider.
        for user in (raters[0], outsider):
            assert call(client, user, "patch", url, {"label": "x"}).status_code == 404
    model_source.refresh_from_db()
    assert model_source.label == "GPT"


# --- in a browser -----------------------------------------------------------------------------


def _browser(test):
    for mark in BROWSER_MARKS:
        test = mark(test)
    return test


@_browser
def test_removing_a_rater_asks_first_in_a_dialog(live_server, open_study, study_admin):
    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.goto(f"/studies/{open_study.token}/")
        row = page.locator("#raters tr", has_text="R2")
        row.locator("summary").click()
        row.get_by_role("button", name="Remove R2").click()
        page.wait_for_selector("#confirm-dialog[open]")
        dialog = page.locator("#confirm-dialog")
        assert dialog.locator("h2").inner_text() == "Remove R2 from the study?"
        dialog.get_by_role("button", name="Cancel").click()
        page.wait_for_selector("#confirm-dialog", state="hidden")
        assert page.locator("#raters tr", has_text="R2").count() == 1

        row.get_by_role("button", name="Remove R2").click()
        dialog.get_by_role("button", name="Remove R2").click()
        page.wait_for_selector(".messages >> text=Removed R2")
        assert page.locator("#raters tr", has_text="R2").count() == 0
    assert sorted(
        open_study.memberships.filter(role="rater").values_list("pseudonym", flat=True)
    ) == ["R1", "R3"]
    assert not Assignment.objects.filter(study=open_study, rater__username="rater2").exists()
    open_study.refresh_from_db()
    assert open_study.status == Study.Status.OPEN
