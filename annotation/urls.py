from django.urls import path

from annotation.views import (
    account,
    adaptive,
    adjudication,
    audit,
    consent,
    corrections,
    notifications,
    planning,
    rater,
    reading,
    studies,
)

urlpatterns = [
    path("", studies.home, name="home"),
    path("account/token/", account.api_token, name="api_token"),
    path("invite/<str:token>/", account.invitation, name="invitation"),
    path("rate/", rater.rater_home, name="rater_home"),
    path("rate/<str:study_token>/", rater.rater_resume, name="rater_resume"),
    # Before the item pattern, which would take "review" for an item's token.
    path("rate/<str:study_token>/review/", rater.rater_review, name="rater_review"),
    path("rate/<str:study_token>/consent/", consent.rater_consent, name="rater_consent"),
    path("rate/<str:study_token>/background/", consent.rater_background, name="rater_background"),
    path("rate/<str:study_token>/after-study/", consent.rater_post_study, name="rater_post_study"),
    path("rate/<str:study_token>/my-consent/", consent.rater_my_consent, name="rater_my_consent"),
    path("rate/<str:study_token>/withdraw/", consent.rater_withdraw, name="rater_withdraw"),
    path("rate/<str:study_token>/<str:assignment_token>/", rater.rater_item, name="rater_item"),
    path(
        "rate/<str:study_token>/<str:assignment_token>/feedback/",
        rater.rater_feedback,
        name="rater_feedback",
    ),
    path(
        "rate/<str:study_token>/<str:assignment_token>/images/<str:image_token>/",
        rater.rater_image,
        name="rater_image",
    ),
    path(
        "rate/<str:study_token>/<str:assignment_token>/answers/",
        rater.rater_answers,
        name="rater_answers",
    ),
    path(
        "rate/<str:study_token>/<str:assignment_token>/submit/",
        rater.rater_submit,
        name="rater_submit",
    ),
    path("audit/", audit.audit_log, name="audit_log"),
    path("audit.<str:fmt>", audit.audit_log_export, name="audit_log_export"),
    path("studies/", studies.study_list, name="study_list"),
    path("studies/new/", studies.study_create, name="study_create"),
    path("studies/new-reading/", reading.reading_study_new, name="reading_study_new"),
    path("studies/<str:study_token>/", studies.study_dashboard, name="study_dashboard"),
    path("studies/<str:study_token>/import/", studies.study_import, name="study_import"),
    path("studies/<str:study_token>/comments/", studies.study_comments, name="study_comments"),
    path("studies/<str:study_token>/audit/", audit.study_audit, name="study_audit"),
    path(
        "studies/<str:study_token>/audit.<str:fmt>",
        audit.study_audit_export,
        name="study_audit_export",
    ),
    path(
        "studies/<str:study_token>/corrections/",
        corrections.study_corrections,
        name="study_corrections",
    ),
    path("studies/<str:study_token>/consent/", consent.study_consent, name="study_consent"),
    path("studies/<str:study_token>/raters/", studies.study_add_raters, name="study_add_raters"),
    path("studies/<str:study_token>/sources/", studies.study_add_source, name="study_add_source"),
    path("studies/<str:study_token>/arms/", reading.reading_arm_add, name="reading_arm_add"),
    path(
        "studies/<str:study_token>/scorers/", reading.reading_scorer_add, name="reading_scorer_add"
    ),
    path(
        "studies/<str:study_token>/adjudication/",
        adjudication.study_adjudication,
        name="study_adjudication",
    ),
    path(
        "studies/<str:study_token>/adjudication/select/",
        adjudication.adjudication_select,
        name="adjudication_select",
    ),
    path(
        "studies/<str:study_token>/adjudicators/",
        adjudication.adjudicator_add,
        name="adjudicator_add",
    ),
    path("adjudicate/<str:study_token>/", adjudication.adjudicator_next, name="adjudicator_next"),
    path(
        "adjudicate/<str:study_token>/<str:token>/",
        adjudication.adjudicator_item,
        name="adjudicator_item",
    ),
    path("score/<str:study_token>/", reading.scorer_next, name="scorer_next"),
    path("score/<str:study_token>/<str:score_token>/", reading.scorer_item, name="scorer_item"),
    path("studies/<str:study_token>/judges/", studies.study_add_judge, name="study_add_judge"),
    path(
        "studies/<str:study_token>/judges/<int:judge_id>/run/",
        studies.study_run_judge,
        name="study_run_judge",
    ),
    path(
        "studies/<str:study_token>/judges/<int:judge_id>/score-answers/",
        studies.study_judge_answers,
        name="study_judge_answers",
    ),
    path(
        "studies/<str:study_token>/sources/<int:source_id>/fetch/",
        studies.study_fetch_outputs,
        name="study_fetch_outputs",
    ),
    path("studies/<str:study_token>/open/", studies.study_open, name="study_open"),
    path("studies/<str:study_token>/analysis/", studies.study_analysis, name="study_analysis"),
    path("studies/<str:study_token>/adaptive/", adaptive.study_adaptive, name="study_adaptive"),
    path(
        "studies/<str:study_token>/adaptive/off/",
        adaptive.study_adaptive_off,
        name="study_adaptive_off",
    ),
    path("studies/<str:study_token>/invite/", studies.study_invite, name="study_invite"),
    path(
        "studies/<str:study_token>/notifications/",
        notifications.study_notifications,
        name="study_notifications",
    ),
    path(
        "studies/<str:study_token>/raters/<str:pseudonym>/remove/",
        studies.study_remove_rater,
        name="study_remove_rater",
    ),
    path(
        "studies/<str:study_token>/invitations/<int:invitation_id>/revoke/",
        studies.study_revoke_invitation,
        name="study_revoke_invitation",
    ),
    path(
        "studies/<str:study_token>/sources/<int:source_id>/edit/",
        studies.study_edit_source,
        name="study_edit_source",
    ),
    path(
        "studies/<str:study_token>/judges/<int:judge_id>/edit/",
        studies.study_edit_judge,
        name="study_edit_judge",
    ),
    path(
        "studies/<str:study_token>/raters/<str:pseudonym>/reassign/",
        studies.study_reassign,
        name="study_reassign",
    ),
    path(
        "studies/<str:study_token>/lock/",
        studies.study_change_status,
        {"action": "lock"},
        name="study_lock",
    ),
    path(
        "studies/<str:study_token>/archive/",
        studies.study_change_status,
        {"action": "archive"},
        name="study_archive",
    ),
    path(
        "studies/<str:study_token>/analysis/reopen/",
        studies.study_analysis_reopen,
        name="study_analysis_reopen",
    ),
    path(
        "studies/<str:study_token>/analysis/close/",
        studies.study_analysis_close,
        name="study_analysis_close",
    ),
    path(
        "studies/<str:study_token>/questions/",
        studies.study_question_add,
        name="study_question_add",
    ),
    path(
        "studies/<str:study_token>/questions/template/",
        studies.study_question_template,
        name="study_question_template",
    ),
    path(
        "studies/<str:study_token>/questions/<slug:key>/remove/",
        studies.study_question_remove,
        name="study_question_remove",
    ),
    path(
        "studies/<str:study_token>/agreement/",
        studies.study_compute_agreement,
        name="study_compute_agreement",
    ),
    path("studies/<str:study_token>/bundle/", studies.study_bundle, name="study_bundle"),
    path(
        "studies/<str:study_token>/plan/power/", planning.study_plan_power, name="study_plan_power"
    ),
    path(
        "studies/<str:study_token>/plan/width/", planning.study_plan_width, name="study_plan_width"
    ),
    path(
        "studies/<str:study_token>/figures/<slug:name>.<str:fmt>",
        studies.study_figure,
        name="study_figure",
    ),
    path(
        "studies/<str:study_token>/bundle/<int:run_id>.zip",
        studies.study_bundle_download,
        name="study_bundle_download",
    ),
    path(
        "studies/<str:study_token>/runs/<int:run_id>/",
        studies.study_task_run,
        name="study_task_run",
    ),
    path(
        "studies/<str:study_token>/runs/<int:run_id>/cancel/",
        studies.study_task_run_cancel,
        name="study_task_run_cancel",
    ),
    path(
        "studies/<str:study_token>/ratings.csv", studies.study_ratings_csv, name="study_ratings_csv"
    ),
    path(
        "studies/<str:study_token>/judge-ratings.csv",
        studies.study_judge_ratings_csv,
        name="study_judge_ratings_csv",
    ),
]
