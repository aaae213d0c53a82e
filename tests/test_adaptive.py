"""Adaptive extra raters: the draft setting, the decision on the k-th regular submit, the extras
and their record in the manifest."""

import io
import json
import threading
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from annotation import selectors, services
from annotation.core import design
from annotation.models import AdaptiveDecision, AdaptiveDesign, Assignment, Item, Study
from annotation.services import adaptive
from annotation.services.task_runs import Progress
from tests.conftest import STUDY_ROWS
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

RANGE_2 = {"kind": "range", "question": "overall", "threshold": 2}


def adaptive_study(admin, *, raters: int = 5, m: int = 2, seed: int = 1234, **options) -> Study:
    """tests/data/study.csv (6 outputs) for `raters` raters, 2 per item, adaptive on a range
    of 2 or more on the 5-point scale."""
    study = services.study_create(
        creator=admin,
        title="Summaries",
        raters_per_item=2,
        question_prompt="Overall?",
        seed=seed,
        **options,
    )
    services.study_import_file(study=study, filename="study.csv", content=STUDY_ROWS)
    users = [UserFactory(username=f"a-rater{i}") for i in range(1, raters + 1)]
    services.study_add_raters(study=study, users=users)
    services.adaptive_design_set(study=study, rule=RANGE_2, extra_m=m)
    services.study_open(study=study)
    study.refresh_from_db()
    return study


@pytest.fixture
def queued(django_capture_on_commit_callbacks):
    """Rate and submit, returning the item ids whose check the submit queued on commit (the
    other callbacks, the statistics' recomputation, are left out: no broker here)."""

    def rate(assignment: Assignment, answer: int) -> list[int]:
        question = assignment.study.questions.get()
        with django_capture_on_commit_callbacks() as callbacks:
            services.rating_save(assignment=assignment, question=question, answer=answer)
            services.assignment_submit(assignment=assignment)
        return [c.args[0] for c in callbacks if getattr(c, "func", None) is adaptive._queue]

    return rate


def regular(item: Item) -> list[Assignment]:
    return list(item.assignments.filter(kind="study").select_related("study").order_by("pk"))


# --- the setting ----------------------------------------------------------------------------


def test_the_setting_defaults_k_to_the_raters_per_item(study_admin):
    study = adaptive_study(study_admin)
    stored = AdaptiveDesign.objects.get(study=study)
    assert (stored.first_k, stored.extra_m, stored.rule) == (2, 2, RANGE_2)


@pytest.mark.parametrize(
    ("rule", "k", "m", "field", "words"),
    [
        ({"kind": "range", "question": "nope", "threshold": 2}, None, 1, "rule", "no question"),
        ({"kind": "range", "question": "overall"}, None, 1, "rule", "threshold"),
        ({"kind": "any_value", "question": "overall", "values": [9]}, None, 1, "rule", "9"),
        (RANGE_2, 1, 1, "first_k", "At least 2"),
        (RANGE_2, 3, 1, "first_k", "At most the study's 2"),
        (RANGE_2, None, 0, "extra_m", "Between 1"),
        (RANGE_2, None, 2, "extra_m", "at most 1 are left"),
    ],
)
def test_a_bad_setting_is_refused_naming_its_field(draft_study, rule, k, m, field, words):
    with pytest.raises(ValidationError) as caught:
        services.adaptive_design_set(study=draft_study, rule=rule, first_k=k, extra_m=m)
    assert field in caught.value.message_dict
    assert words in " ".join(caught.value.message_dict[field])
    assert not AdaptiveDesign.objects.filter(study=draft_study).exists()


def test_only_a_draft(open_study):
    with pytest.raises(ValidationError, match="only while the study is a draft"):
        services.adaptive_design_set(study=open_study, rule=RANGE_2, extra_m=1)


def test_not_with_rereads_after_a_washout(study_admin):
    study = services.study_create(
        creator=study_admin,
        title="Re-read",
        question_prompt="Overall?",
        retests_per_rater=1,
        washout_days=7,
    )
    with pytest.raises(ValidationError, match="re-reads after a washout"):
        services.adaptive_design_set(study=study, rule=RANGE_2, extra_m=1)


def test_cleared_while_a_draft(draft_study):
    services.adaptive_design_set(study=draft_study, rule=RANGE_2, extra_m=1)
    services.adaptive_design_clear(study=draft_study)
    assert not AdaptiveDesign.objects.filter(study=draft_study).exists()


# --- the decision ---------------------------------------------------------------------------


def test_disagreeing_first_ratings_bring_m_extra_raters_at_the_end_of_their_orders(
    study_admin, queued
):
    study = adaptive_study(study_admin)
    item = study.items.order_by("pk").first()
    first, second = regular(item)
    lasts = {
        a.rater_id: a.position for a in Assignment.objects.filter(study=study).order_by("position")
    }
    assert queued(first, 1) == [item.pk]
    assert services.adaptive_item_check(item_id=item.pk) is None  # one of k: nothing yet
    assert queued(second, 3) == [item.pk]
    decision = services.adaptive_item_check(item_id=item.pk)

    assert (decision.disagreed, decision.answers, decision.wanted, decision.created) == (
        True,
        [1, 3],
        2,
        2,
    )
    extras = list(item.assignments.filter(kind=Assignment.Kind.EXTRA))
    assert len(extras) == 2
    assert not {a.rater_id for a in extras} & {first.rater_id, second.rater_id}
    assert all(a.position == lasts[a.rater_id] + 1 for a in extras)
    # The extra rater reaches it after their own items, like any other item.
    extra = extras[0]
    assert selectors.assignment_next_for_rater(rater=extra.rater, study=study) != extra
    Assignment.objects.filter(rater=extra.rater, kind="study").update(submitted_at=timezone.now())
    assert selectors.assignment_next_for_rater(rater=extra.rater, study=study) == extra


def test_agreeing_first_ratings_are_decided_without_extras(study_admin, queued):
    study = adaptive_study(study_admin)
    item = study.items.order_by("pk").first()
    for assignment, answer in zip(regular(item), (3, 4), strict=True):
        queued(assignment, answer)
    decision = services.adaptive_item_check(item_id=item.pk)
    assert (decision.disagreed, decision.wanted, decision.created) == (False, 0, 0)
    assert not item.assignments.filter(kind=Assignment.Kind.EXTRA).exists()


def test_a_duplicated_check_changes_nothing(study_admin, queued):
    study = adaptive_study(study_admin)
    item = study.items.order_by("pk").first()
    for assignment, answer in zip(regular(item), (1, 5), strict=True):
        queued(assignment, answer)
    first = services.adaptive_item_check(item_id=item.pk)
    again = services.adaptive_item_check(item_id=item.pk)
    assert again == first
    assert item.assignments.filter(kind=Assignment.Kind.EXTRA).count() == 2
    assert AdaptiveDecision.objects.filter(item=item).count() == 1


def test_an_extra_rating_is_never_a_trigger(study_admin, queued):
    study = adaptive_study(study_admin)
    item = study.items.order_by("pk").first()
    for assignment, answer in zip(regular(item), (1, 5), strict=True):
        queued(assignment, answer)
    services.adaptive_item_check(item_id=item.pk)
    for extra in item.assignments.filter(kind=Assignment.Kind.EXTRA).select_related("study"):
        assert queued(extra, 2) == []
    assert item.assignments.count() == 4  # no extras of extras


def test_fewer_eligible_raters_than_m_make_what_they_can_and_record_the_shortfall(
    study_admin, queued
):
    study = adaptive_study(study_admin, raters=3, m=1)
    AdaptiveDesign.objects.filter(study=study).update(extra_m=4)  # as if raters had left
    item = study.items.order_by("pk").first()
    for assignment, answer in zip(regular(item), (1, 5), strict=True):
        queued(assignment, answer)
    decision = services.adaptive_item_check(item_id=item.pk)
    assert (decision.wanted, decision.created, decision.shortfall) == (4, 1, 3)


def test_the_stored_digest_is_the_digest_of_the_manifest_with_its_extras(study_admin, queued):
    study = adaptive_study(study_admin)
    before = study.manifest_hash
    assert before == adaptive.stored_manifest(study).digest
    item = study.items.order_by("pk").first()
    for assignment, answer in zip(regular(item), (1, 5), strict=True):
        queued(assignment, answer)
    services.adaptive_item_check(item_id=item.pk)
    study.refresh_from_db()
    manifest = adaptive.stored_manifest(study)
    assert study.manifest_hash == manifest.digest != before
    extras = [p for p in manifest.placements if p.kind == design.EXTRA]
    assert len(extras) == 2


def test_the_sweep_decides_items_whose_check_was_lost(study_admin, queued):
    study = adaptive_study(study_admin)
    items = list(study.items.order_by("pk")[:2])
    for item, answers in zip(items, [(1, 5), (3, 3)], strict=True):
        for assignment, answer in zip(regular(item), answers, strict=True):
            queued(assignment, answer)
    assert services.adaptive_sweep(study=study) == 2
    assert services.adaptive_sweep(study=study) == 0
    decided = dict(AdaptiveDecision.objects.values_list("item_id", "disagreed"))
    assert decided == {items[0].pk: True, items[1].pk: False}


# --- racing (PostgreSQL: two connections) ---------------------------------------------------


def _in_threads(*work) -> None:
    errors = []

    def run(job):
        try:
            job()
        except Exception as exc:  # reported below, not lost with the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="two writers at once need PostgreSQL's row locks (SQLite serialises the whole file); "
    "CI runs this test on PostgreSQL",
)
def test_two_concurrent_submits_of_the_last_ratings_make_at_most_m_extras(study_admin, monkeypatch):
    # Each submit's check runs in its own thread once that submit commits, as a worker would.
    monkeypatch.setattr(
        adaptive, "_queue", lambda item_id: services.adaptive_item_check(item_id=item_id)
    )
    study = adaptive_study(study_admin)
    item = study.items.order_by("pk").first()
    first, second = regular(item)
    question = study.questions.get()
    for assignment, answer in ((first, 1), (second, 5)):
        services.rating_save(assignment=assignment, question=question, answer=answer)
    barrier = threading.Barrier(2)

    def submit(assignment):
        barrier.wait()
        services.assignment_submit(assignment=assignment)

    _in_threads(lambda: submit(first), lambda: submit(second))
    _in_threads(*[lambda: services.adaptive_item_check(item_id=item.pk)] * 3)  # duplicates
    assert item.assignments.filter(kind=Assignment.Kind.EXTRA).count() == 2
    assert AdaptiveDecision.objects.get(item=item).created == 2


# --- the API and the dashboard ----------------------------------------------------------------


def test_the_api_sets_reads_and_turns_off_the_rule(draft_study, study_admin, client):
    client.force_login(study_admin)
    url = f"/api/v1/studies/{draft_study.token}/adaptive/setting/"
    response = client.post(url, {"rule": RANGE_2, "extra_m": 1}, content_type="application/json")
    assert response.status_code == 200, response.content
    body = client.get(url).json()
    assert (body["enabled"], body["rule"], body["first_k"], body["extra_m"]) == (
        True,
        RANGE_2,
        2,
        1,
    )
    assert body["rule_text"] == "answers to 'overall' span 2 or more points"
    assert body["counts"]["triggered"] == 0
    off = client.post(f"/api/v1/studies/{draft_study.token}/adaptive/off/")
    assert off.json()["enabled"] is False


def test_the_api_names_the_field_at_fault(draft_study, study_admin, client):
    client.force_login(study_admin)
    url = f"/api/v1/studies/{draft_study.token}/adaptive/setting/"
    bad = {"rule": {"kind": "range", "question": "nope", "threshold": 2}, "extra_m": 1}
    response = client.post(url, bad, content_type="application/json")
    assert response.status_code == 400
    assert "no question 'nope'" in response.json()["rule"][0]
    response = client.post(
        url, {**bad, "rule": RANGE_2, "extra_m": 9}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "extra_m" in response.json()


def test_raters_and_outsiders_cannot_reach_the_setting(draft_study, rater, outsider, client):
    url = f"/api/v1/studies/{draft_study.token}/adaptive/setting/"
    for user, refused in ((rater, 404), (outsider, 404)):  # a draft is hidden from raters
        client.force_login(user)
        assert client.get(url).status_code == refused
        body = {"rule": RANGE_2, "extra_m": 1}
        assert client.post(url, body, content_type="application/json").status_code == refused
    assert not AdaptiveDesign.objects.filter(study=draft_study).exists()


def test_the_extras_are_listed_by_the_api(study_admin, client, queued):
    study = adaptive_study(study_admin)
    item = study.items.order_by("pk").first()
    for assignment, answer in zip(regular(item), (1, 5), strict=True):
        queued(assignment, answer)
    services.adaptive_item_check(item_id=item.pk)
    client.force_login(study_admin)
    extras = client.get(f"/api/v1/studies/{study.token}/adaptive/extras/").json()
    stored = Assignment.objects.filter(item=item, kind="extra").select_related("rater")
    pseudonyms = dict(study.memberships.values_list("user_id", "pseudonym"))
    assert {(e["item"], e["rater"], e["position"]) for e in extras} == {
        (item.token, pseudonyms[a.rater_id], a.position) for a in stored
    }
    assert {e["rule_text"] for e in extras} == {"answers to 'overall' span 2 or more points"}


def test_the_dashboard_sets_the_rule_and_shows_the_counts(draft_study, study_admin, client):
    client.force_login(study_admin)
    response = client.post(
        reverse("study_adaptive", args=[draft_study.token]),
        {"kind": "range", "question": "overall", "threshold": "2", "extra_m": "1"},
        follow=True,
    )
    assert AdaptiveDesign.objects.get(study=draft_study).rule == {**RANGE_2, "threshold": 2.0}
    page = response.content.decode()
    assert "On: when the first 2 ratings of an item meet the rule" in page
    response = client.post(
        reverse("study_adaptive", args=[draft_study.token]),
        {"kind": "range", "question": "overall", "threshold": "2", "extra_m": "5"},
        follow=True,
    )
    assert "at most 1 are left to be extra raters" in response.content.decode()


def test_the_recomputation_task_and_the_command_sweep_lost_checks(study_admin, queued):
    from django.core.management import call_command

    from annotation import tasks
    from annotation.models import TaskRun

    study = adaptive_study(study_admin)
    items = list(study.items.order_by("pk")[:2])
    for item in items:
        for assignment, answer in zip(regular(item), (1, 5), strict=True):
            queued(assignment, answer)
    call_command("adaptive_sweep", "--study", study.token, stdout=io.StringIO())
    assert AdaptiveDecision.objects.filter(item__in=items).count() == 2
    AdaptiveDecision.objects.filter(item=items[1]).delete()
    Assignment.objects.filter(item=items[1], kind="extra").delete()
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    tasks._swept_then_computed(run=services.task_run_claim(run_id=run.pk))
    assert AdaptiveDecision.objects.get(item=items[1]).created == 2


def test_k_below_the_raters_per_item_decides_on_the_kth_submit(study_admin, queued):
    study = services.study_create(
        creator=study_admin, title="k of 3", raters_per_item=3, question_prompt="Overall?"
    )
    services.study_import_file(study=study, filename="study.csv", content=STUDY_ROWS)
    users = [UserFactory(username=f"k-rater{i}") for i in range(1, 6)]
    services.study_add_raters(study=study, users=users)
    services.adaptive_design_set(study=study, rule=RANGE_2, first_k=2, extra_m=1)
    services.study_open(study=study)
    item = study.items.order_by("pk").first()
    first, second, third = regular(item)
    queued(first, 2)
    queued(second, 4)
    decision = services.adaptive_item_check(item_id=item.pk)
    assert (decision.disagreed, decision.answers, decision.created) == (True, [2, 4], 1)
    queued(third, 3)  # the third regular rating changes nothing
    assert services.adaptive_item_check(item_id=item.pk) == decision
    assert item.assignments.filter(kind="extra").count() == 1


def test_an_extra_item_looks_to_its_rater_like_any_other(study_admin, client, queued):
    study = adaptive_study(study_admin)
    item = study.items.order_by("pk").first()
    for assignment, answer in zip(regular(item), (1, 5), strict=True):
        queued(assignment, answer)
    services.adaptive_item_check(item_id=item.pk)
    extra = item.assignments.filter(kind="extra").select_related("rater").first()
    client.force_login(extra.rater)
    page = client.get(reverse("rater_item", args=[study.token, extra.token]))
    assert page.status_code == 200
    text = page.content.decode().lower()
    for word in ("adaptive", "disagree", "extra"):
        assert word not in text
    assert f"item {extra.position} of" in text
    api = client.get(f"/api/v1/rate/{study.token}/items/{extra.token}/")
    assert api.status_code == 200
    for word in ("adaptive", "extra"):
        assert word not in api.content.decode().lower()


def test_a_rater_joining_later_leaves_the_extras_where_they_are(study_admin, queued):
    study = adaptive_study(study_admin)
    item = study.items.order_by("pk").first()
    for assignment, answer in zip(regular(item), (1, 5), strict=True):
        queued(assignment, answer)
    services.adaptive_item_check(item_id=item.pk)
    extras = set(item.assignments.filter(kind="extra").values_list("token", "rater_id"))
    services.study_add_raters(study=study, users=[UserFactory(username="late")])
    study.refresh_from_db()
    assert set(item.assignments.filter(kind="extra").values_list("token", "rater_id")) == extras
    assert study.manifest_hash == adaptive.stored_manifest(study).digest


def test_an_item_rated_before_every_raters_assignments_are_written_is_decided_after(
    study_admin, queued
):
    # A worker's opening leaves each rater's assignments to write; two raters who signed in
    # first rate the same item far apart. Its extras would go at the end of raters' orders that
    # are not written yet: the decision waits for the last of them.
    study = services.study_create(
        creator=study_admin, title="S", raters_per_item=2, question_prompt="Overall?", seed=7
    )
    services.study_import_file(study=study, filename="study.csv", content=STUDY_ROWS)
    users = [UserFactory(username=f"p-rater{i}") for i in range(1, 6)]
    services.study_add_raters(study=study, users=users)
    services.adaptive_design_set(study=study, rule=RANGE_2, extra_m=2)
    services.study_open(study=study, defer=True)
    item = Item.objects.filter(study=study, output__case__role="study").order_by("pk").first()
    holders = [
        p.rater_id
        for p in study.pending_assignments.all()
        if any(row[0] == item.pk for row in json.loads(zlib.decompress(bytes(p.rows))))
    ]
    assert len(holders) == 2
    for user in users:
        if user.pk in holders:
            services.rater_assignments_write(user=user)
    first = regular(item)
    assert len(first) == 2
    for assignment, answer in zip(first, (1, 5), strict=True):
        queued(assignment, answer)
    assert adaptive.adaptive_item_check(item_id=item.pk) is None  # three raters still pending
    assert not AdaptiveDecision.objects.filter(item=item).exists()

    services.pending_assignments_write_all(study, Progress())  # the job, reaching the others

    decision = AdaptiveDecision.objects.get(item=item)
    assert (decision.disagreed, decision.created) == (True, 2)
    extras = item.assignments.filter(kind=Assignment.Kind.EXTRA)
    assert extras.count() == 2
    for extra in extras:  # at the end of a written order, not in a place a pending one takes
        last = Assignment.objects.filter(study=study, rater=extra.rater).exclude(pk=extra.pk)
        assert extra.position > max(last.values_list("position", flat=True))
