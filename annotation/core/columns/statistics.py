"""The stored statistics: agreement.csv, comparison.csv, judge_diagnostics.csv and
fact_agreement.csv, and what a comparison's effect size holds."""

from annotation.core.columns.schema import INTEGER, NUMBER, STRING, Table, _column
from annotation.core.stats.names import (
    FIXED_CASES,
    FIXED_READERS,
    RANDOM_BOTH,
    RATERS_LIKE_THESE,
    THESE_RATERS,
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
