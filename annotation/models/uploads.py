"""A large import file received in chunks and read by the worker."""

from django.db import models

from annotation.models.jobs import TaskRun


class ImportUpload(models.Model):
    """An uploaded import file waiting for the worker that imports it (TaskRun.Kind.IMPORT).

    The bytes live in the database, which the web and every worker share wherever they run;
    they are stored in ImportUploadChunk rows of at most CHUNK_BYTES, so neither the web
    process that stores them nor the worker that reads them holds the whole upload (up to
    IMPORT_MAX_UPLOAD_BYTES) in memory. Deleted with its chunks once the import ends.
    """

    CHUNK_BYTES = 1024 * 1024

    run = models.OneToOneField(TaskRun, on_delete=models.CASCADE, related_name="upload")
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.filename


class ImportUploadChunk(models.Model):
    upload = models.ForeignKey(ImportUpload, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["upload", "position"], name="import_upload_chunk_unique_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.upload_id}:{self.position}"
