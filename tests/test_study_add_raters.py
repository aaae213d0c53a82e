"""Raters joining an open study take over unstarted work; nobody's started work moves."""

from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation import selectors, services
from annotation.core import design
from annotation.models import Assignment, Study
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def manifest_rows(study):
    return {
        (a.token, a.rater.username, a.item_id, a.position)
        for a in Assignment.objects.filter(study=study).select_related("rater")
    }


def test_a_rater_joining_an_open_study_takes_unstarted_items_only(open_study, raters):
    question = open_study.questions.get()
    rater1, rater2 = raters[0], raters[1]
    started = list(Assignment.objects.filter(study=open_study, rater=rater1, position__lte=2))
    for assignment in started:
        services.rating_save(assignment=assignment, question=question, answer=3)
    opened = Assignment.objects.get(study=open_study, rater=rater2, position=1)
    services.assignment_mark_opened(assignment=opened)
    before_hash = open_study.manifest_hash
    fixed = {(a.token, a.rater_id, a.position) for a in [*started, opened]}

    late = UserFactory(username="late")
    [membership] = services.study_add_raters(study=open_study, users=[late])

    assert membership.pseudonym == "R4"
    rows = list(Assignment.objects.filter(study=open_study))
    assert {(a.token, a.rater_id, a.position) for a in rows} >= fixed
    loads = Counter(a.rater.username for a in rows)
    assert loads == {"rater1": 3, "rater2": 3, "rater3": 3, "late": 3}
    per_item = Counter(a.item_id for a in rows)
    assert set(per_item.values()) == {2}
    assert all(len({a.rater_id for a in rows if a.item_id == item}) == 2 for item in per_item)
    for user in {a.rater for a in rows}:
        positions = sorted(a.position for a in rows if a.rater == user)
        assert positions == list(range(1, len(positions) + 1))
    first = selectors.assignment_next_for_rater(rater=late, study=open_study)
    assert first.position == 1
    open_study.refresh_from_db()
    assert open_study.manifest_hash != before_hash
    assert len(open_study.manifest_hash) == 64


def test_the_stored_hash_is_the_digest_of_the_stored_manifest(open_study):
    memberships = {m.user_id: m.pseudonym for m in open_study.memberships.filter(role="rater")}
    placements = tuple(
        design.Placement(
            memberships[a.rater_id],
            f"{a.item.output.case.external_id}\x1f{a.item.output.source.label}",
            a.position,
        )
        for a in Assignment.objects.filter(study=open_study).select_related(
            "item__output__case", "item__output__source"
        )
    )
    manifest = design.Manifest(seed=open_study.seed, k=2, placements=placements)
    assert open_study.manifest_hash == manifest.digest


def test_raters_cannot_join_a_locked_study(open_study):
    Study.objects.filter(pk=open_study.pk).update(status=Study.Status.LOCKED)
    with pytest.raises(ValidationError, match="draft or open"):
        services.study_add_raters(study=open_study, users=[UserFactory(username="late")])


def test_a_stalled_raters_unstarted_items_go_to_the_others(client, study_admin, open_study, raters):
    question = open_study.questions.get()
    stalled = raters[2]
    first = Assignment.objects.get(study=open_study, rater=stalled, position=1)
    services.rating_save(assignment=first, question=question, answer=3)
    client.force_login(study_admin)
    url = reverse("study_reassign", args=[open_study.token, "R3"])
    response = client.post(url, {"confirm": "yes"}, follow=True)
    assert "Moved 3 unstarted items from R3 to the others." in response.text
    assert list(Assignment.objects.filter(study=open_study, rater=stalled)) == [first]
    rows = list(Assignment.objects.filter(study=open_study))
    assert len(rows) == 12
    assert all(
        len({a.rater_id for a in rows if a.item_id == item}) == 2
        for item in {a.item_id for a in rows}
    )
    for user in raters[:2]:
        positions = sorted(a.position for a in rows if a.rater == user)
        assert positions == list(range(1, len(positions) + 1))


def test_an_admin_adds_a_rater_from_another_of_their_studies(client, study_admin, draft_study):
    other = services.study_create(
        creator=study_admin, title="Earlier study", raters_per_item=1, question_prompt="Q?"
    )
    colleague = UserFactory(username="colleague")
    services.study_add_raters(study=other, users=[colleague])
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[draft_study.token])).text
    assert "Add people from your other studies" in page

    url = reverse("study_add_raters", args=[draft_study.token])
    response = client.post(url, {"users": [colleague.pk]}, follow=True)

    assert "Added 1 rater." in response.text
    membership = draft_study.memberships.get(user=colleague)
    assert (membership.role, membership.pseudonym) == ("rater", "R4")
    page = client.get(reverse("study_dashboard", args=[draft_study.token])).text
    assert "Add people from your other studies" not in page  # nobody else to offer
