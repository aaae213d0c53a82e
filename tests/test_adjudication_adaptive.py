"""Adjudication in an adaptive study: an item is not decided, so neither chosen nor offered,
while its adaptive decision is still to be taken or an extra rating is still to come; once the
extra is in (or its rater stopped), its answers join the readers and the majority. An item
chosen before an extra appeared is held off the queue until the extra is in."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from annotation import services
from annotation.models import (
    AdaptiveDecision,
    Adjudication,
    AdjudicationSelection,
    Assignment,
    Item,
    Membership,
)
from annotation.selectors import adjudication as adjudication_selectors
from tests.factories import UserFactory
from tests.test_adaptive import adaptive_study

pytestmark = pytest.mark.django_db


def rate(assignment: Assignment, answer: int) -> None:
    question = assignment.study.questions.get()
    services.rating_save(assignment=assignment, question=question, answer=answer)
    services.assignment_submit(assignment=assignment)


def regular(item: Item) -> list[Assignment]:
    return list(item.assignments.filter(kind="study").select_related("study").order_by("pk"))


def extras(item: Item) -> list[Assignment]:
    return list(item.assignments.filter(kind="extra").select_related("study").order_by("pk"))


def decided(study) -> set[int]:
    return set(adjudication_selectors.decided_items(study=study).values_list("pk", flat=True))


@pytest.fixture
def study(study_admin):
    """Five raters, two per item, one extra rater for an item whose two answers span 2+."""
    return adaptive_study(study_admin, m=1)


@pytest.fixture
def senior(study):
    user = UserFactory(username="senior")
    services.adjudicator_add(study=study, user=user)
    return user


def disagreeing(study) -> Item:
    """The study's first item, rated 1 and 5 and decided: it has one extra, not yet rated."""
    item = study.items.order_by("pk").first()
    for read, answer in zip(regular(item), (1, 5), strict=True):
        rate(read, answer)
    services.adaptive_item_check(item_id=item.pk)
    assert len(extras(item)) == 1
    return item


def test_an_item_with_an_extra_to_come_is_not_decided_nor_chosen(study, study_admin):
    item = disagreeing(study)
    assert item.pk not in decided(study)
    run = services.adjudication_select(study=study, by=study_admin, mode="all")
    assert (run.eligible, run.chosen) == (0, 0)
    assert not Adjudication.objects.filter(item=item).exists()

    # The extra is in: the item is decided, and its three raters are the readers.
    rate(extras(item)[0], 4)
    assert item.pk in decided(study)
    run = services.adjudication_select(study=study, by=study_admin, mode="all")
    assert run.chosen == 1
    chosen = Adjudication.objects.get(item=item)
    assert sorted(chosen.readers) == sorted(a.pk for a in item.assignments.all())


def test_an_extra_whose_rater_stopped_holds_nothing_back(study):
    item = disagreeing(study)
    extra = extras(item)[0]
    Membership.objects.filter(study=study, user=extra.rater).update(withdrawn_at=timezone.now())
    assert item.pk in decided(study)


def test_the_extras_answer_counts_in_the_rule_and_the_majority(study, study_admin, senior):
    item = disagreeing(study)
    rate(extras(item)[0], 5)
    # Answers 1, 5 and 5: a majority now, which the two regular answers alone did not have.
    rule = {"kind": "no_majority", "question": "overall"}
    run = services.adjudication_select(study=study, by=study_admin, mode="rule", rule=rule)
    assert run.chosen == 0
    services.adjudication_select(study=study, by=study_admin, mode="all")
    adjudication = Adjudication.objects.get(item=item)
    services.adjudication_record(
        adjudication=adjudication, user=senior, answers={"overall": 5}, reason="Five."
    )
    [row] = [
        r
        for r in adjudication_selectors.adjudication_rows(study=study)
        if r["item_token"] == item.token
    ]
    assert (row["n_raters"], row["majority"], row["sided_with_majority"]) == (3, 5, True)


def test_an_item_whose_adaptive_decision_is_not_taken_is_not_decided_until_the_sweep(
    study, study_admin
):
    item = study.items.order_by("pk").first()
    for read, answer in zip(regular(item), (3, 3), strict=True):
        rate(read, answer)  # the decision's task is queued, not run: no broker here
    assert not AdaptiveDecision.objects.filter(item=item).exists()
    assert item.pk not in decided(study)
    # Choosing takes the decisions still to be taken first: agreeing answers, no extra.
    run = services.adjudication_select(study=study, by=study_admin, mode="all")
    assert AdaptiveDecision.objects.get(item=item).disagreed is False
    assert (run.eligible, run.chosen) == (1, 1)


def test_a_chosen_item_that_gets_an_extra_is_held_until_the_extra_is_in(study, senior):
    # An item chosen before its extra appeared (as before this rule, or by hand): the first
    # two ratings are in, the choice is recorded, then the decision adds an extra.
    item = study.items.order_by("pk").first()
    first = regular(item)
    for read, answer in zip(first, (1, 5), strict=True):
        rate(read, answer)
    selection = AdjudicationSelection.objects.create(
        study=study, mode="all", created_by=study.memberships.get(role="admin").user
    )
    adjudication = Adjudication.objects.create(
        study=study, item=item, selection=selection, readers=[first[1].pk, first[0].pk]
    )
    services.adaptive_item_check(item_id=item.pk)
    [extra] = extras(item)

    assert adjudication_selectors.adjudicator_queue(study=study, user=senior) == []
    with pytest.raises(ValidationError, match="extra rater is still rating"):
        services.adjudication_record(
            adjudication=adjudication, user=senior, answers={"overall": 3}, reason="Middle."
        )

    rate(extra, 2)
    assert adjudication_selectors.adjudicator_queue(study=study, user=senior) == [
        adjudication.token
    ]
    shown = adjudication_selectors.adjudicator_item(
        study=study, user=senior, adjudication=adjudication
    )
    # The readers already labelled keep their labels; the extra comes last.
    assert [(r.label, r.answers[0][1][:1]) for r in shown.readers] == [
        ("Reader 1", "5"),
        ("Reader 2", "1"),
        ("Reader 3", "2"),
    ]
    recorded = services.adjudication_record(
        adjudication=adjudication, user=senior, answers={"overall": 3}, reason="Middle."
    )
    assert recorded.decided_at is not None


def test_an_opened_extra_whose_rater_was_reassigned_holds_nothing_back(study, study_admin):
    # The extra's rater opened it, did not submit, and their work was handed on: the opened
    # extra stays theirs (started work never moves), but it is no longer awaited.
    item = disagreeing(study)
    extra = extras(item)[0]
    Assignment.objects.filter(pk=extra.pk).update(first_opened_at=timezone.now())
    assert item.pk not in decided(study)
    services.assignments_reassign(study=study, rater=extra.rater)
    extra.refresh_from_db()
    assert extra.submitted_at is None
    assert extras(item) == [extra]  # the opened extra stayed with its rater
    assert Membership.objects.get(study=study, user=extra.rater).reassigned_at is not None
    assert item.pk in decided(study)
    run = services.adjudication_select(study=study, by=study_admin, mode="all")
    assert run.chosen == 1


def test_held_items_are_counted_for_the_adjudicator_and_the_admin(
    client, study, study_admin, senior
):
    # Chosen before its extra appeared, then held: the adjudicator's queue is empty, and the
    # done page must not claim that every chosen item has a reference.
    # The last item, so that its id differs from the adjudication's (a subquery must match
    # on the item, not on the adjudication's own id).
    item = study.items.order_by("-pk").first()
    first = regular(item)
    for read, answer in zip(first, (1, 5), strict=True):
        rate(read, answer)
    selection = AdjudicationSelection.objects.create(
        study=study, mode="all", created_by=study_admin
    )
    Adjudication.objects.create(
        study=study, item=item, selection=selection, readers=[first[0].pk, first[1].pk]
    )
    services.adaptive_item_check(item_id=item.pk)
    client.force_login(senior)
    done = client.get(reverse("adjudicator_next", args=[study.token])).content.decode()
    assert "1 item waits for an extra rating" in done
    assert "Every item of" not in done
    german = client.get(
        reverse("adjudicator_next", args=[study.token]), headers={"Accept-Language": "de"}
    ).content.decode()
    assert "1 item waits for an extra rating" not in german

    client.force_login(study_admin)
    for page in ("study_adjudication", "study_dashboard"):
        body = client.get(reverse(page, args=[study.token])).content.decode()
        assert "1 item waits for an extra rating" in body, page

    rate(extras(item)[0], 3)  # the extra is in: nothing is held any more
    body = client.get(reverse("study_adjudication", args=[study.token])).content.decode()
    assert "wait for an extra rating" not in body
    assert "waits for an extra rating" not in body
    client.force_login(senior)
    assert client.get(reverse("adjudicator_next", args=[study.token])).status_code == 302
