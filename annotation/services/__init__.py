"""Every write to reader-study data goes through these functions; views and tasks stay thin.

One module per concern; everything public is re-exported here, so callers write
`services.rating_save(...)` without knowing which module holds it.
"""

from annotation.services.bundle import bundle_build, bundle_path
from annotation.services.connections import connection_ensure, connections_sync
from annotation.services.external_ratings import study_import_ratings
from annotation.services.generation import (
    output_record_generation,
    outputs_fetch_missing,
    source_create,
)
from annotation.services.imports import (
    ImportSummary,
    import_in_background,
    import_upload_read,
    study_import_file,
    study_import_run,
    study_import_start,
)
from annotation.services.judges import judge_create, judge_run
from annotation.services.questions import (
    RUBRIC_TEMPLATES_DIR,
    question_add,
    question_remove,
    questions_add_template,
    rubric_templates,
)
from annotation.services.raters import (
    api_token_rotate,
    assignments_reassign,
    invitation_accept,
    invitation_accept_new_account,
    invitation_check,
    invitation_refusal,
    invitations_send,
    study_add_raters,
)
from annotation.services.rating import (
    TIME_ON_TASK_REPORT_MAX_MS,
    assignment_add_time,
    assignment_mark_opened,
    assignment_submit,
    question_spec_for,
    rating_save,
)
from annotation.services.statistics import agreement_compute
from annotation.services.studies import (
    DEFAULT_SCALE,
    PAIRWISE_SCALE,
    REOPEN_REASON_MAX_CHARS,
    analysis_close,
    analysis_reopen,
    item_key,
    shown_order,
    study_analysis_update,
    study_archive,
    study_create,
    study_delete,
    study_lock,
    study_open,
)
from annotation.services.task_runs import (
    TaskRunLost,
    database_unreachable,
    statistics_recompute_soon,
    task_run_cancel,
    task_run_claim,
    task_run_create,
    task_run_finish,
    task_run_give_up,
    task_run_progress,
    task_run_received,
    task_run_release,
    task_runs_requeue_lost,
)

__all__ = [
    "REOPEN_REASON_MAX_CHARS",
    "analysis_close",
    "analysis_reopen",
    "judge_create",
    "judge_run",
    "DEFAULT_SCALE",
    "PAIRWISE_SCALE",
    "RUBRIC_TEMPLATES_DIR",
    "TIME_ON_TASK_REPORT_MAX_MS",
    "ImportSummary",
    "agreement_compute",
    "bundle_build",
    "connection_ensure",
    "connections_sync",
    "bundle_path",
    "statistics_recompute_soon",
    "api_token_rotate",
    "assignment_add_time",
    "assignment_mark_opened",
    "assignment_submit",
    "assignments_reassign",
    "invitation_accept",
    "invitation_accept_new_account",
    "invitation_check",
    "invitation_refusal",
    "invitations_send",
    "item_key",
    "output_record_generation",
    "outputs_fetch_missing",
    "question_add",
    "question_remove",
    "question_spec_for",
    "questions_add_template",
    "rating_save",
    "rubric_templates",
    "shown_order",
    "source_create",
    "study_add_raters",
    "study_analysis_update",
    "study_archive",
    "study_create",
    "study_delete",
    "study_import_file",
    "study_import_run",
    "study_import_start",
    "import_in_background",
    "import_upload_read",
    "study_import_ratings",
    "study_lock",
    "study_open",
    "task_run_claim",
    "task_run_create",
    "task_run_cancel",
    "TaskRunLost",
    "database_unreachable",
    "task_run_finish",
    "task_run_give_up",
    "task_run_progress",
    "task_run_received",
    "task_run_release",
    "task_runs_requeue_lost",
]
