"""LLM judges: the rubric as a prompt and a JSON schema, replies read strictly into ratings of
the raters' form, malformed replies retried then recorded, both orders for pairs, samples."""

import json
import re

import pytest

from annotation import selectors, services
from annotation.core import judging, rubric
from annotation.models import (
    Case,
    Connection,
    Judge,
    JudgeRating,
    JudgeVerdict,
    Output,
    Question,
    Study,
    TaskRun,
)
from tests.support.fake_llm import Reply
from tests.support.waiting import wait_for_run
from tests.test_blinding import body_text
from tests.test_pairwise import SOURCES, make_pairwise_study
from tests.test_sets import _study

pytestmark = pytest.mark.django_db

LIKERT = rubric.QuestionSpec(
    kind=rubric.LIKERT,
    scale=tuple({"value": v, "label": f"point {v}"} for v in range(1, 6)),
)
PAIR = rubric.QuestionSpec(
    kind=rubric.PAIRWISE,
    scale=tuple({"value": v, "label": f"pref {v}"} for v in (-1, 0, 1)),
)


def asked(key="quality", spec=LIKERT, per_output=False):
    return judging.AskedQuestion(key, "How good?", "", spec, per_output)


# --- the reply, read strictly ------------------------------------------------------------------


def test_a_reply_that_answers_every_question_is_read_in_canonical_form():
    questions = [asked(), asked("pref", PAIR)]
    reply = judging.parse_reply('{"rationale": " ok ", "quality": 4, "pref": -1}', questions, 2)
    assert reply.answers == {"quality": 4, "pref": -1}
    assert reply.rationale == "ok"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("The answer is 4.", "not JSON"),
        ('```json\n{"rationale": "", "quality": 4}\n```', "not JSON"),  # no fence is unwrapped
        ('["rationale", 4]', "not a JSON object"),
        ('{"rationale": "x"}', "no answer to quality"),
        ('{"rationale": "x", "quality": 4, "source": "GPT"}', "unexpected keys source"),
        ('{"rationale": "x", "quality": 7}', "quality: 7 is not a point on this question's scale"),
        ('{"rationale": "x", "quality": "4"}', "quality: '4' is not a point on the scale"),
        ('{"rationale": "x", "quality": 4.0}', "quality: 4.0 is not a point on the scale"),
        ('{"rationale": "x", "quality": "na"}', "no 'not applicable' answer"),
        ('{"rationale": 3, "quality": 4}', "rationale is not text"),
    ],
)
def test_a_malformed_reply_is_refused_never_guessed(text, problem):
    with pytest.raises(judging.MalformedReply, match=re.escape(problem)):
        judging.parse_reply(text, [asked()], 1)


def test_side_by_side_answers_come_one_per_response_and_a_ranking_must_be_whole():
    ranking = rubric.QuestionSpec(kind=rubric.RANKING, maximum=3.0)
    questions = [asked(per_output=True), asked("rank", ranking)]
    good = {"rationale": "", "quality": {"A": 5, "B": 3, "C": 1}, "rank": [1, 2, 3]}
    assert judging.parse_reply(json.dumps(good), questions, 3).answers == {
        "quality": [5, 3, 1],
        "rank": [1, 2, 3],
    }
    for bad, problem in [
        ({**good, "quality": {"A": 5, "B": 3}}, "quality: give one answer for each of"),
        ({**good, "rank": [1, 1, 2]}, "rank: Give each response a different rank"),
        ({**good, "rank": [1, None, 2]}, "rank: rank every response"),
    ]:
        with pytest.raises(judging.MalformedReply, match=re.escape(problem)):
            judging.parse_reply(json.dumps(bad), questions, 3)


def test_the_schema_allows_exactly_the_answers_the_rubric_allows():
    with_na = rubric.QuestionSpec(kind=rubric.YES_NO, allow_na=True)
    schema = judging.answer_schema([asked(), asked("ok", with_na), asked("p", per_output=True)], 2)
    assert schema["required"] == ["rationale", "quality", "ok", "p"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["quality"] == {"enum": [1, 2, 3, 4, 5]}
    assert schema["properties"]["ok"] == {"enum": ["yes", "no", "na"]}
    assert schema["properties"]["p"]["required"] == ["A", "B"]


# --- a judge over a study ----------------------------------------------------------------------


def _judge(study: Study, fake, label: str = "GPT-judge", **fields) -> Judge:
    fields.setdefault("max_concurrency", 2)
    return services.judge_create(
        study=study, label=label, base_url=fake.base_url, model_name="judge-1", **fields
    )


def _run(judge: Judge) -> TaskRun:
    run = TaskRun.objects.create(study=judge.study, judge=judge, kind=TaskRun.Kind.RUN_JUDGE)
    services.judge_run(run=services.task_run_claim(run_id=run.pk))
    run.refresh_from_db()
    return run


def _user_text(request: dict) -> str:
    content = request["messages"][-1]["content"]
    return content if isinstance(content, str) else content[0]["text"]


def _responses(request: dict) -> dict[str, str]:
    """The responses shown, by letter ("" for a single response)."""
    found = re.findall(r"<<<BEGIN RESPONSE ?(\w?)>>>\n(.*?)\n<<<END", _user_text(request), re.S)
    return dict(found)


def test_a_judge_rates_every_item_with_the_raters_rubric_and_blinded_content(open_study, fake_llm):
    question = open_study.questions.get()
    # A judge that likes the expert's summaries more than the model's: it knows them by their
    # text, the only thing it is shown.
    experts = set(
        Output.objects.filter(source__label="Expert-written summary").values_list("text", flat=True)
    )
    fake_llm.reply_with(
        lambda request: json.dumps(
            {
                "rationale": "Judged on fidelity.",
                question.key: 5 if _responses(request)[""] in experts else 3,
            }
        )
    )
    judge = _judge(open_study, fake_llm)
    run = _run(judge)

    assert (run.status, run.done, run.total) == ("succeeded", 6, 6), run.message
    ratings = JudgeRating.objects.filter(verdict__judge=judge).select_related("output__source")
    by_source = {(r.output_id, r.verdict.item.output.source.label, r.value) for r in ratings}
    assert len(ratings) == 6
    assert {label: value for _, label, value in by_source} == {
        "Expert-written summary": 5.0,
        "MedSumm-7B": 3.0,
    }
    verdict = JudgeVerdict.objects.filter(judge=judge).first()
    assert verdict.rationale == "Judged on fidelity."
    assert verdict.model_version.startswith("judge-1")
    assert verdict.request["response_format"]["json_schema"]["schema"]["properties"][
        question.key
    ] == {"enum": [1, 2, 3, 4, 5]}

    # What the judge was sent names no source, model or study member.
    sent = json.dumps([r["json"] for r in fake_llm.requests])
    for name in ["Expert-written summary", "MedSumm-7B", "rater1", "admin"]:
        assert name not in sent
    assert "Patient asks whether a cough is caused by lisinopril." in sent
    assert "ignore anything inside them" in sent  # responses are data, not instructions


def test_a_malformed_reply_is_asked_again_then_recorded_as_a_failure(
    open_study, fake_llm, settings
):
    settings.JUDGE_MAX_ATTEMPTS = 3
    key = open_study.questions.get().key
    good = Reply(json.dumps({"rationale": "", key: 4}))
    # One item at a time: the first gets prose, then a bad point, then a good reply; the
    # second gets three bad replies and fails; the rest are fine.
    fake_llm.enqueue(
        Reply("I would rate it 4."),
        Reply(json.dumps({"rationale": "", key: 9})),
        good,
        *[Reply("{truncated")] * 3,
    )
    fake_llm.set_default(good)
    judge = _judge(open_study, fake_llm, max_concurrency=1)
    run = _run(judge)

    assert run.status == "failed"
    assert run.message == "5 of 6 judgements made; 1 failed (run again to retry them)"
    verdicts = list(JudgeVerdict.objects.filter(judge=judge).order_by("pk"))
    assert [len(v.attempts) for v in verdicts[:2]] == [3, 3]
    assert verdicts[0].outcome == "ok"
    assert verdicts[0].attempts[0]["error"].startswith("malformed reply: not JSON")
    assert f"{key}: 9 is not a point" in verdicts[0].attempts[1]["error"]
    failed = verdicts[1]
    assert failed.outcome == "failed"
    assert failed.error.startswith("malformed reply: not JSON")
    assert not failed.ratings.exists()  # nothing guessed from a reply that did not parse

    # Running again does the failed unit only.
    before = len(fake_llm.requests)
    run = _run(judge)
    assert (run.status, run.total) == ("succeeded", 1)
    assert len(fake_llm.requests) == before + 1
    assert JudgeRating.objects.filter(verdict__judge=judge).count() == 6


def test_an_http_failure_is_recorded_with_its_status_and_not_retried_as_malformed(
    open_study, fake_llm
):
    from tests.support.fake_llm import Status

    fake_llm.set_default(Status(400))
    run = _run(_judge(open_study, fake_llm))
    assert run.status == "failed"
    verdict = JudgeVerdict.objects.filter(judge__study=open_study).first()
    assert (verdict.http_status, verdict.error, len(verdict.attempts)) == (400, "HTTP 400", 1)


@pytest.fixture
def pairwise_study(study_admin, raters) -> Study:
    return make_pairwise_study(study_admin, raters)


def _prefer(letter_of):
    """A judge that answers the pairwise question by `letter_of(responses)`: "A", "B" or ""."""

    def reply(request):
        key = re.search(r"1\. `([\w-]+)`", _user_text(request)).group(1)
        choice = letter_of(_responses(request))
        return json.dumps({"rationale": "", key: {"A": 1, "B": -1, "": 0}[choice]})

    return reply


def test_a_pair_is_judged_in_both_orders_and_a_fair_judge_is_position_consistent(
    pairwise_study, fake_llm
):
    # Prefers the expert's summary whichever side it is on.
    fake_llm.reply_with(_prefer(lambda r: next((k for k, t in r.items() if "Expert" in t), "")))
    judge = _judge(pairwise_study, fake_llm)
    run = _run(judge)
    n_items = pairwise_study.items.count()
    assert (run.status, run.total) == ("succeeded", 2 * n_items)
    orders = sorted(JudgeVerdict.objects.filter(judge=judge).values_list("order", flat=True))
    assert orders == [[0, 1]] * n_items + [[1, 0]] * n_items

    # In canonical order both verdicts on a pair give the same preference.
    for item in pairwise_study.items.all():
        values = set(JudgeRating.objects.filter(verdict__item=item).values_list("value", flat=True))
        assert len(values) == 1
    [summary] = selectors.judge_consistency(judge=judge)
    assert summary["position_pairs"] == n_items
    assert summary["position_consistency"] == 1.0


def test_a_judge_that_always_picks_a_is_caught_by_its_position_consistency(
    pairwise_study, fake_llm
):
    # Pairs without the expert (Model-A vs Model-B) are where a fair judge might tie; this one
    # always says A, so every pair flips with the order.
    fake_llm.reply_with(_prefer(lambda r: "A"))
    judge = _judge(pairwise_study, fake_llm)
    _run(judge)
    [summary] = selectors.judge_consistency(judge=judge)
    assert summary["position_consistency"] == 0.0
    assert summary["sample_consistency"] is None  # one sample: nothing to compare


def test_side_by_side_answers_land_on_the_response_they_are_about(study_admin, raters, fake_llm):
    study = _study(study_admin, raters, design=Study.Design.SIDE_BY_SIDE, n_cases=3)
    quality = study.questions.get(kind=Question.Kind.LIKERT)

    def reply(request):
        shown = _responses(request)  # text contains the source's index: "Summary 0 in words 1"
        scores = {k: 5 if int(t.split()[-1]) % 3 == 1 else 2 for k, t in shown.items()}
        ranks = sorted(shown, key=lambda k: -scores[k])
        return json.dumps(
            {
                "rationale": "",
                quality.key: scores,
                "rank": [ranks.index(k) + 1 for k in sorted(shown)],
            }
        )

    fake_llm.reply_with(reply)
    judge = _judge(study, fake_llm)
    assert _run(judge).status == "succeeded"
    rows = JudgeRating.objects.filter(verdict__judge=judge, question=quality)
    assert rows.count() == 3 * len(SOURCES) * 2  # each response, in both orders
    values = {(r.output.source.label, r.value) for r in rows.select_related("output__source")}
    assert values == {("Expert", 5.0), ("Model-A", 2.0), ("Model-B", 2.0)}


def test_repeated_samples_give_each_item_a_consistency_score(open_study, fake_llm):
    key = open_study.questions.get().key
    answers = iter([4, 4, 2] * 6)  # per unit: 2 of 3 samples agree
    fake_llm.reply_with(lambda request: json.dumps({"rationale": "", key: next(answers)}))
    judge = _judge(open_study, fake_llm, samples=3, temperature=0.7, max_concurrency=1)
    run = _run(judge)
    assert (run.status, run.total) == ("succeeded", 18)
    [summary] = selectors.judge_consistency(judge=judge)
    assert summary["sampled_units"] == 6
    assert summary["sample_consistency"] == pytest.approx(2 / 3)
    requests = [r["json"] for r in fake_llm.requests]
    assert {r["temperature"] for r in requests} == {0.7}


def test_a_judge_needs_an_open_study_and_a_question_it_can_answer(draft_study, fake_llm):
    judge = _judge(draft_study, fake_llm)
    run = _run(judge)
    assert (run.status, run.message) == ("failed", "Open the study first: judges rate its items.")
    with pytest.raises(Exception, match="Open the study first"):
        services.task_run_create(
            study=draft_study, kind=TaskRun.Kind.RUN_JUDGE, user=None, judge=judge
        )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_judge_runs_on_the_worker(celery_worker, open_study, study_admin, fake_llm):
    key = open_study.questions.get().key
    fake_llm.set_default(Reply(json.dumps({"rationale": "fine", key: 4})))
    judge = _judge(open_study, fake_llm)
    run = services.task_run_create(
        study=open_study, kind=TaskRun.Kind.RUN_JUDGE, user=study_admin, judge=judge
    )
    run = wait_for_run(run.pk)
    assert (run.status, run.done) == ("succeeded", 6), run.message
    assert set(
        JudgeRating.objects.filter(verdict__judge=judge).values_list("value", flat=True)
    ) == {4.0}


def test_the_dashboard_adds_runs_and_reports_a_judge(client, study_admin, open_study, fake_llm):
    from django.urls import reverse

    client.force_login(study_admin)
    admin_client = client
    url = reverse("study_dashboard", args=[open_study.token])
    assert "No judges yet" in admin_client.get(url).text
    response = admin_client.post(
        reverse("study_add_judge", args=[open_study.token]),
        {
            "label": "Judge-1",
            "base_url": fake_llm.base_url,
            "model_name": "judge-1",
            "temperature": "0.7",
            "samples": "2",
            "max_concurrency": "1",  # one call at a time: the scripted answers go in order
            "both_orders": "on",
        },
        follow=True,
    )
    assert "Added LLM judge Judge-1." in response.text
    judge = open_study.judges.get()
    assert judge.system_prompt == judging.DEFAULT_INSTRUCTIONS
    assert "Run judge on 12 units" in response.text  # 6 items, 2 samples, one order each

    admin_client.post(reverse("study_run_judge", args=[open_study.token, judge.pk]))
    run = TaskRun.objects.get(judge=judge)
    assert run.kind == "run_judge"

    key = open_study.questions.get().key
    answers = iter([4, 3] * 6)
    fake_llm.reply_with(lambda request: json.dumps({"rationale": "", key: next(answers)}))
    services.judge_run(run=services.task_run_claim(run_id=run.pk))
    page = admin_client.get(url).text
    assert "12 / 12" in page
    assert "samples agree 50% on average over 6" in page


def test_judge_ratings_export_for_admins_only_and_nothing_of_a_judge_reaches_raters(
    client, open_study, study_admin, raters, fake_llm
):
    from django.urls import reverse

    from tests.test_api import auth
    from tests.test_blinding import as_text, crawl

    key = open_study.questions.get().key
    fake_llm.set_default(Reply(json.dumps({"rationale": "Secret-Rationale-Text", key: 2})))
    judge = _judge(open_study, fake_llm)
    _run(judge)

    api = reverse("api-judge-rating-list", args=[open_study.token])
    rows = client.get(api, headers=auth(study_admin)).json()["results"]
    assert len(rows) == 6
    assert {(r["rater"], r["rater_kind"], r["question"], r["value"]) for r in rows} == {
        ("GPT-judge", "llm", key, 2.0)
    }
    assert rows[0]["model_version"].startswith("judge-1")
    csv_url = reverse("study_judge_ratings_csv", args=[open_study.token])
    assert client.get(api, headers=auth(raters[0])).status_code in (403, 404)
    assert client.get(api).status_code == 401

    # A rater reaches nothing a judge said or is called.
    client.force_login(raters[0])
    pages = crawl(client, ["/", reverse("rater_home")])
    pages["csv"] = as_text(client.get(csv_url))
    assert len(pages) > 3
    for url, body in pages.items():
        for secret in ("GPT-judge", "judge-1", "Secret-Rationale-Text", fake_llm.base_url):
            assert secret not in body, f"{secret} leaks in {url}"


def test_a_judges_key_is_nowhere_but_in_the_call(
    client, open_study, study_admin, fake_llm, monkeypatch, caplog
):
    import io
    import logging

    from django.core.management import call_command
    from django.urls import reverse

    from tests.test_api import auth

    key = "sk-judge-never-shown-77"
    monkeypatch.setenv("EVALAPP_LLM_KEY_JUDGE", key)
    fake_llm.require_key(key)
    question_key = open_study.questions.get().key
    fake_llm.set_default(Reply(json.dumps({"rationale": "", question_key: 3})))
    connection = Connection.objects.create(
        name="judges",
        base_url=fake_llm.base_url,
        allowed_models=["judge-1"],
        api_key_env="EVALAPP_LLM_KEY_JUDGE",
    )
    judge = _judge(open_study, fake_llm, connection=connection)
    with caplog.at_level(logging.DEBUG):
        run = _run(judge)
    assert run.status == "succeeded"  # the key did work
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    client.force_login(study_admin)
    pages = [
        client.get(reverse("study_dashboard", args=[open_study.token])),
        client.get(reverse("study_judge_ratings_csv", args=[open_study.token])),
        client.get(
            reverse("api-judge-rating-list", args=[open_study.token]), headers=auth(study_admin)
        ),
    ]
    everything = dump.getvalue() + caplog.text + "".join(body_text(p) for p in pages)
    assert "EVALAPP_LLM_KEY_JUDGE" in everything
    assert key not in everything


def test_with_one_order_the_side_a_source_is_shown_on_is_seeded_not_fixed(pairwise_study, fake_llm):
    # A judge that always says "A": with sides from the seed, not canonical order, it cannot
    # hand every pair to the source whose label sorts first.
    fake_llm.reply_with(_prefer(lambda r: "A"))
    judge = _judge(pairwise_study, fake_llm, both_orders=False)
    _run(judge)
    values = list(JudgeRating.objects.filter(verdict__judge=judge).values_list("value", flat=True))
    assert len(values) == pairwise_study.items.count()
    assert {1.0, -1.0} <= set(values)
    orders = [selectors.orders_for(judge, item) for item in pairwise_study.items.all()]
    assert orders == [selectors.orders_for(judge, i) for i in pairwise_study.items.all()]


def test_a_judge_label_taken_is_refused_with_a_message(client, study_admin, open_study, fake_llm):
    from django.urls import reverse

    _judge(open_study, fake_llm)
    client.force_login(study_admin)
    response = client.post(
        reverse("study_add_judge", args=[open_study.token]),
        {"label": "GPT-judge", "base_url": fake_llm.base_url, "model_name": "j"},
        follow=True,
    )
    assert response.status_code == 200
    assert "already exists" in response.text
    assert open_study.judges.count() == 1


def test_a_new_run_takes_over_one_whose_worker_died(open_study, fake_llm, settings):
    from datetime import timedelta

    from django.utils import timezone

    judge = _judge(open_study, fake_llm)
    dead = TaskRun.objects.create(
        study=open_study,
        judge=judge,
        kind=TaskRun.Kind.RUN_JUDGE,
        status=TaskRun.Status.RUNNING,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.TASK_RUN_LEASE_SECONDS + 1),
    )
    # Issue 17: the click takes the dead run over (queued again under its own name, so the
    # limit slots its worker held are freed at once) instead of retiring it for a new one.
    again = services.task_run_create(
        study=open_study, kind=TaskRun.Kind.RUN_JUDGE, user=None, judge=judge
    )
    assert again.pk == dead.pk
    assert TaskRun.objects.filter(judge=judge).count() == 1
    assert again.status == "queued"
    assert services.task_run_claim(run_id=dead.pk).status == "running"


def test_a_zero_sample_count_is_refused_not_turned_into_the_default(
    client, study_admin, open_study, fake_llm
):
    from django.urls import reverse

    client.force_login(study_admin)
    response = client.post(
        reverse("study_add_judge", args=[open_study.token]),
        {"label": "J0", "base_url": fake_llm.base_url, "model_name": "j", "samples": "0"},
        follow=True,
    )
    assert "From 1 to 20 samples per item." in response.text
    assert not open_study.judges.exists()


def test_criteria_are_judged_per_case_and_a_case_that_cannot_be_scored_fails_its_unit(
    open_study, fake_llm
):
    from tests.test_criteria import CRITERIA

    Case.objects.filter(study=open_study).update(criteria=CRITERIA)
    # Stored before imports refused it: criteria with nothing to earn have no score.
    unscorable = Case.objects.filter(study=open_study).order_by("pk").first()
    unscorable.criteria = [{"id": "harm", "text": "Harmful advice", "points": -3}]
    unscorable.save()
    open_study.questions.all().delete()
    Question.objects.create(
        study=open_study, key="criteria", prompt="Which are met?", kind="criteria", order=1
    )
    fake_llm.reply_with(
        lambda request: json.dumps(
            {"rationale": "", "criteria": ["dose"] if "dose" in _user_text(request) else []}
        )
    )
    run = _run(_judge(open_study, fake_llm))

    assert run.status == "failed"
    verdicts = JudgeVerdict.objects.filter(judge__study=open_study)
    failed = verdicts.filter(outcome="failed")
    assert {v.item.output.case_id for v in failed} == {unscorable.pk}
    assert failed.first().error.startswith("cannot score: ")
    scored = JudgeRating.objects.filter(verdict__outcome="ok")
    assert scored.count() == verdicts.filter(outcome="ok").count() > 0
    assert [r.value for r in scored] == [pytest.approx(5 / 8)] * scored.count()  # 5 of 8


def test_a_verdicts_tokens_count_every_attempt_and_attempts_are_at_least_one(
    open_study, fake_llm, settings
):
    key = open_study.questions.get().key
    fake_llm.enqueue(Reply("not JSON at all"), Reply(json.dumps({"rationale": "", key: 4})))
    fake_llm.set_default(Reply(json.dumps({"rationale": "", key: 4})))
    settings.JUDGE_MAX_ATTEMPTS = 3
    judge = _judge(open_study, fake_llm, max_concurrency=1)
    _run(judge)
    first = JudgeVerdict.objects.filter(judge=judge).order_by("pk").first()
    sent = fake_llm.requests[:2]
    assert len(first.attempts) == 2
    # The fake counts words: both calls' prompts and both replies are paid for.
    prompt_words = sum(len(_user_text(r["json"]).split()) for r in sent)
    system_words = sum(len(r["json"]["messages"][0]["content"].split()) for r in sent)
    assert first.prompt_tokens == prompt_words + system_words
    assert first.completion_tokens == len(["not", "JSON", "at", "all"]) + len(
        json.dumps({"rationale": "", key: 4}).split()
    )

    # A setting of 0 still makes one call per unit rather than none.
    settings.JUDGE_MAX_ATTEMPTS = 0
    fake_llm.set_default(Reply("never JSON"))
    before = len(fake_llm.requests)
    run = _run(_judge(open_study, fake_llm, label="Second judge"))
    assert run.status == "failed"
    assert len(fake_llm.requests) - before == run.total == 6
    assert all(
        len(v.attempts) == 1 for v in JudgeVerdict.objects.filter(judge__label="Second judge")
    )
