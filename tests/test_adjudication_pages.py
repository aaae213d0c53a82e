"""Adjudication's pages: the admin chooses items and adjudicators; the adjudicator sees an item
they did not rate with the raters' answers under Reader labels, records a reference with a
reason, and revises it with history; everyone else is refused."""

import re

import pytest
from django.urls import reverse

from annotation import services
from annotation.models import Adjudication, AdjudicationRevision
from tests.adjudication_support import rated_study
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def study(study_admin, raters):
    study = rated_study(study_admin, raters)
    services.adjudication_select(
        study=study, by=study_admin, mode="rule", rule={"kind": "no_majority", "question": "harm"}
    )
    return study


@pytest.fixture
def senior(study):
    user = UserFactory(username="senior")
    services.adjudicator_add(study=study, user=user)
    return user


def item_url(study, adjudication):
    return reverse("adjudicator_item", args=[study.token, adjudication.token])


def test_the_admin_chooses_items_by_a_rule_on_the_page(client, study_admin, study):
    client.force_login(study_admin)
    url = reverse("adjudication_select", args=[study.token])
    data = {"mode": "rule", "kind": "range", "question": "overall", "threshold": "2"}
    response = client.post(url, data)
    assert response.status_code == 302
    assert study.adjudications.count() == 2
    page = client.get(reverse("study_adjudication", args=[study.token])).content.decode()
    assert "answers to &#x27;overall&#x27; span 2 or more points: 1 new of 6" in page
    assert "2 items needed adjudication; 0 have a reference answer." in page


def test_a_bad_selection_is_refused_naming_the_field(client, study_admin, study):
    client.force_login(study_admin)
    url = reverse("adjudication_select", args=[study.token])
    response = client.post(url, {"mode": "rule", "kind": "range", "question": "overall"})
    assert response.status_code == 400
    assert "rule: A range rule needs a number as its threshold." in response.content.decode()
    assert study.adjudications.count() == 1


def test_an_adjudicator_who_rated_every_chosen_item_is_refused_with_a_reason(
    client, study_admin, study
):
    rater_of_it = study.adjudications.get().item.assignments.first().rater
    client.force_login(study_admin)
    response = client.post(
        reverse("adjudicator_add", args=[study.token]),
        {"username": rater_of_it.username},
        follow=True,
    )
    assert "rated every item chosen for adjudication so far" in response.content.decode()
    assert not study.adjudicators.exists()


def test_an_admin_cannot_adjudicate(client, study_admin, study):
    client.force_login(study_admin)
    response = client.post(
        reverse("adjudicator_add", args=[study.token]),
        {"username": study_admin.username},
        follow=True,
    )
    assert "must be blind to the sources" in response.content.decode()


def test_the_adjudicator_sees_readers_by_label_only(client, study, senior):
    client.force_login(senior)
    response = client.get(reverse("adjudicator_next", args=[study.token]), follow=True)
    page = response.content.decode()
    assert "Reader 1" in page
    assert "Reader 2" in page
    assert "Reader 3" not in page
    assert "3 (Acceptable)" in page
    assert "severe (Severe harm)" in page
    assert "note 1" in page
    assert "note 2" in page
    for hidden in ("R1", "R2", "R3", "rater1", "rater2", "rater3", "MedSumm", "Expert-written"):
        # As whole words: a random token on the page may hold "R2" by chance.
        assert not re.search(rf"(?<![\w-]){hidden}(?![\w-])", page), hidden
    for assignment in study.adjudications.get().item.assignments.all():
        assert assignment.token not in page
    assert study.adjudications.get().item.token not in page


def test_recording_and_revising_keep_history(client, study, senior):
    client.force_login(senior)
    adjudication = study.adjudications.get()
    url = item_url(study, adjudication)
    response = client.post(url, {"overall": "3", "harm": "mild", "reason": "Delays care."})
    assert response.status_code == 302
    client.post(url, {"overall": "2", "harm": "severe", "reason": "On reflection, dangerous."})
    adjudication.refresh_from_db()
    assert adjudication.answers == {"overall": 2, "harm": "severe"}
    assert adjudication.values == {"overall": 2.0, "harm": 2.0}
    assert adjudication.adjudicator.label == "A1"
    done = client.get(reverse("adjudicator_next", args=[study.token])).content.decode()
    assert f'href="{url}"' in done  # the recorded item stays within reach for revision
    history = list(AdjudicationRevision.objects.values_list("answers", "reason"))
    assert history == [
        ({"overall": 3, "harm": "mild"}, "Delays care."),
        ({"overall": 2, "harm": "severe"}, "On reflection, dangerous."),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"overall": "3", "harm": "mild", "reason": "  "}, "reason: Give the reason"),
        ({"overall": "3", "reason": "why"}, "harm: Give the reference answer"),
        ({"overall": "9", "harm": "mild", "reason": "why"}, "overall: '9' is not a point"),
    ],
)
def test_a_bad_reference_names_the_field_and_saves_nothing(client, study, senior, data, message):
    client.force_login(senior)
    adjudication = study.adjudications.get()
    response = client.post(item_url(study, adjudication), data)
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Adjudication.objects.filter(decided_at__isnull=False).exists()
    assert not AdjudicationRevision.objects.exists()


def test_an_archived_study_freezes_the_reference(client, study, senior):
    adjudication = study.adjudications.get()
    study.status = study.Status.ARCHIVED
    study.save()
    client.force_login(senior)
    assert client.get(item_url(study, adjudication)).status_code == 404


def test_others_are_refused(client, study, senior, raters, outsider, study_admin):
    adjudication = study.adjudications.get()
    rater_of_it = adjudication.item.assignments.first().rater
    for user in (outsider, rater_of_it, study_admin):
        client.force_login(user)
        assert client.get(item_url(study, adjudication)).status_code == 404
        assert client.post(item_url(study, adjudication), {"reason": "x"}).status_code == 404
    client.force_login(outsider)
    assert client.get(reverse("study_adjudication", args=[study.token])).status_code == 404
    assert (
        client.post(reverse("adjudication_select", args=[study.token]), {"mode": "all"}).status_code
        == 404
    )


def test_a_rater_who_also_adjudicates_is_never_offered_their_own_item(client, study_admin, raters):
    study = rated_study(study_admin, raters)
    services.adjudication_select(study=study, by=study_admin, mode="all")
    services.adjudicator_add(study=study, user=raters[0])
    client.force_login(raters[0])
    own = set(study.assignments.filter(rater=raters[0]).values_list("item_id", flat=True))
    from annotation.selectors.adjudication import adjudicator_queue

    offered = Adjudication.objects.filter(token__in=adjudicator_queue(study=study, user=raters[0]))
    assert offered.count() == 6 - len(own)
    assert not offered.filter(item_id__in=own).exists()
    mine = Adjudication.objects.filter(item_id__in=own).first()
    assert client.get(item_url(study, mine)).status_code == 404
    home = client.get(reverse("rater_home")).content.decode()
    assert f"{6 - len(own)} items wait for a reference" in home


def test_the_dashboard_counts_how_often_the_reference_sided_with_the_majority(
    client, study_admin, raters
):
    study = rated_study(study_admin, raters)
    services.adjudication_select(study=study, by=study_admin, mode="all")
    senior = UserFactory(username="senior")
    services.adjudicator_add(study=study, user=senior)
    tokens = list(study.items.order_by("token").values_list("pk", flat=True))
    # Item 0 (4/4, none/none): sides with both; item 2 (3/3, none/severe): no majority on harm.
    for number, answers in (
        (0, {"overall": 4, "harm": "none"}),
        (2, {"overall": 2, "harm": "severe"}),
    ):
        services.adjudication_record(
            adjudication=Adjudication.objects.get(item_id=tokens[number]),
            user=senior,
            answers=answers,
            reason="r",
        )
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[study.token])).content.decode()
    assert "6 items needed adjudication; 2 have a reference answer." in page
    row = '<tr data-question="{}"><th scope="row">{}</th><td>2</td><td>{}</td><td>{}</td></tr>'
    assert row.format("overall", "overall", "1 of 2 (50%)", 0) in page
    assert row.format("harm", "harm", "1 of 1 (100%)", 1) in page
