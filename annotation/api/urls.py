"""/api/v1/ routes of reader studies."""

from rest_framework.routers import SimpleRouter

from annotation.api import (
    adaptive,
    adjudication,
    audit,
    consent,
    exports,
    notifications,
    planning,
    provenance,
    rater,
    raters,
    reading,
    studies,
    study_data,
)

STUDY = r"studies/(?P<study_token>[A-Za-z0-9]+)"

router = SimpleRouter()
router.register("studies", studies.StudyViewSet, basename="api-study")
router.register("audit", audit.AuditViewSet, basename="api-audit")
router.register("reading-studies", reading.ReadingStudyViewSet, basename="api-reading-study")
for path, viewset, name in [
    ("sources", study_data.SourceViewSet, "api-source"),
    ("cases", study_data.CaseViewSet, "api-case"),
    ("outputs", study_data.OutputViewSet, "api-output"),
    ("questions", study_data.QuestionViewSet, "api-question"),
    ("assignments", study_data.AssignmentViewSet, "api-assignment"),
    ("judges", study_data.JudgeViewSet, "api-judge"),
    ("results", study_data.ResultViewSet, "api-result"),
    ("tasks", study_data.TaskRunViewSet, "api-task"),
    ("ratings", exports.RatingViewSet, "api-rating"),
    ("judge-ratings", exports.JudgeRatingViewSet, "api-judge-rating"),
    ("unblinding-key", exports.UnblindingViewSet, "api-unblinding"),
    ("rating-history", exports.RatingHistoryViewSet, "api-rating-history"),
    ("generations", provenance.GenerationViewSet, "api-generation"),
    ("judge-calls", provenance.JudgeCallViewSet, "api-judge-call"),
    ("raters", raters.RaterViewSet, "api-rater"),
    ("invitations", raters.InvitationViewSet, "api-invitation"),
    ("comments", raters.CommentViewSet, "api-comment"),
    ("plan", planning.PlanViewSet, "api-plan"),
    ("adaptive", adaptive.AdaptiveViewSet, "api-adaptive"),
    ("arms", reading.ArmViewSet, "api-arm"),
    ("reads", reading.ReadViewSet, "api-read"),
    ("scorers", reading.ScorerViewSet, "api-scorer"),
    ("notifications", notifications.NotificationViewSet, "api-notification"),
    ("adjudication-selections", adjudication.SelectionViewSet, "api-adjudication-selection"),
    ("adjudicators", adjudication.AdjudicatorViewSet, "api-adjudicator"),
    ("adjudications", adjudication.ReferenceViewSet, "api-adjudication"),
    ("consent", consent.StudyConsentViewSet, "api-study-consent"),
    ("rater-questions", consent.RaterQuestionViewSet, "api-rater-question"),
    ("audit", audit.StudyAuditViewSet, "api-study-audit"),
]:
    router.register(f"{STUDY}/{path}", viewset, basename=name)
router.register("rate", rater.RaterStudyViewSet, basename="api-rate")
router.register(
    r"rate/(?P<study_token>[A-Za-z0-9]+)/consent",
    consent.MyConsentViewSet,
    basename="api-my-consent",
)
router.register(
    r"rate/(?P<study_token>[A-Za-z0-9]+)/items", rater.RaterItemViewSet, basename="api-rater-item"
)
router.register(
    r"adjudicate/(?P<study_token>[A-Za-z0-9]+)/items",
    adjudication.AdjudicatorItemViewSet,
    basename="api-adjudicator-item",
)

urlpatterns = router.urls
