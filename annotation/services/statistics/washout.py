"""Test-retest across a washout for one question: each rater's first reading of an item (session
1) against their re-read of it after the washout (a `retest` assignment), as weighted kappa and
ICC(A,1), over every rater and per rater (annotation.core.stats.retest). Apart from the hidden
repeats' test-retest (agreement.test_retest), which measures consistency within one sitting."""

from annotation.core import rubric
from annotation.core.stats import retest
from annotation.core.stats.names import WASHOUT_ICC, WASHOUT_KAPPA, WASHOUT_RETEST
from annotation.models import Assignment, Question, Result, Study
from annotation.services.statistics.rows import human_rows, unit_of
from annotation.services.statistics.store import Figure, Scope, bootstrap_for, store_family

# How each rater's own figure is keyed in the overall result's detail (agreement.csv writes it
# as `washout_retest_kappa:rater R1`).
RATER_KEY = "rater {}"


def washout_pairs(study: Study, question: Question) -> list[retest.RetestPair]:
    """Each submitted re-read with the same rater's submitted first reading of the same unit."""
    kinds = [Assignment.Kind.STUDY, Assignment.Kind.RETEST]
    rows = human_rows(study, question, kinds=kinds, with_kind=True)
    firsts = {(row[3], *row[:3]): row[4] for row in rows if row[5] == Assignment.Kind.STUDY}
    pairs = [
        retest.RetestPair(row[3], unit_of(row), firsts[key], row[4])
        for row in rows
        if row[5] == Assignment.Kind.RETEST and (key := (row[3], *row[:3])) in firsts
    ]
    return sorted(pairs, key=lambda p: (p.rater, p.unit))


def washout_retest(study: Study, question: Question) -> list[Result]:
    """The question's test-retest across the washout, stored (recomputed when its pairs
    change): weighted kappa always, ICC(A,1) unless the question is nominal."""
    pairs = washout_pairs(study, question)
    domain = rubric.value_domain(question.spec)

    def compute() -> dict[str, Figure]:
        found = retest.washout_retest(
            pairs, level=question.level, categories=domain, bootstrap=bootstrap_for(study)
        )
        names = {"kappa": WASHOUT_KAPPA, "icc": WASHOUT_ICC}
        return {
            names[key]: _figure(overall, by_rater) for key, (overall, by_rater) in found.items()
        }

    inputs = [[(p.rater, p.unit, p.first, p.second) for p in pairs], question.level, domain]
    return store_family(study, Scope(question), WASHOUT_RETEST, inputs, compute)


def _figure(overall, by_rater: dict) -> Figure:
    nested = {RATER_KEY.format(rater): estimate.as_dict() for rater, estimate in by_rater.items()}
    return Figure.of(overall, n_rater_pairs=len(by_rater), **nested)
