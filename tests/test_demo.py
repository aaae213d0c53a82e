import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count

from annotation import selectors, services
from annotation.demo import (
    CORRECTIONS_TITLE,
    DEMO_TITLE,
    DRAFT_TITLE,
    OMISSION_TITLE,
    READING_TITLE,
    WASHOUT_TITLE,
    load_demo,
)
from annotation.demo_workflows import WORKFLOWS_TITLE
from annotation.models import (
    AdaptiveDecision,
    AnswerScore,
    Assignment,
    ItemOutput,
    Output,
    Rating,
    Result,
    Study,
)
from tests.factories import alpha_of

pytestmark = pytest.mark.django_db


def test_demo_loads_once_however_often_it_runs(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "Kept the existing demo studies" in out
    assert "rater4   / evalapp-rater" in out
    assert "scorer1  / evalapp-scorer" in out
    assert "adjudicator1 / evalapp-adjudicator" in out
    assert Study.objects.count() == 10
    pairwise = Study.objects.get(design="pairwise")
    assert pairwise.items.filter(output_b__isnull=False).count() == pairwise.items.count() > 0
    for design in ("side_by_side", "ranking"):
        shown_together = Study.objects.get(design=design)
        assert shown_together.status == "open"
        assert shown_together.items.count() == 8  # one per case, each with its 3 outputs
        assert ItemOutput.objects.filter(item__study=shown_together).count() == 24
        assert shown_together.questions.filter(kind="ranking").exists()
    # An admin, four raters, a scorer and an adjudicator.
    assert get_user_model().objects.count() == 7
    open_study = Study.objects.get(title=DEMO_TITLE)
    # 24 outputs to rate, and a training item and an attention check for quality control.
    assert Output.objects.filter(case__study=open_study).count() == 26
    assert open_study.cases.filter(role="study").count() == 8
    loads = {
        tuple(
            Assignment.objects.filter(study=open_study, rater=u)
            .values("kind")
            .annotate(n=Count("pk"))
            .order_by("kind")
            .values_list("kind", "n")
        )
        for u in get_user_model().objects.filter(username__startswith="rater")
    }
    assert loads == {(("attention", 1), ("repeat", 2), ("study", 12), ("training", 1))}
    # Raters 2-3 are done, rater4 is half-way (8 of 16); rater1 starts fresh.
    done = {
        u: Rating.objects.filter(
            assignment__rater__username=u, assignment__study=open_study
        ).count()
        for u in ("rater1", "rater2", "rater3", "rater4")
    }
    assert done == {"rater1": 0, "rater2": 16, "rater3": 16, "rater4": 8}
    alpha = alpha_of(open_study)
    assert alpha.n_ratings > 0
    assert -1 <= alpha.value <= 1
    retest = Result.objects.get(study=open_study, statistic="test_retest_alpha")
    assert retest.n_units > 0


def _demo_state() -> dict[str, tuple]:
    """Each study by title: its id, and how many assignments and answers it holds."""
    return {
        s.title: (s.pk, s.assignments.count(), Rating.objects.filter(assignment__study=s).count())
        for s in Study.objects.all()
    }


def test_a_missing_demo_study_comes_back_and_the_others_stay_as_they_are(capsys):
    first = load_demo()
    assert len(first.added) == 10
    assert first.created
    state = _demo_state()
    assert sorted(state) == sorted(first.added)
    again = load_demo()
    assert (again.added, again.created) == ((), False)
    assert _demo_state() == state
    # A database from before a demo study existed: here the draft demo, deleted as an admin
    # would (a study with answers keeps them: its deletion is refused).
    services.study_delete(study=Study.objects.get(title=DRAFT_TITLE))
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert f"Loaded demo study: {DRAFT_TITLE}" in out
    assert out.count("Loaded demo study") == 1
    now = _demo_state()
    assert Study.objects.filter(title=DRAFT_TITLE).count() == 1
    assert now[DRAFT_TITLE][0] != state[DRAFT_TITLE][0]  # made anew
    assert now[DRAFT_TITLE][1:] == state[DRAFT_TITLE][1:]  # as the first time
    others = {title: row for title, row in state.items() if title != DRAFT_TITLE}
    assert {title: row for title, row in now.items() if title != DRAFT_TITLE} == others
    source = Study.objects.get(title=DRAFT_TITLE).sources.get()
    assert source.label == "Local-Chat-Model"


def test_the_demo_prints_only_the_logins_that_exist(capsys):
    load_demo()
    # A database whose assisted-reading demo came before its scorer: no scorer1 to log in as.
    AnswerScore.objects.filter(scorer__username="scorer1").update(scorer=None)
    get_user_model().objects.filter(username="scorer1").delete()
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "scorer1" not in out
    assert "rater4   / evalapp-rater" in out
    assert "admin    / evalapp-admin" in out
    assert "Kept the existing demo studies" in out
    assert not get_user_model().objects.filter(username="scorer1").exists()


def test_demo_brings_the_checklists_and_a_report_linked_to_the_study():
    call_command("seed_demo")
    call_command("seed_demo")
    from checklists.models import ChecklistDefinition, Report

    assert set(ChecklistDefinition.objects.values_list("slug", "revision")) == {
        ("mi-claim-gen", 1),
        ("elevate-genai", 1),
        ("tripod-llm", 1),
        ("chart", 1),
    }
    tripod = Report.objects.get(definition__slug="tripod-llm")
    assert tripod.scope == {"design": ["E"], "task": ["QA"]}
    assert tripod.study == Study.objects.get(title=DEMO_TITLE)
    assert tripod.scope_changes.count() == 1  # seeding twice does not scope it twice
    report = Report.objects.get(definition__slug="mi-claim-gen")
    assert report.study == Study.objects.get(title=DEMO_TITLE)
    answered = report.assessments.get().responses.filter(answer__isnull=False)
    assert sorted(answered.values_list("item__code", flat=True)) == [
        "1.1",
        "1.2",
        "1.5",
        "3.3",
        "6.1",
    ]


def test_demo_has_an_omission_study_rated_in_part():
    call_command("seed_demo")
    study = Study.objects.get(title=OMISSION_TITLE)
    assert study.status == "open"
    assert study.questions.filter(kind="omission").count() == 1
    facts = [len(f) for f in study.cases.values_list("facts", flat=True)]
    assert len(facts) == 4
    assert all(4 <= n <= 6 for n in facts)
    assert sorted(study.sources.values_list("label", flat=True)) == [
        "Clinician summary",
        "NoteSumm-7B",
    ]
    rated = Rating.objects.filter(assignment__study=study, question__key="omissions")
    assert set(rated.values_list("assignment__rater__username", flat=True)) == {
        "rater2",
        "rater3",
        "rater4",
    }
    rates = {
        r.source: r.value for r in Result.objects.filter(study=study, statistic="omission_rate")
    }
    assert rates["NoteSumm-7B"] > rates["Clinician summary"]
    agreement = Result.objects.get(study=study, statistic="omission_fact_agreement")
    assert len(agreement.detail["facts"]) == sum(facts)


def test_the_demo_has_clinicians_correcting_drafts():
    call_command("seed_demo")
    study = Study.objects.get(title=CORRECTIONS_TITLE)
    assert study.status == "open"
    assert study.questions.filter(kind="correction").count() == 1
    corrections = Rating.objects.filter(assignment__study=study, question__kind="correction")
    by_rater = dict(
        corrections.values("assignment__rater__username")
        .annotate(n=Count("pk"))
        .values_list("assignment__rater__username", "n")
    )
    assert by_rater == {"rater2": 6, "rater3": 6}  # every draft twice; rater1 starts fresh
    assert corrections.filter(value=0).exists()  # some accepted unchanged
    assert corrections.filter(value__gt=0).exists()  # and some edited
    summaries = Result.objects.filter(study=study, statistic="correction_summary")
    assert sorted(summaries.values_list("source", flat=True)) == [
        "Discharge-LM",
        "Tiny-Baseline-LM",
    ]


def test_demo_has_a_study_with_rereads_after_a_washout():
    call_command("seed_demo")
    study = Study.objects.get(title=WASHOUT_TITLE)
    assert (study.retests_per_rater, study.washout_days) == (3, 14)
    users = {u.username: u for u in get_user_model().objects.filter(username__startswith="rater")}
    for user in users.values():
        rereads = study.assignments.filter(rater=user, kind="retest")
        assert rereads.count() == 3
        assert set(rereads.values_list("session", flat=True)) == {2}
    waiting = {u: selectors.rater_study_summary(user=users[u], study=study).waiting for u in users}
    assert waiting["rater1"].opens_at is None  # session 1 still to do
    # rater2 and rater3 re-read after the washout: nothing left to wait for.
    assert waiting["rater2"] is None
    assert waiting["rater3"] is None
    assert waiting["rater4"].opens_at is not None  # finished session 1: session 2 opens later
    kappa = Result.objects.get(study=study, statistic="washout_retest_kappa")
    assert kappa.n_units == 6
    assert set(kappa.detail) >= {"rater R2", "rater R3"}


def test_the_demo_has_an_assisted_reading_study_read_in_part():
    call_command("seed_demo")
    study = Study.objects.get(title=READING_TITLE)
    assert (study.status, study.reading_layout) == ("open", "sequential")
    question = study.questions.get()
    assert (question.kind, question.answer_kind, question.k) == ("answer", "ranked", 5)
    assert study.cases.count() == 6
    assert all(case.accepted_answers[0]["synonyms"] for case in study.cases.all())
    arms = list(study.arms.values_list("key", "kind", "named"))
    assert sorted(arms) == [("ddx-llm", "source", False), ("unassisted", "unassisted", False)]
    assert study.scorers.get().user.username == "scorer1"
    reads = Assignment.objects.filter(study=study, submitted_at__isnull=False)
    done = dict(
        reads.values("rater__username").annotate(n=Count("pk")).values_list("rater__username", "n")
    )
    assert done == {"rater1": 4, "rater2": 12, "rater3": 12, "rater4": 6}  # two reads a case
    assert study.assignments.count() == 4 * 6 * 2
    # Every submitted unassisted read is locked, and its case read again beside the model.
    assert not reads.filter(phase=1, locked_at__isnull=True).exists()
    scores = AnswerScore.objects.filter(rating__assignment__study=study)
    assert scores.count() == reads.count()
    undecided = scores.filter(outcome="undecided")
    assert undecided.exists()  # left for the demo's scorer to decide
    assert set(undecided.values_list("rating__assignment__rater__username", flat=True)) <= {
        "rater4"
    }
    assert scores.filter(by="scorer").exists()
    assert scores.filter(by="match").exists()
    # The statistics as stored, against counts of the decided scores by hand.
    results = {(r.statistic, r.source): r for r in Result.objects.filter(study=study)}
    for arm in ("unassisted", "ddx-llm"):
        decided = scores.filter(rating__assignment__arm__key=arm).exclude(outcome="undecided")
        right = decided.filter(outcome="right").count()
        accuracy = results[("reading_accuracy", arm)]
        assert accuracy.n_ratings == decided.count()
        assert accuracy.value == pytest.approx(right / decided.count())
        assert (
            accuracy.detail["pending"] == undecided.filter(rating__assignment__arm__key=arm).count()
        )
    assert ("reading_mcnemar", "ddx-llm") in results


def test_the_workflows_demo_has_consent_extra_raters_reminders_and_adjudication():
    load_demo()
    study = Study.objects.get(title=WORKFLOWS_TITLE)
    assert (study.status, study.reminders_enabled, study.reminder_stall_days) == ("open", True, 3)
    raters = {m.user.username: m for m in study.memberships.filter(role="rater")}
    assert sorted(raters) == ["rater2", "rater3", "rater4"]  # rater1's demo stays as it was
    background = {name: (m.consent_version, m.background) for name, m in raters.items()}
    assert background == {
        "rater2": (1, {"specialty": "emergency", "years": 12, "prior_ai": "yes"}),
        "rater3": (1, {"specialty": "internal", "years": 4, "prior_ai": "no"}),
        "rater4": (0, {}),  # not consented yet: logging in as rater4 shows the gate
    }
    assert selectors.membership_next_step(membership=raters["rater4"], study=study) == "consent"
    assert study.adaptive.rule == {"kind": "range", "question": "overall", "threshold": 2}
    assert (study.adaptive.first_k, study.adaptive.extra_m) == (2, 1)
    decisions = AdaptiveDecision.objects.filter(item__study=study)
    assert decisions.count() == 8  # the items rater2 and rater3 share
    flagged = set(decisions.filter(disagreed=True).values_list("item_id", flat=True))
    extras = study.assignments.filter(kind="extra")
    assert len(flagged) == 3
    assert set(extras.values_list("item_id", flat=True)) == flagged
    assert set(extras.values_list("rater__username", flat=True)) == {"rater4"}
    # The flagged items wait for rater4's extra rating, so they are not decided and not chosen:
    # the admin's rule (scores 1 point apart or more) finds the decided items that differ.
    chosen = study.adjudications.all()
    differing = {d.item_id for d in decisions if not d.disagreed and len(set(d.answers)) > 1}
    assert set(chosen.values_list("item_id", flat=True)) == differing
    assert len(differing) == 3
    assert not flagged & set(chosen.values_list("item_id", flat=True))
    assert chosen.filter(decided_at__isnull=False).count() == 2  # one left in the queue
    assert chosen.filter(adjudicator__user__username="adjudicator1").count() == 2
    assert not study.assignments.filter(rater__username="adjudicator1").exists()
    assert Result.objects.filter(study=study, statistic="krippendorff_alpha").exists()
