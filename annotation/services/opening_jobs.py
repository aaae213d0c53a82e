"""The worker's opening of a large study (TaskRun.Kind.OPEN): the study opened with each
rater's order stored, then every rater's assignments written; apart from services.studies
because it also decides the adaptive items rated meanwhile (services.adaptive, which itself
builds on services.studies)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotation.models import Assignment, Study, TaskRun
from annotation.services.adaptive import adaptive_sweep
from annotation.services.studies.assignments import pending_assignments_write
from annotation.services.studies.opening import study_open
from annotation.services.task_runs import (
    Progress,
    cancel_requested,
    task_run_beating,
    task_run_finish,
)


def study_open_run(*, run: TaskRun) -> None:
    """A worker's opening of the study (study_open with its raters' assignments left
    pending): all of it or nothing, its heartbeat kept while it works; a study that cannot be
    opened says why, as the dashboard's Open button would. Once the study is open, each
    rater's assignments are written in a transaction of their own (a rater who arrives first
    has theirs written at once: rater_assignments_write); the job ends when all are. Run again
    for a study left open with assignments pending (its worker stopped), it writes the rest."""
    progress = Progress()
    study = run.study
    try:
        with task_run_beating(run, progress):
            if study.status == Study.Status.DRAFT:
                with transaction.atomic():
                    study_open(study=study, job=run, progress=progress, defer=True)
                    if cancel_requested(run):  # asked while it worked: nothing is kept
                        raise _OpenCancelled
            count = pending_assignments_write_all(study, progress)
    except ValidationError as exc:
        task_run_finish(run=run, ok=False, message=" ".join(exc.messages), progress=Progress())
        return
    except _OpenCancelled:
        message = "Cancelled: the study is still a draft."
        task_run_finish(run=run, ok=False, message=message, cancelled=True, progress=Progress())
        return
    message = f"The study is open: {count} assignments stored."
    if cancel_requested(run):
        message += " The cancel came after it had opened to its raters."
    task_run_finish(run=run, ok=True, message=message, progress=Progress(count, count))


def pending_assignments_write_all(study: Study, progress: Progress | None = None) -> int:
    """Write every rater's pending assignments, rater by rater (a cancel no longer applies:
    the study is open), counting in `progress` those a rater's first page wrote meanwhile
    too. How many assignments the study has once all are written."""
    progress = progress or Progress()
    waiting = list(study.pending_assignments.values_list("rater_id", "placements"))
    progress.note = "The study is open; writing each rater's assignments"
    progress.done = 0
    progress.counted_from = timezone.now()
    progress.total = sum(placements for _, placements in waiting)
    for rater_id, placements in waiting:
        if not pending_assignments_write(study=study, rater_id=rater_id, progress=progress):
            progress.done += placements  # the rater's first page was first
    # Adaptive items whose first ratings came in meanwhile were left undecided: decided now.
    adaptive_sweep(study=Study.objects.get(pk=study.pk))  # open now, whatever `study` says
    return Assignment.objects.filter(study=study).count()


class _OpenCancelled(Exception):
    pass
