"""An open study locked, then archived; a locked study's analysis reopened and closed, and its
settings changed."""

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.models import AnalysisReopening, Study
from annotation.selectors import judges_running
from annotation.services.audit import audit_record, changes, fields_of
from annotation.services.task_runs import (
    check_assignments_written,
    statistics_recompute_final,
    statistics_recompute_soon,
)

logger = logging.getLogger(__name__)


@transaction.atomic
def study_lock(*, study: Study) -> None:
    """Open -> locked: no answer changes any more, and the statistics are recomputed one last
    time, with every submitted rating; after that only a reopened analysis (analysis_reopen)
    changes them. Exports and statistics stay available. Not while a judge is running: what it
    adds after the lock would be in no locked figure."""
    check_assignments_written(study)  # a rater still to be given their list would be locked out
    _study_move(study, Study.Status.OPEN, Study.Status.LOCKED)
    _check_no_judge_running(study, "locking the study")
    _audit_move(study, "study.locked", Study.Status.OPEN)
    statistics_recompute_final(study=study)


@transaction.atomic
def study_archive(*, study: Study) -> None:
    """Locked -> archived: kept for the record, out of everyone's way, its statistics frozen
    for good (no reopening)."""
    locked = Study.objects.select_for_update().filter(pk=study.pk).first()
    if locked is not None and locked.analysis_reopened:
        raise ValidationError("The study's analysis is reopened: close it before archiving.")
    _study_move(study, Study.Status.LOCKED, Study.Status.ARCHIVED)
    _audit_move(study, "study.archived", Study.Status.LOCKED)


def _audit_move(study: Study, action: str, old: str) -> None:
    audit_record(
        action=action,
        study=study,
        target=study,
        details={"status": {"old": old, "new": study.status}},
    )


def _study_move(study: Study, source: str, target: str) -> None:
    # The row is locked until the caller's transaction ends: a judge run or recomputation
    # asked for meanwhile (task_runs._check_statistics_changeable) sees the new status.
    moved = Study.objects.filter(pk=study.pk, status=source).update(status=target)
    if not moved:
        names = dict(Study.Status.choices)
        raise ValidationError(f"Only a study that is {names[source].lower()} can be {target}.")
    study.refresh_from_db()
    logger.info("study %s is now %s", study.token, target)


def _check_no_judge_running(study: Study, doing: str) -> None:
    if running := judges_running(study=study):
        raise ValidationError(
            f"{', '.join(running)} {'is' if len(running) == 1 else 'are'} still judging: "
            f"wait for {'it' if len(running) == 1 else 'them'} to finish, or cancel, before "
            f"{doing}."
        )


# The longest reason for reopening a study's analysis that is kept.
REOPEN_REASON_MAX_CHARS = 2000


@transaction.atomic
def analysis_reopen(*, study: Study, by: AbstractBaseUser, reason: str) -> AnalysisReopening:
    """Reopen a locked study's analysis, for a reason that is recorded with who and when (and
    listed on the dashboard and in the paper bundle): until analysis_close, its judges, judge
    runs, recomputations and analysis settings may change its statistics. Its ratings stay
    locked. An archived study's analysis cannot be reopened."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    reason = reason.strip()
    if study.status == Study.Status.ARCHIVED:
        raise ValidationError("The study is archived: its analysis cannot be reopened.")
    if study.status != Study.Status.LOCKED:
        raise ValidationError("Only a locked study's analysis can be reopened.")
    if not reason:
        raise ValidationError("Say why the analysis is reopened: the reason is recorded.")
    if len(reason) > REOPEN_REASON_MAX_CHARS:
        raise ValidationError(
            f"The reason is {len(reason)} characters long; at most {REOPEN_REASON_MAX_CHARS}."
        )
    try:
        with transaction.atomic():
            reopening = AnalysisReopening.objects.create(study=study, opened_by=by, reason=reason)
    except IntegrityError:  # analysis_reopening_one_open
        raise ValidationError("The study's analysis is already reopened.") from None
    audit_record(
        action="analysis.reopened",
        study=study,
        target=reopening,
        details={"reason": reason},
        user=by,
    )
    logger.warning(
        "analysis of study %s reopened by %s (user %s): %r",
        study.token,
        by.get_username(),
        by.pk,
        reason,
    )
    return reopening


@transaction.atomic
def analysis_close(*, study: Study, by: AbstractBaseUser) -> AnalysisReopening:
    """Close a reopened analysis: the statistics are recomputed one last time, and freeze
    again. Not while a judge is running (what it adds afterwards would be in no figure)."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    reopening = study.reopenings.filter(closed_at__isnull=True).first()
    if reopening is None:
        raise ValidationError("The study's analysis is not reopened.")
    _check_no_judge_running(study, "closing the analysis")
    reopening.closed_at, reopening.closed_by = timezone.now(), by
    reopening.save(update_fields=["closed_at", "closed_by"])
    statistics_recompute_final(study=study, user=by)
    audit_record(action="analysis.closed", study=study, target=reopening, user=by)
    logger.warning(
        "analysis of study %s closed by %s (user %s)", study.token, by.get_username(), by.pk
    )
    return reopening


@transaction.atomic
def study_analysis_update(*, study: Study, p_adjustment: str, judge_epsilon: float) -> Study:
    """Change how the study's statistics are drawn, and recompute them (soon). Not once the
    study is locked, unless its analysis is reopened: its figures are then the paper's."""
    stored = Study.objects.select_for_update().get(pk=study.pk)
    if reason := stored.statistics_frozen_reason():
        raise ValidationError(reason)
    # From the row: a ModelForm has already set the new values on `study`.
    before = fields_of(stored, ("p_adjustment", "judge_epsilon"))
    study.p_adjustment, study.judge_epsilon = p_adjustment, judge_epsilon
    study.full_clean(validate_unique=False, validate_constraints=False)
    study.save(update_fields=["p_adjustment", "judge_epsilon"])
    after = fields_of(study, ("p_adjustment", "judge_epsilon"))
    if diff := changes(before, after):
        audit_record(action="settings.changed", study=study, target=study, details=diff)
    statistics_recompute_soon(study=study)
    return study
