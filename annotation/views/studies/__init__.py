"""Study admin pages: create a study, import its data, configure sources, open it, watch it run.

One module per part of the work; every page is re-exported here, so `urls.py` names
`studies.study_dashboard` without knowing which module holds it."""

from annotation.views.studies.analysis import (
    study_analysis,
    study_analysis_close,
    study_analysis_reopen,
)
from annotation.views.studies.confirmation import IRREVERSIBLE
from annotation.views.studies.dashboard import dashboard_context, study_comments, study_dashboard
from annotation.views.studies.downloads import (
    study_bundle_download,
    study_figure,
    study_judge_ratings_csv,
    study_ratings_csv,
)
from annotation.views.studies.endpoints import (
    study_add_judge,
    study_add_source,
    study_edit_judge,
    study_edit_source,
)
from annotation.views.studies.imports import study_import
from annotation.views.studies.lifecycle import study_change_status, study_open
from annotation.views.studies.listing import home, study_create, study_list
from annotation.views.studies.raters import (
    study_add_raters,
    study_invite,
    study_reassign,
    study_remove_rater,
    study_revoke_invitation,
)
from annotation.views.studies.rubric import (
    study_question_add,
    study_question_remove,
    study_question_template,
)
from annotation.views.studies.runs import (
    study_bundle,
    study_compute_agreement,
    study_fetch_outputs,
    study_judge_answers,
    study_run_judge,
    study_task_run,
    study_task_run_cancel,
)

__all__ = [
    "IRREVERSIBLE",
    "dashboard_context",
    "home",
    "study_add_judge",
    "study_add_raters",
    "study_add_source",
    "study_analysis",
    "study_analysis_close",
    "study_analysis_reopen",
    "study_bundle",
    "study_bundle_download",
    "study_change_status",
    "study_comments",
    "study_compute_agreement",
    "study_create",
    "study_dashboard",
    "study_edit_judge",
    "study_edit_source",
    "study_fetch_outputs",
    "study_figure",
    "study_import",
    "study_invite",
    "study_judge_answers",
    "study_judge_ratings_csv",
    "study_list",
    "study_open",
    "study_question_add",
    "study_question_remove",
    "study_question_template",
    "study_ratings_csv",
    "study_reassign",
    "study_remove_rater",
    "study_revoke_invitation",
    "study_run_judge",
    "study_task_run",
    "study_task_run_cancel",
]
