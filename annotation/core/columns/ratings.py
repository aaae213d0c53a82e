"""The ratings and what they need to be read: ratings.csv, unblinding.csv, questions.csv and
corrections.csv."""

from annotation.core import rubric
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

ITEM_TOKEN = _column(
    "item_token",
    STRING,
    "the rated item (one output, a pair or a set of one case's outputs); join to "
    "unblinding.csv for its sources",
)


RATER = _column(
    "rater",
    STRING,
    "the rater's pseudonym in this study (`R1`, `R2`, ... in the order they joined)",
)


QUESTION = _column("question", STRING, "the question's key; join to questions.csv")


ASSIGNMENT_KINDS = ("study", "training", "attention", "repeat", "retest", "extra")


SOURCE_KINDS = ("model", "human_reference")


LEVELS = ("nominal", "ordinal", "interval", "ratio")


RATINGS = Table(
    "ratings.csv",
    "Ratings (long format)",
    "One row per rating; the shape agreement statistics start from.",
    (
        ITEM_TOKEN,
        RATER,
        QUESTION,
        _column(
            "answer",
            ANY,
            "the answer as given: a scale point, a choice, `yes`/`no`, a number, text, `na` "
            '(not applicable), `none` (a span question\'s "No errors found", a criteria '
            'question\'s "No criterion met" or an omission question\'s "None omitted, none '
            'wrong": an answer given, unlike an empty list `[]`, which is a question whose '
            "spans or ticks were all taken back and counts as unanswered); multiple choices, "
            "met criteria and marked spans as a JSON list (a span as "
            '`{"start", "end", "category", "severity"}`, offsets into the output\'s text); an '
            'omission as a JSON object `{"omitted": [fact ids], "wrong": [fact ids]}` (ids of '
            "the case's facts, in the case's order); a "
            "ranking as a JSON list of the rank (1 = best) given to each response in the order "
            "shown (map through `shown_order`); in the API's JSON pages each list or object is "
            "JSON, not text. Its type depends on the question (numbers for a Likert scale, text "
            "for a choice), so a file of one question kind reads as that kind; a correction's "
            "corrected text (its diff and edit distances are in corrections.csv)",
        ),
        _column(
            "value",
            NUMBER,
            "the number statistics use: the scale point, 1/0 for yes/no, the number, the "
            "choice's position in the declared list, the criteria score (0-1; 0 for `none`), "
            "the number of spans marked (0 for `none`), the omission rate (the importance of "
            "the facts omitted over that of all the case's facts, 0-1; 0 for `none`), a "
            "correction's word edit rate (word edits per word of the original, 0 when accepted "
            "unchanged); for a pairwise question the answer turned to the pair's canonical order "
            "(positive favours `source` of the unblinding key); empty for `na`, text, multiple "
            "choice and an emptied span, criteria or omission answer `[]`",
        ),
        _column(
            "flipped",
            BOOLEAN,
            "pairwise items: `TRUE` when this rater saw the pair's second source as A",
        ),
        _column(
            "shown_order",
            STRING,
            "side-by-side and ranking items: the canonical slots in the order this rater saw "
            "them, space-separated (`2 0 1` showed slot 2 as A); empty otherwise",
        ),
        _column(
            "output_slot",
            INTEGER,
            "side-by-side per-response answers: the canonical slot of the response the answer "
            "is about (the unblinding key's `sources[slot]`); empty for answers about the whole "
            "item",
        ),
        _column(
            "kind",
            STRING,
            "`study`, or quality control: `training`, `attention` (a hidden attention check), "
            "`repeat` (a hidden repeat of an item the same rater saw before) or `retest` (a "
            "re-read of the rater's own item in a later session, after the washout), or "
            "`extra` (an adaptive extra rating: the item's first ratings disagreed by the "
            "study's rule); statistics use `study` rows only, `repeat` rows for test-retest "
            "within a sitting, `retest` rows for test-retest across the washout, and `extra` "
            "rows only in the secondary agreement that includes adaptive extras; filter them "
            "out for the primary figure",
            ASSIGNMENT_KINDS,
        ),
        _column("first_saved_at", DATETIME, "when the answer was first saved (UTC)"),
        _column("last_saved_at", DATETIME, "when the answer was last changed (UTC)"),
        _column("revisions", INTEGER, "how many distinct values were saved (1 = never changed)"),
        _column(
            "submitted",
            BOOLEAN,
            "`TRUE` once the rater submitted the item; statistics count submitted items only "
            "(until then the answers are a draft)",
        ),
        _column(
            "time_on_task_seconds",
            NUMBER,
            "seconds the item was on this rater's screen while the page was visible, as their "
            "browser reported it, over every visit: per item and rater (a hidden repeat has its "
            "own), so every answer to the same item by the same rater repeats it; empty when "
            "none was recorded (as for answers given through the API, or imported)",
        ),
        _column(
            "session",
            INTEGER,
            "the rater's reading session the item was in: 1, or 2 and later for items that "
            "opened only after the rater finished the session before and the study's washout "
            "passed (re-reads after the washout)",
        ),
        _column(
            "reference_answer",
            ANY,
            "the adjudicated reference answer for this row's item and question, written as "
            "`answer` is (a pairwise preference in the pair's canonical order, as `value`): the "
            "same on every row of that item and question, as adjudications.csv gives it; empty "
            "where the item has no decided adjudication or the question none recorded",
        ),
        _column(
            "reference_value",
            NUMBER,
            "the reference answer's numeric code, as `value` codes an answer; empty where "
            "`reference_answer` is or the answer has no code",
        ),
    ),
)


UNBLINDING = Table(
    "unblinding.csv",
    "Unblinding key",
    "Which source wrote each item: one row per item. A separate file, so that ratings.csv can "
    "be analysed blind.",
    (
        _column("item_token", STRING, "as in ratings.csv"),
        _column("case_id", STRING, "the case's id from the imported file"),
        _column("source", STRING, "the source's label (a pair's first, in canonical order)"),
        _column("source_kind", STRING, "`model` or `human_reference`", SOURCE_KINDS),
        _column(
            "source_b",
            STRING,
            "pairwise items: the pair's second source (canonical order sorts sources by "
            "label); empty otherwise",
        ),
        _column(
            "sources",
            STRING,
            "every source the item shows, in canonical order, as a JSON list (one for an "
            "absolute item, two for a pair, all of the case's for side by side and ranking)",
        ),
    ),
)


QUESTIONS = Table(
    "questions.csv",
    "Questions",
    "One row per question of the rubric: what it asked, how it is answered and analysed.",
    (
        _column("question", STRING, "the question's key, as in ratings.csv"),
        _column("order", INTEGER, "its place in the rubric, from 0"),
        _column("prompt", STRING, "the question as the raters read it"),
        _column("kind", STRING, "how it is answered", rubric.KINDS),
        _column(
            "level",
            STRING,
            "its level of measurement, which chooses the statistics; empty for kinds without "
            "statistics (free text, multiple choice)",
            LEVELS,
        ),
        _column(
            "scale",
            STRING,
            "the answers offered and their labels, `answer=label` pairs separated by `|`, "
            "lowest first (`1=Poor|2=Fair|3=Good`, `yes=Yes|no=No`); the answers are as in "
            'ratings.csv\'s `answer`. In R: `strsplit(strsplit(scale, "|", fixed = TRUE)[[1]], '
            '"=", fixed = TRUE)`; a label holding `|` or `=` is exact in `scale_json` only. '
            "Pairwise labels speak of A and B as shown, not of the canonical order. Empty for "
            "kinds without a scale",
        ),
        _column(
            "scale_values",
            STRING,
            "the number ratings.csv's `value` holds for each answer of `scale`, in the same "
            "order and separated by `|` (`1|0` for yes/no, a choice's position in the list)",
        ),
        _column(
            "scale_json",
            STRING,
            'the scale exactly, as a JSON list of `{"answer", "value", "label"}`; `[]` for '
            "kinds without a scale",
        ),
        _column("na_offered", BOOLEAN, '`TRUE` when "not applicable" (`na`) was offered'),
        _column("required", BOOLEAN, "`TRUE` when an item cannot be submitted without it"),
        _column("minimum", NUMBER, "number questions: the smallest answer allowed; else empty"),
        _column("maximum", NUMBER, "number questions: the largest answer allowed; else empty"),
    ),
)


CORRECTIONS = Table(
    "corrections.csv",
    "Corrected outputs",
    "One row per correction a rater made (only in a study with a correction question): the "
    "output's text, the rater's corrected text and how far apart they are. Line endings are "
    "LF in both texts; a cell with a line break, a comma or a quote is quoted, as CSV readers "
    "(pandas, R's read.csv) expect.",
    (
        QUESTION,
        _column("case_id", STRING, "the case's id, as in unblinding.csv"),
        _column("source", STRING, "the label of the source whose output was corrected"),
        RATER,
        _column(
            "assignment_kind",
            STRING,
            "`study` for the study proper; quality-control items are listed too",
            ASSIGNMENT_KINDS,
        ),
        _column("submitted", BOOLEAN, "whether the rater had submitted the item"),
        _column("original", STRING, "the output's text, as the rater was shown it"),
        _column("corrected", STRING, "the rater's corrected text"),
        _column("chars", INTEGER, "Levenshtein distance between the texts, in characters"),
        _column(
            "words",
            INTEGER,
            "Levenshtein distance in words (runs of non-space characters): words inserted, "
            "deleted or replaced",
        ),
        _column("original_words", INTEGER, "words in the original"),
        _column(
            "edit_rate",
            NUMBER,
            "`words` / `original_words`, the value statistics read; empty where the original "
            "has no words",
        ),
        _column("unchanged", BOOLEAN, "`TRUE` when the rater accepted the output unchanged"),
    ),
)
