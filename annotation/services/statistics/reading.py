"""The statistics of an assisted-reading study (core.reading.statistics), stored as Results of
its answer question with the arm's key where other studies put a source's label: accuracy and
seconds per read per arm; for each assisting arm against the unassisted one, McNemar's test,
helped and harmed; and (with one assisting arm, every reader reading every case in both) the
MRMC analysis.

Only submitted reads scored right or wrong count; undecided answers wait for the scorer and
are counted as pending in each arm's accuracy."""

from annotation.core.reading import allocation
from annotation.core.reading import statistics as reading_stats
from annotation.core.stats.data import DataError
from annotation.core.stats.mrmc.analysis import plain
from annotation.models import AnswerScore, Membership, Question, Result, Study
from annotation.selectors.reading import ACCURACY, CHANGES, MCNEMAR, MRMC, TIME
from annotation.services.statistics.store import Figure, bootstrap_for, store_by_source

STATISTICS = (ACCURACY, MCNEMAR, CHANGES, MRMC, TIME)


def reading_results(study: Study) -> list[Result]:
    """Store the study's reading statistics (recomputed only when its scored reads change)."""
    question = study.questions.filter(kind=Question.Kind.ANSWER).first()
    if not study.is_reading or question is None:
        return []
    reads, pending = _reads(study)
    inputs = [sorted(map(repr, reads)), sorted(pending.items())]
    return store_by_source(
        study, question, STATISTICS, inputs, lambda: _figures(study, reads, pending)
    )


def _reads(study: Study) -> tuple[list[reading_stats.Read], dict[str, int]]:
    """Every submitted read scored right or wrong, and the undecided ones counted per arm."""
    pseudonyms = dict(
        Membership.objects.filter(study=study, role=Membership.Role.RATER).values_list(
            "user_id", "pseudonym"
        )
    )
    rows = AnswerScore.objects.filter(
        rating__assignment__study=study,
        rating__assignment__arm__isnull=False,
        rating__assignment__submitted_at__isnull=False,
        rating__question__kind=Question.Kind.ANSWER,
    ).values_list(
        "rating__assignment__rater_id",
        "rating__assignment__item__output__case__external_id",
        "rating__assignment__arm__key",
        "outcome",
        "rank",
        "rating__assignment__time_on_task_ms",
    )
    reads, pending = [], {}
    for rater_id, case, arm, outcome, rank, time_ms in rows:
        if outcome == AnswerScore.Outcome.UNDECIDED:
            pending[arm] = pending.get(arm, 0) + 1
            continue
        right = outcome == AnswerScore.Outcome.RIGHT
        seconds = time_ms / 1000 if time_ms else None
        reads.append(
            reading_stats.Read(
                pseudonyms[rater_id], case, arm, right, seconds, rank if right else None
            )
        )
    return reads, pending


def _figures(study: Study, reads, pending: dict[str, int]) -> dict[tuple[str, str], Figure]:
    figures = {}
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
