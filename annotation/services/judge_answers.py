"""An LLM judge as a scorer of assisted-reading answers (docs/assisted-reading.md): the task
behind "Score answers with a judge". The judge is asked the clinician scorer's question
(core.reading.judge) about every answer exact match left undecided, and about a seeded sample
of those it decided when the admin asks for one; each decision is stored as a JudgeScore,
apart from the AnswerScore the statistics read, so that it is only ever compared with the
clinician's (the judge's agreement with the scorer), never used in its place."""

import threading
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction

from annotation.core import llm
from annotation.core.judging import MalformedReply
from annotation.core.reading import judge as answer_judge
from annotation.models import JudgeScore, Study, TaskRun
from annotation.selectors.reading import (
    JudgedAnswer,
    judge_answers_missing,
    judge_answers_refusal,
)
from annotation.services.call_limits import call_deadline_seconds, limits_for
from annotation.services.generation import (
    RateLimitTally,
    attempts_summed,
    call_provenance,
    limited_call,
    run_calls,
)
from annotation.services.task_runs import (
    statistics_recompute_soon,
    task_run_finish,
    task_run_progress,
    with_database_retries,
)


def judge_answers_run(*, run: TaskRun) -> None:
    """Have the run's judge score every answer it has no parsed decision on, retrying
    malformed replies, recording each as it comes; the statistics follow."""
    judge, study = run.judge, run.study
    refusal = judge_answers_refusal(study) or study.statistics_frozen_reason()
    if not refusal and study.status == Study.Status.DRAFT:
        refusal = "Open the study first: a judge scores submitted answers."
    refusal = refusal or judge.endpoint_problem()
    if refusal:
        task_run_finish(run=run, ok=False, message=refusal)
        return
    units = judge_answers_missing(judge=judge, decided_sample=run.decided_sample)
    task_run_progress(run=run, done=0, total=len(units))
    shared = limits_for(judge, key=f"judge:{judge.pk}")
    owner = f"run-{run.pk}"
    shared.forget(owner)
    local = threading.local()
    lost = RateLimitTally()

    def call(unit: JudgedAnswer):
        return _ask(
            judge,
            unit,
            lambda endpoint, call: limited_call(
                shared, owner, local, call, endpoint, keyless=judge.connection_id is None
            ),
        )

    def record(unit: JudgedAnswer, result) -> bool:
        completion, decision, attempts = result
        lost.add(completion)
        return judge_score_record(
            judge=judge, unit=unit, completion=completion, decision=decision, attempts=attempts
        )

    done, failures = run_calls(
        run, units, concurrency=judge.max_concurrency, call=call, record=record
    )
    message = f"{done - failures} of {len(units)} answers scored by {judge.label}"
    if failures:
        message += f"; {failures} failed (run again to retry them)"
    message += lost.note()
    if done < len(units):  # stopped by a cancel: what it finished counts
        task_run_finish(run=run, ok=False, message=f"Cancelled: {message}.", cancelled=True)
    else:
        task_run_finish(run=run, ok=failures == 0, message=message)
    statistics_recompute_soon(study=study)


def _ask(judge, unit: JudgedAnswer, limited):
    """The calls for one answer: up to JUDGE_MAX_ATTEMPTS while the reply is malformed.
    Returns (last completion, decision or None, every attempt's problem)."""
    # requests and urllib3: loaded by the worker that calls, not the web (issue 22).
    from annotation.core import llm_http

    shown = unit.shown
    endpoint = judge.endpoint(response_format=answer_judge.response_format(shown))
    text = answer_judge.render_prompt(shown)
    attempts, spent, waited = [], [0, 0], [0, 0]
    completion = None
    for _ in range(max(1, settings.JUDGE_MAX_ATTEMPTS)):
        completion = limited(
            endpoint,
            lambda session, endpoint=endpoint: llm_http.complete(
                session,
                endpoint,
                text,
                timeout=settings.LLM_REQUEST_TIMEOUT,
                deadline=call_deadline_seconds(),
            ),
        )
        # Every call is paid for and every wait counted: the record sums its attempts.
        attempts_summed(completion, spent, waited)
        if completion.text is None:  # transient HTTP failures were retried by the client
            attempts.append({"error": completion.error, "http_status": completion.http_status})
            return completion, None, attempts
        try:
            decision = answer_judge.parse_reply(completion.text, shown)
        except MalformedReply as exc:
            attempts.append({"error": f"malformed reply: {exc}", "http_status": 200})
            continue
        attempts.append({"error": "", "http_status": 200})
        return completion, decision, attempts
    return completion, None, attempts


def judge_score_record(
    *,
    judge,
    unit: JudgedAnswer,
    completion: llm.Completion,
    decision: answer_judge.Decision | None,
    attempts: list[dict],
) -> bool:
    """Store one answer's outcome: the decision when the reply parsed, else the failure with
    every attempt's reason. A decision on an earlier wording of the answer is replaced. False
    when it failed; a write lost to a database restart is retried whole."""
    call_id = uuid.uuid4()
    return with_database_retries(
        lambda: _store(judge, unit, completion, decision, attempts, call_id)
    )


def _store(judge, unit, completion, decision, attempts, call_id) -> bool:
    stored = JudgeScore.objects.filter(call_id=call_id).values_list("outcome", flat=True)
    for outcome in stored:  # an earlier try committed; only the reply to its COMMIT was lost
        return outcome == JudgeScore.Outcome.OK
    row = JudgeScore(
        call_id=call_id,
        judge=judge,
        score_id=unit.score_id,
        answer=unit.answer,
        sampled=unit.sampled,
        outcome=JudgeScore.Outcome.OK if decision else JudgeScore.Outcome.FAILED,
        right=decision.right if decision else None,
        rank=decision.rank if decision else None,
        rationale=decision.rationale if decision else "",
        error="" if decision else (attempts[-1]["error"] if attempts else completion.error),
        attempts=attempts,
        **call_provenance(completion, judge),
    )
    if decision is None:
        row.save()
        return False
    try:
        with transaction.atomic():
            # A decision on the answer's earlier wording no longer applies.
            JudgeScore.objects.filter(
                judge=judge, score_id=unit.score_id, outcome=JudgeScore.Outcome.OK
            ).exclude(answer=unit.answer).delete()
            row.save()
    except IntegrityError:
        return True  # a duplicate delivery stored this answer's decision first
    return True
