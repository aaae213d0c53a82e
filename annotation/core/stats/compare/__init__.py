"""Comparing sources (models, or clinicians as one more source) on the same cases, as plain data.

Inputs are long rows for one question: (case, rater, value) for one source; per-case means of
two sources for the paired tests; pairwise answers in canonical order (> 0: the first source is
better) for win/tie/loss; (case, first, second, outcome) for Bradley-Terry. Every interval is a
seeded percentile bootstrap that resamples cases, a drawn case bringing all of its rows (its
raters, its outputs). It is done with case weights (`resampling.case_weights`), so one statistic
function gives the point estimate (every weight 1) and each resample, in a few matrix products.

Whatever the data cannot define is None with a `reason`, never NaN; input that is wrong rather
than thin (a rater rating a case twice, a value that is not a number) is a DataError.

- `common`: `Statistic` and the results' `as_dict`, checked rows, the case-bootstrap estimate.
- `scores`: `score_summary` (mean, median, distribution of one source), `case_means`.
- `paired_tests`: `shared`, `paired`, `wilcoxon`, `sign_test`, `mcnemar`, `adjust` (Holm,
  Bonferroni, Benjamini-Yekutieli). Not `paired.py`: a module named as the function it holds
  would be hidden behind it on the package.
- `preferences`: `win_tie_loss` for two sources, `bradley_terry` for three or more.
- `points`: `criteria_points`, rubric points and HealthBench's score.
- `correlations`: `correlation`, Spearman and Kendall between a metric and the reader score.
- `omissions`: `omission_rates` (MED-OMIT's weighted omission rate of one source) and
  `fact_agreement` (raters' agreement on which facts an output omits); imported by name.
"""

from annotation.core.stats.compare.common import Statistic, rows_of_codes, rows_of_columns
from annotation.core.stats.compare.correlations import (
    FISHER_Z,
    KENDALL,
    KENDALL_EXACT_MAX,
    SPEARMAN,
    Correlation,
    correlation,
)
from annotation.core.stats.compare.paired_tests import (
    ADJUSTMENTS,
    DIFFERENCE_DECIMALS,
    MCNEMAR,
    SIGN_TEST,
    WILCOXON,
    WILCOXON_EXACT_MAX,
    McNemar,
    SignTest,
    Wilcoxon,
    adjust,
    mcnemar,
    paired,
    shared,
    sign_test,
    wilcoxon,
)
from annotation.core.stats.compare.points import (
    CRITERIA_SCORE,
    POINTS_RATIO,
    CriteriaPoints,
    criteria_points,
)
from annotation.core.stats.compare.preferences import (
    BT_NAMES,
    MM_MAX_ITERATIONS,
    MM_TOLERANCE,
    PSEUDO_WINS,
    WIN_TIE_LOSS,
    BradleyTerry,
    SourceStrength,
    WinTieLoss,
    bradley_terry,
    win_tie_loss,
)
from annotation.core.stats.compare.scores import (
    MEAN,
    MEDIAN,
    ScoreSummary,
    Share,
    case_means,
    score_summary,
)

__all__ = [
    "ADJUSTMENTS",
    "BT_NAMES",
    "CRITERIA_SCORE",
    "DIFFERENCE_DECIMALS",
    "FISHER_Z",
    "KENDALL",
    "KENDALL_EXACT_MAX",
    "MCNEMAR",
    "MEAN",
    "MEDIAN",
    "MM_MAX_ITERATIONS",
    "MM_TOLERANCE",
    "POINTS_RATIO",
    "PSEUDO_WINS",
    "SIGN_TEST",
    "SPEARMAN",
    "WILCOXON",
    "WILCOXON_EXACT_MAX",
    "WIN_TIE_LOSS",
    "BradleyTerry",
    "Correlation",
    "CriteriaPoints",
    "McNemar",
    "ScoreSummary",
    "Share",
    "SignTest",
    "SourceStrength",
    "Statistic",
    "WinTieLoss",
    "Wilcoxon",
    "adjust",
    "bradley_terry",
    "case_means",
    "correlation",
    "criteria_points",
    "mcnemar",
    "paired",
    "rows_of_codes",
    "rows_of_columns",
    "score_summary",
    "shared",
    "sign_test",
    "wilcoxon",
    "win_tie_loss",
]
