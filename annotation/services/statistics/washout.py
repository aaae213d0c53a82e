"""Test-retest across a washout for one question: each rater's first reading of an item (session
1) against their re-read of it after the washout (a `retest` assignment), as weighted kappa and
ICC(A,1), over every rater and per rater (annotation.core.stats.retest). Apart from the hidden
repeats' test-retest (agreement.test_retest), which measures consistency within one sitting."""

import datetime

from django.db.models import Max

from annotation.core import rubric
from annotation.core.stats import retest
from annotation.core.stats.names import WASHOUT_ICC, WASHOUT_KAPPA, WASHOUT_RETEST
from annotation.models import Assignment, Question, RatingRevision, Result, Study
from annotation.selectors import study_rater_pseudonyms
from annotation.services.statistics.rows import human_codes, human_rows, unit_of
from annotation.services.statistics.store import Figure, Scope, bootstrap_for, store_family

# How each rater's own figure is keyed in the overall result's detail (agreement.csv writes it
# as `washout_retest_kappa:rater R1`).
RATER_KEY = "rater {}"


def washout_pairs(study: Study, question: Question) -> list[retest.RetestPair]:
    """Each submitted re-read with the same rater's submitted first reading of the same unit,
    the first reading as it stood when the rater's session 2 opened: a change made after it
    (the item is closed by then) would be a look at the re-read, not a first reading."""
    kinds = [Assignment.Kind.STUDY, Assignment.Kind.RETEST]
    if question.kind == Question.Kind.RANKING:  # a ranking's rows are ranks, not its codes
        rows = human_rows(study, question, kinds=kinds, with_kind=True)
    else:
        as_of = first_codes_when_session_two_opened(study, question)
        names = study_rater_pseudonyms(study=study)
        rows = human_codes(study, question, names, kinds=kinds, with_kind=True, as_of=as_of)
    firsts = {(row[3], *row[:3]): row[4] for row in rows if row[5] == Assignment.Kind.STUDY}
    # The pair's case (row[0]) is the pooled interval's cluster: every source's output of a
    # case is read against the same case, so their pairs go together.
    pairs = [
        retest.RetestPair(row[3], unit_of(row), firsts[key], row[4], case=row[0])
        for row in rows
        if row[5] == Assignment.Kind.RETEST and (key := (row[3], *row[:3])) in firsts
    ]
    return sorted(pairs, key=lambda p: (p.rater, p.unit))


def first_codes_when_session_two_opened(study: Study, question: Question) -> dict:
    """By rating id, the code of each first reading that has a re-read as its rater's last
    revision saved before their session 2 opened (their last session-1 submit plus the
    washout). A rating with no revision by then (only data written around the app, e.g. with
    its times set back) keeps its code."""
    last = (
        Assignment.objects.filter(study=study, session=1)
        .values("rater_id")
        .annotate(last=Max("submitted_at"))
    )
    washout = datetime.timedelta(days=study.washout_days)
    opened = {row["rater_id"]: row["last"] + washout for row in last if row["last"]}
    revisions = RatingRevision.objects.filter(
        rating__question=question,
        rating__assignment__study=study,
        rating__assignment__kind=Assignment.Kind.STUDY,
        rating__assignment__repeat__kind=Assignment.Kind.RETEST,
    ).order_by("saved_at", "pk")
    codes: dict = {}
    for rating_id, rater_id, value, saved_at in revisions.values_list(
        "rating_id", "rating__assignment__rater_id", "value", "saved_at"
    ):
        if rater_id in opened and saved_at <= opened[rater_id]:
            codes[rating_id] = value
    return codes


def washout_retest(study: Study, question: Question) -> list[Result]:
    """The question's test-retest across the washout, stored (recomputed when its pairs
    change): kappa for a nominal or ordinal question, ICC(A,1) unless it is nominal."""
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

    inputs = [[(p.rater, p.unit, p.case, p.first, p.second) for p in pairs], question.level, domain]
    return store_family(study, Scope(question), WASHOUT_RETEST, inputs, compute)


def _figure(overall, by_rater: dict) -> Figure:
    nested = {RATER_KEY.format(rater): estimate.as_dict() for rater, estimate in by_rater.items()}
    return Figure.of(overall, n_rater_pairs=len(by_rater), **nested)
