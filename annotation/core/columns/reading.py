"""Assisted reading's files: the arm in ratings and unblinding, reads.csv,
assisted_reading.csv and judge_scores.csv."""

from annotation.core.columns.ratings import RATINGS, UNBLINDING
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
from annotation.core.columns.statistics import _QUESTION

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
