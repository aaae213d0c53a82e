"""The reader-study models, one module per concern (app label `annotation` for all of them, so the
migrations are unchanged); every model is re-exported here."""

from annotation.models.adaptive import MAX_EXTRA_RATERS, AdaptiveDecision, AdaptiveDesign
from annotation.models.adjudication import (
    Adjudication,
    AdjudicationRevision,
    AdjudicationSelection,
    Adjudicator,
)
from annotation.models.audit import AuditEvent, AuditLogIsAppendOnly
from annotation.models.cases import Attachment, Case, Generation, Output
from annotation.models.consent import ConsentVersion, RaterQuestion
from annotation.models.endpoints import Connection, EndpointNotReady, Judge, ModelEndpoint, Source
from annotation.models.identities import ExternalIdentity
from annotation.models.items import Assignment, Item, ItemOutput, PendingAssignments
from annotation.models.jobs import TaskRun
from annotation.models.judging import JudgeRating, JudgeVerdict
from annotation.models.notifications import Notification
from annotation.models.preferences import UserPreference
from annotation.models.questions import Question
from annotation.models.ratings import Rating, RatingRevision
from annotation.models.reading import NEUTRAL_LABEL, AnswerScore, Arm, JudgeScore, Scorer
from annotation.models.results import Result, StudyFigures
from annotation.models.studies import (
    STATISTICS_ARCHIVED,
    STATISTICS_LOCKED,
    AnalysisReopening,
    Invitation,
    Membership,
    Study,
)
from annotation.models.tokens import TOKEN_ALPHABET, new_seed, new_token
from annotation.models.uploads import ImportUpload, ImportUploadChunk

__all__ = [
    "Adjudication",
    "AdjudicationRevision",
    "AdjudicationSelection",
    "Adjudicator",
    "AdaptiveDecision",
    "AdaptiveDesign",
    "MAX_EXTRA_RATERS",
    "AnalysisReopening",
    "AnswerScore",
    "AuditEvent",
    "AuditLogIsAppendOnly",
    "Arm",
    "Assignment",
    "Attachment",
    "Case",
    "Connection",
    "ConsentVersion",
    "EndpointNotReady",
    "Generation",
    "ExternalIdentity",
    "ImportUpload",
    "ImportUploadChunk",
    "Invitation",
    "Item",
    "ItemOutput",
    "Judge",
    "JudgeRating",
    "JudgeScore",
    "JudgeVerdict",
    "Membership",
    "UserPreference",
    "NEUTRAL_LABEL",
    "Notification",
    "ModelEndpoint",
    "Output",
    "PendingAssignments",
    "Question",
    "RaterQuestion",
    "Rating",
    "RatingRevision",
    "Result",
    "STATISTICS_ARCHIVED",
    "Scorer",
    "STATISTICS_LOCKED",
    "Source",
    "Study",
    "StudyFigures",
    "TOKEN_ALPHABET",
    "TaskRun",
    "new_seed",
    "new_token",
]
