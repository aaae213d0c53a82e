"""Test-retest reliability across a washout: each rater's first reading of an item against
their re-read of it in a later session, per rater and over every rater together.

The two readings are the two "raters" of a two-rater agreement coefficient:

- Cohen's kappa between the readings, for a nominal or ordinal question only: quadratic weights
  for an ordinal one (a near miss counts almost as agreement), unweighted for a nominal one.
  An interval or ratio question has ICC alone.
- ICC(A,1) (McGraw & Wong 1996; Shrout & Fleiss's ICC(2,1)): two-way, absolute agreement,
  single measurement, the form Koo & Li (2016) recommend for test-retest reliability. The
  occasions are the two columns of the targets x occasions table, so a rater who scores
  systematically higher the second time loses reliability, as they should. Not for a nominal
  question (its codes are not quantities).

Each headline interval is a percentile bootstrap over the re-read items: it answers "these
raters, on these two occasions, items like these". The occasions are not a sample of occasions:
no interval here generalises to other raters or other washouts (ICC's generalized confidence
interval, which treats the occasions as random, is kept beside it, labelled as such).

Over every rater together, each (rater, item) pair is one unit of the coefficient: the pooled
figure is the agreement of a reading with its re-read by the same rater, raters mixed. Its
interval resamples cases, each drawn case bringing every rater's pair of readings of each of
its items (a cluster bootstrap): the claim is about cases like these, and a case that one rater
reads differently the second time is often one that the others do too, and one whose other
outputs they read differently too, so the pairs of a case are not independent. Resampling the
pairs one by one, or the items of a case one by one, would take them as independent and give
too narrow an interval. The caller names each pair's case (`RetestPair.case`); a pair without
one is its own case. The intervals kept beside the pooled figure that do take the pairs as
independent (kappa's asymptotic one, ICC's GCI and F) say so. Per rater, the plain bootstrap
over that rater's pairs. Plain numpy, no Django.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from annotation.core.stats.bootstrap import Bootstrap
from annotation.core.stats.coefficients import cohen_kappa, cohen_kappa_statistic
from annotation.core.stats.data import DataError, Ratings, first_seen, ratings_from_columns
from annotation.core.stats.estimate import Estimate
from annotation.core.stats.icc import icc, icc_statistic
from annotation.core.stats.names import RATERS_LIKE_THESE, THESE_RATERS
from annotation.core.stats.resampling import cluster_intervals

# The levels whose codes are categories: kappa's, where a code is one of a few named answers.
CATEGORICAL = ("nominal", "ordinal")
# The two readings, as the two "raters" of each coefficient.
FIRST, SECOND = "first reading", "re-read after the washout"
# The question each headline interval answers: a rater's own (over their items), and the
# pooled figure's (over cases).
THESE_OCCASIONS = "these raters on these two occasions, items like these"
THESE_OCCASIONS_CASES = "these raters on these two occasions, cases like these"
# The question of ICC's GCI and F intervals, whose model draws the columns (here the two
# occasions, not raters) as well as the rows.
OCCASIONS_RANDOM = "the two occasions taken as random, items like these"
# How the pooled figure's headline interval was made, and the question of the intervals beside
# it that take every (rater, item) pair as an independent draw.
OVER_CASES = {
    "percentile": "percentile bootstrap over cases (all raters' pairs of a case together)",
    "bca": "BCa bootstrap over cases (all raters' pairs of a case together)",
}
PAIRS_INDEPENDENT = (
    "(rater, item) pairs taken as independent draws: too narrow where a case's readings "
    "change alike"
)
SEP = "\x1f"  # between the rater and the unit in a pair's unit name
ICC_FORM = "ICC2"  # ICC(A,1) in McGraw & Wong's naming: see the module's docstring
ICC_NOTE = (
    "ICC(A,1): two-way, absolute agreement, single measurement, the two readings as the two "
    "columns (McGraw & Wong 1996; Koo & Li 2016 for test-retest)"
)


@dataclass(frozen=True)
class RetestPair:
    """One rater's two readings of one unit (an item, or one response of a side-by-side item),
    and the case the unit belongs to: the pooled interval's cluster (the unit itself if "")."""

    rater: str
    unit: str
    first: float
    second: float
    case: str = ""


def retest_kappa(
    pairs: Sequence[RetestPair],
    *,
    level: str,
    categories,
    bootstrap: Bootstrap | None,
    by_item: bool = False,
) -> Estimate:
    """Cohen's kappa between the first reading and the re-read, weighted as the level asks.
    `by_item`: the interval resamples cases whole, each with every rater's pairs of it."""
    ratings = _ratings(pairs, level=level, categories=categories)
    if isinstance(ratings, Estimate):
        return ratings
    weighting = "unweighted" if level == "nominal" else "quadratic"
    if not by_item:
        estimate = cohen_kappa(ratings, weighting=weighting, bootstrap=bootstrap)
        return _these_occasions(estimate)
    estimate = cohen_kappa(ratings, weighting=weighting, bootstrap=None)
    rows = _readings(ratings, ratings.matrix).astype(np.int64)
    statistic = cohen_kappa_statistic(rows, len(ratings.categories), weighting)
    return _over_cases(estimate, ratings, _cases(pairs), statistic, bootstrap)


def retest_icc(
    pairs: Sequence[RetestPair],
    *,
    level: str,
    bootstrap: Bootstrap | None,
    by_item: bool = False,
) -> Estimate:
    """ICC(A,1) between the first reading and the re-read, with the unit bootstrap's interval
    as the headline (the generalized confidence interval beside it). `by_item`: the headline
    resamples cases whole, each with every rater's pairs of it."""
    ratings = _ratings(pairs, level=level, categories=None, numeric=True)
    if isinstance(ratings, Estimate):
        return ratings
    if not by_item:
        estimate = icc(ratings, bootstrap=bootstrap)[ICC_FORM]
        estimate.extra["form"] = ICC_NOTE
        return _bootstrap_first(estimate)
    estimate = icc(ratings, bootstrap=None)[ICC_FORM]
    estimate.extra["form"] = ICC_NOTE
    if estimate.value is None:
        return estimate
    statistic = icc_statistic(_readings(ratings, ratings.values_matrix()), 2, ICC_FORM)
    headline = {
        "ci": list(estimate.ci) if estimate.ci else None,
        "interval_method": estimate.interval_method,
        "interval_question": f"the two occasions taken as random, {PAIRS_INDEPENDENT}",
        "ci_method": estimate.ci_method,
    }
    estimate.other_intervals = [headline, *estimate.other_intervals]
    estimate.ci, estimate.ci_method, estimate.interval_method = None, "", ""
    return _over_cases(estimate, ratings, _cases(pairs), statistic, bootstrap)


def _cases(pairs: Sequence[RetestPair]) -> dict[str, str]:
    """Each pair's case, by the unit name `_ratings` gives the pair."""
    return {f"{p.rater}{SEP}{p.unit}": p.case or p.unit for p in pairs}


def _readings(ratings: Ratings, matrix: np.ndarray) -> np.ndarray:
    """Units x (first reading, re-read) of a raters x units matrix of the two readings."""
    return matrix[[ratings.raters.index(FIRST), ratings.raters.index(SECOND)]].T


def _over_cases(
    estimate: Estimate,
    ratings: Ratings,
    cases: dict[str, str],
    statistic,
    bootstrap: Bootstrap | None,
) -> Estimate:
    """The pooled estimate with the cluster bootstrap over cases as its headline interval (a
    BCa one with the percentile interval beside it, or in its place, saying why, where BCa is
    undefined), and every interval beside it that takes the pairs as independent labelled so."""
    _, clusters = first_seen([cases[unit] for unit in ratings.units])
    n_cases = int(clusters.max()) + 1
    estimate.extra["n_items"] = len({unit.split(SEP, 1)[1] for unit in ratings.units})
    estimate.extra["n_cases"] = n_cases
    estimate.other_intervals = [
        {**other, "interval_question": _independent(other.get("interval_question"))}
        for other in estimate.other_intervals
    ]
    if estimate.value is None or bootstrap is None or bootstrap.resamples <= 0:
        return estimate
    ci, plain, used, note = cluster_intervals(statistic, clusters, bootstrap)
    kind = bootstrap.kind
    if kind == "bca" and ci is None and plain is not None:
        ci, kind, note = plain, "percentile", f"{note}, so the percentile interval"
    elif kind == "bca" and plain is not None:
        estimate.other_intervals.append(
            {
                "ci": list(plain),
                "interval_method": OVER_CASES["percentile"],
                "interval_question": THESE_OCCASIONS_CASES,
                "ci_method": _over_cases_method("percentile", n_cases, bootstrap, ""),
            }
        )
    estimate.ci, estimate.resamples_used = ci, used
    estimate.ci_method = _over_cases_method(kind, n_cases, bootstrap, note)
    if ci is None:  # as_dict drops the method of a missing interval: the note says why
        estimate.extra["interval_note"] = f"no interval: {note or 'no resample defined it'}"
    estimate.interval_method, estimate.interval_question = OVER_CASES[kind], THESE_OCCASIONS_CASES
    estimate.resamples, estimate.seed = bootstrap.resamples, bootstrap.seed
    return estimate


def _over_cases_method(kind: str, n_cases: int, bootstrap: Bootstrap, note: str) -> str:
    name = "BCa bootstrap (Efron 1987)" if kind == "bca" else "percentile bootstrap"
    return (
        f"{name} resampling the {n_cases} re-read cases, each drawn case bringing every "
        f"rater's pair of readings of each of its items, {bootstrap.resamples} resamples, "
        f"seed {bootstrap.seed}" + (f" ({note})" if note else "")
    )


def _independent(question: str | None) -> str:
    """The question of an interval beside the pooled figure, saying which of the raters and
    occasions it holds fixed and that it takes the pairs as independent."""
    if question in (THESE_RATERS, None):
        return f"these raters on these two occasions; {PAIRS_INDEPENDENT}"
    if question == RATERS_LIKE_THESE:  # ICC's F interval: its random columns are the occasions
        return f"the two occasions taken as random, {PAIRS_INDEPENDENT}"
    return question if PAIRS_INDEPENDENT in question else f"{question}; {PAIRS_INDEPENDENT}"


def _ratings(
    pairs: Sequence[RetestPair], *, level: str, categories, numeric: bool = False
) -> Ratings | Estimate:
    """The pairs as two-"rater" ratings; an undefined estimate saying why when they cannot be."""
    units = [f"{p.rater}{SEP}{p.unit}" for p in pairs]
    columns = (
        units + units,
        [FIRST] * len(pairs) + [SECOND] * len(pairs),
        [p.first for p in pairs] + [p.second for p in pairs],
    )
    # ICC reads the codes as quantities: an ordinal scale's codes are taken at their values.
    as_level = "interval" if numeric else level
    try:
        return ratings_from_columns(
            *columns, level=as_level, categories=None if numeric else categories
        )
    except DataError as exc:
        return Estimate(
            method="test-retest", value=None, n_units=0, n_raters=0, n_ratings=0, reason=str(exc)
        )


def _these_occasions(estimate: Estimate) -> Estimate:
    """A rater's estimate whose intervals say what they hold: these raters and occasions (the
    unit bootstrap, kappa's asymptotic interval), or the two occasions taken as random (ICC's
    F interval, whose "raters" are the two occasions)."""
    renamed = {THESE_RATERS: THESE_OCCASIONS, RATERS_LIKE_THESE: OCCASIONS_RANDOM}
    question = estimate.interval_question
    estimate.interval_question = renamed.get(question, question)
    estimate.other_intervals = [
        {**other, "interval_question": renamed.get(other.get("interval_question"), "")}
        if other.get("interval_question") in renamed
        else other
        for other in estimate.other_intervals
    ]
    return estimate


def _bootstrap_first(estimate: Estimate) -> Estimate:
    """ICC's unit-bootstrap interval (beside the GCI as `icc` gives it) made the headline."""
    boot = next(
        (o for o in estimate.other_intervals if o.get("interval_question") == THESE_RATERS), None
    )
    if boot is None or estimate.value is None:
        return _these_occasions(estimate)
    headline = {
        "ci": list(estimate.ci) if estimate.ci else None,
        "interval_method": estimate.interval_method,
        "interval_question": OCCASIONS_RANDOM,
        "ci_method": estimate.ci_method,
    }
    others = [o for o in estimate.other_intervals if o is not boot]
    estimate.ci = tuple(boot["ci"]) if boot.get("ci") else None
    estimate.interval_method = boot["interval_method"]
    estimate.ci_method = boot["ci_method"]
    estimate.interval_question = THESE_OCCASIONS
    estimate.other_intervals = [headline, *others]
    for key in ("resamples", "resamples_used", "seed"):
        if key in boot:
            setattr(estimate, key, boot[key])
    return _these_occasions(estimate)


def washout_retest(
    pairs: Sequence[RetestPair], *, level: str, categories, bootstrap: Bootstrap | None
) -> dict[str, tuple[Estimate, dict[str, Estimate]]]:
    """Kappa for a question of categories (nominal, ordinal) and ICC(A,1) for one whose codes
    are quantities (ordinal, interval, ratio), over every rater together, each with the same
    figure per rater: {"kappa": (overall, {rater: estimate})}. The overall figure's interval
    resamples cases whole (see the module's docstring). An interval or ratio question gets no
    kappa: its weights would go by position among the distinct codes seen, not by the
    distances between the quantities, which ICC measures."""
    raters = sorted({p.rater for p in pairs})
    mine = {r: [p for p in pairs if p.rater == r] for r in raters}

    def kappa(some, by_item=False):
        return retest_kappa(
            some, level=level, categories=categories, bootstrap=bootstrap, by_item=by_item
        )

    found = {}
    if level in CATEGORICAL:
        found["kappa"] = (kappa(pairs, True), {r: kappa(mine[r]) for r in raters})
    if level != "nominal":

        def intraclass(some, by_item=False):
            return retest_icc(some, level=level, bootstrap=bootstrap, by_item=by_item)

        found["icc"] = (intraclass(pairs, True), {r: intraclass(mine[r]) for r in raters})
    return found
