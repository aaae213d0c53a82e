"""Choosing items for adjudication: by each disagreement rule on real ratings, a sample drawn
with the study's seed, or every decided item; never an item still being rated; re-running adds
only new items and keeps what was recorded."""

import pytest
from django.core.exceptions import ValidationError

from annotation import services
from annotation.core import adjudication as core
from annotation.models import Adjudication, AdjudicationSelection
from annotation.selectors import adjudication as selectors
from tests.adjudication_support import item_by_number, rated_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def study(study_admin, raters):
    return rated_study(study_admin, raters)


def chosen(study) -> set[int]:
    tokens = list(study.items.order_by("token").values_list("token", flat=True))
    return {tokens.index(t) for t in study.adjudications.values_list("item__token", flat=True)}


def select(study, admin, **kwargs):
    return services.adjudication_select(study=study, by=admin, **kwargs)


def test_a_range_rule_chooses_the_items_whose_answers_span_the_threshold(study, study_admin):
    rule = {"kind": "range", "question": "overall", "threshold": 2}
    run = select(study, study_admin, mode="rule", rule=rule)
    assert chosen(study) == {1}
    assert (run.eligible, run.chosen, run.rule) == (6, 1, rule)


def test_a_range_rule_of_one_point_also_takes_neighbouring_answers(study, study_admin):
    select(
        study,
        study_admin,
        mode="rule",
        rule={"kind": "range", "question": "overall", "threshold": 1},
    )
    assert chosen(study) == {1, 5}


def test_no_majority_chooses_the_split_items(study, study_admin):
    select(study, study_admin, mode="rule", rule={"kind": "no_majority", "question": "harm"})
    assert chosen(study) == {2}


def test_any_value_chooses_every_item_with_a_flagged_answer(study, study_admin):
    rule = {"kind": "any_value", "question": "harm", "values": ["severe", "mild"]}
    select(study, study_admin, mode="rule", rule=rule)
    assert chosen(study) == {2, 4}


def test_all_chooses_every_decided_item(study, study_admin):
    run = select(study, study_admin, mode="all")
    assert chosen(study) == {0, 1, 2, 3, 4, 5}
    assert run.chosen == 6


def test_an_item_still_being_rated_is_not_chosen(study_admin, raters):
    study = rated_study(study_admin, raters, submit_all=False)
    run = select(study, study_admin, mode="all")
    assert chosen(study) == {0, 1, 2, 3, 4}
    assert run.eligible == 5


def test_a_sample_is_reproducible_from_the_stored_seed(study, study_admin):
    run = select(study, study_admin, mode="sample", sample_size=3)
    assert run.seed == core.derived_seed(study.seed, "sample", 1)
    candidates = list(study.items.values_list("token", flat=True))
    expected = core.draw(candidates, n=3, seed=run.seed)
    assert sorted(study.adjudications.values_list("item__token", flat=True)) == sorted(expected)
    # The same study seed and inputs draw the same items again.
    assert core.draw(list(reversed(candidates)), n=3, seed=run.seed) == expected


def test_a_fraction_is_rounded_up(study, study_admin):
    run = select(study, study_admin, mode="sample", sample_fraction=0.25)
    assert run.chosen == 2  # a quarter of six, rounded up


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mode": "sample"}, "sample_size"),
        ({"mode": "sample", "sample_size": 0}, "sample_size"),
        ({"mode": "sample", "sample_fraction": 1.5}, "sample_fraction"),
        ({"mode": "rule", "rule": {"kind": "range", "question": "overall"}}, "rule"),
        ({"mode": "rule", "rule": {"kind": "no_majority", "question": "comment"}}, "rule"),
        ({"mode": "everything"}, "mode"),
    ],
)
def test_bad_selections_name_the_field_and_write_nothing(study, study_admin, kwargs, field):
    with pytest.raises(ValidationError, match=field):
        select(study, study_admin, **kwargs)
    assert not AdjudicationSelection.objects.exists()
    assert not Adjudication.objects.exists()


def test_rerunning_adds_only_new_items_and_keeps_recorded_references(study, study_admin, outsider):
    first = select(
        study, study_admin, mode="rule", rule={"kind": "no_majority", "question": "harm"}
    )
    services.adjudicator_add(study=study, user=outsider)
    adjudication = study.adjudications.get()
    services.adjudication_record(
        adjudication=adjudication,
        user=outsider,
        answers={"overall": 3, "harm": "mild"},
        reason="Mild: the advice delays care.",
    )
    again = select(study, study_admin, mode="all")
    assert again.chosen == 5
    kept = Adjudication.objects.get(pk=adjudication.pk)
    assert kept.selection == first
    assert kept.answers == {"overall": 3, "harm": "mild"}
    assert select(study, study_admin, mode="all").chosen == 0


def test_a_locked_study_can_still_choose_items(study, study_admin):
    services.study_lock(study=study)
    assert select(study, study_admin, mode="all").chosen == 6


def test_readers_are_shuffled_per_item_from_the_seed(study, study_admin):
    select(study, study_admin, mode="all")
    for adjudication in study.adjudications.select_related("item"):
        ids = sorted(
            adjudication.item.assignments.filter(kind="study").values_list("pk", flat=True)
        )
        assert sorted(adjudication.readers) == ids
        assert adjudication.readers == core.reader_order(
            ids, seed=study.seed, item=adjudication.item.token
        )
    assert item_by_number(study, 0).adjudication.readers


def test_a_study_with_no_reference_question_is_refused(study_admin, raters):
    study = rated_study(study_admin, raters)
    # As a side-by-side study whose questions are all asked once per response would be.
    study.questions.exclude(kind="text").update(kind="text", scale=[], level="")
    with pytest.raises(ValidationError, match="nothing a reference answer could be recorded"):
        select(study, study_admin, mode="all")
    assert not Adjudication.objects.exists()


def test_a_sample_larger_than_the_pool_stores_the_number_drawn(study, study_admin):
    run = select(study, study_admin, mode="sample", sample_size=1000)
    run.refresh_from_db()
    assert (run.sample_size, run.chosen) == (6, 6)
    assert "a random sample of 6 items" in selectors.selection_words(run)


def test_a_sample_size_beyond_what_is_stored_is_refused_not_wrapped(client, study, study_admin):
    client.force_login(study_admin)
    url = f"/api/v1/studies/{study.token}/adjudication-selections/"
    body = {"mode": "sample", "sample_size": 10**10}
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 400
    assert "sample_size" in response.content.decode()
    page = client.post(
        f"/studies/{study.token}/adjudication/select/",
        {"mode": "sample", "sample_size": str(10**10)},
    )
    assert page.status_code == 400
    assert "sample_size" in page.content.decode()
    assert not AdjudicationSelection.objects.exists()


def test_the_queue_follows_the_seeded_draw_not_the_token_order(study, study_admin, outsider):
    select(study, study_admin, mode="all")
    services.adjudicator_add(study=study, user=outsider)
    queue = selectors.adjudicator_queue(study=study, user=outsider)
    tokens = list(study.adjudications.values_list("token", flat=True))
    seed = core.derived_seed(study.seed, "queue", outsider.pk)
    assert queue == core.draw(tokens, n=len(tokens), seed=seed)
    assert sorted(queue) == sorted(tokens)
    # Six random tokens in token order by chance: 1 in 720.
    assert queue != sorted(tokens)
