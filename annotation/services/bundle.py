"""The paper bundle: one zip with everything a paper's methods and results need from a study.

Built by a worker (`TaskRun.Kind.EXPORT_BUNDLE`) into `EXPORT_DIR`, from the stored statistics
(never recomputed here) and the ratings, which are written row by row so memory stays flat.
Every file but `manifest.json` is byte-for-byte the same when nothing in the study changed:
entries carry a fixed date, figures no timestamps, and the export time is in the manifest only.
"""

import hashlib
import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC
from importlib.metadata import version
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from annotation import selectors
from annotation.core import columns as cols
from annotation.core import memory, rubric, tables
from annotation.core.stats.names import MRMC_TESTS
from annotation.models import JudgeScore, Study, TaskRun
from annotation.selectors.adjudication_exports import (
    adjudication_export_rows,
    adjudication_methods_text,
)
from annotation.selectors.consent import study_rater_keys, study_raters_rows, study_raters_sentence
from annotation.selectors.exports import (
    AGREEMENT,
    COMPARISON,
    study_generations,
    study_generations_query,
    study_question_rows,
    study_result_rows,
    study_time_on_task,
)
from annotation.selectors.facts import study_reporting_facts
from annotation.selectors.judge_calls import study_judge_calls
from annotation.selectors.judges import judge_diagnostics
from annotation.selectors.omissions import study_fact_agreement_rows
from annotation.selectors.ratings_rows import study_time_on_task_sorted
from annotation.selectors.reading_exports import (
    study_assisted_reading_rows,
    study_judge_score_rows,
    study_read_rows,
)
from annotation.selectors.results import intervals_by_question
from annotation.services import figure_data
from annotation.services.bundle_ratings import BundleRatings, stat_file_steps
from annotation.services.statistics.store import STATS_METHOD_VERSION
from annotation.services.task_runs import (
    TaskRunLost,
    task_run_finish,
    task_run_held,
    task_run_progress,
)
from checklists import exports as checklist_exports
from checklists.models import Assessment
from checklists.selectors import export_doc

LIBRARIES = ("django", "numpy", "scipy", "krippendorff", "matplotlib")  # figures' bytes too
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # zip entries' date: the same bytes for the same content
COMPRESS_LEVEL = 1  # deflate's fastest: the bundle is written once, read a few times


def bundle_path(run: TaskRun) -> Path:
    return Path(settings.EXPORT_DIR) / f"study-{run.study.token}-bundle-{run.pk}.zip"


def bundle_build(*, run: TaskRun) -> None:
    path = bundle_path(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    hashes: dict[str, str] = {}
    partial = path.with_suffix(".part")
    try:
        with _snapshot(run) as job:
            study = Study.objects.get(pk=run.study_id)  # as of the snapshot
            steps = _steps(study, job)
            job.progress(done=0, total=len(steps) + 1)
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for done, (name, write) in enumerate(steps, start=1):
                    if job.cancel_requested():
                        raise _Cancelled
                    hashes[name] = _write(archive, name, write, job.heartbeat)
                    memory.release_freed()  # what a file was made with: not under the next
                    job.progress(done=done)
                manifest = _manifest(study, hashes)
                _write(archive, "manifest.json", lambda out: out.write(manifest), job.heartbeat)
    except TaskRunLost:
        partial.unlink(missing_ok=True)
        if TaskRun.objects.filter(pk=run.pk).exists():
            raise  # another worker took the run over: it builds the bundle
        return  # its study was deleted: no unblinding key outlives it
    except _Cancelled:
        partial.unlink(missing_ok=True)
        if TaskRun.objects.filter(pk=run.pk).exists():  # else its study was deleted
            task_run_finish(run=run, ok=False, message="Cancelled.", cancelled=True)
        return
    except BaseException:
        partial.unlink(missing_ok=True)  # nothing half-written stays on the disk
        raise
    partial.chmod(0o600)  # it holds the unblinding key
    partial.replace(path)  # a half-written bundle is never offered for download
    if not TaskRun.objects.filter(pk=run.pk).exists():
        path.unlink()  # its study was deleted meanwhile: no unblinding key outlives it
        return
    _remove_older_bundles(run)
    task_run_progress(run=run, done=len(steps) + 1)
    task_run_finish(run=run, ok=True, message=f"{len(hashes) + 1} files, {_size(path)}")


class _Cancelled(Exception):
    pass


@contextmanager
def _snapshot(run: TaskRun) -> Iterator["_Job"]:
    """Read the whole bundle from one moment of the study. On PostgreSQL that is one
    REPEATABLE READ, read-only transaction: a rating saved or a source renamed while the bundle
    is written is in none of its files. Progress and a cancel request cannot pass through that
    transaction (it sees neither and writes nothing), so they go over a second connection.

    SQLite has no such snapshot that leaves writers free (a read transaction there would hold
    the raters' saves for the whole build), so there the files are read as they stand; the
    statistics still cannot change meanwhile, as no recomputation runs beside a bundle."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        # In a transaction already (a test's): its reads are one moment of the study as it is.
        yield _Job(run)
        return
    side = connections.create_connection(DEFAULT_DB_ALIAS)
    helper = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                # Every row of every cursor is read: plan for the whole result. A server-side
                # cursor's default (the first tenth) walked a million ratings by index in
                # token order, 30x the hash joins and one sort.
                cursor.execute("SET LOCAL cursor_tuple_fraction = 1")
                cursor.execute("SELECT pg_export_snapshot()")
                (snapshot,) = cursor.fetchone()
            job = _Job(run, side, _helper_in(helper, snapshot), snapshot)
            try:
                yield job
            finally:
                # No thread reads on past the snapshot's transaction. A query cannot be
                # stopped halfway, so a cancel or an error waits for methods.md's (seconds).
                job.join()
    finally:
        side.close()
        helper.close()  # its transaction, read-only, ends with it


def _helper_in(helper: BaseDatabaseWrapper, snapshot: str):
    """A second connection's psycopg connection, in a read-only transaction that reads the same
    snapshot as the bundle's own: the bundle's heaviest query is split over the two."""
    from psycopg import sql

    helper.ensure_connection()
    raw = helper.connection  # Django's connections commit each statement: begin one here
    raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    raw.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
    raw.execute("SET LOCAL cursor_tuple_fraction = 1")
    return raw


class _Job:
    """The bundle's run, as its progress bar and its cancel button see it: written and read
    over the second connection when there is one."""

    HEARTBEAT_SECONDS = 30  # within a long file too, or the run would look dead (the lease)

    def __init__(
        self,
        run: TaskRun,
        side: BaseDatabaseWrapper | None = None,
        helper=None,
        snapshot: str | None = None,
    ) -> None:
        self.run, self.side, self.helper, self.snapshot = run, side, helper, snapshot
        self.beat = time.monotonic()
        self.threads: list[_Ahead] = []

    def ahead(self, make: Callable[[], str]) -> "_Ahead":
        """A file's text, made by `make` in a thread of its own once started, in the bundle's
        snapshot; where there is no snapshot to share, made when asked for."""
        ahead = _Ahead(make, self.snapshot)
        if self.snapshot is not None:
            self.threads.append(ahead)
        return ahead

    def join(self) -> None:
        for thread in self.threads:
            thread.join()

    def progress(self, *, done: int, total: int | None = None) -> None:
        self.run.done = done
        self.run.total = self.run.total if total is None else total
        self._update(done=self.run.done, total=self.run.total)

    def heartbeat(self) -> None:
        if time.monotonic() - self.beat >= self.HEARTBEAT_SECONDS:
            self._update()

    def cancel_requested(self) -> bool:
        """An admin asked to stop, or the run is gone (its study was deleted)."""
        if self.side is None:
            found = list(TaskRun.objects.filter(pk=self.run.pk).values_list("cancel_requested_at"))
        else:
            with self.side.cursor() as cursor:
                sql = f"SELECT cancel_requested_at FROM {TABLE} WHERE id = %s"
                cursor.execute(sql, [self.run.pk])
                found = cursor.fetchall()
        return not found or found[0][0] is not None

    def _update(self, **fields) -> None:
        """Beat while this worker's claim holds; TaskRunLost once it does not (another worker
        took the run over, or its study was deleted): stop, finishing nothing."""
        self.beat = time.monotonic()
        self.run.heartbeat_at = fields["heartbeat_at"] = timezone.now()
        if self.side is None:
            updated = task_run_held(self.run).update(**fields)
        else:
            columns = ", ".join(f"{name} = %s" for name in fields)  # our own names, never input
            held = "id = %s AND status = %s AND started_at IS NOT DISTINCT FROM %s"
            with self.side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {TABLE} SET {columns} WHERE {held}",
                    [*fields.values(), self.run.pk, TaskRun.Status.RUNNING, self.run.started_at],
                )
                updated = cursor.rowcount
        if not updated:
            raise TaskRunLost(self.run.pk)


TABLE = TaskRun._meta.db_table


class _Ahead:
    """A file's text made in a thread, with a connection of its own that reads the bundle's
    snapshot (`SET TRANSACTION SNAPSHOT`), while the main thread writes other files: methods.md
    at a million ratings is seconds of PostgreSQL's work, ratings.sav and ratings.dta seconds
    of Python's. Without a snapshot (SQLite, or a test's transaction, whose rows no other
    connection sees) the text is made in the main thread when asked for."""

    def __init__(self, make: Callable[[], str], snapshot: str | None) -> None:
        self.make, self.snapshot = make, snapshot
        self.thread: threading.Thread | None = None
        self.text: str | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        if self.snapshot is not None and self.thread is None:
            self.thread = threading.Thread(target=self._run, name="bundle-ahead", daemon=True)
            self.thread.start()

    def result(self) -> str:
        if self.snapshot is None:
            return self.make()
        self.start()
        self.join()
        if self.error is not None:
            raise self.error
        return self.text

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()

    def _run(self) -> None:
        from psycopg import sql

        try:
            # This thread's own connection (Django's are per thread), in the same moment.
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                moment = sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(self.snapshot))
                cursor.execute(moment.as_string(connection.connection))
                # One core: the main thread has the other (parallel workers would take both).
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                self.text = self.make()
        except BaseException as error:  # raised in the main thread, where the text is asked for
            self.error = error
        finally:
            connection.close()


def _remove_older_bundles(run: TaskRun) -> None:
    """A study keeps its newest bundle only: each holds the whole unblinding key."""
    for path in _bundle_files(run.study.token):
        if path.suffix == ".zip" and path != bundle_path(run):
            path.unlink(missing_ok=True)


def bundle_files_remove(*, study_token: str) -> None:
    """Remove every bundle of a study, built or half-built: for when the study is deleted."""
    for path in _bundle_files(study_token):
        path.unlink(missing_ok=True)


def _bundle_files(study_token: str) -> list[Path]:
    return list(Path(settings.EXPORT_DIR).glob(f"study-{study_token}-bundle-*"))


def _steps(study: Study, job: "_Job") -> list[tuple[str, object]]:
    """(file name, writer of its text or bytes) for every file but the manifest."""
    from annotation.core import figures  # matplotlib: the web process must not load it (issue 22)

    reading = study.is_reading  # reads in arms: `arm` in ratings and the key, two files more
    files = [
        cols.ratings_table(reading=reading),
        cols.unblinding_table(reading=reading),
        cols.QUESTIONS,
        cols.AGREEMENT,
        cols.COMPARISON,
    ]
    if study.judges.exists():  # each judge's length bias, self-preference and calibration
        files += [cols.JUDGE_DIAGNOSTICS, cols.JUDGE_CALLS]  # and its calls
    if study_generations_query(study=study).exists():  # outputs a worker fetched
        files.append(cols.GENERATIONS)
    if study.questions.filter(kind=rubric.OMISSION).exists():
        files.append(cols.FACT_AGREEMENT)
    if study.questions.filter(kind=rubric.CORRECTION).exists():  # texts the raters corrected
        files.append(cols.CORRECTIONS)
    if reading:
        files += [cols.READS, cols.ASSISTED_READING]
        if JudgeScore.objects.filter(judge__study=study).exists():  # a judge scored answers
            files.append(cols.JUDGE_SCORES)
    if study.adjudications.filter(decided_at__isnull=False).exists():
        files.append(cols.ADJUDICATIONS)
    rater_keys = study_rater_keys(study=study)
    if rater_keys or study.consent_version:  # consent and background, a row per rater
        files.append(cols.raters_table(rater_keys))
    ratings = BundleRatings(study, helper=job.helper)
    # methods.md's queries run from ratings.csv's first lines on: the items' first half is
    # sorted by then (both cores were the two halves' until about then), and what is left is
    # sending the lines, laying them out and the SPSS and Stata files.
    methods = job.ahead(lambda: methods_text(study))

    def ratings_csv(out) -> None:
        ratings.write_csv(out, begun=methods.start)
        methods.start()  # no lines at all

    steps = [
        ("ratings.csv", ratings_csv),
        ("data_dictionary.md", lambda out: out.write(_dictionary(files))),
        ("unblinding.csv", lambda out: _unblinding(out, study)),
        ("questions.csv", lambda out: _csv(out, cols.QUESTIONS, study_question_rows(study=study))),
        ("agreement.csv", lambda out: _csv(out, cols.AGREEMENT, _results(study, AGREEMENT))),
        ("comparison.csv", lambda out: _csv(out, cols.COMPARISON, _results(study, COMPARISON))),
    ]
    if cols.JUDGE_DIAGNOSTICS in files:
        steps.append(("judge_diagnostics.csv", lambda out: _judge_diagnostics(out, study)))
    if cols.JUDGE_CALLS in files:
        steps.append(
            ("judge_calls.csv", lambda out: _csv(out, cols.JUDGE_CALLS, _judge_calls(study)))
        )
    if cols.GENERATIONS in files:  # how each output was produced
        steps.append(
            ("generations.csv", lambda out: _csv(out, cols.GENERATIONS, _generations(study)))
        )
    if cols.FACT_AGREEMENT in files:
        rows = study_fact_agreement_rows(study=study)
        steps.append(("fact_agreement.csv", lambda out: _csv(out, cols.FACT_AGREEMENT, rows)))
    if cols.CORRECTIONS in files:
        steps.append(
            ("corrections.csv", lambda out: _csv(out, cols.CORRECTIONS, _corrections(study)))
        )
    if cols.RATERS.path in {table.path for table in files}:
        raters = cols.raters_table(rater_keys)
        steps.append(
            (
                "raters.csv",
                lambda out: _csv(out, raters, study_raters_rows(study=study, keys=rater_keys)),
            )
        )
    if reading:
        steps += [
            ("reads.csv", lambda out: _csv(out, cols.READS, study_read_rows(study=study))),
            (
                "assisted_reading.csv",
                lambda out: _csv(
                    out, cols.ASSISTED_READING, study_assisted_reading_rows(study=study)
                ),
            ),
        ]
    if cols.JUDGE_SCORES in files:
        steps.append(
            (
                "judge_scores.csv",
                lambda out: _csv(out, cols.JUDGE_SCORES, study_judge_score_rows(study=study)),
            )
        )
    if cols.ADJUDICATIONS in files:
        steps.append(
            (
                "adjudications.csv",
                lambda out: _csv(out, cols.ADJUDICATIONS, adjudication_export_rows(study=study)),
            )
        )
    steps += [
        ("datapackage.json", lambda out: out.write(_data_package(study, files))),
        *stat_file_steps(study, files, ratings),
        ("methods.md", lambda out: out.write(methods.result())),
    ]
    for name, figure in figure_data.study_figures(study=study):
        for fmt in figures.FORMATS:
            steps.append(
                (
                    f"figures/{name}.{fmt}",
                    lambda out, f=figure, x=fmt: out.write(figures.render(f(), x)),
                )
            )
    for name, text in _checklist_reports(study):
        steps.append((name, lambda out, t=text: out.write(t)))
    return steps


def _dictionary(files: list[cols.Table]) -> str:
    from annotation.core import stat_files  # pandas: the web process must not load it (issue 22)

    return tables.data_dictionary(files) + "\n" + stat_files.STAT_FILES_TEXT


def _write(archive: zipfile.ZipFile, name: str, write, tick: Callable[[], None]) -> str:
    """Write one entry through `write(stream)` (text or bytes), returning its SHA-256; `tick`
    is called at every write (the job's heartbeat)."""
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    # ZipInfo's own field (compress_level from Python 3.13): the same files, only packed less
    # tightly, in a quarter of the time (ratings.csv of 1M ratings: 2.9 s -> 0.7 s, 19 -> 25 MB).
    info._compresslevel = COMPRESS_LEVEL
    info.external_attr = 0o644 << 16
    digest = hashlib.sha256()
    # Zip64 always: a ratings file of tens of millions of rows passes 2 GiB.
    with archive.open(info, "w", force_zip64=True) as raw:
        out = _Hashing(raw, digest, tick)
        write(out)
    return digest.hexdigest()


class _Hashing:
    """A write-only stream into a zip entry that hashes what passes and takes text or bytes."""

    def __init__(self, raw, digest, tick: Callable[[], None]) -> None:
        self.raw, self.digest, self.tick = raw, digest, tick

    def write(self, data: str | bytes) -> int:
        chunk = data.encode() if isinstance(data, str) else data
        self.digest.update(chunk)
        self.tick()
        return self.raw.write(chunk)


def _csv(out, table: cols.Table, rows: Iterable[dict]) -> None:
    for chunk in tables.csv_chunks(rows, table.names):
        out.write(chunk)


def _unblinding(out, study: Study) -> None:
    table = cols.unblinding_table(reading=study.is_reading)
    _csv(out, table, selectors.study_unblinding_key(study=study))


def _results(study: Study, family: str) -> Iterable[dict]:
    return study_result_rows(study=study, family=family)


def _corrections(study: Study) -> Iterable[dict]:
    for line in selectors.study_correction_lines(study=study):
        row = {name: getattr(line, name, None) for name in cols.CORRECTIONS.names}
        row["edit_rate"] = "" if line.rate is None else line.rate
        yield row


def _generations(study: Study) -> Iterable[dict]:
    return study_generations(study=study)


def _judge_calls(study: Study) -> Iterable[dict]:
    return study_judge_calls(study=study)


def _judge_diagnostics(out, study: Study) -> None:
    _csv(out, cols.JUDGE_DIAGNOSTICS, judge_diagnostics(study=study))


def _data_package(study: Study, files: list[cols.Table]) -> str:
    """datapackage.json: the CSV files' Table Schemas, from the same columns as the data
    dictionary. Named by the study's token: its title is free text, a package name is not."""
    title = f"{study.title}: ratings and statistics"
    return tables.data_package(files, name=f"evalapp-study-{study.token.lower()}", title=title)


METHODS_SECTIONS = [
    ("Raters", "raters"),
    ("Blinding and randomisation", "blinding"),
    ("Cases, sources and assignment", "design"),
    ("Models and references compared", "sources"),
    ("Prompts", "prompts"),
    ("Questions and scales", "questions"),
    ("Inter-rater agreement", "agreement"),
    ("Ratings per source and comparisons", "scores"),
    ("Model calls", "compute"),
]


# An assisted-reading study's sections: readers, arms, layout, the answer and its scoring.
READING_METHODS_SECTIONS = [
    ("Readers", "raters"),
    ("Arms and blinding", "blinding"),
    ("Cases, layout and allocation", "design"),
    ("Models and references compared", "sources"),
    ("Prompts", "prompts"),
    ("The answer and its scoring", "questions"),
    ("Inter-rater agreement", "agreement"),
    ("Accuracy per arm and the effect of assistance", "scores"),
    ("Model calls", "compute"),
]
INTRO = (
    "Generated by evalapp from the study's stored design and statistics, counting "
    "submitted items only. Coefficients, intervals and tests below are in agreement.csv "
    "and comparison.csv with their methods; pairwise answers are in each pair's canonical "
    "order (sources by label, positive when the first was preferred)."
)
READING_INTRO = (
    "Generated by evalapp from the study's stored design and statistics, counting submitted "
    "reads scored right or wrong only. Every read is in reads.csv (reader, case, arm, answer, "
    "score, seconds); the statistics below are in assisted_reading.csv, each interval with "
    "the question it answers."
)


def methods_text(study: Study) -> str:
    """The study's methods and results as sentences filled with its own design and numbers,
    one section per kind of fact, for authors to edit into their paper."""
    facts = study_reporting_facts(study=study)
    lines = [f"# {_md_text(study.title)}: methods and results", ""]
    lines += [READING_INTRO if study.is_reading else INTRO, ""]
    sections = READING_METHODS_SECTIONS if study.is_reading else METHODS_SECTIONS
    for heading, key in sections:
        lines += [f"## {heading}", ""]
        lines += [_md_text(" ".join(facts[key])), ""]
        if key == "raters" and study.asks_background:  # "12 raters: 7 emergency ..."
            lines += [_md_text(study_raters_sentence(study=study)), ""]
        if key == "raters" and not study.is_reading:  # reads' seconds: with the statistics
            lines += _time_on_task_text(study)
        if key == "agreement" and not study.is_reading:
            lines += _intervals_text(study)
            lines += selectors.study_adaptive_methods_text(study=study)
        if key == "scores" and study.results.filter(statistic__in=MRMC_TESTS).exists():
            lines += ["### Multi-reader multi-case comparisons", "", MRMC_TEXT, ""]
        if key == "scores" and study.is_reading:
            lines += ["### Which interval answers which question", "", READING_INTERVALS_TEXT, ""]
    lines += adjudication_methods_text(study=study)
    lines += _reopenings_text(study)
    return "\n".join(lines)


READING_INTERVALS_TEXT = (
    "Accuracy per arm and its difference come from the multi-reader multi-case analysis of "
    "each reader's accuracy per arm (Obuchowski-Rockette, Hillis 2007 degrees of freedom, "
    "jackknife covariances over cases), which needs every reader to read every case in both "
    "compared arms. Each difference answers one of three questions: **readers like these, on "
    "cases like these (readers and cases random)**, the answer about clinicians in general "
    "and the primary test; **these readers, on cases like these (readers fixed)**; and "
    "**readers like these, on these cases (cases fixed)**. McNemar's test and its odds "
    "ratio's exact interval treat the reader x case pairs as independent draws, as the "
    "published studies do; they are not (a reader's reads are correlated), which is why the "
    "MRMC analysis is the primary test. The helped and harmed rates have two percentile "
    "bootstrap intervals over the reader x case grid: cases resampled (**these readers, on "
    "cases like these**), and readers and cases resampled independently (**readers like "
    "these, on cases like these**; this two-way bootstrap counts the reader x case residual "
    "twice and so errs wide, McCullagh 2000). In assisted_reading.csv, interval_question "
    "names the question each ci_low and ci_high answer."
)


def _time_on_task_text(study: Study) -> list[str]:
    """Each rater's median time on a submitted study item, with the interquartile range."""
    times, unrecorded = study_time_on_task_sorted(study=study) or study_time_on_task(study=study)
    if not times:
        if not unrecorded:
            return []
        return ["No time on task was recorded (as when answered through the API, or imported).", ""]
    import numpy as np  # the web process must not load it (issue 22)

    parts = []
    for rater, seconds in times.items():
        q1, median, q3 = np.percentile(seconds, [25, 50, 75])
        items = f"{len(seconds)} item{'s' if len(seconds) > 1 else ''}"
        parts.append(f"{rater} {median:.1f} s (IQR {q1:.1f} to {q3:.1f} s, {items})")
    text = (
        "Time on task, the seconds an item was on the rater's screen while the page was "
        "visible as their browser reported it, on submitted study items; median "
        "(interquartile range, quartiles by linear interpolation) per rater: "
        + "; ".join(parts)
        + "."
    )
    if unrecorded:
        text += (
            f" {unrecorded} submitted item{'s have' if unrecorded > 1 else ' has'} no time "
            "recorded (as when answered through the API, or imported)."
        )
    return [_md_text(text), ""]


INTERVALS_TEXT = (
    "Each agreement interval answers one of two questions. **These raters (cases random)**: "
    "where the coefficient would fall if these same raters rated other cases like these. Cases "
    "are resampled and the panel is held as it is: a bias-corrected and accelerated (BCa) "
    "bootstrap over cases (Efron 1987) for Krippendorff's alpha and the kappa-type "
    "coefficients, which held its 95% better than the percentile interval at 30 cases in our "
    "coverage simulations; the percentile bootstrap over cases for percent agreement and for "
    "the comparisons of sources; for the consistency ICCs, ICC(3,1) and ICC(3,k), the F "
    "interval of McGraw & Wong 1996. "
    "**Raters like these (raters and cases random)**: where it would fall if another panel of "
    "raters like these rated other cases like these, so that a stricter or more lenient panel "
    "counts too. This is usually what a claim that clinicians agree means, and the interval is "
    "wider. It adds to the variance over cases the variance over raters, estimated by leaving "
    "out one rater at a time (the jackknife), as Gwet (2008) adds the two, with a t quantile on "
    "Satterthwaite's degrees of freedom; it needs three or more raters. For ICC(1) it is "
    "McGraw & Wong's F interval; for ICC(2,1) and ICC(2,k) the generalized confidence interval "
    "of Tian & Cappelleri (2004), which held its 95% in our simulations where the F interval "
    "fell to 0.86 with readers who differ systematically (the F interval is given beside it). "
    "With an LLM judge added as one more rater, only the "
    "first question is answered: the judge is one fixed rater, not drawn from a panel. In "
    "agreement.csv, interval_question says which question ci_low and ci_high answer; the "
    "other_ columns hold the interval for the other question, or in other_ci_note why there "
    "is none."
)


MRMC_TEXT = (
    "Where readers read the same cases under two sources, the sources are also compared by the "
    "multi-reader multi-case method: Obuchowski-Rockette with Hillis (2007) degrees of "
    "freedom, jackknife covariances over cases; readers and cases random. It is run on the "
    "largest block of readers and cases in which every reader read every case under both "
    "sources, chosen from who read what, never from the ratings; the rest of the data is in "
    "the paired tests. With fewer than five readers the test for readers like these rejects a "
    "true null somewhat more often than its 5% level (6-8% with three readers in our "
    "simulations). Each difference (first minus second) answers one of "
    "three questions: **readers like these, on cases like these (readers and cases random)**, "
    "the answer about clinicians in general and the test whose p is reported and adjusted; "
    "**these readers, on cases like these (readers fixed)**; and **readers like these, on "
    "these cases (cases fixed)**. In comparison.csv the rows mrmc and mrmc_accuracy hold the "
    "p of the first; mrmc:random_both, mrmc:fixed_readers and mrmc:fixed_cases each "
    "difference with its interval, interval_question naming the question it answers."
)


def _intervals_text(study: Study) -> list[str]:
    """Which interval answers which question, then each question's alpha (the raters alone,
    every source) with its interval for each."""
    lines = ["### Which interval answers which question", "", INTERVALS_TEXT, ""]
    alphas = study.results.filter(statistic="krippendorff_alpha", source="", judge="")
    for result in alphas.select_related("question").order_by("question__order"):
        if result.value is None:
            continue
        these, like = intervals_by_question(result.detail)
        parts = [
            f"{label}: "
            + (
                f"{interval['ci'][0]:.3f} to {interval['ci'][1]:.3f}"
                if interval["ci"]
                else f"none ({interval['reason']})"
            )
            for label, interval in (
                ("for these raters (cases random)", these),
                ("for raters like these (raters and cases random)", like),
            )
        ]
        text = (
            f'Question "{result.question.key}": {result.detail.get("method")} = '
            f"{result.value:.3f}; 95% CI {'; '.join(parts)}."
        )
        lines += [_md_text(text), ""]
    return lines


def _reopenings_text(study: Study) -> list[str]:
    """When, by whom and why the locked study's analysis was reopened (its statistics changed
    after the lock), or that it never was; nothing before the lock."""
    if study.status not in (Study.Status.LOCKED, Study.Status.ARCHIVED):
        return []
    lines = ["## Analysis after the lock", ""]
    reopenings = _reopenings(study)
    if not reopenings:
        return [*lines, "The analysis was not reopened after the study was locked.", ""]
    lines += [
        f"The analysis was reopened {len(reopenings)} time{'s' if len(reopenings) > 1 else ''} "
        "after the study was locked; the statistics above are those computed last.",
        "",
    ]
    for r in reopenings:
        closed = (
            f"closed by {_md_text(r['closed_by'])} on {r['closed_at']}"
            if r["closed_at"]
            else "still open when this bundle was built"
        )
        lines.append(
            f"- Analysis reopened by {_md_text(r['opened_by'])} on {r['opened_at']}: "
            f"{_md_text(r['reason'])} ({closed})."
        )
    return [*lines, ""]


def _reopenings(study: Study) -> list[dict]:
    """Each reopening of the study's analysis, oldest first, as the bundle records it (UTC)."""

    def when(moment) -> str | None:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else None

    return [
        {
            "opened_by": r.opened_by.get_username(),
            "opened_at": when(r.opened_at),
            "reason": r.reason,
            "closed_by": r.closed_by.get_username() if r.closed_by else None,
            "closed_at": when(r.closed_at),
        }
        for r in study.reopenings.select_related("opened_by", "closed_by")
    ]


def _md_text(text: str) -> str:
    """Study text (titles, labels, prompts) as Markdown prose that shows it as written: the
    fact sentences carry admins' and importers' words, and a Markdown viewer would otherwise
    run their HTML. Escaped as the checklist export escapes its cells; a line break would let a
    title start a heading of its own."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(line.strip() for line in text.splitlines())


def _checklist_reports(study: Study) -> list[tuple[str, str]]:
    """Each linked checklist report as Markdown and LaTeX: its consensus once it has answers,
    else its lead's own answers."""
    files = []
    for report in study.reports.select_related("definition").order_by("pk"):
        assessment = (
            report.assessments.filter(
                kind=Assessment.Kind.CONSENSUS, responses__isnull=False
            ).first()
            or report.assessments.filter(assessor=report.lead).first()
        )
        if assessment is None:
            continue
        doc = export_doc(assessment=assessment, exported_at="see manifest.json")
        stem = f"checklists/{report.definition.slug}-{report.token}"
        for fmt in ("md", "tex"):
            files.append((f"{stem}.{fmt}", checklist_exports.render(doc, fmt)))
    return files


def _manifest(study: Study, hashes: dict[str, str]) -> str:
    manifest = {
        "study": {"token": study.token, "title": study.title, "status": study.status},
        "evalapp_version": settings.EVALAPP_VERSION,
        "seeds": {"assignment": study.seed, "bootstrap": study.seed},
        "bootstrap_resamples": settings.AGREEMENT_BOOTSTRAP_RESAMPLES,
        "statistics_method": STATS_METHOD_VERSION,
        "p_adjustment": study.p_adjustment,
        "judge_epsilon": study.judge_epsilon,
        "libraries": {name: version(name) for name in LIBRARIES},
        "manifest_hash": study.manifest_hash,
        "analysis_reopenings": _reopenings(study),
        "exported_at": timezone.now().replace(microsecond=0).isoformat(),
        "files": {name: {"sha256": digest} for name, digest in sorted(hashes.items())},
    }
    # Every extra assignment and the rule that caused it; absent without adaptive allocation.
    if adaptive := selectors.study_adaptive_manifest(study=study):
        manifest["adaptive_allocation"] = adaptive
    return json.dumps(manifest, indent=2) + "\n"


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"
