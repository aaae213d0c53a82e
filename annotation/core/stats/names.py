"""The names of the statistics a study stores (Result.statistic) and shows: the agreement
coefficients, the comparisons of sources, the judge statistics, and the questions and methods
their intervals name. Shared vocabulary of the statistics services, the results pages, the
methods text and the paper bundle; plain strings, so the pages that only show stored results
read them without loading numpy or scipy."""

ICC_FORMS = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")
COEFFICIENTS = (
    "krippendorff_alpha",
    "percent_agreement",
    "fleiss_kappa",
    "gwet_ac1",
    "gwet_ac2_linear",
    "gwet_ac2_quadratic",
    "cohen_kappa",
    "cohen_kappa_linear",
    "cohen_kappa_quadratic",
    *(f"icc_{form}" for form in ICC_FORMS),
)
RETEST = "test_retest_alpha"
# Test-retest across a washout: each rater's first reading against their re-read in a later
# session (annotation.core.stats.retest), overall with each rater's figure nested.
WASHOUT_KAPPA = "washout_retest_kappa"
WASHOUT_ICC = "washout_retest_icc"
WASHOUT_RETEST = (WASHOUT_KAPPA, WASHOUT_ICC)
# Adaptive extra raters: alpha with the extra ratings pooled in, a secondary figure beside the
# primary one on the regular ratings (annotation.services.statistics.adaptive).
WITH_EXTRAS = "krippendorff_alpha_with_extras"

SCORES = "score_summary"
WILCOXON = "wilcoxon"
SIGN_TEST = "sign_test"
MCNEMAR = "mcnemar"
WIN_TIE_LOSS = "win_tie_loss"
BRADLEY_TERRY = "bradley_terry"
CRITERIA_POINTS = "criteria_points"
# Corrected outputs per source: edit distances, the word edit rate, the share accepted unchanged.
CORRECTION_SUMMARY = "correction_summary"
CORRELATION = "correlation"  # stored as "correlation:<metric name>"
# The multi-reader multi-case comparison of a pair of sources (Obuchowski-Rockette, Hillis):
# on the mean score or share answering yes, and on accuracy where cases carry expected answers.
MRMC = "mrmc"
MRMC_ACCURACY = "mrmc_accuracy"
MRMC_TESTS = (MRMC, MRMC_ACCURACY)
# Every test whose p-values are adjusted across the study, one family per kind of test.
PAIRED_TESTS = (WILCOXON, SIGN_TEST, MCNEMAR, *MRMC_TESTS)
TEST_NAMES = {
    WILCOXON: "Wilcoxon signed-rank",
    SIGN_TEST: "sign",
    MCNEMAR: "McNemar",
    MRMC: "Obuchowski-Rockette MRMC",
    MRMC_ACCURACY: "Obuchowski-Rockette MRMC (accuracy)",
}
POSITIVE_FIRST = "positive when the first source of the pair was preferred"
# Omission questions (MED-OMIT): each source's importance-weighted omission rate, and the
# raters' agreement on which facts an output omits (per fact in its detail).
OMISSION_RATE = "omission_rate"
OMISSION_FACT_AGREEMENT = "omission_fact_agreement"
COMPARISONS = (
    SCORES,
    *PAIRED_TESTS,
    WIN_TIE_LOSS,
    BRADLEY_TERRY,
    CRITERIA_POINTS,
    OMISSION_RATE,
    CORRECTION_SUMMARY,
)

VERSUS_HUMANS = "judge_vs_humans"
AAT = "alternative_annotator_test"
CONSISTENCY = "judge_consistency"
JUDGE_STATISTICS = (VERSUS_HUMANS, AAT, CONSISTENCY)
# A judge against the adjudicated reference (docs/adjudication.md): a family of its own.
VERSUS_REFERENCE = "judge_vs_reference"

LENGTH_BIAS = "judge_length_bias"
SELF_PREFERENCE = "judge_self_preference"
CALIBRATION = "judge_calibration"
JUDGE_DIAGNOSTICS = (LENGTH_BIAS, SELF_PREFERENCE, CALIBRATION)

# The two questions an agreement interval can answer. Resampling units holds the raters fixed:
# it says how the coefficient would vary over new cases rated by these same raters. An interval
# whose model also draws the raters (ICC(2,1)'s F interval, a two-way bootstrap) says how it
# would vary over new cases and new raters like these.
THESE_RATERS = "these raters, cases like these"
RATERS_LIKE_THESE = "raters like these, cases like these"
# How an interval was made, beside the bootstrap's own names (bootstrap.KINDS).
F_INTERVAL = "McGraw-Wong F"
ASYMPTOTIC = "asymptotic"
GCI_INTERVAL = "generalized confidence interval"
RATERS_AND_CASES = "bootstrap over cases + jackknife over raters"

# The three questions of a multi-reader multi-case analysis (mrmc.analysis).
RANDOM_BOTH = "readers like these, on cases like these (readers and cases random)"
FIXED_READERS = "these readers, on cases like these (readers fixed, cases random)"
FIXED_CASES = "readers like these, on these cases (readers random, cases fixed)"
