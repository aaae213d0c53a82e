"""Importing a study's cases and outputs from a file, all or nothing, in bulk."""

import hashlib
import json
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone

from annotation.archives import parse_study_archive
from annotation.images import ImageFile
from annotation.importing import (
    MAX_PROBLEMS,
    ImportLimits,
    ImportRejected,
    ImportRow,
    Problem,
    parse_study_file,
    size_text,
)
from annotation.models import (
    Attachment,
    Case,
    Output,
    Source,
    Study,
)


@dataclass(frozen=True)
class ImportSummary:
    cases_created: int
    sources_created: int
    outputs_created: int
    unchanged: int
    images_created: int = 0


def study_import_file(*, study: Study, filename: str, content: bytes) -> ImportSummary:
    """Parse and write a whole file (CSV, JSONL, or a zip of one with its images), or nothing.
    Raises ImportRejected naming every problem."""
    _check_upload_size(filename, len(content))
    limits = ImportLimits(
        data_bytes=settings.IMPORT_MAX_DATA_BYTES,
        rows=settings.IMPORT_MAX_ROWS,
        image_pixels=settings.IMPORT_MAX_IMAGE_PIXELS,
    )
    if PurePath(filename).suffix.lower() == ".zip":
        rows, images = parse_study_archive(filename, content, limits=limits)
    else:
        rows, images = parse_study_file(filename, content, limits=limits), {}
        named = [r for r in rows if r.images]
        if named:
            message = "images come in a zip with the file that names them; upload the zip"
            name = PurePath(filename).name
            raise ImportRejected([Problem(name, r.row, "images", message) for r in named][:50])
    with transaction.atomic():
        # Lock the study row so two uploads cannot interleave their writes.
        study = Study.objects.select_for_update().get(pk=study.pk)
        if not study.accepts_imports:
            raise ValidationError("This study is no longer a draft; its cases are fixed.")
        importer = _RowWriter(study, PurePath(filename).name, images)
        importer.write_all(rows)
        if importer.problems:
            # Raising inside the atomic block undoes everything written before the problem.
            raise ImportRejected(importer.problems[:MAX_PROBLEMS])
        return ImportSummary(**importer.counts)


def import_upload_read(*, upload: UploadedFile) -> bytes:
    """An uploaded import file's bytes, refused by its size before any are read into memory."""
    _check_upload_size(upload.name, upload.size)
    return upload.read()


def _check_upload_size(filename: str, size: int) -> None:
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if size > limit:
        message = (
            f"larger than the limit of {size_text(limit)} for an upload "
            "(IMPORT_MAX_UPLOAD_BYTES); split it into several files"
        )
        raise ImportRejected([Problem(PurePath(filename).name, None, None, message)])


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
                "role",
                "expected",
                "feedback",
            )
        }
        self.sources = {s.label: s for s in study.sources.all()}
        self.outputs = {
            (case_id, label): (pk, text, metrics)
            for pk, case_id, label, text, metrics in Output.objects.filter(
                case__study=study, sample=0
            ).values_list("pk", "case__external_id", "source__label", "text", "metrics")
        }
        self.metrics_updates: list[Output] = []
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
                role=row.role or Case.Role.STUDY,
                expected=row.expected,
                feedback=row.feedback,
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
            case.role = row.role or case.role
            case.expected = case.expected or row.expected
            case.feedback = case.feedback or row.feedback
            if row.images:
                self.new_images.setdefault(row.case_id, row.images)
        else:
            stored = {"input": case.input_text, "reference": case.reference}
            stored.update(metadata=case.metadata, criteria=case.criteria)
            given = {"input": row.input, "reference": row.reference, "metadata": row.metadata}
            given["criteria"] = row.criteria
            stored["images"] = tuple(self.stored_images.get(row.case_id, ()))
            given["images"] = tuple(self._paths(row.images))
            stored.update(role=case.role, expected=case.expected, feedback=case.feedback)
            given.update(role=row.role, expected=row.expected, feedback=row.feedback)
            changed = [c for c in stored if (given[c] or c == "input") and stored[c] != given[c]]
            if changed:
                message = f"differs from the {changed[0]} stored for case {row.case_id!r}"
                self.problem(row, changed[0], message)
                return
        if row.source and self.source_for(row) is not None:
            self.plan_output(row)

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
