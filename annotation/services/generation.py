"""Model sources, background task runs, and fetching generations from model endpoints."""

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from annotation.core import limits, llm
from annotation.models import (
    Case,
    Generation,
    Judge,
    ModelEndpoint,
    Output,
    Source,
    Study,
    TaskRun,
)

logger = logging.getLogger(__name__)


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
    return source


def task_run_create(
    *,
    study: Study,
    kind: str,
    user: AbstractBaseUser | None,
    source: Source | None = None,
    judge: Judge | None = None,
) -> TaskRun:
    """Record a job and queue its Celery task once the record is committed. A fetch or judge
    run whose worker died is taken over (queued again, under its own name, so the slots the
    dead worker held are freed as soon as a worker claims it) rather than refused."""
    task = _task_for(kind)
    if kind == TaskRun.Kind.COMPUTE_AGREEMENT:
        with transaction.atomic():
            _check_statistics_changeable(study)
            return _recompute_now(study, user)
    with transaction.atomic():
        dead = None
        if kind == TaskRun.Kind.FETCH_OUTPUTS:
            dead = _check_fetch_allowed(study, source)
        if kind == TaskRun.Kind.RUN_JUDGE:
            dead = _check_judge_allowed(study, judge)
        if kind == TaskRun.Kind.EXPORT_BUNDLE:
            _check_bundle_allowed(study)
        if kind == TaskRun.Kind.IMPORT:
            _check_import_allowed(study)
        if dead is not None:
            _requeue(dead)  # or the workers' sweep just did
            dead.refresh_from_db()
            if dead.status == TaskRun.Status.QUEUED:
                transaction.on_commit(lambda: _send(dead, task))
                return dead
        run = TaskRun.objects.create(
            study=study, kind=kind, created_by=user, source=source, judge=judge
        )
        transaction.on_commit(lambda: _send(run, task))
    return run


def _task_for(kind: str):
    from annotation import tasks  # tasks import services; import here to avoid a cycle

    return {
        TaskRun.Kind.FETCH_OUTPUTS: tasks.fetch_outputs,
        TaskRun.Kind.COMPUTE_AGREEMENT: tasks.compute_agreement,
        TaskRun.Kind.RUN_JUDGE: tasks.run_judge,
        TaskRun.Kind.EXPORT_BUNDLE: tasks.export_bundle,
        TaskRun.Kind.IMPORT: tasks.import_study_file,
    }[kind]


def _recompute_now(study: Study, user: AbstractBaseUser | None) -> TaskRun:
    """Compute the study's statistics now. One already waiting (queued a little after a rater's
    submit) is sent again without its delay rather than joined by a second: whichever copy a
    worker claims first runs it, and the other finds it taken."""
    from annotation import tasks

    waiting = TaskRun.objects.filter(
        study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT, status=TaskRun.Status.QUEUED
    )
    for _ in range(3):  # the waiting one may be claimed between the two looks: look again
        run = _recompute_queued(study, user) or waiting.first()
        if run is not None:
            break
    else:
        raise RuntimeError(f"could not queue a recomputation of study {study.pk}")
    transaction.on_commit(lambda: _send(run, tasks.compute_agreement))
    return run


def statistics_recompute_final(*, study: Study, user: AbstractBaseUser | None = None) -> None:
    """The last recomputation before a study's statistics freeze (it is being locked, or its
    reopened analysis closed), queued once that is committed: at once, reading every submitted
    rating and judgement, whatever the study's status then; one already waiting is sent again
    without its delay rather than joined by another."""
    # Robust: the lock has committed, and stands even if the queue is away (the sweep sends it).
    transaction.on_commit(lambda: _recompute_now(study, user), robust=True)


def statistics_recompute_soon(*, study: Study) -> None:
    """After ratings change: recompute the study's statistics STATS_RECOMPUTE_DELAY_SECONDS
    from now, unless a recomputation is already waiting (it will read these ratings too).
    Nothing is queued for a study whose statistics are frozen (locked or archived): a judge
    run that ends after the lock does not change the locked figures."""
    from annotation import tasks

    def queue() -> None:
        reason = Study.objects.get(pk=study.pk).statistics_frozen_reason()
        if reason:
            logger.info("no recomputation of study %s: %s", study.pk, reason)
            return
        run = _recompute_queued(study, None)
        if run is not None:
            # A waiting recomputation counts as alive for this long on top of the lease (_alive).
            _send(run, tasks.compute_agreement, countdown=settings.STATS_RECOMPUTE_DELAY_SECONDS)

    # Robust: the submit that asked has committed, and must not fail for its statistics.
    transaction.on_commit(queue, robust=True)


def _recompute_queued(study: Study, user: AbstractBaseUser | None) -> TaskRun | None:
    """A new queued recomputation, or None when one is already waiting (the constraint
    `task_run_one_waiting_recompute` decides, so two racing submits cannot both queue one)."""
    waiting = TaskRun.objects.filter(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    _supersede_dead_runs(waiting.filter(status=TaskRun.Status.QUEUED).exclude(_alive()))
    try:
        with transaction.atomic():
            return TaskRun.objects.create(
                study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT, created_by=user
            )
    except IntegrityError:
        return None


def _check_fetch_allowed(study: Study, source: Source) -> TaskRun | None:
    """Refuse while a fetch of the source is alive; return the newest dead one, to take over."""
    if not study.accepts_imports:
        raise ValidationError("Outputs can only be fetched while the study is a draft.")
    # Lock the source so two clicks cannot both start paying for the same generations.
    Source.objects.select_for_update().get(pk=source.pk)
    if _live_runs().filter(source=source).exists():
        raise ValidationError(f"Outputs for {source.label} are already being fetched.")
    return _newest_dead_run(TaskRun.objects.filter(source=source))


def _check_judge_allowed(study: Study, judge: Judge) -> TaskRun | None:
    study = _check_statistics_changeable(study)
    if study.status == Study.Status.DRAFT:
        raise ValidationError("Open the study first: a judge rates its items.")
    Judge.objects.select_for_update().get(pk=judge.pk)
    if _live_runs().filter(judge=judge).exists():
        raise ValidationError(f"{judge.label} is already judging.")
    return _newest_dead_run(TaskRun.objects.filter(judge=judge))


def _check_statistics_changeable(study: Study) -> Study:
    """The study as it is now, or the reason its statistics may not change (locked and not
    reopened, archived). Its row stays locked until the caller's transaction ends, so a lock,
    an archiving or a closing of the analysis waits for what this lets through to be recorded
    (and then sees it: a judge run they refuse to outlive)."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    if reason := study.statistics_frozen_reason():
        raise ValidationError(reason)
    return study


def judges_running(*, study: Study) -> list[str]:
    """The labels of the study's judges with a live run (queued or running, not dead)."""
    runs = _live_runs().filter(study=study, kind=TaskRun.Kind.RUN_JUDGE)
    return sorted(set(runs.values_list("judge__label", flat=True)))


def _newest_dead_run(runs) -> TaskRun | None:
    """The newest unfinished run of these, all dead here; older ones are superseded by it."""
    unfinished = runs.filter(status__in=[TaskRun.Status.RUNNING, TaskRun.Status.QUEUED])
    newest = unfinished.filter(cancel_requested_at__isnull=True).order_by("-created_at").first()
    _supersede_dead_runs(unfinished.exclude(pk=newest.pk) if newest else unfinished)
    return newest


def _check_bundle_allowed(study: Study) -> None:
    Study.objects.select_for_update().get(pk=study.pk)
    bundles = TaskRun.objects.filter(study=study, kind=TaskRun.Kind.EXPORT_BUNDLE)
    if _live_runs().filter(pk__in=bundles).exists():
        raise ValidationError("A paper bundle is already being built.")
    _supersede_dead_runs(bundles)


def _check_import_allowed(study: Study) -> None:
    """One import of a study at a time (the file it stores is read by study_import_run), and
    only while the study is a draft. One whose worker died gives way to the new upload."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    if not study.accepts_imports:
        raise ValidationError("This study is no longer a draft; its cases are fixed.")
    imports = TaskRun.objects.filter(study=study, kind=TaskRun.Kind.IMPORT)
    if _live_runs().filter(pk__in=imports).exists():
        raise ValidationError(
            "An import of this study is already waiting or running; let it finish (or cancel "
            "it) before importing another file."
        )
    _supersede_dead_runs(imports)


def _supersede_dead_runs(runs) -> None:
    """A new run replaces any whose worker died: marked failed, a late copy of its task can no
    longer take it over and make the same calls as the new one."""
    dead = runs.filter(status__in=[TaskRun.Status.RUNNING, TaskRun.Status.QUEUED])
    _free_slots(dead)
    dead.update(
        status=TaskRun.Status.FAILED,
        finished_at=timezone.now(),
        message="Its worker stopped; a new run took over.",
    )


def _free_slots(runs) -> None:
    """The limit slots dead fetch or judge runs held, freed now rather than when their leases
    run out (minutes): otherwise the source's next run would wait for them."""
    for run in runs.exclude(source=None, judge=None).select_related("source", "judge"):
        if run.source is not None:
            limits_for(run.source).forget(f"run-{run.pk}")
        else:
            limits_for(run.judge, key=f"judge:{run.judge.pk}").forget(f"run-{run.pk}")


def _lease_start():
    return timezone.now() - timedelta(seconds=settings.TASK_RUN_LEASE_SECONDS)


def _live_runs():
    return TaskRun.objects.filter(
        Q(status__in=[TaskRun.Status.QUEUED, TaskRun.Status.RUNNING]) & _alive()
    )


def _alive() -> Q:
    """A running run: its heartbeat within the lease. A queued one: sent (created, or sent
    again by the sweep) or received by a worker's task (which stamps it before claiming, and at
    each look while it waits for its study's other statistics job) within
    TASK_RUN_QUEUED_SECONDS, since a message may wait that long behind busy workers; a
    recomputation queued after a submit waits out its delay on top."""
    fresh = _lease_start()
    sent = timezone.now() - timedelta(seconds=settings.TASK_RUN_QUEUED_SECONDS)
    # One whose message could not be sent at all (_send) has nothing to wait for: a lease.
    unsent = Q(message__startswith=UNSENT_NOTE)
    queued = Q(status=TaskRun.Status.QUEUED)
    return (
        Q(status=TaskRun.Status.RUNNING, heartbeat_at__gte=fresh)
        | queued & ~unsent & _heard_from_since(sent)
        | queued & unsent & _heard_from_since(fresh)
    )


def _heard_from_since(when) -> Q:
    due = when - timedelta(seconds=settings.STATS_RECOMPUTE_DELAY_SECONDS)
    return (
        Q(heartbeat_at__gte=when)
        | Q(created_at__gte=when)
        | Q(kind=TaskRun.Kind.COMPUTE_AGREEMENT, created_at__gte=due)
    )


UNSENT_NOTE = "Waiting for the task queue to come back"


def _send(run: TaskRun, task, countdown: float = 0) -> bool:
    try:
        task.apply_async((run.pk,), countdown=countdown or None)
    except Exception as exc:
        # The broker is unreachable: the run stays queued, and the workers' sweep sends it again
        # once the broker is back (task_runs_requeue_lost).
        logger.warning("could not queue task run %s (%s); the sweep will send it", run.pk, exc)
        # Study admins read the message: the broker's error, which names its host and port,
        # stays in the log.
        TaskRun.objects.filter(pk=run.pk, status=TaskRun.Status.QUEUED).update(
            message=f"{UNSENT_NOTE}."
        )
        return False
    return True


def task_runs_requeue_lost() -> list[int]:
    """Send again every unfinished run that nobody is working on: one whose worker died (its
    heartbeat older than the lease) or whose message was lost (queued, and not heard from).
    Every worker calls this at start-up and then every TASK_RUN_SWEEP_SECONDS; a run sent twice
    is claimed once. Returns the ids sent."""
    lost = TaskRun.objects.filter(
        status__in=[TaskRun.Status.QUEUED, TaskRun.Status.RUNNING]
    ).exclude(_alive())
    sent = []
    for run in lost.order_by("created_at"):
        heard_from = run.heartbeat_at
        if not _requeue(run):
            continue
        if _send(run, _task_for(run.kind)):
            sent.append(run.pk)
            TaskRun.objects.filter(
                pk=run.pk, status=TaskRun.Status.QUEUED, message__startswith=UNSENT_NOTE
            ).update(message="")  # sent now: it may wait behind busy workers like any other
        else:  # the broker is away too: the next sweep tries again, not a lease later
            TaskRun.objects.filter(pk=run.pk, heartbeat_at=run.heartbeat_at).update(
                heartbeat_at=heard_from
            )
    return sent


def _requeue(run: TaskRun) -> bool:
    """Put a dead run back in the queue, marked as just sent (so that neither another sweep
    nor a click sends it again within the lease). False if someone got there first, or if the
    run is not to be resumed: a cancel was asked for, or another run of the study is waiting."""
    now = timezone.now()
    # As it was when found dead (heartbeat_at=None matches a run never heard from).
    unchanged = TaskRun.objects.filter(pk=run.pk, status=run.status, heartbeat_at=run.heartbeat_at)
    if run.cancel_requested_at is not None:
        _free_slots(unchanged)
        unchanged.update(
            status=TaskRun.Status.CANCELLED,
            finished_at=now,
            message="Cancelled: its worker stopped before it could stop itself.",
        )
        return False
    try:
        with transaction.atomic():
            updated = unchanged.update(status=TaskRun.Status.QUEUED, heartbeat_at=now)
    except IntegrityError:
        # A recomputation of the study already waits, and will read everything this one would.
        _supersede_dead_runs(unchanged)
        return False
    if updated:
        run.status, run.heartbeat_at = TaskRun.Status.QUEUED, now
        logger.info("task run %s was lost; queued again", run.pk)
    return bool(updated)


# Jobs that read or write a study's statistics: one at a time per study, so that a paper bundle
# never reads statistics half rewritten (`task_run_one_running_statistics_job`).
STATISTICS_JOBS = (TaskRun.Kind.COMPUTE_AGREEMENT, TaskRun.Kind.EXPORT_BUNDLE)


def task_run_received(*, run_id: int) -> None:
    """A task's first act, before claiming: its run, if still queued, has been received by a
    worker and is not lost (the sweep leaves it alone), even if the claim cannot happen yet."""
    TaskRun.objects.filter(pk=run_id, status=TaskRun.Status.QUEUED).update(
        heartbeat_at=timezone.now()
    )


def task_run_give_up(*, run_id: int, message: str) -> None:
    """Fail an unfinished run its task cannot carry on with, saying why."""
    TaskRun.objects.filter(
        pk=run_id, status__in=[TaskRun.Status.QUEUED, TaskRun.Status.RUNNING]
    ).update(status=TaskRun.Status.FAILED, finished_at=timezone.now(), message=message)


def task_run_claim(*, run_id: int) -> TaskRun | None:
    """Mark a run as running, or None if it is finished or another worker holds it.

    A run whose worker died (no heartbeat within the lease) can be claimed again: that is what
    a redelivered message after a crash needs, and both tasks are safe to repeat.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.TASK_RUN_LEASE_SECONDS)
    claimable = Q(status=TaskRun.Status.QUEUED) | Q(
        status=TaskRun.Status.RUNNING, heartbeat_at__lt=stale
    )
    _supersede_dead_recomputations(run_id, stale)
    try:
        with transaction.atomic():
            # A note such as "waiting for the task queue" no longer holds once it runs.
            claimed = TaskRun.objects.filter(claimable, pk=run_id).update(
                status=TaskRun.Status.RUNNING, started_at=now, heartbeat_at=now, message=""
            )
    except IntegrityError:
        # Another recomputation or bundle of the study is at work
        # (`task_run_one_running_statistics_job`): this one stays queued, and its task looks
        # again a little later. Its heartbeat says it is waiting, not lost.
        TaskRun.objects.filter(pk=run_id, status=TaskRun.Status.QUEUED).update(heartbeat_at=now)
        return None
    return TaskRun.objects.get(pk=run_id) if claimed else None


def _supersede_dead_recomputations(run_id: int, stale) -> None:
    """A study's recomputation or bundle whose worker died would otherwise keep the next one
    waiting."""
    run = TaskRun.objects.filter(pk=run_id, kind__in=STATISTICS_JOBS).first()
    if run is None:
        return
    dead = TaskRun.objects.filter(
        study_id=run.study_id,
        kind__in=STATISTICS_JOBS,
        status=TaskRun.Status.RUNNING,
        heartbeat_at__lt=stale,
    ).exclude(pk=run_id)
    _supersede_dead_runs(dead)


# The error types a lost database connection is raised as; database_unreachable says which of
# them are one.
DATABASE_OUTAGES = (OperationalError, InterfaceError)
# SQLSTATE classes and codes of a connection lost or refused: 08 (connection exception), 57P01-3
# (the server shutting down or not yet accepting), 53300 (too many connections).
_OUTAGE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def database_unreachable(exc: BaseException) -> bool:
    """Whether a database error is the connection lost or refused (a restart, a failover),
    worth waiting out on a new connection. Anything else (SQLite's "database is locked", a
    missing table, a bad query) lasts, and is raised as the failure it is."""
    if not isinstance(exc, DATABASE_OUTAGES):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate:
        return sqlstate.startswith(_OUTAGE_SQLSTATES)
    if connection.vendor != "postgresql":
        return False  # an embedded database has no connection to lose
    # No SQLSTATE: the client gave up on the connection (closed, broken, could not connect).
    return connection.connection is None or not connection.is_usable()


class TaskRunLost(Exception):
    """The run is no longer this worker's: its heartbeat or finish matched no row held by this
    claim (another worker took it over after the lease, or it was deleted)."""


def with_database_retries(work):
    """`work()`, tried again on a new connection while the database is unreachable, for up to
    TASK_DATABASE_OUTAGE_SECONDS: a worker's writes (a call's result, the heartbeat) outlast a
    database restart instead of failing a run whose calls were already paid for. Inside a
    transaction nothing can be retried here; the error goes to whoever holds it."""
    deadline = time.monotonic() + settings.TASK_DATABASE_OUTAGE_SECONDS
    pause = 0.05
    while True:
        try:
            return work()
        except DATABASE_OUTAGES as exc:
            if connection.in_atomic_block or time.monotonic() >= deadline:
                raise
            if not database_unreachable(exc):
                raise
            logger.warning("database unreachable (%s); trying again in %.2f s", exc, pause)
            _drop_connection()
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def _drop_connection() -> None:
    # A connection the server dropped stays broken; the next query opens a new one.
    with contextlib.suppress(DATABASE_OUTAGES):
        connection.close()


def task_run_held(run: TaskRun):
    """The run's row as long as this worker's claim holds: still running, and claimed when this
    worker claimed it (a takeover claims it anew)."""
    return TaskRun.objects.filter(
        pk=run.pk, status=TaskRun.Status.RUNNING, started_at=run.started_at
    )


def task_run_progress(*, run: TaskRun, done: int, total: int | None = None) -> None:
    """Report progress (the run's heartbeat). Raises TaskRunLost when the run is no longer this
    worker's: its caller must start no more work and leave the run to its new holder."""
    fields = {"done": done, "heartbeat_at": timezone.now()}
    if total is not None:
        fields["total"] = total
    if not with_database_retries(lambda: task_run_held(run).update(**fields)):
        raise TaskRunLost(run.pk)
    for name, value in fields.items():
        setattr(run, name, value)


def task_run_release(*, run: TaskRun) -> None:
    """Hand a run its worker cannot carry on with (the database stayed away longer than its
    writes wait) back to the queue, to be claimed again and finish what is missing. A
    recomputation gives way instead to one already waiting, which reads the same ratings."""
    try:
        with transaction.atomic():
            # Only while it is still this worker's: a run taken over meanwhile is its new holder's.
            task_run_held(run).update(status=TaskRun.Status.QUEUED, heartbeat_at=timezone.now())
    except IntegrityError:
        _supersede_dead_runs(task_run_held(run))


def task_run_cancel(*, run: TaskRun) -> TaskRun:
    """Stop a job: one still queued is cancelled at once; a running one is asked to stop, and
    its worker stops within a second, keeping what it finished. Finished jobs stay as they are."""
    now = timezone.now()
    TaskRun.objects.filter(pk=run.pk, status=TaskRun.Status.QUEUED).update(
        status=TaskRun.Status.CANCELLED, cancel_requested_at=now, finished_at=now
    )
    TaskRun.objects.filter(pk=run.pk, status=TaskRun.Status.RUNNING).update(cancel_requested_at=now)
    run.refresh_from_db()
    return run


def cancel_requested(run: TaskRun) -> bool:
    return with_database_retries(
        TaskRun.objects.filter(pk=run.pk, cancel_requested_at__isnull=False).exists
    )


def task_run_finish(*, run: TaskRun, ok: bool, message: str = "", cancelled: bool = False) -> None:
    """Record how the run ended, if it is still this worker's (else TaskRunLost)."""
    if cancelled:
        status = TaskRun.Status.CANCELLED
    else:
        status = TaskRun.Status.SUCCEEDED if ok else TaskRun.Status.FAILED
    fields = {"status": status, "message": message, "finished_at": timezone.now()}
    if not with_database_retries(lambda: task_run_held(run).update(**fields)):
        raise TaskRunLost(run.pk)
    for name, value in fields.items():
        setattr(run, name, value)


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
    done, failures = _fetch_concurrently(run, source, endpoint, missing)
    message = f"{done - failures} of {len(missing)} outputs generated"
    if failures:
        message += f"; {failures} failed (see the generation log; run again to retry them)"
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
    run: TaskRun, source: Source, endpoint: llm.Endpoint, units
) -> tuple[int, int]:
    """Call the endpoint for every (case, sample), at most `max_concurrency` calls at once and
    paced to `requests_per_minute` across all workers (and within its connection's limits, shared
    with every source and judge on it), and store each result as it comes."""
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
            lambda session: llm.complete(
                session, endpoint, text, images=images, timeout=settings.LLM_REQUEST_TIMEOUT
            ),
            endpoint,
            keyless=source.connection_id is None,
        )

    def record(prepared, completion: llm.Completion) -> bool:
        case, sample, _prompt = prepared
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
    if not hasattr(local, "session"):
        local.session = llm.make_session(
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


def limits_for(
    caller: ModelEndpoint, key: str | None = None
) -> limits.SharedLimits | limits.LocalLimits | limits.BothLimits:
    """A source's or judge's limits and, when its connection sets any, the connection's on top:
    the connection's hold across every source and judge of every study that uses it. Held by
    all workers together through Redis when there is one (the broker, or LLM_LIMITS_REDIS_URL),
    else within this process."""
    own = _limits(
        key or f"source:{caller.pk}",
        concurrency=caller.max_concurrency,
        per_minute=caller.requests_per_minute,
    )
    connection = caller.connection if caller.connection_id is not None else None
    if connection is None or (
        connection.max_concurrency is None and connection.requests_per_minute is None
    ):
        return own
    shared = _limits(
        f"connection:{connection.pk}",
        concurrency=connection.max_concurrency,
        per_minute=connection.requests_per_minute,
        process_wide=True,
    )
    return limits.BothLimits(own, shared)


def _limits(
    key: str, *, concurrency: int | None, per_minute: int | None, process_wide: bool = False
) -> limits.SharedLimits | limits.LocalLimits:
    url = settings.LLM_LIMITS_REDIS_URL
    if url:
        import redis

        return limits.SharedLimits(
            redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5),
            f"evalapp:limits:{key}",
            concurrency=concurrency,
            per_minute=per_minute,
            lease_seconds=settings.LLM_REQUEST_TIMEOUT * (settings.LLM_MAX_RETRIES + 1) + 30,
            outage_seconds=settings.LLM_LIMITS_OUTAGE_SECONDS,
        )
    if process_wide:  # every run in this process on the connection shares one
        return limits.local_limits_shared(key, concurrency=concurrency, per_minute=per_minute)
    return limits.LocalLimits(concurrency=concurrency, per_minute=per_minute)


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


def call_provenance(completion: llm.Completion, caller: ModelEndpoint) -> dict:
    """What every stored call keeps, a generation's or a judge's: the request without secrets,
    the reply, what the endpoint reported, usage, cost at the caller's prices, and timing."""
    return {
        "request": completion.request,
        "http_status": completion.http_status,
        "response_body": completion.response_body,
        "model_version": completion.model_version,
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
