"""Assisted reading, the LLM judge as a scorer: it is asked the clinician scorer's question
about the answers exact match left undecided (and a seeded sample of matched ones), sees the
case, the accepted answers and the answer only, replies in a strict schema, and its decisions
are stored apart from the scores the statistics read; its agreement with the clinician scorer
is stored and shown. Also top-j accuracy of ranked answers, against counts by hand."""

import json
import re
from datetime import timedelta

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from sklearn.metrics import cohen_kappa_score

from annotation import services
from annotation.core.judging import MalformedReply
from annotation.core.reading import judge as answer_judge
from annotation.core.reading.scorers import CLUSTER_INTERVAL, scorer_agreement
from annotation.core.reading.statistics import Read
from annotation.core.stats.bootstrap import Bootstrap
from annotation.models import AnswerScore, JudgeScore, Question, Result, TaskRun
from annotation.selectors.reading import (
    JUDGE_MATCH,
    JUDGE_SCORER,
    TOP_J,
    judge_answers_missing,
    reading_summary,
)
from annotation.services.statistics.reading import reading_inputs, reading_results, tops_for
from tests.factories import UserFactory
from tests.reading_support import reading_reads_answered
from tests.support.fake_llm import Reply
from tests.support.waiting import wait_for_run

pytestmark = pytest.mark.django_db

RANKED = answer_judge.AnswerToJudge(
    case_input="Fever, neck stiffness.",
    accepted=(("Bacterial meningitis", ()),),
    kind="ranked",
    entries=("Migraine", "Meningitis"),
)
TEXT = answer_judge.AnswerToJudge(
    "Chest pain.", (("Myocardial infarction", ("MI",)),), "text", ("Heart attack",)
)

# The judge the fake server plays: the first entry that names one of these is right.
KEYWORDS = ("embolism", "clot", "infarction", "heart attack", "mi", "meningitis", "diabetes")


def keyword_judge(request: dict) -> str:
    text = request["messages"][-1]["content"]
    block = re.search(r"<<<BEGIN ANSWER>>>\n(.*?)\n<<<END ANSWER>>>", text, re.S).group(1)
    entries = [re.sub(r"^\d+\. ", "", line) for line in block.splitlines()]
    first = next(
        (
            n
            for n, entry in enumerate(entries, 1)
            if any(re.search(rf"\b{k}\b", entry.lower()) for k in KEYWORDS)
        ),
        0,
    )
    return json.dumps({"rationale": "Compared with the accepted answers.", "first_right": first})


# --- the prompt and the reply, pure ---------------------------------------------------------------


def test_the_prompt_holds_the_case_the_accepted_answers_and_the_answer():
    text = answer_judge.render_prompt(RANKED)
    assert "Fever, neck stiffness." in text
    assert "1. Bacterial meningitis" in text
    assert "<<<BEGIN ANSWER>>>\n1. Migraine\n2. Meningitis\n<<<END ANSWER>>>" in text
    assert "(also written: MI)" in answer_judge.render_prompt(TEXT)


def test_the_schema_is_strict():
    schema = answer_judge.response_format(RANKED)["json_schema"]
    assert schema["strict"] is True
    assert schema["schema"] == {
        "type": "object",
        "properties": {
            "rationale": {"type": "string"},
            "first_right": {"type": "integer", "minimum": 0, "maximum": 2},
        },
        "required": ["rationale", "first_right"],
        "additionalProperties": False,
    }


@pytest.mark.parametrize(
    ("answer", "reply", "decision"),
    [
        (RANKED, {"rationale": " ok ", "first_right": 2}, ("ok", True, 2)),
        (RANKED, {"rationale": "", "first_right": 0}, ("", False, None)),
        (TEXT, {"rationale": "", "right": True}, ("", True, None)),
        (TEXT, {"rationale": "", "right": False}, ("", False, None)),
    ],
)
def test_a_reply_in_the_schema_is_read(answer, reply, decision):
    parsed = answer_judge.parse_reply(json.dumps(reply), answer)
    assert (parsed.rationale, parsed.right, parsed.rank) == decision


@pytest.mark.parametrize(
    ("answer", "text", "problem"),
    [
        (RANKED, "first entry", "not JSON"),
        (RANKED, "[]", "not a JSON object"),
        (RANKED, '{"rationale": ""}', "no first_right"),
        (RANKED, '{"rationale": "", "first_right": 3}', "from 0 to 2"),
        (RANKED, '{"rationale": "", "first_right": true}', "whole number"),
        (RANKED, '{"rationale": "", "first_right": "1"}', "whole number"),
        (RANKED, '{"rationale": "", "first_right": 1, "sure": 1}', "unexpected keys sure"),
        (TEXT, '{"rationale": "", "right": 1}', "not true or false"),
        (TEXT, '{"rationale": 3, "right": true}', "rationale is not text"),
    ],
)
def test_a_malformed_reply_is_refused_never_guessed(answer, text, problem):
    with pytest.raises(MalformedReply, match=problem):
        answer_judge.parse_reply(text, answer)


def test_top_j_is_reported_for_1_3_5_and_k_up_to_k():
    assert tops_for(10) == [1, 3, 5, 10]
    assert tops_for(4) == [1, 3, 4]
    assert tops_for(3) == [1, 3]
    assert tops_for(1) == [1]


# --- the study ------------------------------------------------------------------------------------

# (reader, case, phase) -> the clinician scorer's decision on the answers exact match left
# undecided: the rank of the first right entry, or None (wrong). The keyword judge says:
# R1 c3 right (1), R1 c4 wrong, R2 c1 right (1), R2 c2 wrong, R2 c3 wrong, R2 c3 assisted
# right (2).
CLINICIAN = {
    ("R1", "c3", 1): 1,  # both right
    ("R1", "c4", 1): None,  # both wrong
    ("R2", "c1", 1): 1,  # both right
    ("R2", "c2", 1): 1,  # the clinician right, the judge wrong
    ("R2", "c3", 1): None,  # both wrong
    ("R2", "c3", 2): None,  # the judge right, the clinician wrong
}


def test_the_kappa_bootstrap_resamples_a_readers_answers_to_a_case_together():
    """Phase 1 and phase 2 answers of one reader to one case (often the same words) are one
    draw, not two: an answer given twice must not narrow the interval."""
    rng = np.random.default_rng(3)
    n = 40
    clinician = {i: bool(rng.random() < 0.5) for i in range(n)}
    judge = {i: clinician[i] if rng.random() < 0.8 else not clinician[i] for i in range(n)}
    boot = Bootstrap(resamples=2000, seed=5)
    once = scorer_agreement(clinician, judge, bootstrap=boot, clusters={i: i for i in range(n)})
    twice_clinician = {(i, phase): v for i, v in clinician.items() for phase in (1, 2)}
    twice_judge = {(i, phase): v for i, v in judge.items() for phase in (1, 2)}
    clusters = {(i, phase): i for i in range(n) for phase in (1, 2)}
    clustered = scorer_agreement(twice_clinician, twice_judge, bootstrap=boot, clusters=clusters)
    independent = scorer_agreement(twice_clinician, twice_judge, bootstrap=boot)

    assert clustered.kappa.value == pytest.approx(once.kappa.value)
    assert clustered.kappa.value == pytest.approx(
        cohen_kappa_score(list(clinician.values()), list(judge.values()))
    )
    # The same clusters drawn: the copies change nothing.
    assert clustered.kappa.ci == pytest.approx(once.kappa.ci)
    assert clustered.kappa.interval_method == CLUSTER_INTERVAL
    assert "(reader, case) clusters" in clustered.kappa.ci_method

    def width(found):
        return found.kappa.ci[1] - found.kappa.ci[0]

    # Taken as independent, the copies narrow it by about the square root of 2.
    assert width(clustered) > 1.25 * width(independent)
    # Against a plain loop over resampled clusters, each kappa from scikit-learn.
    draws = np.random.default_rng(11)
    values = []
    for _ in range(2000):
        drawn = draws.integers(0, n, n)
        c = [clinician[int(i)] for i in drawn for _ in (1, 2)]
        j = [judge[int(i)] for i in drawn for _ in (1, 2)]
        if len(set(c)) > 1 or len(set(j)) > 1:
            values.append(cohen_kappa_score(c, j))
    low, high = np.percentile(values, [2.5, 97.5])
    assert clustered.kappa.ci == pytest.approx((low, high), abs=0.05)


def test_the_statistics_inputs_do_not_depend_on_the_order_of_the_reads():
    first = Read("R1", "c1", "unassisted", True, None, 1)
    second = Read("R1", "c2", "unassisted", True, None, 2)
    inputs = reading_inputs([first, second], {"llm": 1}, {0}, 3)
    # The same reads in another order, the same read matched: the same inputs.
    assert reading_inputs([second, first], {"llm": 1}, {1}, 3) == inputs
    # The other read matched: other inputs (its top-j differs).
    assert reading_inputs([second, first], {"llm": 1}, {0}, 3) != inputs


@pytest.fixture
def judged_study(study_admin, raters):
    study = reading_reads_answered(study_admin, raters[:2])
    return study


def _scores(study) -> dict[tuple, AnswerScore]:
    pseudonyms = dict(study.memberships.values_list("user_id", "pseudonym"))
    rows = AnswerScore.objects.filter(rating__assignment__study=study).select_related(
        "rating__assignment__item__output__case"
    )
    return {
        (
            pseudonyms[s.rating.assignment.rater_id],
            s.rating.assignment.item.output.case.external_id,
            s.rating.assignment.phase,
        ): s
        for s in rows
    }


def _judge(study, fake, label="Judge-LLM", **fields):
    fields.setdefault("max_concurrency", 2)
    return services.judge_create(
        study=study, label=label, base_url=fake.base_url, model_name="judge-1", **fields
    )


def _run(judge, decided_sample: int = 0) -> TaskRun:
    run = services.task_run_create(
        study=judge.study,
        kind=TaskRun.Kind.JUDGE_ANSWERS,
        user=None,
        judge=judge,
        decided_sample=decided_sample,
    )
    services.judge_answers_run(run=services.task_run_claim(run_id=run.pk))
    run.refresh_from_db()
    return run


def _dead(judge, kind, settings, **fields) -> TaskRun:
    """A run of the judge whose worker died (no heartbeat within the lease)."""
    return TaskRun.objects.create(
        study=judge.study,
        judge=judge,
        kind=kind,
        status=TaskRun.Status.RUNNING,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.TASK_RUN_LEASE_SECONDS + 1),
        **fields,
    )


def _decide(study):
    scorer = UserFactory(username="scorer")
    services.scorer_add(study=study, user=scorer)
    scores = _scores(study)
    for key, rank in CLINICIAN.items():
        services.answer_score_decide(
            score=scores[key], scorer=scorer, right=rank is not None, rank=rank
        )
    return scorer


def test_the_judge_scores_what_exact_match_left_undecided_apart_from_the_scores(
    judged_study, fake_llm
):
    fake_llm.reply_with(keyword_judge)
    undecided = {k for k, s in _scores(judged_study).items() if s.outcome == "undecided"}
    assert undecided == set(CLINICIAN)
    before = list(AnswerScore.objects.order_by("pk").values_list("outcome", "by", "rank"))

    run = _run(_judge(judged_study, fake_llm))

    assert (run.status, run.done, run.total) == ("succeeded", 6, 6), run.message
    scores = _scores(judged_study)
    judged = {
        key: (j.right, j.rank)
        for key, s in scores.items()
        for j in JudgeScore.objects.filter(score=s, outcome="ok")
    }
    assert judged == {
        ("R1", "c3", 1): (True, 1),
        ("R1", "c4", 1): (False, None),
        ("R2", "c1", 1): (True, 1),
        ("R2", "c2", 1): (False, None),
        ("R2", "c3", 1): (False, None),
        ("R2", "c3", 2): (True, 2),
    }
    # The judge never stands in for the clinician: every score is as it was.
    assert list(AnswerScore.objects.order_by("pk").values_list("outcome", "by", "rank")) == before
    row = JudgeScore.objects.filter(outcome="ok").first()
    assert row.rationale == "Compared with the accepted answers."
    assert row.model_version.startswith("judge-1")
    assert row.request["response_format"]["json_schema"]["strict"] is True
    # Run again: nothing is left to score.
    assert _run(JudgeScore.objects.first().judge).total == 0


def test_the_judge_sees_neither_arm_reader_nor_source(judged_study, fake_llm, raters):
    fake_llm.reply_with(keyword_judge)
    _run(_judge(judged_study, fake_llm))
    sent = [r["json"] for r in fake_llm.requests]
    assert len(sent) == 6
    everything = json.dumps(sent)
    texts = [r["messages"][-1]["content"] for r in sent]
    for text in texts:
        assert "# Accepted answers" in text
        assert "<<<BEGIN ANSWER>>>" in text
    assert "Fever, neck stiffness, photophobia." in everything
    secrets = ["Model X", "Model Y", "Differential:", "consider also anxiety", "Unsure."]
    secrets += ["unassisted", "Assistant", "studyadmin", judged_study.token]
    secrets += [user.username for user in raters]
    secrets += list(judged_study.assignments.values_list("token", flat=True))
    secrets += list(AnswerScore.objects.values_list("token", flat=True))
    for secret in secrets:
        assert secret not in everything, secret
    for word in ("llm", "R1", "R2", "arm", "session", "phase"):
        assert not any(re.search(rf"\b{word}\b", text) for text in texts), word


def test_a_malformed_reply_is_asked_again_then_recorded_as_failed(judged_study, fake_llm, settings):
    settings.JUDGE_MAX_ATTEMPTS = 2
    fake_llm.enqueue(Reply('{"rationale": "", "first_right": "yes"}'), Reply("right"))
    fake_llm.reply_with(keyword_judge)
    judge = _judge(judged_study, fake_llm, max_concurrency=1)
    run = _run(judge)
    assert (run.status, run.done) == ("failed", 6)
    assert "1 failed" in run.message
    failed = JudgeScore.objects.get(outcome="failed")
    assert failed.right is None
    assert failed.error.startswith("malformed reply: not JSON")
    first, second = (attempt["error"] for attempt in failed.attempts)
    assert first.startswith("malformed reply: first_right: 'yes' is not a whole number")
    assert second.startswith("malformed reply: not JSON")
    # The next run tries only the failed one again.
    again = _run(judge)
    assert (again.status, again.total) == ("succeeded", 1)
    assert JudgeScore.objects.filter(outcome="ok").count() == 6


def test_agreement_with_the_clinician_against_an_independent_count(
    judged_study, fake_llm, client, study_admin
):
    fake_llm.reply_with(keyword_judge)
    _run(_judge(judged_study, fake_llm))
    client.force_login(study_admin)
    reading_results(judged_study)
    page = client.get(f"/studies/{judged_study.token}/").text
    assert "No answer has been scored by both the judge and the clinician scorer" in page

    _decide(judged_study)
    reading_results(judged_study)
    result = Result.objects.get(statistic=JUDGE_SCORER, judge="Judge-LLM")
    scores = _scores(judged_study)
    judge = {k: JudgeScore.objects.get(score=scores[k], outcome="ok").right for k in CLINICIAN}
    clinician = {k: rank is not None for k, rank in CLINICIAN.items()}
    cells = [(clinician[k], judge[k]) for k in CLINICIAN]
    d = result.detail
    assert (
        (d["both_right"], d["reference_only_right"], d["judge_only_right"], d["both_wrong"])
        == (
            cells.count((True, True)),
            cells.count((True, False)),
            cells.count((False, True)),
            cells.count((False, False)),
        )
        == (2, 1, 1, 2)
    )
    assert d["agreement"] == pytest.approx(4 / 6)
    assert d["sensitivity"] == pytest.approx(2 / 3)  # of the clinician's 3 right, the judge's 2
    assert d["specificity"] == pytest.approx(2 / 3)
    expected = cohen_kappa_score([clinician[k] for k in CLINICIAN], [judge[k] for k in CLINICIAN])
    assert result.value == pytest.approx(expected) == pytest.approx(1 / 3)
    assert d["kappa"]["ci"] is not None
    assert d["kappa"]["interval_question"]
    assert d["kappa"]["interval_method"] == CLUSTER_INTERVAL

    summary = reading_summary(study=judged_study)
    assert [r.reference for r in summary.judge_agreement] == ["clinician scorer"]
    page = client.get(f"/studies/{judged_study.token}/").text
    assert "Judge-LLM against the clinician scorer" in page
    assert d["kappa"]["interval_question"] in page
    assert "No answer has been scored by both" not in page


def test_a_sample_of_matched_answers_measures_the_judge_against_the_match(
    judged_study, fake_llm, client, study_admin
):
    fake_llm.reply_with(keyword_judge)
    judge = _judge(judged_study, fake_llm)
    run = _run(judge, decided_sample=4)
    assert (run.status, run.total) == ("succeeded", 10), run.message
    sampled = JudgeScore.objects.filter(judge=judge, sampled=True).select_related("score")
    assert len(sampled) == 4
    assert all(s.score.by == "match" and s.score.outcome != "undecided" for s in sampled)
    # Seeded: another judge's sample is its own, and the same at every look.
    other = _judge(judged_study, fake_llm, label="Other")
    looks = [
        [a.score_id for a in judge_answers_missing(judge=other, decided_sample=4) if a.sampled]
        for _ in range(2)
    ]
    assert looks[0] == looks[1]
    assert len(looks[0]) == 4
    reading_results(judged_study)
    result = Result.objects.get(statistic=JUDGE_MATCH, judge="Judge-LLM")
    cells = [(s.score.outcome == "right", s.right) for s in sampled]
    d = result.detail
    assert (d["both_right"], d["reference_only_right"], d["judge_only_right"], d["both_wrong"]) == (
        cells.count((True, True)),
        cells.count((True, False)),
        cells.count((False, True)),
        cells.count((False, False)),
    )
    assert d["only_one_scored"] == 0
    # No clinician has decided anything: no agreement with the clinician yet, and the
    # dashboard says so beside the agreement with the match.
    assert not Result.objects.filter(statistic=JUDGE_SCORER).exists()
    client.force_login(study_admin)
    page = client.get(f"/studies/{judged_study.token}/").text
    assert "Judge-LLM against the exact match (sampled answers)" in page
    assert "No answer has been scored by both the judge and the clinician scorer" in page


def test_the_sampled_answers_are_left_out_of_the_agreement_with_the_clinician(
    judged_study, fake_llm
):
    fake_llm.reply_with(keyword_judge)
    _run(_judge(judged_study, fake_llm), decided_sample=4)
    _decide(judged_study)
    reading_results(judged_study)
    d = Result.objects.get(statistic=JUDGE_SCORER, judge="Judge-LLM").detail
    # The clinician decided the 6 answers the match left undecided; the judge those 6 and
    # 4 matched ones, which are the match's to agree with, not the clinician's.
    cells = (d["both_right"], d["reference_only_right"], d["judge_only_right"], d["both_wrong"])
    assert cells == (2, 1, 1, 2)
    assert d["only_one_scored"] == 0
    assert Result.objects.get(statistic=JUDGE_MATCH, judge="Judge-LLM").n_units == 4


def test_a_stale_judge_decision_is_left_out_of_the_agreement_until_judged_again(
    judged_study, fake_llm
):
    fake_llm.reply_with(keyword_judge)
    judge = _judge(judged_study, fake_llm)
    _run(judge)
    _decide(judged_study)
    # The reader changes an answer both had decided: the clinician's decision goes (the
    # answer waits for them again) and the judge's no longer applies.
    rating = _scores(judged_study)[("R2", "c3", 2)].rating
    services.rating_save(
        assignment=rating.assignment, question=rating.question, answer=["Aseptic meningitis"]
    )
    assert _scores(judged_study)[("R2", "c3", 2)].outcome == "undecided"
    reading_results(judged_study)
    d = Result.objects.get(statistic=JUDGE_SCORER, judge="Judge-LLM").detail
    # Before: (2, 1, 1, 2), R2 c3 assisted among them (the clinician said wrong, the judge
    # right); now it is out of both, and not counted as scored by one of them only.
    cells = (d["both_right"], d["reference_only_right"], d["judge_only_right"], d["both_wrong"])
    assert cells == (2, 1, 0, 2)
    assert d["only_one_scored"] == 0


def test_a_sampled_answer_whose_call_failed_is_tried_again_by_the_next_run(
    judged_study, fake_llm, settings
):
    settings.JUDGE_MAX_ATTEMPTS = 1

    def fails_on_diabetes(request: dict) -> str:
        if "Type 1 diabetes" in request["messages"][-1]["content"].split("<<<BEGIN ANSWER>>>")[1]:
            return "not JSON"
        return keyword_judge(request)

    fake_llm.reply_with(fails_on_diabetes)
    judge = _judge(judged_study, fake_llm)
    first = _run(judge, decided_sample=100)  # every matched answer
    assert (first.total, first.done) == (16, 16)
    # R2 answered "Type 1 diabetes" to c4 in both phases: both matched, both sampled, failed.
    failed = JudgeScore.objects.filter(judge=judge, outcome="failed")
    assert sorted(failed.values_list("sampled", flat=True)) == [True, True]
    fake_llm.reply_with(keyword_judge)
    again = _run(judge)  # no sample asked for this time
    assert (again.status, again.total) == ("succeeded", 2), again.message
    retried = JudgeScore.objects.filter(judge=judge, outcome="ok", score__in=failed.values("score"))
    assert [(r.sampled, r.right) for r in retried] == [(True, True), (True, True)]


def test_a_changed_answer_is_judged_again(judged_study, fake_llm):
    fake_llm.reply_with(keyword_judge)
    judge = _judge(judged_study, fake_llm)
    _run(judge)
    score = _scores(judged_study)[("R2", "c3", 2)]
    rating = score.rating
    services.rating_save(
        assignment=rating.assignment,
        question=rating.question,
        answer=["Migraine", "Tension headache"],
    )
    run = _run(judge)
    assert run.total == 1
    assert JudgeScore.objects.get(score=score, outcome="ok").right is False


def test_top_j_accuracy_per_arm_against_counts_by_hand(judged_study, client, study_admin):
    _decide(judged_study)
    reading_results(judged_study)
    tops = {
        r.source: {cell["top"]: cell for cell in r.detail["tops"]}
        for r in Result.objects.filter(statistic=TOP_J)
    }
    # By hand (tests/reading_support.READS): unassisted, top-1: R1 c2 was matched at rank 2
    # (pending at top-1); right at 1: R1 c1, R1 c3, R2 c1, R2 c2, R2 c4 of the other 7.
    # Top-3: every read; R1 c2 right too: 6 of 8.
    unassisted = tops["unassisted"]
    assert (unassisted[1]["right"], unassisted[1]["reads"], unassisted[1]["pending"]) == (5, 7, 1)
    assert (unassisted[3]["right"], unassisted[3]["reads"], unassisted[3]["pending"]) == (6, 8, 0)
    # Assisted: R1 c4 and R2 c2 matched at rank 2 (pending at top-1); R2 c3 wrong.
    assisted = tops["llm"]
    assert (assisted[1]["right"], assisted[1]["reads"], assisted[1]["pending"]) == (5, 6, 2)
    assert (assisted[3]["right"], assisted[3]["reads"], assisted[3]["pending"]) == (7, 8, 0)
    assert assisted[1]["accuracy"] == pytest.approx(5 / 6)
    # Top-k is the accuracy stored beside it.
    accuracy = Result.objects.get(statistic="reading_accuracy", source="llm")
    assert (accuracy.detail["right"], accuracy.n_ratings) == (7, 8)
    summary = reading_summary(study=judged_study)
    assert [arm for arm, _ in summary.tops] == ["llm", "unassisted"]
    client.force_login(study_admin)
    page = client.get(f"/studies/{judged_study.token}/").text
    assert '<th scope="col">Top-1</th><th scope="col">Top-3</th>' in page
    assert "0.833 (5 / 6; 2 pending)" in page


def test_a_judge_scores_only_text_or_ranked_answers_of_a_reading_study(open_study, fake_llm):
    judge = _judge(open_study, fake_llm)
    with pytest.raises(ValidationError, match="assisted-reading studies only"):
        _run(judge)


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("number", {}),
        ("choice", {"choices": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]}),
    ],
)
def test_a_judge_run_on_a_choice_or_number_reading_study_is_refused(
    study_admin, fake_llm, kind, fields
):
    study = services.reading_study_create(
        creator=study_admin,
        title="Numbers",
        layout="sequential",
        answer_kind=kind,
        prompt="Your answer",
        **fields,
    )
    judge = _judge(study, fake_llm)
    with pytest.raises(ValidationError, match="Exact match decides every choice and number"):
        _run(judge)
    assert not TaskRun.objects.filter(judge=judge).exists()


def test_a_dead_run_of_the_judges_other_kind_is_never_taken_over(judged_study, fake_llm, settings):
    judge = _judge(judged_study, fake_llm)
    rating = _dead(judge, TaskRun.Kind.RUN_JUDGE, settings)
    run = services.task_run_create(
        study=judged_study,
        kind=TaskRun.Kind.JUDGE_ANSWERS,
        user=None,
        judge=judge,
        decided_sample=3,
    )
    assert run.pk != rating.pk
    assert (run.kind, run.decided_sample, run.status) == ("judge_answers", 3, "queued")
    rating.refresh_from_db()
    assert (rating.kind, rating.status) == ("run_judge", "running")  # the sweep's to resend
    # And the reverse: a dead "score answers" run is not made to rate items.
    other = _judge(judged_study, fake_llm, label="Other")
    scoring = _dead(other, TaskRun.Kind.JUDGE_ANSWERS, settings)
    run = services.task_run_create(
        study=judged_study, kind=TaskRun.Kind.RUN_JUDGE, user=None, judge=other
    )
    assert run.pk != scoring.pk
    assert run.kind == "run_judge"


def test_a_dead_score_answers_run_taken_over_scores_the_sample_asked_now(
    judged_study, fake_llm, settings
):
    fake_llm.reply_with(keyword_judge)
    judge = _judge(judged_study, fake_llm)
    dead = _dead(judge, TaskRun.Kind.JUDGE_ANSWERS, settings, decided_sample=0)
    run = _run(judge, decided_sample=4)
    assert run.pk == dead.pk
    assert (run.decided_sample, run.status, run.total) == (4, "succeeded", 10), run.message
    assert JudgeScore.objects.filter(judge=judge, sampled=True).count() == 4


def test_the_dashboard_starts_a_judge_on_the_answers_and_the_judge_then_stays_as_it_is(
    judged_study, fake_llm, client, study_admin
):
    judge = _judge(judged_study, fake_llm)
    client.force_login(study_admin)
    page = client.get(f"/studies/{judged_study.token}/").text
    url = f"/studies/{judged_study.token}/judges/{judge.pk}/score-answers/"
    assert f'action="{url}"' in page
    # Not a whole number: refused with a message, never a 500 ("²" is a digit to Python).
    for bad in ("x", "²", "-1", "1.5", "٣"):
        response = client.post(url, {"decided_sample": bad}, follow=True)
        assert response.status_code == 200, bad
        assert "The sample of matched answers is a whole number" in response.text, bad
    assert not TaskRun.objects.filter(kind=TaskRun.Kind.JUDGE_ANSWERS).exists()
    client.post(url, {"decided_sample": "2"})
    run = TaskRun.objects.get(kind=TaskRun.Kind.JUDGE_ANSWERS)
    assert (run.judge, run.decided_sample, run.created_by) == (judge, 2, study_admin)
    with pytest.raises(ValidationError, match="already been run"):
        services.judge_update(judge=judge, temperature=0.5)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_judge_scores_answers_on_the_worker(celery_worker, study_admin, raters, fake_llm):
    study = reading_reads_answered(study_admin, raters[:2])
    _decide(study)
    fake_llm.reply_with(keyword_judge)
    judge = _judge(study, fake_llm)
    run = services.task_run_create(
        study=study, kind=TaskRun.Kind.JUDGE_ANSWERS, user=study_admin, judge=judge
    )
    run = wait_for_run(run.pk)
    assert (run.status, run.done) == ("succeeded", 6), run.message
    assert JudgeScore.objects.filter(judge=judge, outcome="ok").count() == 6
    stats = services.task_run_create(
        study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT, user=study_admin
    )
    assert wait_for_run(stats.pk, timeout=60).status == "succeeded"
    result = Result.objects.get(statistic=JUDGE_SCORER, judge="Judge-LLM")
    assert (result.detail["both_right"], result.detail["both_wrong"]) == (2, 2)
    assert (
        Question.objects.get(study=study, kind="answer").results.filter(statistic=TOP_J).count()
        == 2
    )
