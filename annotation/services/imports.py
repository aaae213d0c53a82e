"""Importing a study's cases and outputs from a file, all or nothing, in bulk.

A small upload is imported at once, in the web process (study_import_file). A larger one
(import_in_background) is stored in the database and imported by a worker as a task run of kind
"import" (study_import_start, then study_import_run), with the rows checked as its progress on
the dashboard; it writes nothing if it fails or is cancelled, like the quick path.
"""

import hashlib
import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import PurePath
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone

from annotation.core.archives import check_study_archive, parse_study_archive, unpacked_size
from annotation.core.image_files import ImageFile
from annotation.core.importing import (
    MAX_PROBLEMS,
    ImportLimits,
    ImportRejected,
    ImportRow,
    Problem,
    parse_study_file,
    size_text,
)
from annotation.core.reading.scoring import ScoringError
from annotation.models import (
    Attachment,
    Case,
    ImportUpload,
    ImportUploadChunk,
    Output,
    Question,
    Source,
    Study,
    TaskRun,
)
from annotation.models.reading import expected_answer
from annotation.services.audit import audit_record
from annotation.services.generation import PROGRESS_EVERY_SECONDS
from annotation.services.task_runs import (
    cancel_requested,
    study_for_change,
    task_run_beating,
    task_run_create,
    task_run_finish,
    task_run_held,
    task_run_progress,
)

logger = logging.getLogger(__name__)

NOT_A_DRAFT = "This study is no longer a draft; its cases are fixed."
NOTHING_IMPORTED = "Nothing was imported: fix the file and upload it again."


@dataclass(frozen=True)
class ImportSummary:
    cases_created: int
    sources_created: int
    outputs_created: int
    unchanged: int
    images_created: int = 0

    def describe(self, filename: str) -> str:
        return (
            f"Imported {PurePath(filename).name}: {self.cases_created} new cases, "
            f"{self.sources_created} new sources, {self.outputs_created} new outputs"
            + (f", {self.images_created} images" if self.images_created else "")
            + f" ({self.unchanged} already present)."
        )


def study_import_file(*, study: Study, filename: str, content: bytes) -> ImportSummary:
    """Parse and write a whole file (CSV, JSONL, or a zip of one with its images), or nothing.
    Raises ImportRejected naming every problem."""
    _check_upload_size(filename, len(content))
    rows, images = _parse(filename, content)
    with transaction.atomic():
        # Lock the study row so two uploads cannot interleave their writes.
        study = study_for_change(study.pk)
        if not study.accepts_imports:
            raise ValidationError(NOT_A_DRAFT)
        if _imports_unfinished(study).exists():
            raise ValidationError(ALREADY_IMPORTING)
        return _write(study, filename, rows, images)


ALREADY_IMPORTING = (
    "An import of this study is waiting or running under Background jobs; let it finish (or "
    "cancel it) before importing another file."
)


def import_upload_read(*, upload: UploadedFile) -> bytes:
    """An uploaded import file's bytes, refused by its size before any are read into memory."""
    _check_upload_size(upload.name, upload.size)
    return upload.read()


def import_in_background(*, upload: UploadedFile) -> bool:
    """Whether an upload is imported by a worker rather than at once: larger than
    IMPORT_BACKGROUND_BYTES, or a zip whose members unpack to more (a small zip can hold a
    large file)."""
    limit = settings.IMPORT_BACKGROUND_BYTES
    if upload.size > limit:
        return True
    return PurePath(upload.name).suffix.lower() == ".zip" and unpacked_size(upload) > limit


def study_import_start(
    *, study: Study, upload: UploadedFile, user: AbstractBaseUser | None
) -> TaskRun:
    """Store an upload in the database and queue its import on a worker. Refused (ValidationError)
    once the study is no longer a draft, or while another import of it is at work; ImportRejected
    if the upload is over IMPORT_MAX_UPLOAD_BYTES."""
    _check_upload_size(upload.name, upload.size)
    if PurePath(upload.name).suffix.lower() == ".zip":
        # A zip bomb, or a zip the worker would refuse by its directory alone: refused now.
        check_study_archive(upload.name, upload, limits=_limits())
    # Uploads of imports that ended without their worker deleting them (it died at the end).
    ImportUpload.objects.exclude(run__status__in=UNFINISHED).delete()
    with transaction.atomic():
        run = task_run_create(study=study, kind=TaskRun.Kind.IMPORT, user=user)
        name = PurePath(upload.name).name[:255]
        stored = ImportUpload.objects.create(run=run, filename=name, size=upload.size)
        # A chunk at a time: the web process never holds the whole upload in memory.
        for position, chunk in enumerate(upload.chunks(ImportUpload.CHUNK_BYTES)):
            ImportUploadChunk.objects.create(upload=stored, position=position, data=chunk)
    return run


UNFINISHED = (TaskRun.Status.QUEUED, TaskRun.Status.RUNNING)


def _imports_unfinished(study: Study):
    return TaskRun.objects.filter(study=study, kind=TaskRun.Kind.IMPORT, status__in=UNFINISHED)


def study_import_run(*, run: TaskRun) -> None:
    """A worker's import of a stored upload (study_import_start): every row checked against the
    study (the run's progress: rows checked of the file's rows), then all written in one
    transaction, or nothing if any row has a problem or the run is cancelled. The upload is
    deleted once the run has ended."""
    ok, message, cancelled = _import_stored(run)
    task_run_finish(run=run, ok=ok, message=message, cancelled=cancelled)
    ImportUpload.objects.filter(run=run).delete()


class _Cancelled(Exception):
    pass


def _import_stored(run: TaskRun) -> tuple[bool, str, bool]:
    """(succeeded, message, cancelled) of the run's import."""
    upload = ImportUpload.objects.filter(run=run).first()
    if upload is None:
        return False, "The uploaded file is no longer stored; upload it again.", False
    if not run.study.accepts_imports:
        return False, NOT_A_DRAFT, False
    try:
        _progress_note(run, f"Reading {upload.filename}")
        with tempfile.TemporaryFile() as spool, task_run_beating(run):
            _spool(run, upload, spool)
            rows, images = _parse(upload.filename, spool)
        task_run_progress(run=run, done=0, total=len(rows))
        _progress_note(run, f"Checking the rows of {upload.filename}")
        _check_rows(run, upload.filename, rows, images)
        _progress_note(run, f"Writing the rows of {upload.filename}")
        summary = _write_unless_cancelled(run, upload.filename, rows, images)
    except ImportRejected as exc:
        return False, f"{NOTHING_IMPORTED} {exc}", False
    except ValidationError as exc:
        return False, " ".join(exc.messages), False
    except _Cancelled:
        return False, "Cancelled: nothing was imported.", True
    return True, summary.describe(upload.filename), False


def _progress_note(run: TaskRun, note: str) -> None:
    """Say which step a running import is at (the dashboard shows it under the bar)."""
    task_run_held(run).update(message=note, heartbeat_at=timezone.now())


def _spool(run: TaskRun, upload: ImportUpload, spool: BinaryIO) -> None:
    """Copy the stored chunks to a temporary file, one chunk in memory at a time."""
    chunks = upload.chunks.order_by("position").values_list("pk", flat=True)
    for pk in chunks:
        spool.write(ImportUploadChunk.objects.values_list("data", flat=True).get(pk=pk))
        task_run_progress(run=run, done=0)  # the heartbeat
    spool.seek(0)


def _check_rows(
    run: TaskRun, filename: str, rows: list[ImportRow], images: dict[str, ImageFile]
) -> None:
    """Plan every row against what the study holds, outside any transaction, so that progress
    and a cancel get through; ImportRejected names the problems. The write plans again under
    the study's lock, in case the study changed meanwhile."""
    planner = _RowWriter(run.study, PurePath(filename).name, images)
    reported = time.monotonic()
    for done, row in enumerate(rows, start=1):
        planner.plan(row)
        if time.monotonic() - reported >= PROGRESS_EVERY_SECONDS:
            reported = time.monotonic()
            task_run_progress(run=run, done=done)
            if cancel_requested(run):
                raise _Cancelled
    planner.check_expected_all()
    if planner.problems:
        raise ImportRejected(planner.problems[:MAX_PROBLEMS])
    task_run_progress(run=run, done=len(rows))


def _write_unless_cancelled(
    run: TaskRun, filename: str, rows: list[ImportRow], images: dict[str, ImageFile]
) -> ImportSummary:
    # The beat comes from outside the transaction, whose writes nobody sees until it commits.
    with task_run_beating(run), transaction.atomic():
        study = Study.objects.select_for_update().get(pk=run.study_id)
        if not study.accepts_imports:
            raise ValidationError(NOT_A_DRAFT)
        summary = _write(study, filename, rows, images)
        # Asked to stop while the rows were written: undone with the transaction.
        if cancel_requested(run):
            raise _Cancelled
        return summary


def _parse(
    filename: str, content: bytes | BinaryIO
) -> tuple[list[ImportRow], dict[str, ImageFile]]:
    """The rows of an upload (bytes, or a file holding them) and the images they name."""
    limits = _limits()
    if PurePath(filename).suffix.lower() == ".zip":
        return parse_study_archive(filename, content, limits=limits)
    if not isinstance(content, bytes):
        # One byte over the limit is enough for the parser to refuse it by name.
        content = content.read(limits.data_bytes + 1)
    rows = parse_study_file(filename, content, limits=limits)
    named = [r for r in rows if r.images]
    if named:
        message = "images come in a zip with the file that names them; upload the zip"
        name = PurePath(filename).name
        raise ImportRejected([Problem(name, r.row, "images", message) for r in named][:50])
    return rows, {}


def _limits() -> ImportLimits:
    return ImportLimits(
        data_bytes=settings.IMPORT_MAX_DATA_BYTES,
        rows=settings.IMPORT_MAX_ROWS,
        image_pixels=settings.IMPORT_MAX_IMAGE_PIXELS,
    )


def _write(
    study: Study, filename: str, rows: list[ImportRow], images: dict[str, ImageFile]
) -> ImportSummary:
    """Plan and write the rows; inside the caller's transaction, which a problem undoes."""
    importer = _RowWriter(study, PurePath(filename).name, images)
    importer.write_all(rows)
    if importer.problems:
        # Raising inside the atomic block undoes everything written before the problem.
        raise ImportRejected(importer.problems[:MAX_PROBLEMS])
    summary = ImportSummary(**importer.counts)
    audit_record(
        action="import.cases",
        study=study,
        details={"file": PurePath(filename).name, "rows": len(rows), **importer.counts},
    )
    return summary


def _check_upload_size(filename: str, size: int) -> None:
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if size > limit:
        message = (
            f"larger than the limit of {size_text(limit)} for an upload "
            "(IMPORT_MAX_UPLOAD_BYTES); split it into several files"
        )
        raise ImportRejected([Problem(PurePath(filename).name, None, None, message)])


# A case's lists that a later import may fill in while the study is a draft: an omission
# question's facts and a criteria question's criteria (Case.facts, Case.criteria).
ADDABLE_LISTS = ("facts", "criteria")


class _RowWriter:
    """Checks parsed rows against what the study already holds, then writes them in bulk.

    Everything is planned in memory first and nothing is written if any row has a problem; the
    writes are a few batched INSERTs rather than queries per row (see bench/import_speed.py).
    """

    BATCH = 2000

    def __init__(self, study: Study, filename: str, images: dict[str, ImageFile]) -> None:
        self.study, self.filename, self.images = study, filename, images
        self.cases = {
            c.external_id: c
            for c in study.cases.only(
                "pk",
                "external_id",
                "input_text",
                "reference",
                "metadata",
                "criteria",
                "facts",
                "role",
                "expected",
                "feedback",
                "accepted_answers",
                "expected_value",
                "tolerance",
            )
        }
        self.answer_question = study.questions.filter(kind=Question.Kind.ANSWER).first()
        self.expected_rows: dict[str, ImportRow] = {}  # case id -> first row giving it
        self.sources = {s.label: s for s in study.sources.all()}
        self.outputs = {
            (case_id, label): (pk, text, metrics)
            for pk, case_id, label, text, metrics in Output.objects.filter(
                case__study=study, sample=0
            ).values_list("pk", "case__external_id", "source__label", "text", "metrics")
        }
        self.metrics_updates: list[Output] = []
        self.lists_added: dict[int, Case] = {}  # stored cases taking facts or criteria
        self.stored_images = {}
        for case_id, name in Attachment.objects.filter(case__study=study).values_list(
            "case__external_id", "name"
        ):
            self.stored_images.setdefault(case_id, []).append(name)
        self.problems: list[Problem] = []
        self.counts = dict.fromkeys(
            ("cases_created", "sources_created", "outputs_created", "unchanged", "images_created"),
            0,
        )
        self.new_images: dict[str, tuple[str, ...]] = {}  # case id -> image names
        self.new_cases: list[Case] = []
        self.new_sources: list[Source] = []
        self.new_outputs: list[tuple[str, str, str, dict]] = []

    def problem(self, row: ImportRow, field: str, message: str) -> None:
        self.problems.append(Problem(self.filename, row.row, field, message))

    def write_all(self, rows: list[ImportRow]) -> None:
        for row in rows:
            self.plan(row)
        self.check_expected_all()
        if self.problems:
            return
        Case.objects.bulk_create(self.new_cases, batch_size=self.BATCH)
        Source.objects.bulk_create(self.new_sources, batch_size=self.BATCH)
        self.write_images()
        outputs = [
            (self.cases[case_id].pk, self.sources[label].pk, text, metrics)
            for case_id, label, text, metrics in self.new_outputs
        ]
        _outputs_insert(outputs, batch=self.BATCH)
        Output.objects.bulk_update(self.metrics_updates, ["metrics"], batch_size=self.BATCH)
        Case.objects.bulk_update(
            self.lists_added.values(), list(ADDABLE_LISTS), batch_size=self.BATCH
        )

    def plan(self, row: ImportRow) -> None:
        case = self.cases.get(row.case_id)
        if case is None:
            case = self.cases[row.case_id] = Case(
                study=self.study,
                external_id=row.case_id,
                input_text=row.input,
                reference=row.reference,
                metadata=row.metadata,
                criteria=row.criteria,
                facts=row.facts,
                role=row.role or Case.Role.STUDY,
                expected=row.expected,
                feedback=row.feedback,
                accepted_answers=row.accepted_answers,
                expected_value=row.expected_value,
                tolerance=row.tolerance,
            )
            self.new_cases.append(case)
            self.counts["cases_created"] += 1
            if row.images:
                self.new_images[row.case_id] = row.images
        elif case.pk is None:
            # Planned from an earlier row of this file, which may not have given these.
            case.reference = case.reference or row.reference
            case.metadata = case.metadata or row.metadata
            case.criteria = case.criteria or row.criteria
            case.facts = case.facts or row.facts
            case.role = row.role or case.role
            case.expected = case.expected or row.expected
            case.feedback = case.feedback or row.feedback
            case.accepted_answers = case.accepted_answers or row.accepted_answers
            if case.expected_value is None:
                case.expected_value = row.expected_value
            if case.tolerance is None:
                case.tolerance = row.tolerance
            if row.images:
                self.new_images.setdefault(row.case_id, row.images)
        else:
            self.plan_lists(case, row)
            stored = {"input": case.input_text, "reference": case.reference}
            stored.update(metadata=case.metadata, criteria=case.criteria)
            given = {"input": row.input, "reference": row.reference, "metadata": row.metadata}
            given["criteria"] = row.criteria
            stored["facts"], given["facts"] = case.facts, row.facts
            stored["images"] = tuple(self.stored_images.get(row.case_id, ()))
            given["images"] = tuple(self._paths(row.images))
            stored.update(role=case.role, expected=case.expected, feedback=case.feedback)
            given.update(role=row.role, expected=row.expected, feedback=row.feedback)
            stored.update(
                accepted_answers=case.accepted_answers, expected_value=case.expected_value
            )
            given.update(accepted_answers=row.accepted_answers, expected_value=row.expected_value)
            stored["tolerance"], given["tolerance"] = case.tolerance, row.tolerance
            changed = [
                c
                for c in stored
                if (c == "input" or given[c] or given[c] == 0) and stored[c] != given[c]
            ]
            if changed:
                message = f"differs from the {changed[0]} stored for case {row.case_id!r}"
                self.problem(row, changed[0], message)
                return
        self.check_expected(row)
        if row.source and self.source_for(row) is not None:
            self.plan_output(row)

    def plan_lists(self, case: Case, row: ImportRow) -> None:
        """Facts and criteria are often added after the cases exist (an omission or criteria
        question asks for them): a draft's stored case without them takes them from the row;
        differing ones stay a problem, as for any stored field."""
        if not self.study.accepts_imports:
            return
        for name in ADDABLE_LISTS:
            if getattr(row, name) and not getattr(case, name):
                setattr(case, name, getattr(row, name))
                self.lists_added[case.pk] = case

    def check_expected(self, row: ImportRow) -> None:
        """Assisted reading: note the first row giving a case's expected answer, checked
        against the answer question once every row is planned (the value and its tolerance
        may come on different rows); without an answer question the columns are refused."""
        given = row.accepted_answers or row.expected_value is not None or row.tolerance is not None
        if not given:
            return
        if self.answer_question is None:
            column = reading_answer_column(row)
            self.problem(row, column, "the study has no answer question to score against")
            return
        self.expected_rows.setdefault(row.case_id, row)

    def check_expected_all(self) -> None:
        """Each case's expected answer, as its rows give it together, fits the question."""
        for case_id, row in self.expected_rows.items():
            case = self.cases[case_id]
            try:
                expected_answer(
                    self.answer_question,
                    accepted_answers=case.accepted_answers,
                    expected_value=case.expected_value,
                    tolerance=case.tolerance,
                )
            except ScoringError as exc:
                self.problem(row, exc.field, str(exc))

    def _paths(self, names: tuple[str, ...]) -> list[str]:
        return [self.images[name].name for name in names if name in self.images]

    def write_images(self) -> None:
        attachments = []
        for case_id, names in self.new_images.items():
            for position, name in enumerate(names, start=1):
                image = self.images[name]
                attachments.append(
                    Attachment(
                        case=self.cases[case_id],
                        position=position,
                        name=image.name[:255],
                        content_type=image.content_type,
                        width=image.width,
                        height=image.height,
                        sha256=hashlib.sha256(image.data).hexdigest(),
                        data=image.data,
                    )
                )
        # Small batches: each row carries up to MAX_IMAGE_BYTES.
        Attachment.objects.bulk_create(attachments, batch_size=20)
        self.counts["images_created"] = len(attachments)

    def source_for(self, row: ImportRow) -> Source | None:
        source = self.sources.get(row.source)
        if source is None:
            source = self.sources[row.source] = Source(
                study=self.study, label=row.source, kind=row.source_kind
            )
            self.new_sources.append(source)
            self.counts["sources_created"] += 1
        elif source.kind != row.source_kind:
            self.problem(row, "source_kind", f"source {row.source!r} is already a {source.kind}")
            return None
        return source

    def plan_output(self, row: ImportRow) -> None:
        stored = self.outputs.get((row.case_id, row.source))
        if stored is None:
            self.new_outputs.append((row.case_id, row.source, row.output, row.metrics))
            self.counts["outputs_created"] += 1
        elif stored[1] != row.output:
            self.problem(row, "output", "this case already has a different output from this source")
        elif row.metrics and not row.metrics.items() <= stored[2].items():
            self.plan_metrics(row, *stored)
        else:
            self.counts["unchanged"] += 1

    def plan_metrics(self, row: ImportRow, pk: int, text: str, metrics: dict) -> None:
        """Metrics are often computed after the outputs exist: new names are added to a stored
        output; a different value for a name it has is a problem, as for any stored field."""
        changed = [
            name for name in row.metrics if name in metrics and metrics[name] != row.metrics[name]
        ]
        if changed:
            self.problem(row, "metrics", f"{changed[0]!r} differs from the value stored")
            return
        merged = {**metrics, **row.metrics}
        self.outputs[(row.case_id, row.source)] = (pk, text, merged)
        self.metrics_updates.append(Output(pk=pk, metrics=merged))
        self.counts["unchanged"] += 1


def reading_answer_column(row: ImportRow) -> str:
    """The first of the assisted-reading columns the row gives, for a problem's field."""
    if row.accepted_answers:
        return "accepted_answers"
    return "expected_value" if row.expected_value is not None else "tolerance"


def _outputs_insert(rows: list[tuple[int, int, str, dict]], *, batch: int) -> None:
    """Insert (case id, source id, text, metrics) rows. On PostgreSQL through COPY, which moves
    tens of megabytes of text about twice as fast as batched INSERTs; elsewhere bulk_create."""
    if connection.vendor != "postgresql":
        Output.objects.bulk_create(
            (
                Output(case_id=case, source_id=source, text=text, metrics=metrics)
                for case, source, text, metrics in rows
            ),
            batch_size=batch,
        )
        return
    table = Output._meta.db_table
    now = timezone.now()
    with connection.cursor() as cursor:
        statement = f"COPY {table} (case_id, source_id, text, metrics, created_at) FROM STDIN"
        with cursor.cursor.copy(statement) as copy:
            for case, source, text, metrics in rows:
                copy.write_row((case, source, text, json.dumps(metrics), now))
