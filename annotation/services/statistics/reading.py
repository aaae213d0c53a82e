"""The statistics of an assisted-reading study (core.reading.statistics), stored as Results of
its answer question with the arm's key where other studies put a source's label: accuracy and
seconds per read per arm; for each assisting arm against the unassisted one, McNemar's test,
helped and harmed; and (with one assisting arm, every reader reading every case in both) the
MRMC analysis; for ranked answers, top-j accuracy per arm for j in 1, 3, 5 and k (those up to
k). Beside them, for each LLM judge that scored answers, its agreement with the clinician
scorer (and, on the matched answers it was given as a sample, with the exact match).

Only submitted reads scored right or wrong count; undecided answers wait for the scorer and
are counted as pending in each arm's accuracy."""

from annotation.core import rubric
from annotation.core.reading import allocation, scorers
from annotation.core.reading import statistics as reading_stats
from annotation.core.stats.data import DataError
from annotation.core.stats.mrmc.analysis import plain
from annotation.models import AnswerScore, JudgeScore, Membership, Question, Result, Study
from annotation.selectors.reading import (
    ACCURACY,
    CHANGES,
    JUDGE_MATCH,
    JUDGE_SCORER,
    MCNEMAR,
    MRMC,
    TIME,
    TOP_J,
)
from annotation.services.statistics.store import (
    Figure,
    Scope,
    bootstrap_for,
    store_by_source,
    store_family,
)

STATISTICS = (ACCURACY, MCNEMAR, CHANGES, MRMC, TIME, TOP_J)
# Top-j accuracy of ranked answers for these j (and k), those up to k.
TOPS = (1, 3, 5)


def reading_results(study: Study) -> list[Result]:
    """Store the study's reading statistics (recomputed only when its scored reads change)."""
    question = study.questions.filter(kind=Question.Kind.ANSWER).first()
    if not study.is_reading or question is None:
        return []
    reads, pending, matched = _reads(study)
    k = question.k if question.answer_kind == rubric.RANKED_ANSWER else None
    inputs = reading_inputs(reads, pending, matched, k)
    stored = store_by_source(
        study,
        question,
        STATISTICS,
        inputs,
        lambda: _figures(study, reads, pending, _top_figures(reads, pending, matched, k)),
    )
    return stored + _judge_results(study, question)


def reading_inputs(reads, pending: dict[str, int], matched: set[int], k: int | None) -> list:
    """What the reading statistics are computed from, in terms that do not depend on the
    order the reads came in: each read with whether exact match decided it (`matched` holds
    places in `reads`), sorted."""
    marked = sorted(repr((read, place in matched)) for place, read in enumerate(reads))
    return [marked, sorted(pending.items()), k]


def _reads(study: Study) -> tuple[list[reading_stats.Read], dict[str, int], set[int]]:
    """Every submitted read scored right or wrong, the undecided ones counted per arm, and
    which reads (by place in the list) exact match decided right: their rank says nothing of
    the entries before it, which may be unlisted wordings (scoring.Score.at)."""
    pseudonyms = dict(
        Membership.objects.filter(study=study, role=Membership.Role.RATER).values_list(
            "user_id", "pseudonym"
        )
    )
    rows = (
        AnswerScore.objects.filter(
            rating__assignment__study=study,
            rating__assignment__arm__isnull=False,
            rating__assignment__submitted_at__isnull=False,
            rating__question__kind=Question.Kind.ANSWER,
        )
        .values_list(
            "rating__assignment__rater_id",
            "rating__assignment__item__output__case__external_id",
            "rating__assignment__arm__key",
            "outcome",
            "rank",
            "rating__assignment__time_on_task_ms",
            "by",
        )
        .order_by("pk")
    )
    reads, pending, matched = [], {}, set()
    for rater_id, case, arm, outcome, rank, time_ms, by in rows:
        if outcome == AnswerScore.Outcome.UNDECIDED:
            pending[arm] = pending.get(arm, 0) + 1
            continue
        right = outcome == AnswerScore.Outcome.RIGHT
        if right and by == AnswerScore.By.MATCH:
            matched.add(len(reads))
        seconds = time_ms / 1000 if time_ms else None
        reads.append(
            reading_stats.Read(
                pseudonyms[rater_id], case, arm, right, seconds, rank if right else None
            )
        )
    return reads, pending, matched


def tops_for(k: int) -> list[int]:
    """The j of top-j accuracy reported for lists of up to k entries."""
    return sorted({top for top in TOPS if top <= k} | {k})


def _top_figures(reads, pending, matched: set[int], k: int | None) -> dict:
    """Top-j accuracy per arm for every j of `tops_for(k)`: a read counts as right at top-j
    when its first right entry is at j or before. A list exact match found right at rank r
    is undecided at j below r (its earlier entries may be unlisted wordings; only a scorer
    can say) and counted as pending there, as undecided answers are everywhere."""
    if k is None:
        return {}
    arms = {read.arm for read in reads} | set(pending)
    rows: dict[str, list[dict]] = {arm: [] for arm in arms}
    for top in tops_for(k):
        known = [
            read
            for place, read in enumerate(reads)
            if not (place in matched and (read.rank is None or read.rank > top))
        ]
        by_arm = {a.arm: a for a in reading_stats.accuracy_by_arm(known, top=top)}
        for arm in arms:
            counted = by_arm.get(arm)
            undecided = sum(1 for r in reads if r.arm == arm) - (counted.reads if counted else 0)
            rows[arm].append(
                {
                    "top": top,
                    "accuracy": counted.accuracy if counted else None,
                    "right": counted.right if counted else 0,
                    "reads": counted.reads if counted else 0,
                    "pending": pending.get(arm, 0) + undecided,
                }
            )
    return {
        (TOP_J, arm): Figure(
            tops[0]["accuracy"],
            len({r.case for r in reads if r.arm == arm}),
            len({r.reader for r in reads if r.arm == arm}),
            tops[0]["reads"],
            {"k": k, "tops": tops},
        )
        for arm, tops in rows.items()
    }


def _judge_results(study: Study, question: Question) -> list[Result]:
    """For each judge that scored answers: its agreement with the clinician scorer on the
    answers both decided (the answers the match left undecided: a sampled matched answer is
    the match's to agree with), and with the exact match on the matched answers it was
    given. The kappa bootstrap resamples a reader's answers to a case together."""
    scores = AnswerScore.objects.filter(
        rating__assignment__study=study,
        rating__assignment__arm__isnull=False,
        rating__assignment__submitted_at__isnull=False,
        rating__question=question,
    )
    clinician, match, answers, clusters = {}, {}, {}, {}
    rows = scores.values_list(
        "pk",
        "outcome",
        "by",
        "rating__answer",
        "rating__assignment__rater_id",
        "rating__assignment__item__output__case_id",
    )
    for pk, outcome, by, answer, rater_id, case_id in rows:
        answers[pk], clusters[pk] = answer, (rater_id, case_id)
        if outcome == AnswerScore.Outcome.UNDECIDED:
            continue
        (clinician if by == AnswerScore.By.SCORER else match)[pk] = (
            outcome == AnswerScore.Outcome.RIGHT
        )
    judged: dict[str, dict[int, bool]] = {}
    sampled_by: dict[str, set[int]] = {}
    for label, pk, right, answer, sampled in JudgeScore.objects.filter(
        score__in=scores, outcome=JudgeScore.Outcome.OK
    ).values_list("judge__label", "score_id", "right", "answer", "sampled"):
        if answers.get(pk) == answer:  # a decision on an earlier wording no longer applies
            judged.setdefault(label, {})[pk] = right
            if sampled:
                sampled_by.setdefault(label, set()).add(pk)
    stored = []
    for label, decisions in sorted(judged.items()):
        sample = sampled_by.get(label, set())
        sampled = {pk: match[pk] for pk in decisions if pk in match}
        unsampled = {pk: right for pk, right in decisions.items() if pk not in sample}
        inputs = [
            sorted(clinician.items()),
            sorted(sampled.items()),
            sorted(decisions.items()),
            sorted(sample),
            sorted((pk, list(cluster)) for pk, cluster in clusters.items()),
        ]
        stored += store_family(
            study,
            Scope(question, judge=label),
            (JUDGE_SCORER, JUDGE_MATCH),
            inputs,
            lambda decisions=decisions, sampled=sampled, unsampled=unsampled: _agreements(
                study,
                (
                    (JUDGE_SCORER, clinician, unsampled),
                    (JUDGE_MATCH, sampled, {k: decisions[k] for k in sampled}),
                ),
                clusters,
            ),
        )
    return stored


def _agreements(study: Study, pairs, clusters: dict) -> dict:
    """Agreement for each (statistic, reference, judge's decisions). Against the match only
    the sample counts: the judge's other decisions are on answers the match left undecided,
    and so have no match to agree with; against the clinician, only those others."""
    figures = {}
    for statistic, reference, decisions in pairs:
        try:
            found = scorers.scorer_agreement(
                reference, decisions, bootstrap=bootstrap_for(study), clusters=clusters
            )
        except DataError:
            continue  # nothing scored by both: the dashboard says so
        detail = {
            "both_right": found.both_right,
            "reference_only_right": found.clinician_only_right,
            "judge_only_right": found.judge_only_right,
            "both_wrong": found.both_wrong,
            "only_one_scored": found.only_one_scored,
            "agreement": found.agreement,
            "sensitivity": found.sensitivity,
            "specificity": found.specificity,
            "kappa": found.kappa.as_dict(),
        }
        figures[statistic] = Figure(found.kappa.value, found.n, 2, 2 * found.n, detail)
    return figures


def _figures(
    study: Study, reads, pending: dict[str, int], tops: dict
) -> dict[tuple[str, str], Figure]:
    figures = dict(tops)
    for arm in reading_stats.accuracy_by_arm(reads):
        readers = {r.reader for r in reads if r.arm == arm.arm}
        cases = {r.case for r in reads if r.arm == arm.arm}
        detail = {"right": arm.right, "pending": pending.get(arm.arm, 0)}
        figures[(ACCURACY, arm.arm)] = Figure(
            arm.accuracy, len(cases), len(readers), arm.reads, detail
        )
    for timed in reading_stats.time_by_arm(reads):
        # The median seconds on screen per read, quartiles beside it (reads without a time
        # are counted, not used).
        figures[(TIME, timed.arm)] = Figure(timed.median, 0, 0, timed.reads, plain(timed))
    assisting = sorted({r.arm for r in reads} - {allocation.UNASSISTED})
    for arm in assisting:
        paired = reading_stats.pairs(reads, second=arm)
        if not paired:
            continue
        figures.update(_paired(study, arm, paired))
    if len(assisting) == 1 and (mrmc := _mrmc(reads, assisting[0])) is not None:
        figures[(MRMC, f"{allocation.UNASSISTED} vs {assisting[0]}")] = mrmc
    return figures


def _paired(study: Study, arm: str, paired) -> dict[tuple[str, str], Figure]:
    readers, cases = {p.reader for p in paired}, {p.case for p in paired}
    sizes = (len(cases), len(readers), 2 * len(paired))
    test = reading_stats.mcnemar(paired)
    bootstrap = bootstrap_for(study)
    changed = reading_stats.changes(paired, resamples=bootstrap.resamples, seed=bootstrap.seed)
    return {
        (MCNEMAR, arm): Figure(test.exact_p, *sizes, plain(test)),
        (CHANGES, arm): Figure(changed.rate("helped").value, *sizes, plain(changed)),
    }


def _mrmc(reads, arm: str) -> Figure | None:
    """Accuracy, unassisted minus assisted, readers and cases random first; None when the
    reads are not a full reader x case x arm grid yet (the analysis needs one)."""
    try:
        result = reading_stats.mrmc_by_arm(reads, arms=[allocation.UNASSISTED, arm])
    except DataError:
        return None
    first = result.analyses[0].differences
    value = first[0].estimate if first else None
    return Figure(value, result.n_cases, len(result.readers), len(reads), result.as_dict())
