"""A study's statistics, recomputed as one task run: per question, every agreement coefficient
(over all sources and per source, the raters alone and with each judge added), the comparison
of its sources, and whether each judge can stand in for the raters. Results are stored with the
hash of their inputs; what has not changed keeps its results and the time they were computed.

Each question's statistics are `by_question`, the shaping of ratings is in `rows`, storage in
`store`; the statistics themselves are the pure `annotation.core.stats` package, whose numpy and
scipy load only when a recomputation runs.
"""

import contextlib
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from django.db import connection, transaction

from annotation.core.stats.names import (
    COEFFICIENTS,
    COMPARISONS,
    ICC_FORMS,
    JUDGE_STATISTICS,
    RETEST,
)
from annotation.models import Result, TaskRun
from annotation.services.statistics.rows import output_metrics
from annotation.services.statistics.store import STATS_METHOD_VERSION
from annotation.services.statistics.study_figures import study_figures_store
from annotation.services.task_runs import task_run_finish, task_run_progress

logger = logging.getLogger(__name__)

__all__ = [
    "COEFFICIENTS",
    "COMPARISONS",
    "ICC_FORMS",
    "JUDGE_STATISTICS",
    "STATS_METHOD_VERSION",
    "agreement_compute",
]


def agreement_compute(*, run: TaskRun) -> None:
    # Imported here: the statistics need numpy and scipy, which load in the worker that computes
    # them, not in the web process, which imports this package to queue the task and for
    # STATS_METHOD_VERSION (issue 22).
    from annotation.services.statistics.by_question import question_results
    from annotation.services.statistics.comparisons import adjust_study
    from annotation.services.statistics.judges import adjust_judges
    from annotation.services.statistics.reading import reading_results

    study = run.study
    # Free text and multiple choice have no numeric codes, so no statistics.
    questions = [q for q in study.questions.all() if q.has_statistics]
    task_run_progress(run=run, done=0, total=len(questions))
    kept: set[int] = set()
    messages = []
    # Progress by source and data quality, for the dashboard, are stored even when one
    # question's statistics fail below.
    with _figures_stored_alongside(study):
        metrics = output_metrics(study)
        for done, question in enumerate(questions, start=1):
            results = question_results(study, question, metrics)
            kept.update(result.pk for result in results)
            messages += [_describe(result) for result in results if _is_headline(result)]
            task_run_progress(run=run, done=done)
        # Assisted reading: accuracy per arm, McNemar, helped and harmed, MRMC of the arms.
        kept.update(result.pk for result in reading_results(study))
    # Whatever was not computed now (a judge or source removed, no repeats left) goes: no stale
    # figure stays on the dashboard or in an export.
    stale = sorted(set(study.results.values_list("pk", flat=True)) - kept)
    for start in range(0, len(stale), 500):  # SQLite takes a limited number of parameters
        Result.objects.filter(pk__in=stale[start : start + 500]).delete()
    adjust_study(study)
    adjust_judges(study)
    task_run_finish(run=run, ok=True, message="; ".join(messages))


@contextlib.contextmanager
def _figures_stored_alongside(study) -> Iterator[None]:
    """The study's dashboard figures (`study_figures_store`) stored while the block computes
    the statistics. Their queries, over every assignment and rating, are the database's work
    (seconds at a million ratings): on PostgreSQL a thread of their own, with its own
    connection, waits for them while this one computes. Inside a transaction (a test's, whose
    rows no other connection sees) or on SQLite, which takes one writer at a time, they are
    stored first, as before. Either way they are stored, or their error raised, by the end."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        study_figures_store(study=study)
        yield
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        stored = pool.submit(_figures_store_closing, study)
        try:
            yield
        except BaseException:
            # The computation's own error (a run taken over, a lost database) is the one to
            # raise; the figures' is only logged.
            if (error := _error_of(stored)) is not None:
                logger.warning(
                    "study %s: storing the dashboard figures failed too", study.pk, exc_info=error
                )
            raise
        stored.result()


def _error_of(future) -> BaseException | None:
    try:
        future.result()
    except BaseException as exc:  # reported, not raised: see the caller
        return exc
    return None


def _figures_store_closing(study) -> None:
    try:
        # One core: the computation beside it, reading its rows at first, needs the other. With
        # parallel workers these queries took both of a 2-core machine's and the computation's
        # first read waited 0.9 s longer at a million ratings, where they finish 0.2 s later
        # behind a computation of 10 s (issue 22). For this transaction only: behind a pooler
        # the server connection goes on to serve others.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            study_figures_store(study=study)
    finally:
        connection.close()  # this thread's own connection: nothing else will close it


def _is_headline(result: Result) -> bool:
    """What the run's message reports: alpha over every source for the raters alone, and
    test-retest."""
    if result.source or result.judge:
        return False
    return result.statistic in ("krippendorff_alpha", RETEST)


def _describe(result: Result) -> str:
    name = result.question.key + (" test-retest" if result.statistic == RETEST else "")
    if result.value is None:
        return f"{name}: alpha undefined ({result.detail.get('reason')})"
    ci = result.detail.get("ci")
    interval = f" (95% CI {ci[0]:.3f} to {ci[1]:.3f})" if ci else ""
    return f"{name}: alpha = {result.value:.3f}{interval} over {result.n_units} units"
