"""Creating studies, their lifecycle (draft, open, locked, archived), and opening one: its
items and the seeded assignment manifest.

`creation` makes a study, `opening` opens it (after `opening_checks`) from its `items` and their
`assignments`, `lifecycle` locks, archives and reopens its analysis. Everything public is
re-exported here, as `annotation.services` re-exports it in turn."""

from annotation.services.studies.assignments import ASSIGNMENT_COLUMNS, assignments_create
from annotation.services.studies.creation import (
    DEFAULT_SCALE,
    PAIRWISE_SCALE,
    STUDY_SETTINGS,
    scale_in_language,
    study_create,
    study_delete,
    study_language_set,
)
from annotation.services.studies.items import (
    MAX_SHOWN_TOGETHER,
    OPENING_READS,
    item_key,
    shown_order,
)
from annotation.services.studies.lifecycle import (
    REOPEN_REASON_MAX_CHARS,
    analysis_close,
    analysis_reopen,
    study_analysis_update,
    study_archive,
    study_lock,
)
from annotation.services.studies.opening import (
    quality_control_of,
    rater_assignments_write,
    study_open,
    study_open_start,
    study_opens_in_background,
)
from annotation.services.studies.opening_checks import CASE_LISTS, CHECKABLE_KINDS
from annotation.services.studies.tokens import new_tokens

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "CASE_LISTS",
    "CHECKABLE_KINDS",
    "DEFAULT_SCALE",
    "MAX_SHOWN_TOGETHER",
    "OPENING_READS",
    "PAIRWISE_SCALE",
    "REOPEN_REASON_MAX_CHARS",
    "STUDY_SETTINGS",
    "analysis_close",
    "analysis_reopen",
    "assignments_create",
    "item_key",
    "new_tokens",
    "quality_control_of",
    "scale_in_language",
    "shown_order",
    "study_analysis_update",
    "study_archive",
    "study_create",
    "study_delete",
    "study_language_set",
    "study_lock",
    "study_open",
    "rater_assignments_write",
    "study_open_start",
    "study_opens_in_background",
]
