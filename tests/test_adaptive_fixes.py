"""Adaptive extra raters after review: the rule's question cannot go, the sweep never stops the
statistics, stopped or withdrawn raters get no extras, a stopped or removed rater's extras are
handed on (or counted as lost), and skipped answers do not disagree."""

import logging

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation import selectors, services, tasks
from annotation.core import disagreement, rubric
from annotation.models import AdaptiveDecision, Question, Result, TaskRun
from tests.conftest import STUDY_ROWS
from tests.factories import UserFactory
from tests.test_adaptive import RANGE_2, adaptive_study, regular
from tests.test_api import auth

pytestmark = pytest.mark.django_db


def draft_with_rule(admin, *, rule=RANGE_2, required=True):
    study = services.study_create(
        creator=admin, title="S", raters_per_item=2, question_prompt="Overall?", seed=1
    )
    services.study_import_file(study=study, filename="study.csv", content=STUDY_ROWS)
    services.study_add_raters(study=study, users=[UserFactory(username=f"x{i}") for i in range(4)])
    draft = rubric.QuestionDraft(
        key="safe", prompt="Safe?", kind=rubric.YES_NO, level="nominal", required=required
    )
    services.question_add(study=study, draft=draft)
    services.adaptive_design_set(study=study, rule=rule, extra_m=1)
    return study


def rate(assignment, answer: int) -> None:
    """Rate and submit; the check a submit queues runs on commit, which never comes here."""
    question = assignment.study.questions.get(key="overall")
    services.rating_save(assignment=assignment, question=question, answer=answer)
    services.assignment_submit(assignment=assignment)


def pseudonyms(study, assignments):
    return sorted(study.memberships.get(user=a.rater).pseudonym for a in assignments)


# --- 1. the rule's question ----------------------------------------------------------------


def test_the_question_the_rule_reads_cannot_be_removed(study_admin):
    study = draft_with_rule(study_admin)
    with pytest.raises(ValidationError, match="rule reads 'overall'"):
        services.question_remove(study=study, key="overall")
    assert study.questions.filter(key="overall").exists()
    services.question_remove(study=study, key="safe")  # another question still can
    assert not study.questions.filter(key="safe").exists()


def test_a_study_whose_rule_no_longer_fits_its_questions_does_not_open(study_admin):
    study = draft_with_rule(study_admin)
    Question.objects.filter(study=study, key="overall").delete()  # as before the refusal
    with pytest.raises(ValidationError, match="rule no longer fits .* no question 'overall'"):
        services.study_open(study=study)
    study.refresh_from_db()
    assert study.status == study.Status.DRAFT
    assert not study.items.exists()


def test_an_item_that_cannot_be_decided_does_not_stop_the_sweep_or_the_statistics(
    study_admin, caplog
):
    study = adaptive_study(study_admin)
    items = list(study.items.order_by("pk")[:2])
    for item in items:  # no check runs here (no commit): the sweep decides both
        for assignment, answer in zip(regular(item), (1, 5), strict=True):
            rate(assignment, answer)
    real = services.adaptive._decide

    def broken_first(study, item_id):
        if item_id == items[0].pk:
            raise Question.DoesNotExist("Question matching query does not exist.")
        return real(study, item_id)

    with pytest.MonkeyPatch.context() as patch, caplog.at_level(logging.ERROR):
        patch.setattr("annotation.services.adaptive._decide", broken_first)
        assert services.adaptive_sweep(study=study) == 1
    assert "left undecided" in caplog.text
    assert not AdaptiveDecision.objects.filter(item=items[0]).exists()
    assert AdaptiveDecision.objects.get(item=items[1]).created == 2
    study.refresh_from_db()
    assert study.manifest_hash == services.adaptive.stored_manifest(study).digest


def test_a_sweep_makes_the_manifest_digest_once_for_all_its_extras(study_admin):
    study = adaptive_study(study_admin)
    items = list(study.items.order_by("pk")[:3])
    for item in items:  # no check runs here (no commit): the sweep decides all three
        for assignment, answer in zip(regular(item), (1, 5), strict=True):
            rate(assignment, answer)
    real = services.adaptive.stored_manifest
    calls = []

    def counted(study):
        calls.append(study.pk)
        return real(study)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("annotation.services.adaptive.stored_manifest", counted)
        assert services.adaptive_sweep(study=study) == 3
        assert services.adaptive_sweep(study=study) == 0  # nothing left: no digest either
    assert calls == [study.pk]
    assert study.assignments.filter(kind="extra").count() == 6
    study.refresh_from_db()
    assert study.manifest_hash == real(study).digest


def test_a_failing_sweep_still_lets_the_agreement_be_computed(study_admin, monkeypatch):
    study = adaptive_study(study_admin)
    for item in study.items.order_by("pk")[:2]:
        for assignment, answer in zip(regular(item), (1, 5), strict=True):
            rate(assignment, answer)

    def sweep(*, study):
        raise Question.DoesNotExist("gone")

    monkeypatch.setattr(services, "adaptive_sweep", sweep)
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    tasks._swept_then_computed(run=services.task_run_claim(run_id=run.pk))
    assert Result.objects.filter(study=study, statistic="krippendorff_alpha").exists()


# --- 2 and 3. stopped and withdrawn raters -------------------------------------------------


def test_a_rater_whose_work_was_handed_on_gets_no_extras(study_admin):
    study = adaptive_study(study_admin, raters=5, m=1)
    stopper = study.memberships.get(pseudonym="R5")
    services.assignments_reassign(study=study, rater=stopper.user)
    stopper.refresh_from_db()
    assert stopper.reassigned_at is not None
    chosen = []
    for item in study.items.order_by("pk"):
        first = regular(item)
        if stopper.user_id in {a.rater_id for a in first}:
            continue  # an item they had started stays theirs
        rate(first[0], 1)
        rate(first[1], 5)
        services.adaptive_item_check(item_id=item.pk)
        chosen += pseudonyms(study, item.assignments.filter(kind="extra"))
    assert chosen
    assert "R5" not in chosen


def test_a_rater_who_withdrew_gets_no_extras(study_admin):
    study = adaptive_study(study_admin, raters=3, m=1)
    item = study.items.order_by("pk").first()
    first = regular(item)
    spare = study.memberships.exclude(user__in=[a.rater for a in first]).get(role="rater")
    spare.withdrawn_at = timezone.now()
    spare.save(update_fields=["withdrawn_at"])
    rate(first[0], 1)
    rate(first[1], 5)
    services.adaptive_item_check(item_id=item.pk)
    decision = AdaptiveDecision.objects.get(item=item)
    assert (decision.disagreed, decision.created, decision.shortfall) == (True, 0, 1)


def test_a_stopped_raters_unstarted_extra_goes_to_an_eligible_rater(study_admin):
    study = adaptive_study(study_admin, raters=5, m=1)
    item = study.items.order_by("pk").first()
    first = regular(item)
    rate(first[0], 1)
    rate(first[1], 5)
    services.adaptive_item_check(item_id=item.pk)
    extra = item.assignments.get(kind="extra")
    stopper = extra.rater
    services.assignments_reassign(study=study, rater=stopper)
    extra.refresh_from_db()
    assert extra.rater != stopper
    assert extra.rater_id not in {a.rater_id for a in first}
    assert not study.assignments.filter(rater=stopper, kind="extra").exists()
    study.refresh_from_db()
    assert study.manifest_hash == services.adaptive.stored_manifest(study).digest


# --- 4. removing a rater who holds an extra ------------------------------------------------


def test_a_removed_raters_extra_goes_to_another_eligible_rater(study_admin):
    study = adaptive_study(study_admin, raters=5, m=2)
    item = study.items.order_by("pk").first()
    first = regular(item)
    rate(first[0], 1)
    rate(first[1], 5)
    services.adaptive_item_check(item_id=item.pk)
    leaving = study.memberships.get(user=item.assignments.filter(kind="extra").first().rater)
    services.rater_remove(study=study, pseudonym=leaving.pseudonym)
    extras = pseudonyms(study, item.assignments.filter(kind="extra"))
    assert len(extras) == 2
    assert leaving.pseudonym not in extras
    manifest = selectors.study_adaptive_manifest(study=study)
    assert (manifest["extras_created"], manifest["shortfall"]) == (2, 0)
    assert manifest["extras_lost_with_removed_raters"] == 0


def test_a_removed_raters_extra_no_one_can_take_is_recorded_as_lost(study_admin):
    study = adaptive_study(study_admin, raters=4, m=2)
    item = study.items.order_by("pk").first()
    first = regular(item)
    rate(first[0], 1)
    rate(first[1], 5)
    services.adaptive_item_check(item_id=item.pk)
    leaving = study.memberships.get(user=item.assignments.filter(kind="extra").first().rater)
    services.rater_remove(study=study, pseudonym=leaving.pseudonym)
    assert item.assignments.filter(kind="extra").count() == 1
    decision = AdaptiveDecision.objects.get(item=item)
    assert (decision.wanted, decision.created, decision.lost) == (2, 1, 1)
    manifest = selectors.study_adaptive_manifest(study=study)
    assert manifest["extras_created"] + manifest["shortfall"] == 2
    assert manifest["extras_lost_with_removed_raters"] == 1
    methods = "\n".join(selectors.study_adaptive_methods_text(study=study))
    assert "1 dropped when their rater was removed and no other could take them" in methods
    study.refresh_from_db()
    assert study.manifest_hash == services.adaptive.stored_manifest(study).digest


# --- 5. skipped answers --------------------------------------------------------------------


def test_two_raters_who_skip_the_rules_optional_question_do_not_disagree(study_admin):
    study = draft_with_rule(
        study_admin, rule={"kind": "no_majority", "question": "safe"}, required=False
    )
    services.study_open(study=study)
    overall = study.questions.get(key="overall")
    item = study.items.order_by("pk").first()
    for assignment in regular(item):
        services.rating_save(assignment=assignment, question=overall, answer=3)
        services.assignment_submit(assignment=assignment)
    decision = services.adaptive_item_check(item_id=item.pk)
    assert (decision.disagreed, decision.answers) == (False, [None, None])
    assert not item.assignments.filter(kind="extra").exists()


def test_the_study_api_shows_the_adaptive_setting_to_admins_only_and_read_only(client, study_admin):
    study = adaptive_study(study_admin, m=1)
    rater = study.memberships.filter(role="rater").first().user
    url = f"/api/v1/studies/{study.token}/"
    shown = client.get(url, headers=auth(study_admin)).json()["adaptive"]
    words = disagreement.describe(disagreement.rule_from_dict(RANGE_2))
    assert shown == {"rule": RANGE_2, "rule_text": words, "first_k": 2, "extra_m": 1}
    assert "overall" in words
    listed = client.get("/api/v1/studies/", headers=auth(study_admin)).json()["results"]
    assert [s["adaptive"]["extra_m"] for s in listed] == [1]
    assert client.get(url, headers=auth(rater)).json()["adaptive"] is None
    # Not changed through the study: its own endpoint sets it while the study is a draft.
    patched = client.patch(
        url,
        {"adaptive": None, "p_adjustment": "bonferroni"},
        content_type="application/json",
        headers=auth(study_admin),
    )
    assert patched.status_code == 400
    assert "adaptive/setting/" in patched.json()["adaptive"][0]
    study.refresh_from_db()
    assert study.p_adjustment == "holm"  # refused whole
    assert selectors.study_adaptive_design(study=study) is not None


def test_a_study_without_adaptive_extra_raters_shows_null(client, draft_study, study_admin):
    body = client.get(f"/api/v1/studies/{draft_study.token}/", headers=auth(study_admin)).json()
    assert body["adaptive"] is None


# --- review of issue 25: the sweep holds the study's lock for one chunk at a time -----------


def test_a_sweep_decides_in_chunks_releasing_the_studys_lock_between_them(study_admin):
    study = adaptive_study(study_admin)
    items = list(study.items.order_by("pk")[:3])
    for item in items:  # no check runs here (no commit): the sweep decides all three
        for assignment, answer in zip(regular(item), (1, 5), strict=True):
            rate(assignment, answer)
    real = services.adaptive.stored_manifest
    digests = []

    def counted(study):
        digests.append(study.pk)
        return real(study)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("annotation.services.adaptive.SWEEP_CHUNK", 2)
        patch.setattr("annotation.services.adaptive.stored_manifest", counted)
        with CaptureQueriesContext(connection) as seen:
            assert services.adaptive_sweep(study=study) == 3
    locks = [
        q["sql"]
        for q in seen.captured_queries
        if "FOR UPDATE" in q["sql"] and 'FROM "annotation_study"' in q["sql"]
    ]
    # Two chunks (2 items, then 1), each its own lock and transaction. SQLite locks the whole
    # file, not the row: it sends no FOR UPDATE to count, and the digests below count chunks.
    assert len(locks) == (2 if connection.vendor == "postgresql" else 0)
    assert digests == [study.pk, study.pk]  # the digest once per chunk
    for item in items:  # one decision per item, and never more than m extras
        assert AdaptiveDecision.objects.filter(item=item).count() == 1
        assert item.assignments.filter(kind="extra").count() == 2
    study.refresh_from_db()
    assert study.manifest_hash == real(study).digest
