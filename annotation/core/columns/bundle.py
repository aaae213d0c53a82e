"""The bundle's files, and the data dictionary's."""

from annotation.core.columns.adjudication import ADJUDICATIONS
from annotation.core.columns.calls import GENERATIONS, JUDGE_CALLS
from annotation.core.columns.raters import RATERS
from annotation.core.columns.ratings import CORRECTIONS, QUESTIONS, RATINGS, UNBLINDING
from annotation.core.columns.reading import (
    ASSISTED_READING,
    JUDGE_SCORES,
    RATINGS_READING,
    READS,
    UNBLINDING_READING,
)
from annotation.core.columns.statistics import (
    AGREEMENT,
    COMPARISON,
    FACT_AGREEMENT,
    JUDGE_DIAGNOSTICS,
)

BUNDLE_TABLES = (
    RATINGS,
    UNBLINDING,
    QUESTIONS,
    AGREEMENT,
    COMPARISON,
    JUDGE_DIAGNOSTICS,
    GENERATIONS,
    JUDGE_CALLS,
    FACT_AGREEMENT,
    CORRECTIONS,
    READS,
    ASSISTED_READING,
    JUDGE_SCORES,
    ADJUDICATIONS,
    RATERS,
)


# The data dictionary's files: every column any study's bundle can hold, the assisted-reading
# ones included (each says it is only there).
DICTIONARY_TABLES = tuple(
    {RATINGS: RATINGS_READING, UNBLINDING: UNBLINDING_READING}.get(table, table)
    for table in BUNDLE_TABLES
)
