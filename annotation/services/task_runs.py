"""Background jobs (task runs) from queueing to their end: create and send, claim and lease,
heartbeat, progress, cancel, finish, release; the sweep that sends lost runs again; the study's
statistics recomputation queued after ratings change. Fetching, judging, statistics and the
bundle all run under it."""

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Q
from django.utils import timezone

from annotation.core import audit
from annotation.models import (
    AuditEvent,
    Judge,
    PendingAssignments,
    Source,
    Study,
    TaskRun,
)
from annotation.selectors.reading import judge_answers_refusal
from annotation.selectors.task_runs import UNSENT_NOTE, task_runs_dead, task_runs_live
from annotation.services.audit import audit_record
from annotation.services.call_limits import limits_for
from evalapp import task_queue

logger = logging.getLogger(__name__)


def task_run_create(
    *,
    study: Study,
    kind: str,
    user: AbstractBaseUser | None,
    source: Source | None = None,
    judge: Judge | None = None,
    decided_sample: int = 0,
) -> TaskRun:
    """Record a job and queue its Celery task once the record is committed. A fetch or judge
    run whose worker died is taken over (queued again, under its own name, so the slots the
    dead worker held are freed as soon as a worker claims it) rather than refused.
    `decided_sample`: a judge scoring answers scores that many matched answers too."""
    task = _task_for(kind)
    if kind == TaskRun.Kind.COMPUTE_AGREEMENT:
        with transaction.atomic():
            _check_statistics_changeable(study)
            run = _recompute_now(study, user)
            _audit_queued(run, user)
            return run
    with transaction.atomic():
        dead = None
        if kind == TaskRun.Kind.FETCH_OUTPUTS:
            dead = _check_fetch_allowed(study, source)
        if kind == TaskRun.Kind.RUN_JUDGE:
            dead = _check_judge_allowed(study, judge, kind)
        if kind == TaskRun.Kind.JUDGE_ANSWERS:
            dead = _check_judge_answers_allowed(study, judge, decided_sample)
            if dead is not None and dead.decided_sample != decided_sample:
                # The run taken over scores the sample asked for now, not the one it had.
                TaskRun.objects.filter(pk=dead.pk).update(decided_sample=decided_sample)
        if kind == TaskRun.Kind.EXPORT_BUNDLE:
            _check_bundle_allowed(study)
        if kind == TaskRun.Kind.IMPORT:
            _check_import_allowed(study)
        if kind == TaskRun.Kind.OPEN:
            _check_open_allowed(study)
        if dead is not None:
            _requeue(dead)  # or the workers' sweep just did
            dead.refresh_from_db()
            if dead.status == TaskRun.Status.QUEUED:
                transaction.on_commit(lambda: _send(dead, task))
                return dead
        run = TaskRun.objects.create(
            study=study,
            kind=kind,
            created_by=user,
            source=source,
            judge=judge,
            decided_sample=decided_sample,
        )
        _audit_queued(run, user)
        transaction.on_commit(lambda: _send(run, task))
    return run


def _audit_queued(run: TaskRun, user: AbstractBaseUser | None, *, automatic=False) -> None:
    details = {"job": run.kind, "run": run.pk}
    if run.source_id:
        details["source"] = run.source.label
    if run.judge_id:
        details["judge"] = run.judge.label
    if automatic:
        # No one asked for it: it follows a change (a submit, a lock, an import), and the
        # entry names whoever made that change, if the context knows.
        details["automatic"] = True
        audit_record(action="job.queued", study=run.study, target=run, details=details)
        return
    audit_record(action="job.queued", study=run.study, target=run, details=details, user=user)


# The Celery task that runs each kind of job, by name: a job is queued by its task's name
# (evalapp.task_queue), so the web process, which queues them, loads neither Celery nor the
# tasks (issue 22). annotation.tasks checks each name as it defines the task (below).
TASK_OF_KIND = {
    TaskRun.Kind.FETCH_OUTPUTS: "annotation.tasks.fetch_outputs",
    TaskRun.Kind.COMPUTE_AGREEMENT: "annotation.tasks.compute_agreement",
    TaskRun.Kind.EXPORT_BUNDLE: "annotation.tasks.export_bundle",
    TaskRun.Kind.RUN_JUDGE: "annotation.tasks.run_judge",
    TaskRun.Kind.JUDGE_ANSWERS: "annotation.tasks.judge_answers",
    TaskRun.Kind.IMPORT: "annotation.tasks.import_study_file",
    TaskRun.Kind.OPEN: "annotation.tasks.open_study",
}


def runs_jobs_of_kind(kind: str):
    """Decorator: the task runs the jobs of this kind (TaskRun.Kind), which are queued under
    its name. A task named otherwise would never receive them: refused as it is defined."""
    return queued_as(TASK_OF_KIND.get(kind, f"(no task for jobs of kind {kind!r})"))


def queued_as(name: str):
    """Decorator: the task is the one queued under `name`; refused if it is named otherwise."""

    def check(task):
        if task.name != name:
            raise LookupError(f"the task {task.name} is queued as {name}: rename one of them")
        return task

    return check


def _task_for(kind: str) -> str:
    try:
        return TASK_OF_KIND[kind]
    except KeyError:
        raise LookupError(f"no task runs jobs of kind {kind!r}") from None


def _recompute_now(study: Study, user: AbstractBaseUser | None) -> TaskRun:
    """Compute the study's statistics now. One already waiting (queued a little after a rater's
    submit) is sent again without its delay rather than joined by a second: whichever copy a
    worker claims first runs it, and the other finds it taken."""
    waiting = TaskRun.objects.filter(
        study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT, status=TaskRun.Status.QUEUED
    )
    for _ in range(3):  # the waiting one may be claimed between the two looks: look again
        run = _recompute_queued(study, user) or waiting.first()
        if run is not None:
            break
    else:
        raise RuntimeError(f"could not queue a recomputation of study {study.pk}")
    transaction.on_commit(lambda: _send(run, _task_for(TaskRun.Kind.COMPUTE_AGREEMENT)))
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

    def queue() -> None:
        reason = Study.objects.get(pk=study.pk).statistics_frozen_reason()
        if reason:
            logger.info("no recomputation of study %s: %s", study.pk, reason)
            return
        run = _recompute_queued(study, None, recorded=False)
        if run is not None:
            # A waiting recomputation counts as alive for this long on top of the lease (see
            # selectors.task_runs).
            _send(
                run,
                _task_for(TaskRun.Kind.COMPUTE_AGREEMENT),
                countdown=settings.STATS_RECOMPUTE_DELAY_SECONDS,
            )

    # Robust: the submit that asked has committed, and must not fail for its statistics.
    transaction.on_commit(queue, robust=True)


def _recompute_queued(
    study: Study, user: AbstractBaseUser | None, *, recorded: bool = True
) -> TaskRun | None:
    """A new queued recomputation, or None when one is already waiting (the constraint
    `task_run_one_waiting_recompute` decides, so two racing submits cannot both queue one)."""
    dead = task_runs_dead().filter(
        study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT, status=TaskRun.Status.QUEUED
    )
    _supersede_dead_runs(dead)
    try:
        with transaction.atomic():
            run = TaskRun.objects.create(
                study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT, created_by=user
            )
            # Recorded like any other job, the automatic ones too; none when one was
            # already waiting. One queued after a rater's submit (`recorded=False`) is
            # recorded when a worker claims it instead (task_run_claim): the submit's path
            # writes no audit entry and stays as fast as it was.
            if recorded:
                _audit_queued(run, user, automatic=user is None)
            return run
    except IntegrityError:
        return None


def _check_fetch_allowed(study: Study, source: Source) -> TaskRun | None:
    """Refuse while a fetch of the source is alive; return the newest dead one, to take over."""
    if not study.accepts_imports:
        raise ValidationError("Outputs can only be fetched while the study is a draft.")
    # Lock the source so two clicks cannot both start paying for the same generations.
    Source.objects.select_for_update().get(pk=source.pk)
    if task_runs_live().filter(source=source).exists():
        raise ValidationError(f"Outputs for {source.label} are already being fetched.")
    return _newest_dead_run(TaskRun.objects.filter(source=source))


def _check_judge_allowed(study: Study, judge: Judge, kind: str) -> TaskRun | None:
    """Refuse while the judge is at work (of either kind: they share its limits); return the
    newest dead run of this kind, to take over (never one of the other kind, which would do
    the other job)."""
    study = _check_statistics_changeable(study)
    if study.status == Study.Status.DRAFT:
        raise ValidationError("Open the study first: a judge rates its items.")
    Judge.objects.select_for_update().get(pk=judge.pk)
    if task_runs_live().filter(judge=judge).exists():
        raise ValidationError(f"{judge.label} is already judging.")
    return _newest_dead_run(TaskRun.objects.filter(judge=judge, kind=kind))


def _check_judge_answers_allowed(study: Study, judge: Judge, sample: int) -> TaskRun | None:
    """As a judge run; and only over an assisted-reading study's text or ranked answers."""
    if reason := judge_answers_refusal(study):
        raise ValidationError(reason)
    if sample < 0:
        raise ValidationError("The sample of matched answers is a number of 0 or more.")
    return _check_judge_allowed(study, judge, TaskRun.Kind.JUDGE_ANSWERS)


def _check_statistics_changeable(study: Study) -> Study:
    """The study as it is now, or the reason its statistics may not change (locked and not
    reopened, archived). Its row stays locked until the caller's transaction ends, so a lock,
    an archiving or a closing of the analysis waits for what this lets through to be recorded
    (and then sees it: a judge run they refuse to outlive)."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    if reason := study.statistics_frozen_reason():
        raise ValidationError(reason)
    return study


def _newest_dead_run(runs) -> TaskRun | None:
    """The newest unfinished run of these, all dead here; older ones are superseded by it."""
    unfinished = runs.filter(status__in=[TaskRun.Status.RUNNING, TaskRun.Status.QUEUED])
    newest = unfinished.filter(cancel_requested_at__isnull=True).order_by("-created_at").first()
    _supersede_dead_runs(unfinished.exclude(pk=newest.pk) if newest else unfinished)
    return newest


def _check_bundle_allowed(study: Study) -> None:
    study_for_change(study.pk)
    bundles = TaskRun.objects.filter(study=study, kind=TaskRun.Kind.EXPORT_BUNDLE)
    if task_runs_live().filter(pk__in=bundles).exists():
        raise ValidationError("A paper bundle is already being built.")
    _supersede_dead_runs(bundles)


def _check_import_allowed(study: Study) -> None:
    """One import of a study at a time (the file it stores is read by study_import_run), and
    only while the study is a draft. One whose worker died gives way to the new upload."""
    study = study_for_change(study.pk)
    if not study.accepts_imports:
        raise ValidationError("This study is no longer a draft; its cases are fixed.")
    imports = TaskRun.objects.filter(study=study, kind=TaskRun.Kind.IMPORT)
    if task_runs_live().filter(pk__in=imports).exists():
        raise ValidationError(
            "An import of this study is already waiting or running; let it finish (or cancel "
            "it) before importing another file."
        )
    _supersede_dead_runs(imports)


def _check_open_allowed(study: Study) -> None:
    """One opening at a time, of a draft, and not while an import may still add to it; or of
    an open study whose raters' assignments an opening left pending (its worker stopped):
    the new run writes the rest."""
    _check_not_opening(study)
    study = Study.objects.select_for_update().get(pk=study.pk)
    pending = study.status == Study.Status.OPEN and assignments_pending(study)
    if study.status != Study.Status.DRAFT and not pending:
        raise ValidationError("Only a draft study can be opened.")
    check_no_import_pending(study)
    _supersede_dead_runs(TaskRun.objects.filter(study=study, kind=TaskRun.Kind.OPEN))


BEING_OPENED = (
    "The study is being opened by a worker, which then writes each rater's assignments (see "
    "Background jobs); it takes no changes until that has finished."
)


def check_no_import_pending(study: Study) -> None:
    imports = TaskRun.objects.filter(study=study, kind=TaskRun.Kind.IMPORT)
    if task_runs_live().filter(pk__in=imports).exists():
        raise ValidationError(
            "An import of this study is waiting or running; open the study once it has ended."
        )


def _check_not_opening(study: Study) -> None:
    if study_being_opened(study):
        raise ValidationError(BEING_OPENED)


def study_for_change(study_id: int) -> Study:
    """The study's row, locked for a change until the transaction ends; refused at once
    (ValidationError) while a worker opens the study, rather than waiting for that job, which
    holds the row for as long as it writes (tens of seconds for a large study), or while
    raters' assignments are pending: every change reads whole rater lists."""
    check_assignments_written(Study(pk=study_id))
    return Study.objects.select_for_update().get(pk=study_id)


ASSIGNMENTS_PENDING = (
    "Some raters' assignments are not written yet: the worker writing them after the opening "
    "stopped. Use “Write the remaining assignments” on the study's page, then try again."
)


def check_assignments_written(study: Study) -> None:
    """Refused (ValidationError) while a worker opens the study or writes its raters'
    assignments, or while some are left pending by one that stopped."""
    _check_not_opening(study)
    if assignments_pending(study):
        raise ValidationError(ASSIGNMENTS_PENDING)


def assignments_pending(study: Study) -> bool:
    """Whether an opening left some rater's assignments to be written (PendingAssignments)."""
    return PendingAssignments.objects.filter(study_id=study.pk).exists()


def study_being_opened(study: Study) -> bool:
    """Whether a worker's opening of the study waits or runs (one whose worker died does not
    count: a new opening takes its place)."""
    opening = TaskRun.objects.filter(study=study, kind=TaskRun.Kind.OPEN)
    return task_runs_live().filter(pk__in=opening).exists()


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


def _send(run: TaskRun, task: str, countdown: float = 0) -> bool:
    try:
        task_queue.send(task, (run.pk,), countdown=countdown or None)
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
    sent = []
    for run in task_runs_dead().order_by("created_at"):
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
    if not claimed:
        return None
    run = TaskRun.objects.get(pk=run_id)
    if run.kind == TaskRun.Kind.COMPUTE_AGREEMENT:
        _audit_queued_late(run)
    return run


def _audit_queued_late(run: TaskRun) -> None:
    """The `job.queued` entry of an automatic recomputation queued after a rater's submit,
    written at its first claim (with when it was queued), if none was written then."""
    entries = AuditEvent.objects.filter(study_id=run.study_id, action="job.queued")
    if entries.filter(object_type="taskrun", object_id=str(run.pk)).exists():
        return
    details = {
        "job": run.kind,
        "run": run.pk,
        "automatic": True,
        "queued_at": audit.format_time(run.created_at),
    }
    audit_record(action="job.queued", study=run.study, target=run, details=details, user=None)


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


# How often a step's progress (Progress) is written while it works inside a transaction.
PROGRESS_BEAT_SECONDS = 1.0


@dataclass
class Progress:
    """How far a job's long step inside a transaction has come, for task_run_beating to
    report from outside it: set by the working thread, read by the beat's. `note` says which
    step (the dashboard shows it under the bar)."""

    done: int = 0
    total: int = 0
    note: str = ""
    # When the count began, if not at the job's start (TaskRun.counted_from: the time left's).
    counted_from: datetime | None = None

    def fields(self) -> dict:
        found = {"done": self.done, "total": self.total}
        if self.counted_from is not None:
            found["counted_from"] = self.counted_from
        return found | ({"message": self.note} if self.note else {})


@contextlib.contextmanager
def task_run_beating(run: TaskRun, progress: Progress | None = None) -> Iterator[None]:
    """Keep the run's heartbeat going from a thread of its own (with a database connection of
    its own) while this one parses or writes in one long step, so that the workers' sweep
    does not take a long job for a dead one. On PostgreSQL the beat gets through during the
    write's transaction; SQLite has one writer at a time, so there it waits for the commit.
    With `progress`, the beat also says, every PROGRESS_BEAT_SECONDS, what it holds: what the
    transaction writes shows nowhere until it commits, so a step inside one reports this way.
    Where the step ended is for the job to say (task_run_finish's `progress`), once its
    transaction has ended."""
    stop = threading.Event()
    every = settings.TASK_RUN_LEASE_SECONDS / 3
    # SQLite: the beat waits for the commit whatever it says, so it says nothing more often.
    if progress is not None and connection.vendor != "sqlite":
        every = min(every, PROGRESS_BEAT_SECONDS)

    def report() -> None:
        fields = {"heartbeat_at": timezone.now()}
        if progress is not None:
            fields.update(progress.fields())
        try:
            task_run_held(run).update(**fields)
        except DatabaseError:
            logger.warning("task run %s: a heartbeat failed", run.pk, exc_info=True)

    def beat() -> None:
        try:
            while not stop.wait(every):
                report()
        finally:
            connection.close()  # this thread's own

    thread = threading.Thread(target=beat, name=f"run-{run.pk}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


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
    its worker stops within a second, keeping what it finished. Finished jobs stay as they are,
    and so does an opening whose study has opened: its raters' assignments must be written."""
    if (
        run.kind == TaskRun.Kind.OPEN
        and Study.objects.filter(pk=run.study_id, status=Study.Status.OPEN).exists()
    ):
        run.refresh_from_db()
        return run
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


def task_run_finish(
    *,
    run: TaskRun,
    ok: bool,
    message: str = "",
    cancelled: bool = False,
    progress: Progress | None = None,
) -> None:
    """Record how the run ended, if it is still this worker's (else TaskRunLost); with
    `progress`, its count as it ended too (a job that kept nothing counts nothing)."""
    if cancelled:
        status = TaskRun.Status.CANCELLED
    else:
        status = TaskRun.Status.SUCCEEDED if ok else TaskRun.Status.FAILED
    fields = {"status": status, "message": message, "finished_at": timezone.now()}
    if progress is not None:
        fields.update(done=progress.done, total=progress.total)
    if not with_database_retries(lambda: task_run_held(run).update(**fields)):
        raise TaskRunLost(run.pk)
    details = {"job": run.kind, "run": run.pk, "status": status, "message": message}
    with_database_retries(
        lambda: audit_record(action="job.finished", study=run.study, target=run, details=details)
    )
    for name, value in fields.items():
        setattr(run, name, value)
