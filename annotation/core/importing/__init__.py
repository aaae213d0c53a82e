"""Parse a study's cases and outputs from CSV or JSONL. Plain data, no Django.

The parser either returns every row or raises `ImportRejected` listing every problem it found,
each naming the file, the row and the field, so an admin can fix the file in one pass. Nothing
is written here; the service writes the parsed rows in one transaction.

The columns (CSV header or JSONL keys) and their formats are `COLUMNS` (`rows`): the parser
reads them, and so does the import form's help, so the two cannot drift apart. `files` reads the
text (encoding, CSV dialect, JSONL, sizes, nesting).

A row with only case_id and input adds a case whose outputs a model endpoint will generate. A
zip holds one such file and the images it names: annotation.core.archives reads it.
"""

from annotation.core.importing.bounds import (
    MAX_JSON_DEPTH,
    MAX_PROBLEMS,
    nesting_depth,
    nesting_over,
)
from annotation.core.importing.files import (
    DEFAULT_LIMITS,
    ImportLimits,
    csv_delimiter,
    csv_dict_reader,
    data_too_large,
    decode_text,
    parse_study_file,
    size_text,
)
from annotation.core.importing.rows import (
    COLUMN_NAMES,
    COLUMNS,
    IMAGE_TYPES,
    MAX_IMAGE_BYTES,
    MAX_IMAGES_PER_CASE,
    MAX_NAME,
    METRIC_NAME,
    REQUIRED,
    ROLES,
    SOURCE_KINDS,
    STRIPPED,
    Column,
    ImportRejected,
    ImportRow,
    Problem,
)

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "Column",
    "DEFAULT_LIMITS",
    "IMAGE_TYPES",
    "ImportLimits",
    "ImportRejected",
    "ImportRow",
    "MAX_IMAGES_PER_CASE",
    "MAX_IMAGE_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_NAME",
    "MAX_PROBLEMS",
    "METRIC_NAME",
    "Problem",
    "REQUIRED",
    "ROLES",
    "SOURCE_KINDS",
    "STRIPPED",
    "csv_delimiter",
    "csv_dict_reader",
    "data_too_large",
    "decode_text",
    "nesting_depth",
    "nesting_over",
    "parse_study_file",
    "size_text",
]
