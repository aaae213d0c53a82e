"""Opening a study: its items frozen and every rater's seeded order stored, in the request
or on a worker."""

from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotation.core import design, memory
from annotation.models import (
    Case,
    Item,
    ItemOutput,
    Membership,
    Output,
    PendingAssignments,
    Study,
    TaskRun,
)
from annotation.services.adaptive_rule import rule_check_before_open
from annotation.services.audit import audit_record
from annotation.services.reading import reading_open
from annotation.services.studies.assignments import (
    assignments_create,
    assignments_defer,
    pending_assignments_write,
)
from annotation.services.studies.items import _items_for, _key_of, _sources_of
from annotation.services.studies.opening_checks import (
    _check_can_open,
    _check_case_lists,
    _check_expected_answers,
    _check_quality_cases,
    _check_retests,
)
from annotation.services.task_runs import (
    Progress,
    check_no_import_pending,
    study_for_change,
    task_run_create,
)


def study_opens_in_background(*, study: Study) -> bool:
    """Whether opening is left to a worker: when the study's outputs times its raters, the
    most assignments opening can make, pass OPEN_BACKGROUND_PLACEMENTS. A million assignments
    take tens of seconds to store, longer than a web request may last. An open study whose
    raters' assignments an opening left pending (its worker stopped) has them written by a
    worker too."""
    if study.status == Study.Status.OPEN:
        return study.pending_assignments.exists()
    outputs = Output.objects.filter(case__study=study, sample=0).count()  # what items take
    raters = study.memberships.filter(role=Membership.Role.RATER).count()
    return outputs * raters > settings.OPEN_BACKGROUND_PLACEMENTS


def study_open_start(*, study: Study, user: AbstractBaseUser | None) -> TaskRun:
    """Queue the study's opening on a worker (study_open_run). Refused (ValidationError) unless
    the study is a draft with no import or opening already waiting or running."""
    return task_run_create(study=study, kind=TaskRun.Kind.OPEN, user=user)


def rater_assignments_write(*, user: AbstractBaseUser) -> int:
    """Write now whatever assignments of this rater's an opening left pending, in any open
    study: the rater's first page after a large study opens (about 2 s for 50,000) rather
    than a wait for the opening's job to reach them. A list longer than
    RATER_ASSIGNMENTS_WRITE_MAX is left to the job: more than a page should wait for (the
    rater is told it is being prepared). How many were written."""
    pending = PendingAssignments.objects.filter(
        rater=user,
        study__status=Study.Status.OPEN,
        placements__lte=settings.RATER_ASSIGNMENTS_WRITE_MAX,
    )
    written = 0
    for study_id in pending.values_list("study_id", flat=True):
        written += pending_assignments_write(study=Study(pk=study_id), rater_id=user.pk)
    return written


@transaction.atomic
def study_open(
    *,
    study: Study,
    job: TaskRun | None = None,
    progress: Progress | None = None,
    defer: bool = False,
) -> int:
    """Freeze the study's outputs into items and store every rater's seeded order. Refused
    while an import of the study waits or runs, or a worker's opening (other than `job`, the
    one doing this). `progress` is told the step and, while the assignments are written, how
    many of them are. With `defer`, each rater's assignments are stored pending, to be written
    after the study opens (pending_assignments_write): how many there are is returned either
    way."""
    progress = progress or Progress()
    if job is None:
        study = study_for_change(study.pk)
    else:
        study = Study.objects.select_for_update().get(pk=study.pk)
    check_no_import_pending(study)
    if study.is_reading:
        count = reading_open(study=study)
        audit_record(action="study.opened", study=study, target=study, details={"reads": count})
        return count
    raters = list(study.memberships.filter(role=Membership.Role.RATER).select_related("user"))
    _check_can_open(study, len(raters))
    rule_check_before_open(study=study)
    progress.note = "Making the items"
    # The design is keyed on what stays the same in any copy of the study (case id, source label,
    # rater pseudonym), so the same file, raters and seed give the same manifest anywhere.
    built = _items_for(study)
    if not any(item.output.case.role == Case.Role.STUDY for item in built):
        raise ValidationError("No case has two outputs to compare.")
    _check_quality_cases(study, built)
    _check_expected_answers(study, built)
    _check_case_lists(study, built)
    Item.objects.bulk_create(built)
    members = [
        ItemOutput(item=item, output=output, slot=slot)
        for item in built
        for slot, output in enumerate(getattr(item, "planned_outputs", ()))
    ]
    ItemOutput.objects.bulk_create(members)
    items = {_key_of(item): item for item in built}
    by_role: dict[str, list[design.DesignItem]] = {role: [] for role in Case.Role.values}
    for key, item in sorted(items.items(), key=lambda pair: (pair[1].output.case_id, pair[0])):
        by_role[item.output.case.role].append(design.DesignItem(key, _sources_of(item)))
    users = {m.pseudonym: m.user for m in raters}
    with memory.cycle_collection_paused(), ThreadPoolExecutor(max_workers=1) as digesting:
        progress.note = "Placing the items in each rater's seeded order"
        manifest = _manifest(study, by_role, users)
        progress.total = len(manifest.placements)
        progress.note = "Storing each rater's order" if defer else "Writing the assignments"
        # The digest (seconds of CPU at a million placements) is made while the assignments are
        # written: this thread mostly waits for the database then, and the other's work needs
        # nothing from it.
        digest = digesting.submit(lambda: manifest.digest)
        if defer:
            assignments_defer(study, manifest.placements, items=items, users=users)
        else:
            write = assignments_create
            write(study, manifest.placements, items=items, users=users, progress=progress)
        study.manifest_hash = digest.result()
    study.status = Study.Status.OPEN
    study.opened_at = timezone.now()
    study.training_items = len(by_role[Case.Role.TRAINING])
    study.save(update_fields=["status", "opened_at", "manifest_hash", "training_items"])
    audit_record(
        action="study.opened",
        study=study,
        target=study,
        details={
            "status": {"old": Study.Status.DRAFT, "new": Study.Status.OPEN},
            "assignments": len(manifest.placements),
            "manifest_hash": study.manifest_hash,
        },
    )
    return len(manifest.placements)


def _manifest(study: Study, by_role: dict[str, list[design.DesignItem]], users) -> design.Manifest:
    manifest = design.assign(
        items=by_role[Case.Role.STUDY],
        raters=list(users),
        k=study.raters_per_item,
        seed=study.seed,
    )
    placements = design.add_quality_control(
        manifest.placements, quality_control_of(study, by_role), seed=study.seed, raters=list(users)
    )
    if study.retests_per_rater:
        _check_retests(study, placements)
    return design.Manifest(seed=study.seed, k=study.raters_per_item, placements=tuple(placements))


def quality_control_of(
    study: Study, by_role: dict[str, list[design.DesignItem]]
) -> design.QualityControl:
    return design.QualityControl(
        training=tuple(by_role[Case.Role.TRAINING]),
        checks=tuple(by_role[Case.Role.ATTENTION]),
        repeats=study.repeats_per_rater,
        retests=study.retests_per_rater,
    )
