"""LLM judges: create one, and run it over the study's items (the task behind "Run judge")."""

import threading
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from annotation.core import judging, llm, rubric
from annotation.models import (
    Case,
    Judge,
    JudgeRating,
    JudgeVerdict,
    Output,
    Question,
    Study,
    TaskRun,
)
from annotation.selectors.judges import Unit, judge_units_missing, judged_questions
from annotation.services.audit import audit_record
from annotation.services.call_limits import call_deadline_seconds, limits_for
from annotation.services.generation import (
    RateLimitTally,
    attempts_summed,
    call_provenance,
    case_images,
    endpoint_fields_save,
    endpoint_state,
    limited_call,
    run_calls,
)
from annotation.services.rating import question_spec_for
from annotation.services.task_runs import (
    statistics_recompute_soon,
    study_for_change,
    task_run_finish,
    task_run_progress,
    with_database_retries,
)


@transaction.atomic
def judge_create(*, study: Study, label: str, **endpoint) -> Judge:
    """Add an LLM judge; it can run once the study is open and its items exist. Not to a
    locked study, unless its analysis is reopened, nor to an archived one: a judge's
    agreement with the raters is among the study's statistics."""
    unknown = set(endpoint) - set(Judge.ENDPOINT_FIELDS)
    if unknown:
        raise TypeError(f"unknown judge fields: {sorted(unknown)}")
    # The study's row locked, as for a judge run: a lock waits for this judge to be recorded.
    if frozen := Study.objects.select_for_update().get(pk=study.pk).statistics_frozen_reason():
        raise ValidationError(frozen)
    endpoint.setdefault("system_prompt", judging.DEFAULT_INSTRUCTIONS)
    judge = Judge(study=study, label=label, **endpoint)
    judge.full_clean()
    judge.save()
    audit_record(action="judge.created", study=study, target=judge, details=endpoint_state(judge))
    return judge


@transaction.atomic
def judge_update(*, judge: Judge, **fields) -> Judge:
    """Change a judge's label or settings (those judge_create takes), with the same checks,
    until it has judged anything: its verdicts must all come from one configuration, so a
    judge that has run is kept as it is (add another judge to try other settings)."""
    unknown = set(fields) - {"label", *Judge.ENDPOINT_FIELDS}
    if unknown:
        raise TypeError(f"unknown judge fields: {sorted(unknown)}")
    study = study_for_change(judge.study_id)
    if frozen := study.statistics_frozen_reason():
        raise ValidationError(frozen)
    judge = Judge.objects.select_for_update().get(pk=judge.pk)
    # Scoring reading answers (JudgeScore) is judging too: one configuration for all of it.
    judged = (TaskRun.Kind.RUN_JUDGE, TaskRun.Kind.JUDGE_ANSWERS)
    started = (
        judge.verdicts.exists()
        or judge.answer_scores.exists()
        or TaskRun.objects.filter(judge=judge, kind__in=judged).exists()
    )
    if started:
        raise ValidationError(
            f"{judge.label} has already been run, so its settings stay as they were: every "
            "verdict must come from one configuration. Add another judge to try other settings."
        )
    return endpoint_fields_save(judge, study.judges, fields, noun="judge")


@dataclass(frozen=True)
class Call:
    """Everything one unit sends, built in the task's thread a few units ahead of the calls;
    threads only make the calls."""

    unit: Unit
    shown: list[Output]
    questions: list[judging.AskedQuestion]
    by_key: dict[str, Question]
    text: str
    images: tuple[llm.Image, ...]


def judge_run(*, run: TaskRun) -> None:
    """Judge every unit still missing, retrying malformed replies; record each as it comes."""
    judge = run.judge
    study = judge.study
    if study.status == Study.Status.DRAFT:
        task_run_finish(run=run, ok=False, message="Open the study first: judges rate its items.")
        return
    # Queued before the study was locked (or its analysis closed), and sent again after: a
    # locked study's figures never include what a judge did after the lock.
    if frozen := study.statistics_frozen_reason():
        task_run_finish(run=run, ok=False, message=frozen)
        return
    questions = judged_questions(study)
    if not questions:
        task_run_finish(run=run, ok=False, message="The rubric has no question a judge answers.")
        return
    # A missing key fails the run at once, naming it, before any call is made.
    problem = judge.endpoint_problem()
    if problem:
        task_run_finish(run=run, ok=False, message=problem)
        return
    # requests and urllib3: loaded by the worker that calls, not the web (issue 22).
    from annotation.core import llm_http

    units = judge_units_missing(judge)
    task_run_progress(run=run, done=0, total=len(units))
    images = _ImagesOfLastCase(judge.send_images)
    shared = limits_for(judge, key=f"judge:{judge.pk}")
    owner = f"run-{run.pk}"
    shared.forget(owner)
    local = threading.local()

    def call(prepared: Call) -> tuple[llm.Completion, judging.Reply | None, list[dict]]:
        endpoint = judge.endpoint(
            response_format=judging.response_format(prepared.questions, len(prepared.shown))
        )
        attempts, spent, waited = [], [0, 0], [0, 0]
        for _ in range(max(1, settings.JUDGE_MAX_ATTEMPTS)):
            completion = limited_call(
                shared,
                owner,
                local,
                lambda session, endpoint=endpoint: llm_http.complete(
                    session,
                    endpoint,
                    prepared.text,
                    images=prepared.images,
                    timeout=settings.LLM_REQUEST_TIMEOUT,
                    deadline=call_deadline_seconds(),
                ),
                endpoint,
                keyless=judge.connection_id is None,
            )
            # Every call is paid for and every wait on a rate limit counted: the verdict's
            # tokens (and cost) and the job's message count all its attempts.
            attempts_summed(completion, spent, waited)
            if completion.text is None:
                # Transient HTTP failures were already retried by the client: stop here.
                attempts.append({"error": completion.error, "http_status": completion.http_status})
                return completion, None, attempts
            try:
                reply = judging.parse_reply(
                    completion.text, prepared.questions, len(prepared.shown)
                )
            except judging.MalformedReply as exc:
                attempts.append({"error": f"malformed reply: {exc}", "http_status": 200})
                continue
            attempts.append({"error": "", "http_status": 200})
            return completion, reply, attempts
        return completion, None, attempts

    lost = RateLimitTally()

    def record(prepared: Call, result) -> bool:
        completion, reply, attempts = result
        lost.add(completion)
        return verdict_record(
            judge=judge, prepared=prepared, completion=completion, reply=reply, attempts=attempts
        )

    done, failures = run_calls(
        run,
        units,
        concurrency=judge.max_concurrency,
        call=call,
        record=record,
        prepare=lambda unit: _prepare(study, questions, unit, images),
    )
    message = f"{done - failures} of {len(units)} judgements made"
    if failures:
        message += f"; {failures} failed (run again to retry them)"
    message += lost.note()
    if done < len(units):  # stopped by a cancel
        task_run_finish(run=run, ok=False, message=f"Cancelled: {message}.", cancelled=True)
        statistics_recompute_soon(study=run.study)  # what it finished counts
        return
    task_run_finish(run=run, ok=failures == 0, message=message)
    statistics_recompute_soon(study=run.study)


class _ImagesOfLastCase:
    """A case's images, read once for all of its units in a row (orders and samples)."""

    def __init__(self, send: bool) -> None:
        self.send, self.case_id, self.images = send, None, ()

    def __call__(self, case: Case) -> tuple[llm.Image, ...]:
        if not self.send:
            return ()
        if case.pk != self.case_id:
            self.case_id, self.images = case.pk, case_images(case)
        return self.images


def _prepare(study: Study, questions: list[Question], unit: Unit, images) -> Call:
    canonical = unit.item.canonical_outputs()
    shown = [canonical[slot] for slot in unit.order]
    case = shown[0].case
    asked = [
        judging.AskedQuestion(
            key=q.key,
            prompt=q.prompt,
            help_text=q.help_text,
            spec=question_spec_for(question=q, output=shown[0], n_outputs=len(shown)),
            per_output=study.asks_per_output(q),
            required=q.required,
        )
        for q in questions
    ]
    text = judging.render_prompt(
        case_input=case.input_text,
        reference=case.reference if study.show_reference else "",
        responses=[output.text for output in shown],
        questions=asked,
    )
    return Call(unit, shown, asked, {q.key: q for q in questions}, text, images(case))


def verdict_record(
    *,
    judge: Judge,
    prepared: Call,
    completion: llm.Completion,
    reply: judging.Reply | None,
    attempts: list[dict],
) -> bool:
    """Store a unit's outcome: its answers, in rater form, when the reply parsed; otherwise
    the failure, with every attempt's reason. False when it failed. A write lost to a database
    restart is retried whole, with rows built afresh: a reply that came back is never dropped."""
    call_id = uuid.uuid4()  # the same for every try: a retry after a lost COMMIT finds it
    return with_database_retries(
        lambda: _verdict_store(
            judge=judge,
            prepared=prepared,
            completion=completion,
            reply=reply,
            attempts=attempts,
            call_id=call_id,
        )
    )


def _verdict_store(
    *,
    judge: Judge,
    prepared: Call,
    completion: llm.Completion,
    reply: judging.Reply | None,
    attempts: list[dict],
    call_id: uuid.UUID,
) -> bool:
    stored = JudgeVerdict.objects.filter(call_id=call_id).values_list("outcome", flat=True)
    for outcome in stored:  # an earlier try committed; only the reply to its COMMIT was lost
        return outcome == JudgeVerdict.Outcome.OK
    unit = prepared.unit
    verdict = JudgeVerdict(
        call_id=call_id,
        judge=judge,
        item=unit.item,
        order=unit.order,
        variant=unit.variant,
        sample=unit.sample,
        outcome=JudgeVerdict.Outcome.OK if reply else JudgeVerdict.Outcome.FAILED,
        error="" if reply else (attempts[-1]["error"] if attempts else completion.error),
        rationale=reply.rationale if reply else "",
        attempts=attempts,
        **call_provenance(completion, judge),
    )
    if reply is None:
        verdict.save()
        return False
    try:
        ratings = _ratings(verdict, prepared, reply)
    except rubric.AnswerError as exc:  # e.g. a case whose criteria give no points to earn
        verdict.outcome, verdict.error = JudgeVerdict.Outcome.FAILED, f"cannot score: {exc}"
        verdict.save()
        return False
    try:
        with transaction.atomic():
            verdict.save()
            for rating in ratings:
                rating.verdict = verdict
            JudgeRating.objects.bulk_create(ratings)
    except IntegrityError:
        return True  # a duplicate delivery stored this unit first; its verdict stands
    return True


def _ratings(verdict: JudgeVerdict, prepared: Call, reply: judging.Reply) -> list[JudgeRating]:
    flipped = verdict.order == [1, 0]
    rows = []
    for asked in prepared.questions:
        question = prepared.by_key[asked.key]
        answer = reply.answers[asked.key]
        if asked.per_output:
            for output, one in zip(prepared.shown, answer, strict=True):
                spec = question_spec_for(question=question, output=output)
                rows.append(
                    JudgeRating(
                        verdict=verdict,
                        question=question,
                        output=output,
                        answer=one,
                        value=rubric.numeric_code(spec, one),
                    )
                )
            continue
        value = rubric.numeric_code(asked.spec, answer)
        if question.kind == Question.Kind.PAIRWISE and flipped and value is not None:
            value = -value  # canonical order, as for raters: positive when the first is better
        rows.append(JudgeRating(verdict=verdict, question=question, answer=answer, value=value))
    return rows
