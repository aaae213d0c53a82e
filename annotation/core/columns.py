"""Every column of every CSV file in the paper bundle: its name, its type, what it means, and the
values a categorical column takes. The one source of the exports' column lists, the Markdown
data dictionary and the Frictionless data package (`datapackage.json`), so that none of them can
say something the others do not. Plain data, no Django."""

from dataclasses import dataclass

from annotation.core import rubric
from annotation.core.stats.names import (
    FIXED_CASES,
    FIXED_READERS,
    RANDOM_BOTH,
    RATERS_LIKE_THESE,
    THESE_RATERS,
)

# Types are the Table Schema's (https://specs.frictionlessdata.io/table-schema/).
STRING, INTEGER, NUMBER, BOOLEAN, DATETIME, ANY = (
    "string",
    "integer",
    "number",
    "boolean",
    "datetime",
    "any",
)
# Base R's read.csv reads TRUE and FALSE (and T, F) as logical, not true or false (R 4.2); pandas
# reads all three spellings as bool.
TRUE, FALSE = "TRUE", "FALSE"
# Seconds, UTC, a literal Z: what R's as.POSIXct and pandas read without losing the time.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MISSING = ""  # an empty cell: no value
R_TIMESTAMP = 'as.POSIXct(x, format = "%Y-%m-%dT%H:%M:%SZ", tz = "UTC")'
PANDAS_TIMESTAMP = 'pd.to_datetime(x, format="%Y-%m-%dT%H:%M:%SZ", utc=True)'


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """One CSV file of the bundle."""

    path: str
    title: str
    description: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def stem(self) -> str:
        return self.path.removesuffix(".csv")


def _column(name: str, type_: str, description: str, enum: tuple = ()) -> Column:
    return Column(name, type_, description, tuple(str(value) for value in enum))


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

_QUESTION = _column("question", STRING, "the question's key, as in questions.csv")
_VALUE = _column("value", NUMBER, "the estimate (a p-value for a test); empty when undefined")
_INTERVAL_QUESTIONS = (THESE_RATERS, RATERS_LIKE_THESE, RANDOM_BOTH, FIXED_READERS, FIXED_CASES)
_ESTIMATE_COLUMNS = (
    _column("ci_low", NUMBER, "the lower end of its 95% interval; empty without one"),
    _column("ci_high", NUMBER, "the upper end of its 95% interval; empty without one"),
    _column("method", STRING, "how the estimate was computed"),
    _column("ci_method", STRING, "how its interval was computed"),
    _column("interval_method", STRING, "the interval's method in short"),
    _column(
        "interval_question",
        STRING,
        "which question the interval answers: which raters (or readers) and cases it would "
        "hold for (" + ", ".join(f"`{question}`" for question in _INTERVAL_QUESTIONS) + ")",
    ),
)
_OTHER_INTERVAL = (
    _column(
        "other_ci_low",
        NUMBER,
        "agreement coefficients: the interval answering the other question (these raters, or "
        "raters like these), lower end",
    ),
    _column("other_ci_high", NUMBER, "its upper end"),
    _column("other_interval_method", STRING, "its method in short"),
    _column(
        "other_interval_question",
        STRING,
        "the question it answers",
        (THESE_RATERS, RATERS_LIKE_THESE),
    ),
    _column("other_ci_method", STRING, "how it was computed"),
    _column("other_ci_note", STRING, "why there is none, where there is none"),
)
_COUNTS = (
    _column("n_units", INTEGER, "units (items or cases) the estimate is over"),
    _column("n_raters", INTEGER, "raters whose answers it used"),
    _column("n_ratings", INTEGER, "ratings it used"),
    _column("resamples", INTEGER, "bootstrap resamples of its interval"),
    _column("seed", INTEGER, "the bootstrap's seed"),
    _column(
        "p_adjusted",
        NUMBER,
        "paired tests: the p-value adjusted across the study's tests of the same kind",
    ),
    _column("adjustment", STRING, "how `p_adjusted` was adjusted, and across how many tests"),
)
_EFFECT_TEXT = _column(
    "effect",
    STRING,
    "paired tests: their other figures in words (rank-biserial, counts of positive and "
    "negative differences, discordant pairs)",
)
_INPUTS_HASH = _column(
    "inputs_hash", STRING, "the hash of the ratings and settings it was computed from"
)

AGREEMENT = Table(
    "agreement.csv",
    "Agreement",
    "Every agreement figure, one row per estimate: the coefficients with their intervals for "
    "both questions, judge tests and test-retest included.",
    (
        _QUESTION,
        _column("statistic", STRING, "the statistic's stored name (`krippendorff_alpha`...)"),
        _column("source", STRING, "the source it is restricted to; empty = all sources"),
        _column("judge", STRING, "the LLM judge it is about; empty = the raters alone"),
        _VALUE,
        *_ESTIMATE_COLUMNS,
        *_OTHER_INTERVAL,
        *_COUNTS,
        _EFFECT_TEXT,
        _INPUTS_HASH,
    ),
)

# What `effect_size` holds, always in the direction of source_a against source_b.
MEAN_DIFFERENCE = "mean difference"
PROPORTION_DIFFERENCE = "proportion difference"
ACCURACY_DIFFERENCE = "accuracy difference"
MEDIAN_DIFFERENCE = "median difference"
POSITIVE_SHARE = "share of differences positive"
ODDS_RATIO = "odds ratio"
MEAN_PREFERENCE = "mean preference"
MEDIAN_PREFERENCE = "median preference"
WIN_SHARE = "win share"
EFFECT_KINDS = {
    MEAN_DIFFERENCE: "MRMC on the mean score: source_a's mean minus source_b's",
    PROPORTION_DIFFERENCE: "MRMC on a yes/no question: source_a's share answering yes minus "
    "source_b's",
    ACCURACY_DIFFERENCE: "MRMC on accuracy against the cases' expected answers: source_a's "
    "minus source_b's",
    MEDIAN_DIFFERENCE: "Wilcoxon test: the median of the paired differences (each case's mean, "
    "source_a minus source_b; a pairwise question's mean preference for source_a), zeros "
    "included",
    POSITIVE_SHARE: "sign test: the share of the nonzero paired differences that favour "
    "source_a (0.5 = no difference)",
    ODDS_RATIO: "McNemar test: the matched-pairs odds ratio b / c, cases where only source_a "
    "got yes over cases where only source_b did (empty when c is 0)",
    MEAN_PREFERENCE: "pairwise question: the mean answer in canonical order, positive favours "
    "source_a",
    MEDIAN_PREFERENCE: "pairwise question: the median answer in canonical order, positive "
    "favours source_a",
    WIN_SHARE: "pairwise question: the share of ratings preferring source_a",
}

COMPARISON = Table(
    "comparison.csv",
    "Comparisons of sources",
    "Every comparison of sources, one row per estimate: each source's summaries, the paired "
    "tests and MRMC comparisons of each pair with their effect sizes, pairwise preferences, "
    "Bradley-Terry strengths, criteria points, and correlations with imported metrics.",
    (
        _QUESTION,
        _column(
            "statistic",
            STRING,
            "the estimate's name: `score_summary:mean` and `:median`, `win_tie_loss:win`, "
            "`:tie`, `:loss`, `bradley_terry:log_strength` and `:beats_average`, "
            "`criteria_points:score`, `correction_summary:edit_rate`, `:mean_chars`, "
            "`:mean_words` and `:share_unchanged`, `correlation:<metric>:spearman`..., the "
            "paired tests "
            "`wilcoxon`, `sign_test`, `mcnemar` (value: the p-value), the MRMC tests `mrmc` and "
            "`mrmc_accuracy` (value: the p of the readers-and-cases-random test), their "
            "differences `mrmc:random_both`, `:fixed_readers`, `:fixed_cases` and each source "
            "alone, readers and cases random, `mrmc:alone_first` (source_a) and "
            "`:alone_second` (source_b)",
        ),
        _column(
            "source_a",
            STRING,
            "the source the row is about, or a pair's first source (pairs are in canonical "
            "order, sources sorted by label); empty for a figure over every source",
        ),
        _column("source_b", STRING, "a pair's second source; empty for one-source rows"),
        _column("judge", STRING, "the LLM judge it is about; empty = the raters alone"),
        _VALUE,
        _column(
            "p",
            NUMBER,
            "the row's own p-value where it has one: a paired test's or MRMC test's (the same "
            "as `value`), or an MRMC difference's for the question it answers "
            "(`interval_question`); `p_adjusted` is given on the test's own row only",
        ),
        _column(
            "effect_size",
            NUMBER,
            "rows comparing two sources: the size and direction of their difference, source_a "
            "against source_b, of the kind `effect_kind` names; for a row whose value is that "
            "difference already, the same number; empty where none applies",
        ),
        _column(
            "effect_kind",
            STRING,
            "what `effect_size` is: "
            + "; ".join(f"`{kind}`: {meaning}" for kind, meaning in EFFECT_KINDS.items()),
            tuple(EFFECT_KINDS),
        ),
        *_ESTIMATE_COLUMNS,
        *_OTHER_INTERVAL,
        *_COUNTS,
        _EFFECT_TEXT,
        _INPUTS_HASH,
    ),
)

JUDGE_DIAGNOSTICS = Table(
    "judge_diagnostics.csv",
    "Judge diagnostics",
    "Each LLM judge's length bias, self-preference and calibration per question, beside the "
    "raters' figure on the same units (only in a study with judges).",
    (
        _column("judge", STRING, "the judge's label"),
        _QUESTION,
        _column(
            "diagnostic",
            STRING,
            "which diagnostic",
            ("Length bias", "Self-preference", "Calibration"),
        ),
        _column("value", NUMBER, "the judge's figure minus the raters'; empty when not computed"),
        _column("ci_low", NUMBER, "the lower end of its 95% interval"),
        _column("ci_high", NUMBER, "the upper end of its 95% interval"),
        _column("judge_figure", NUMBER, "the judge's own figure"),
        _column("raters_figure", NUMBER, "the raters' figure on the same units"),
        _column("n_units", INTEGER, "units compared"),
        _column("n_cases", INTEGER, "cases they come from"),
        _column("method", STRING, "how it was computed"),
        _column("ci_method", STRING, "how its interval was computed"),
        _column("interval_question", STRING, "which question the interval answers"),
        _column("reading", STRING, "one plain sentence: which way the judge departs, if at all"),
    ),
)

FACT_AGREEMENT = Table(
    "fact_agreement.csv",
    "Agreement per fact",
    "Omission questions (MED-OMIT): for each fact of each case, how far the raters agree on "
    "whether the case's outputs omit it (only in a study with an omission question).",
    (
        _QUESTION,
        _column("case_id", STRING, "the case's identifier, as imported"),
        _column("fact", STRING, "the fact's id within the case, as imported"),
        _column("n_outputs", INTEGER, "the case's outputs two or more raters marked"),
        _column("omitted_share", NUMBER, "of every rater's mark of the fact, the share 'omitted'"),
        _column(
            "alpha",
            NUMBER,
            "Krippendorff's alpha, nominal metric, on omitted yes / no over the case's outputs; "
            "empty when undefined (every mark the same, or one output)",
        ),
        _column(
            "percent_agreement",
            NUMBER,
            "the share of agreeing rater pairs, mean over the outputs; defined where alpha is not",
        ),
        _column("reason", STRING, "why alpha is empty"),
    ),
)

# How `prompt_sha256` is computed, for anyone checking it against a request of their own.
PROMPT_HASH = (
    "the SHA-256 (hex) of the request's `messages` as stored (an image as its "
    '`sha256:<hex>` reference) in JSON with sorted keys, no spaces (`separators=(",", ":")`) '
    "and UTF-8 unescaped (`ensure_ascii=False`): equal hashes mean the model was sent the same "
    "prompt; empty when no request was sent"
)
CALL_OUTCOMES = ("ok", "failed")


def _call_columns(*, retries: str, retry_details: str) -> tuple[Column, ...]:
    """What every stored model call records, a generation's or a judge's."""
    return (
        _column("outcome", STRING, "`ok`, or `failed` (see `error`)", CALL_OUTCOMES),
        _column("error", STRING, "why the call failed, in generic words; empty when it did not"),
        _column(
            "model_requested",
            STRING,
            "the model the request asked for (`model` in the request: a name or an alias)",
        ),
        _column(
            "model_version",
            STRING,
            "the model the server says it served (`model` in its reply); empty when it said none",
        ),
        _column(
            "served_headers",
            STRING,
            "the reply's headers that name the deployment behind an alias (`openai-model`, "
            "`x-litellm-model-name`...), as a JSON object with lower-case names; `{}` for none",
        ),
        _column("response_id", STRING, "the reply's `id`, as the server gave it"),
        _column("system_fingerprint", STRING, "the reply's `system_fingerprint`, if any"),
        _column("http_status", INTEGER, "the HTTP status of the last attempt; empty for none"),
        _column("retries", INTEGER, retries),
        _column("retry_details", STRING, retry_details),
        _column(
            "rate_limit_wait_seconds",
            NUMBER,
            "seconds waited after 429 and 503 answers before trying again",
        ),
        _column(
            "prompt_tokens", INTEGER, "prompt tokens, as the server counted them; empty if not"
        ),
        _column(
            "completion_tokens",
            INTEGER,
            "completion tokens, as the server counted them; empty if not",
        ),
        _column(
            "cost",
            NUMBER,
            "the tokens at the prices per million tokens set for the caller; empty without "
            "prices or token counts",
        ),
        _column("latency_seconds", NUMBER, "seconds from the request to the whole reply"),
        _column("prompt_sha256", STRING, PROMPT_HASH),
        _column("started_at", DATETIME, "when the call started (UTC)"),
        _column("finished_at", DATETIME, "when it finished (UTC)"),
    )


GENERATIONS = Table(
    "generations.csv",
    "Model calls for outputs",
    "One row per call made to fetch a source's output for a case, failed ones included: how "
    "each output was produced (only in a study whose outputs a worker fetched; imported "
    "outputs have no call).",
    (
        _column("case_id", STRING, "the case's id, as in unblinding.csv"),
        _column("source", STRING, "the source's label, as in unblinding.csv"),
        _column(
            "sample",
            INTEGER,
            "which of the source's samples for the case (raters see sample 0)",
        ),
        _column(
            "endpoint",
            STRING,
            "the URL called (never a key: keys belong to the operator's connections)",
        ),
        *_call_columns(
            retries="attempts the HTTP client made before the one that counted (after a "
            "timeout, a 429 or a 5xx answer)",
            retry_details="those attempts as a JSON list of objects, each with its HTTP status "
            "or error (and the wait after a rate limit); `[]` for none",
        ),
    ),
)

JUDGE_CALLS = Table(
    "judge_calls.csv",
    "LLM judge calls",
    "One row per unit of an LLM judge's work (an item, in one order shown, one sample; or, "
    "in an assisted-reading study, a reader's answer decided), failed ones included, with the "
    "provenance of its last call; the judge's answers are in the API's judge-ratings table and "
    "its decisions on answers in judge_scores.csv (only in a study with judges).",
    (
        _column("judge", STRING, "the judge's label"),
        _column(
            "kind",
            STRING,
            "`rating`: an item rated with the rubric; `answer`: a reader's answer decided "
            "(assisted reading)",
        ),
        _column(
            "item_token",
            STRING,
            "the judged item, as in ratings.csv and unblinding.csv (for an answer, its read's "
            "item, which the case's other reads may share)",
        ),
        _column(
            "shown_order",
            STRING,
            "the canonical slots in the order the judge was shown them, space-separated "
            "(`1 0`: a pair shown the other way round); empty for an answer",
        ),
        _column(
            "variant",
            INTEGER,
            "which of the judge's orders this is (0 = canonical; 0 for an answer)",
        ),
        _column("sample", INTEGER, "which of the judge's samples for this order (0 for an answer)"),
        *_call_columns(
            retries="calls made for this unit before its last one (a malformed reply is asked "
            "again); the tokens, cost and waits add up over every call. The HTTP client's own "
            "retries within a call are not recorded for judges",
            retry_details="every call made for this unit, the last included, as a JSON list of "
            '`{"error", "http_status"}` (`error` empty for a reply that parsed)',
        ),
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

# --- assisted reading (docs/assisted-reading.md) -------------------------------------------------

ARM_KINDS = ("unassisted", "source", "tool")
_ARM = _column(
    "arm",
    STRING,
    "assisted-reading studies only (the column is absent from other studies' files): the arm "
    "the read was in, by its key (`unassisted`, or the admin's key of an assisting arm); join "
    "to unblinding.csv on `item_token` and `arm`. An unassisted or tool read's item is an "
    "output of the case that the reader was never shown: the arm, not the item, says what was "
    "on the screen",
)
_ARM_KIND = _column(
    "arm_kind",
    STRING,
    "`unassisted` (the case alone), `source` (a source's output beside the case) or `tool` (a "
    "tool the admin described)",
    ARM_KINDS,
)
RATINGS_READING = Table(
    RATINGS.path,
    RATINGS.title,
    RATINGS.description + " In an assisted-reading study one more column, `arm`, says which "
    "arm each read was in.",
    (*RATINGS.columns, _ARM),
)
UNBLINDING_READING = Table(
    UNBLINDING.path,
    UNBLINDING.title,
    UNBLINDING.description + " In an assisted-reading study one row per item and arm it was "
    "read in, `arm` and `arm_kind` added: the source columns name only what the read showed, "
    "and are empty for unassisted and tool reads (which showed no output).",
    (
        *UNBLINDING.columns,
        _column(
            "arm",
            STRING,
            "assisted-reading studies only: the arm, as in ratings.csv's `arm` (a row's key is "
            "`item_token` and `arm`)",
        ),
        _column(
            "arm_kind", STRING, "assisted-reading studies only: " + _ARM_KIND.description, ARM_KINDS
        ),
    ),
)


def ratings_table(*, reading: bool) -> Table:
    """ratings.csv as a study writes it: with `arm` in an assisted-reading study."""
    return RATINGS_READING if reading else RATINGS


def unblinding_table(*, reading: bool) -> Table:
    return UNBLINDING_READING if reading else UNBLINDING


READ_OUTCOMES = ("right", "wrong", "undecided")
SCORED_BY = ("match", "scorer")
READS = Table(
    "reads.csv",
    "Reads (assisted reading)",
    "One row per read of an assisted-reading study: one reader, one case, one arm (only in an "
    "assisted-reading study). The arm says what the reader was shown; the statistics in "
    "assisted_reading.csv count submitted reads scored right or wrong.",
    (
        _column("rater", STRING, "the reader's pseudonym, as in ratings.csv"),
        _column("case_id", STRING, "the case's id, as imported"),
        _column("arm", STRING, "the arm's key (`unassisted`, or the admin's key)"),
        _ARM_KIND,
        _column(
            "session",
            INTEGER,
            "the reader's session: 1 in the sequential layout; in the crossover layout the "
            "session of this arm's read (a later one opened only after the washout)",
        ),
        _column(
            "phase",
            INTEGER,
            "sequential layout: 1 the unassisted read, 2 the assisted read of the same case "
            "just after it (which started from the locked answer); 1 in the crossover layout",
        ),
        _column("position", INTEGER, "the read's place in the reader's order, from 1"),
        _column(
            "answer",
            ANY,
            "the answer as given: a choice, a number, text, or a ranked list as a JSON list "
            "(most likely first); empty when none was given",
        ),
        _column(
            "outcome",
            STRING,
            "the answer's score against the case's accepted answers: `right`, `wrong`, or "
            "`undecided` (no exact match: waiting for the blinded scorer, left out of the "
            "statistics and counted as pending); empty without an answer",
            READ_OUTCOMES,
        ),
        _column(
            "scored_by",
            STRING,
            "who decided the outcome: `match` (exact match against the accepted answers and "
            "synonyms, or the number within its tolerance) or `scorer` (a blinded clinician "
            "scorer decided it); empty while undecided (and without an answer)",
            SCORED_BY,
        ),
        _column(
            "rank",
            INTEGER,
            "ranked lists: the rank of the first entry that states the expected answer; empty "
            "when none does, or for other answers. A rank exact match found (`scored_by` "
            "`match`) is an upper limit: an earlier entry may be an unlisted wording of the "
            "answer, so top-j for j below it is pending until a scorer decides (`top_j` in "
            "assisted_reading.csv counts such reads as pending); a scorer's rank is exact",
        ),
        _column(
            "seconds",
            NUMBER,
            "seconds the read was on the reader's screen while the page was visible; empty "
            "when none was recorded",
        ),
        _column("submitted", BOOLEAN, "`TRUE` once the reader submitted the read"),
        _column(
            "locked",
            BOOLEAN,
            "sequential layout, phase 1: `TRUE` once the unassisted answer locked",
        ),
    ),
)

READING_STATISTICS = (
    "accuracy",
    "mrmc_difference",
    "mcnemar_exact",
    "mcnemar_chi2",
    "odds_ratio",
    "helped",
    "harmed",
    "helped_of_wrong",
    "harmed_of_right",
    "seconds_median",
    "seconds_q1",
    "seconds_q3",
    "top_j",
    "judge_kappa",
    "judge_agreement",
    "judge_sensitivity",
    "judge_specificity",
)
JUDGE_REFERENCES = ("scorer", "match")
ASSISTED_READING = Table(
    "assisted_reading.csv",
    "Assisted reading: accuracy per arm and the effect of assistance",
    "The stored statistics of an assisted-reading study, one row per estimate (only in an "
    "assisted-reading study): accuracy per arm, the MRMC difference of accuracy for each of "
    "its three questions, McNemar's test with the matched-pairs odds ratio, how often "
    "assistance helped and harmed with an interval per question, and the seconds per read per "
    "arm; for ranked answers, top-j accuracy per arm; and each LLM judge's agreement with the "
    "clinician scorer and the exact match. Over submitted reads scored right or wrong; "
    "undecided answers are counted in `pending`.",
    (
        _QUESTION,
        _column(
            "statistic",
            STRING,
            "`accuracy` (share of reads right), `mrmc_difference` (accuracy, `arm` minus "
            "`compared_with`), `mcnemar_exact` and `mcnemar_chi2` (value: the p-value), "
            "`odds_ratio` (helped over harmed pairs), `helped`, `harmed` (of all pairs), "
            "`helped_of_wrong` (of the pairs wrong unassisted), `harmed_of_right` (of the "
            "pairs right unassisted), `seconds_median`, `seconds_q1`, `seconds_q3` (per read), "
            "`top_j` (ranked answers: share of reads with a right entry among the first `top`), "
            "`judge_kappa` (Cohen's kappa, one row per interval), `judge_agreement` (share of "
            "answers on which judge and reference agree), `judge_sensitivity` (of the "
            "reference's right, the judge's right), `judge_specificity` (of the reference's "
            "wrong, the judge's wrong): an LLM judge (`judge`) against `compared_with`",
            READING_STATISTICS,
        ),
        _column(
            "top",
            INTEGER,
            "`top_j` rows: j, the entries of a ranked list counted (1, 3, 5 and k, those up to "
            "k); else empty",
        ),
        _column(
            "judge",
            STRING,
            "`judge_*` rows: the LLM judge's label (as in judge_scores.csv); else empty",
        ),
        _column("arm", STRING, "the arm the row is about (an assisting arm for paired rows)"),
        _column(
            "compared_with",
            STRING,
            "paired and MRMC rows: the arm it is compared with (`unassisted`); `judge_*` rows: "
            "the reference, `scorer` (the clinician scorer, on the answers exact match left "
            "undecided that both decided) or `match` (exact match, on the admin's sample of "
            "matched answers); else empty",
        ),
        _column("value", NUMBER, "the estimate (a p-value for a test); empty when undefined"),
        _column(
            "count",
            INTEGER,
            "the reads right (accuracy), the pairs counted (helped, harmed...), the discordant "
            "pairs helped (McNemar, odds ratio), the reads with a time (seconds), the reads "
            "right within the first `top` entries (top_j), the answers agreed on, both right "
            "or both wrong (judge rows)",
        ),
        _column(
            "of",
            INTEGER,
            "what `count` is out of: reads scored, pairs, discordant pairs, reads; judge rows: "
            "answers both decided (kappa, agreement), the reference's right (sensitivity), "
            "the reference's wrong (specificity)",
        ),
        _column(
            "pending",
            INTEGER,
            "accuracy and top_j: undecided reads of the arm, left out until scored (for top_j "
            "also the lists exact match found right only below `top`)",
        ),
        _column("ci_low", NUMBER, "the lower end of its 95% interval; empty without one"),
        _column("ci_high", NUMBER, "the upper end of its 95% interval; empty without one"),
        _column(
            "interval_question",
            STRING,
            "which question the interval answers: which readers and cases it would hold for",
        ),
        _column("interval_method", STRING, "how the interval was computed"),
        _column("p", NUMBER, "the row's p-value where it has one (MRMC differences, McNemar)"),
        _column("df", NUMBER, "MRMC differences: the denominator degrees of freedom (Hillis)"),
        _column("method", STRING, "how the estimate was computed"),
        _column(
            "note",
            STRING,
            "why an estimate or interval is missing, where one is; or that an interval "
            "extends beyond what the estimate can be (0 to 1, or -1 to 1 for a difference), "
            "as the MRMC analysis's normal-theory interval can with few readers: it is given "
            "as the analysis computed it, not clipped",
        ),
        _column(
            "both_right",
            INTEGER,
            "judge rows: answers the reference and the judge both scored right",
        ),
        _column(
            "reference_only_right",
            INTEGER,
            "judge rows: answers the reference scored right and the judge wrong",
        ),
        _column(
            "judge_only_right",
            INTEGER,
            "judge rows: answers the judge scored right and the reference wrong",
        ),
        _column("both_wrong", INTEGER, "judge rows: answers both scored wrong"),
        _column(
            "only_one_scored",
            INTEGER,
            "judge rows: answers one of the two decided and the other did not (left out)",
        ),
        _column("n_readers", INTEGER, "readers whose reads it used"),
        _column("n_cases", INTEGER, "cases it used"),
        _column("n_reads", INTEGER, "reads it used"),
    ),
)

JUDGE_SCORES = Table(
    "judge_scores.csv",
    "LLM judges' decisions on answers (assisted reading)",
    "One row per decision an LLM judge made on a reader's answer, failed calls included (only "
    "in an assisted-reading study where a judge scored answers). The judge was shown the case, "
    "its accepted answers and the answer, never the reader, arm or source. Its decisions are "
    "compared with the clinician scorer's and the exact match's (`judge_*` rows of "
    "assisted_reading.csv) and never stand in for them in the statistics.",
    (
        _column("judge", STRING, "the judge's label"),
        _column("rater", STRING, "the reader's pseudonym, as in reads.csv"),
        _column("case_id", STRING, "the case's id, as in reads.csv"),
        _column("arm", STRING, "the arm of the read, as in reads.csv"),
        _column("session", INTEGER, "the read's session, as in reads.csv"),
        _column("phase", INTEGER, "the read's phase, as in reads.csv"),
        _column("position", INTEGER, "the read's place in the reader's order, as in reads.csv"),
        _column(
            "answer",
            ANY,
            "the answer as the judge was shown it (a ranked list as a JSON list)",
        ),
        _column(
            "current",
            BOOLEAN,
            "`TRUE` when the reader's answer is still the one judged; `FALSE` when it changed "
            "since (the decision then counts in no agreement, and is made again by the next run)",
        ),
        _column(
            "why",
            STRING,
            "why the answer went to the judge: `undecided` (exact match could not decide it) or "
            "`sampled` (exact match decided it; in the admin's sample, to measure the judge "
            "against the match)",
            ("undecided", "sampled"),
        ),
        _column(
            "outcome",
            STRING,
            "`ok` (the reply parsed) or `failed` (no reply in the schema after the retries; "
            "tried again by the next run)",
            ("ok", "failed"),
        ),
        _column("judge_right", BOOLEAN, "the judge's decision: `TRUE` right; empty when failed"),
        _column(
            "judge_rank",
            INTEGER,
            "ranked lists: the rank of the first right entry as the judge gave it; empty when "
            "none, for other answers, or when failed",
        ),
        _column(
            "clinician_outcome",
            STRING,
            "the answer's outcome in reads.csv now: `right`, `wrong` or `undecided`",
            READ_OUTCOMES,
        ),
        _column(
            "decided_by",
            STRING,
            "who decided `clinician_outcome`: `match` or `scorer`; empty while undecided",
            SCORED_BY,
        ),
        _column("model_version", STRING, "the model version the provider reported"),
        _column("prompt_tokens", INTEGER, "prompt tokens of the last call; empty if unreported"),
        _column(
            "completion_tokens",
            INTEGER,
            "completion tokens of the last call; empty if unreported",
        ),
        _column("latency_ms", INTEGER, "milliseconds the last call took"),
        _column("finished_at", DATETIME, "when the last call finished (UTC)"),
    ),
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
