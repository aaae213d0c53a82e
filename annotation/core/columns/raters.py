"""The raters' file: raters.csv, with a column per question asked about the raters."""

from annotation.core.columns.ratings import RATER
from annotation.core.columns.schema import ANY, DATETIME, INTEGER, Table, _column

RATERS = Table(
    "raters.csv",
    "Raters",
    "One row per rater (by pseudonym), in a study that asks for consent or about its raters: "
    "their consent and, after these columns, one `rater_<key>` column per question about the "
    "raters (background and post-study, see the study's consent page), with the answer as "
    "stored (a choice's value, a number, yes or no, text; a JSON list for a multiple "
    "choice). Join to ratings.csv on `rater`; the dashboard's and the API's ratings export "
    "add the same columns, with `rater_withdrawn_at`.",
    (
        RATER,
        _column(
            "consent_version", INTEGER, "the version of the consent statement accepted; 0 none"
        ),
        _column("consent_accepted_at", DATETIME, "when the rater accepted it (UTC); empty if not"),
        _column(
            "withdrawn_at",
            DATETIME,
            "when the rater withdrew consent (UTC); empty if not. Their submitted ratings stay "
            "in the data and the statistics",
        ),
    ),
)


RATER_COLUMN_PREFIX = "rater_"


def raters_table(keys: list[str]) -> Table:
    """raters.csv for a study asking these questions of its raters: a column each, after the
    fixed ones."""
    asked = tuple(
        _column(f"{RATER_COLUMN_PREFIX}{key}", ANY, f"the rater's answer to `{key}`")
        for key in keys
    )
    return Table(RATERS.path, RATERS.title, RATERS.description, RATERS.columns + asked)
