"""Model sources, and fetching their generations from model endpoints (concurrently, within each
endpoint's limits), recorded with their provenance."""

import logging
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.core import limits, llm, rate_limits
from annotation.models import (
    Case,
    Generation,
    ModelEndpoint,
    Output,
    Source,
    Study,
    TaskRun,
)
from annotation.services.audit import audit_record, changes
from annotation.services.call_limits import call_deadline_seconds, limits_for
from annotation.services.task_runs import (
    TaskRunLost,
    cancel_requested,
    study_for_change,
    task_run_finish,
    task_run_progress,
    with_database_retries,
)

logger = logging.getLogger(__name__)


@transaction.atomic
def source_create(*, study: Study, label: str, kind: str = Source.Kind.MODEL, **endpoint) -> Source:
    """Add a source; with endpoint fields (Source.ENDPOINT_FIELDS), a model the worker calls."""
    if not study.accepts_imports:
        raise ValidationError("Sources can only be added while the study is a draft.")
    unknown = set(endpoint) - set(Source.ENDPOINT_FIELDS)
    if unknown:
        raise TypeError(f"unknown endpoint fields: {sorted(unknown)}")
    source = Source(study=study, label=label, kind=kind, **endpoint)
    source.full_clean()
    source.save()
    audit_record(
        action="source.created", study=study, target=source, details=endpoint_state(source)
    )
    return source


@transaction.atomic
def source_update(*, source: Source, **fields) -> Source:
    """Change a source's label, kind or endpoint settings (those source_create takes), with the
    same checks, while its study is a draft: once open, its outputs are the study's arms."""
    unknown = set(fields) - {"label", "kind", *Source.ENDPOINT_FIELDS}
    if unknown:
        raise TypeError(f"unknown source fields: {sorted(unknown)}")
    study = study_for_change(source.study_id)
    if not study.accepts_imports:
        raise ValidationError(
            "Sources can only be changed while the study is a draft: once it is open, its "
            "outputs are fixed and raters are rating them."
        )
    source = Source.objects.get(pk=source.pk)
    return endpoint_fields_save(source, study.sources, fields, noun="source")


def endpoint_fields_save(row, siblings, fields: dict, *, noun: str):
    """A source's or judge's changed fields, checked as on creation (its label unique among
    `siblings`, the study's others), then saved."""
    label = fields.get("label", row.label)
    if siblings.filter(label=label).exclude(pk=row.pk).exists():
        raise ValidationError({"label": f"Another {noun} of this study is called {label}."})
    before = endpoint_state(row)
    for name, value in fields.items():
        setattr(row, name, value)
    row.full_clean()
    row.save()
    if diff := changes(before, endpoint_state(row)):
        audit_record(action=f"{noun}.changed", study=row.study, target=row, details=diff)
    return row


def endpoint_state(row) -> dict:
    """A source's or judge's settings as the audit trail records them (never a key: the
    operator's connections hold those, and only their names are here)."""
    names = ("label", *(("kind",) if hasattr(row, "kind") else ()), *row.ENDPOINT_FIELDS)
    state = {name: getattr(row, name) for name in names}
    if "connection" in state:
        state["connection"] = state["connection"].name if state["connection"] else None
    return state


def outputs_fetch_missing(*, run: TaskRun) -> None:
    """Generate an output for every case that has none from the run's source."""
    source = run.source
    if source is None or not source.can_generate:
        task_run_finish(run=run, ok=False, message="The source has no model endpoint configured.")
        return
    if not source.study.accepts_imports:
        task_run_finish(run=run, ok=False, message="The study was opened; its outputs are fixed.")
        return
    # A missing key fails the run at once, naming it, before any call is made.
    problem = source.endpoint_problem()
    if problem:
        task_run_finish(run=run, ok=False, message=problem)
        return
    endpoint = source.endpoint()
    missing = units_missing(source)
    task_run_progress(run=run, done=0, total=len(missing))
    lost = RateLimitTally()
    done, failures = _fetch_concurrently(run, source, endpoint, missing, lost)
    message = f"{done - failures} of {len(missing)} outputs generated"
    if failures:
        message += f"; {failures} failed (see the generation log; run again to retry them)"
    message += lost.note()
    if done < len(missing):  # stopped by a cancel
        message = f"Cancelled: {message}; run again for the rest."
        task_run_finish(run=run, ok=False, message=message, cancelled=True)
        return
    task_run_finish(run=run, ok=failures == 0, message=message)


def units_missing(source: Source) -> list[tuple[Case, int]]:
    """The units of work a fetch still has to do: (case, sample) pairs with no output yet,
    failed ones included. Training and attention-check cases come with their own outputs."""
    cases = list(Case.objects.filter(study=source.study, role=Case.Role.STUDY).order_by("pk"))
    done = set(Output.objects.filter(source=source).values_list("case_id", "sample"))
    return [
        (case, sample)
        for sample in range(source.samples_per_case)
        for case in cases
        if (case.pk, sample) not in done
    ]


class RateLimitTally:
    """The time a job's calls lost waiting on rate limits, for its message."""

    def __init__(self) -> None:
        self.milliseconds = self.waits = 0

    def add(self, completion: llm.Completion) -> None:
        self.milliseconds += completion.rate_limit_wait_ms
        self.waits += completion.rate_limit_waits

    def note(self) -> str:
        """E.g. "; 12.3 s waiting on rate limits (4 waits after 429/503 answers)", or ""."""
        lost = rate_limits.describe_lost(self.milliseconds, self.waits)
        return f"; {lost}" if lost else ""


# How often a running job reports progress (its heartbeat) and looks for a cancel request.
PROGRESS_EVERY_SECONDS = 0.5


class Settled:
    """What `prepare` returns for a unit it dealt with itself (recorded without a call)."""

    def __init__(self, ok: bool) -> None:
        self.ok = ok


def run_calls(
    run: TaskRun,
    units: Iterable,
    *,
    concurrency: int,
    call,
    record,
    prepare=None,
    done_before: int = 0,
) -> tuple[int, int]:
    """Do `call(prepare(unit))` for every unit, `concurrency` at a time in a thread pool, and
    `record(prepared, result)` each result in this thread as it comes (True when it succeeded).

    Units are prepared here, in this thread, only a few ahead of the calls, so a run over
    thousands of cases with images holds a window of them in memory, not all. `prepare` may
    return `Settled` for a unit it recorded itself without a call. Calls make HTTP requests
    only; every database write happens here. The run's heartbeat and progress go out every
    PROGRESS_EVERY_SECONDS even while every call is still waiting, and a cancel request stops
    the calls not yet started. Returns (units done, failures), counting `done_before` units the
    caller settled beforehand."""
    cancelled = threading.Event()
    tally = {"done": done_before, "failures": 0}
    queue = iter(units)
    window = 2 * concurrency

    def guarded(prepared):
        return None if cancelled.is_set() else call(prepared)

    def fill(pool, pending) -> None:
        while len(pending) < window and not cancelled.is_set():
            unit = next(queue, _END)
            if unit is _END:
                return
            prepared = with_database_retries(partial(prepare, unit)) if prepare else unit
            if isinstance(prepared, Settled):
                tally["done"] += 1
                tally["failures"] += not prepared.ok
                continue
            pending[pool.submit(guarded, prepared)] = prepared

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        pending: dict = {}
        try:
            fill(pool, pending)
            _collect(run, pending, record, cancelled, tally, lambda: fill(pool, pending))
        except BaseException:
            # Whatever broke, start no more calls: none of their results could be stored.
            cancelled.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    task_run_progress(run=run, done=tally["done"])
    return tally["done"], tally["failures"]


_END = object()


def _collect(run, pending, record, cancelled, tally, refill) -> None:
    """Record results as they come, topping the window up; beat and look for a cancel every
    PROGRESS_EVERY_SECONDS."""
    reported = time.monotonic()
    lost = False
    while pending:
        finished, _ = wait(pending, timeout=PROGRESS_EVERY_SECONDS, return_when=FIRST_COMPLETED)
        for future in finished:
            prepared = pending.pop(future)
            result = future.result()
            if result is None:
                continue  # not sent: the run was cancelled first
            tally["failures"] += not record(prepared, result)
            tally["done"] += 1
        if not lost and time.monotonic() - reported >= PROGRESS_EVERY_SECONDS:
            reported = time.monotonic()
            try:
                task_run_progress(run=run, done=tally["done"])
            except TaskRunLost:
                # Another worker holds the run now: start no call it will make too. Those in
                # flight are paid for and recorded; the caller's last report raises.
                lost = True
                cancelled.set()
            if not cancelled.is_set() and cancel_requested(run):
                cancelled.set()  # calls not yet started are dropped; those in flight finish
        refill()


def _fetch_concurrently(
    run: TaskRun, source: Source, endpoint: llm.Endpoint, units, lost: RateLimitTally
) -> tuple[int, int]:
    """Call the endpoint for every (case, sample), at most `max_concurrency` calls at once and
    paced to `requests_per_minute` across all workers (and within its connection's limits, shared
    with every source and judge on it), and store each result as it comes."""
    # requests and urllib3: loaded by the worker that calls, not the web (issue 22).
    from annotation.core import llm_http

    shared = limits_for(source)
    # Slots under this run's name belong to a worker that died holding them: this one has just
    # claimed the run, so no live worker holds it.
    owner = f"run-{run.pk}"
    shared.forget(owner)
    local = threading.local()

    def prepare(unit):
        case, sample = unit
        try:
            return case, sample, prompt_for(source, case)
        except llm.TemplateError as exc:
            # Nothing is sent: the record says why, and the case stays missing for a rerun.
            completion = _not_sent(endpoint, f"prompt template: {exc}")
            return Settled(
                output_record_generation(
                    source=source, case=case, completion=completion, sample=sample
                )
            )

    def call(prepared) -> llm.Completion:
        _case, _sample, (text, images) = prepared
        return limited_call(
            shared,
            owner,
            local,
            lambda session: llm_http.complete(
                session,
                endpoint,
                text,
                images=images,
                timeout=settings.LLM_REQUEST_TIMEOUT,
                deadline=call_deadline_seconds(),
            ),
            endpoint,
            keyless=source.connection_id is None,
        )

    def record(prepared, completion: llm.Completion) -> bool:
        case, sample, _prompt = prepared
        lost.add(completion)
        return output_record_generation(
            source=source, case=case, completion=completion, sample=sample
        )

    return run_calls(
        run,
        units,
        concurrency=source.max_concurrency,
        call=call,
        record=record,
        prepare=prepare,
    )


def limited_call(
    shared, owner: str, local: threading.local, send, endpoint: llm.Endpoint, *, keyless: bool
) -> llm.Completion:
    """One call within the limits, on this thread's own HTTP session. `keyless`: an endpoint
    the admin typed (no connection), which may call only a host in LLM_KEYLESS_HOSTS."""
    from annotation.core import llm_http  # the worker's: see _fetch_concurrently

    if not hasattr(local, "session"):
        local.session = llm_http.make_session(
            max_retries=settings.LLM_MAX_RETRIES,
            backoff_factor=settings.LLM_BACKOFF_FACTOR,
            # Checked on every call, whatever was allowed when the endpoint was saved.
            destinations=llm.Destinations.of(
                allowed_hosts=settings.LLM_ALLOWED_HOSTS,
                private_hosts=settings.LLM_PRIVATE_HOSTS_ALLOWED,
                keyless_hosts=settings.LLM_KEYLESS_HOSTS if keyless else None,
            ),
        )
    try:
        token = shared.acquire(owner)
    except limits.LimitsUnavailable as exc:
        return _not_sent(endpoint, str(exc))
    try:
        return send(local.session)
    finally:
        shared.release(token)


def _not_sent(endpoint: llm.Endpoint, error: str) -> llm.Completion:
    now = timezone.now()
    return llm.Completion(
        request={},
        url=endpoint.base_url,
        started_at=now,
        finished_at=now,
        latency_ms=0,
        error=error,
    )


def prompt_for(source: Source, case: Case) -> tuple[str, tuple[llm.Image, ...]]:
    """The user message for a case, from the source's template, and the images to send."""
    fields = {"input": case.input_text, "reference": case.reference, "case_id": case.external_id}
    text = llm.render_template(source.user_template, fields, case.metadata)
    return text, case_images(case) if source.send_images else ()


def case_images(case: Case) -> tuple[llm.Image, ...]:
    """A case's images, in the order raters see them, to send with its prompt."""
    return tuple(
        llm.Image(content_type, bytes(data))
        for content_type, data in case.attachments.order_by("position").values_list(
            "content_type", "data"
        )
    )


def attempts_summed(completion: llm.Completion, spent: list[int], waited: list[int]) -> None:
    """Fold one more attempt of a retried call into its running totals, so that the record
    counts every attempt: tokens paid for (`spent`: prompt, completion) and waits on a rate
    limit (`waited`: milliseconds, waits). The completion then carries the totals so far."""
    spent[0] += completion.prompt_tokens or 0
    spent[1] += completion.completion_tokens or 0
    if completion.prompt_tokens is not None:
        completion.prompt_tokens = spent[0]
    if completion.completion_tokens is not None:
        completion.completion_tokens = spent[1]
    waited[0] += completion.rate_limit_wait_ms
    waited[1] += completion.rate_limit_waits
    completion.rate_limit_wait_ms, completion.rate_limit_waits = waited


def call_provenance(completion: llm.Completion, caller: ModelEndpoint) -> dict:
    """What every stored call keeps, a generation's or a judge's: the request without secrets,
    the reply, what the endpoint reported, usage, cost at the caller's prices, and timing."""
    return {
        "request": completion.request,
        "http_status": completion.http_status,
        "response_body": completion.response_body,
        "model_requested": completion.model_requested[:200],
        "model_version": completion.model_version,
        "served_headers": completion.served_headers,
        "response_id": completion.response_id,
        "system_fingerprint": completion.system_fingerprint,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "cost": llm.cost_estimate(
            completion.prompt_tokens,
            completion.completion_tokens,
            prompt_per_million=caller.prompt_price,
            completion_per_million=caller.completion_price,
        ),
        "latency_ms": completion.latency_ms,
        "rate_limit_wait_ms": completion.rate_limit_wait_ms,
        "started_at": completion.started_at,
        "finished_at": completion.finished_at,
    }


def output_record_generation(
    *, source: Source, case: Case, completion: llm.Completion, sample: int = 0
) -> bool:
    """Store the call and, if it produced text, the output. False when no output was stored.
    The call and its output are written together, so a write lost to a database restart is
    retried whole (with_database_retries): a completion that came back is never dropped."""
    call_id = uuid.uuid4()  # the same for every try: a retry after a lost COMMIT finds its row
    return with_database_retries(
        lambda: _record_generation(
            source=source, case=case, completion=completion, sample=sample, call_id=call_id
        )
    )


def _record_generation(
    *, source: Source, case: Case, completion: llm.Completion, sample: int, call_id: uuid.UUID
):
    if Generation.objects.filter(call_id=call_id).exists():
        # An earlier try committed, and only the reply to its COMMIT was lost.
        return completion.text is not None
    with transaction.atomic():
        generation = Generation.objects.create(
            call_id=call_id,
            source=source,
            case=case,
            sample=sample,
            outcome=Generation.Outcome.OK if completion.text else Generation.Outcome.FAILED,
            endpoint=completion.url,
            error=completion.error,
            retries=completion.retries,
            **call_provenance(completion, source),
        )
        if completion.text is None:
            return False
        try:
            with transaction.atomic():
                Output.objects.create(
                    case=case,
                    source=source,
                    sample=sample,
                    text=completion.text,
                    generation=generation,
                )
        except IntegrityError:
            # A duplicate delivery of the task got there first; its output stands, ours is logged.
            return True
    return True
