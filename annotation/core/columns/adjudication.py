"""Adjudication's file: adjudications.csv."""

from annotation.core.columns.ratings import ITEM_TOKEN, QUESTION
from annotation.core.columns.schema import (
    ANY,
    BOOLEAN,
    DATETIME,
    INTEGER,
    NUMBER,
    STRING,
    Table,
    _column,
)

# --- adjudication (docs/adjudication.md) --------------------------------------------------------

SELECTION_MODES = ("rule", "sample", "all")


ADJUDICATIONS = Table(
    "adjudications.csv",
    "Adjudicated reference answers",
    "One row per item chosen for adjudication that has a reference, and per question with a "
    "numeric code or a choice (only in a study with references): the reference a senior "
    "clinician recorded, never one of the item's raters, beside the raters' majority. Join to "
    "ratings.csv on `item_token` and `question`. Agreement statistics are the raters' own, "
    "before adjudication.",
    (
        ITEM_TOKEN,
        QUESTION,
        _column(
            "reference_answer",
            ANY,
            "the adjudicated answer, written as ratings.csv's `answer` (a pairwise preference "
            "in the pair's canonical order, positive favouring the unblinding key's `source`)",
        ),
        _column("reference_value", NUMBER, "its numeric code, as ratings.csv's `value`"),
        _column("reason", STRING, "the adjudicator's reason, one for the item's references"),
        _column(
            "adjudicator",
            STRING,
            "the adjudicator's label in this study (`A1`, `A2`, ...), never their name",
        ),
        _column("decided_at", DATETIME, "when the reference was last recorded (UTC)"),
        _column(
            "selected_by",
            STRING,
            "how the item was chosen: by a disagreement `rule`, a seeded `sample`, or `all`",
            SELECTION_MODES,
        ),
        _column(
            "selection_rule",
            STRING,
            "the selection in words: the rule, or the sample's size and seed",
        ),
        _column(
            "n_raters",
            INTEGER,
            "the raters whose submitted answers the majority reads (adaptive extras included)",
        ),
        _column(
            "majority",
            ANY,
            "the answer more than half the raters gave (pairwise: canonical order); empty "
            "when none did",
        ),
        _column(
            "sided_with_majority",
            BOOLEAN,
            "`TRUE` when the reference equals the raters' majority; empty when there was none",
        ),
    ),
)
