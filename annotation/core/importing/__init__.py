"""Parse a study's cases and outputs from CSV or JSONL. Plain data, no Django.

The parser either returns every row or raises `ImportRejected` listing every problem it found,
each naming the file, the row and the field, so an admin can fix the file in one pass. Nothing
is written here; the service writes the parsed rows in one transaction.

The columns (CSV header or JSONL keys) and their formats are `COLUMNS` (`rows`): the parser
reads them, and so does the import form's help, so the two cannot drift apart. `files` reads the
text (encoding, CSV dialect, JSONL, sizes, nesting); `bounds` holds what both need (how many
problems are listed, how deep JSON may nest). This package re-exports what the rest of the app
uses; the modules share more among themselves.

A row with only case_id and input adds a case whose outputs a model endpoint will generate. A
zip holds one such file and the images it names: annotation.core.archives reads it.
"""

from annotation.core.importing.bounds import (
    MAX_JSON_DEPTH,
    MAX_PROBLEMS,
    nesting_depth,
)
from annotation.core.importing.files import (
    DEFAULT_LIMITS,
    ImportLimits,
    data_too_large,
    decode_text,
    parse_study_file,
    size_text,
)
from annotation.core.importing.rows import (
    COLUMNS,
    MAX_IMAGE_BYTES,
    REQUIRED,
    ROLES,
    Column,
    ImportRejected,
    ImportRow,
    Problem,
)

__all__ = [
    "COLUMNS",
    "Column",
    "DEFAULT_LIMITS",
    "ImportLimits",
    "ImportRejected",
    "ImportRow",
    "MAX_IMAGE_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_PROBLEMS",
    "Problem",
    "REQUIRED",
    "ROLES",
    "data_too_large",
    "decode_text",
    "nesting_depth",
    "parse_study_file",
    "size_text",
]
