"""Large imports run on the worker: the task run kind "import", and the uploaded file it reads,
stored in the database in chunks until the import ends."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotation", "0029_analysis_reopening")]

    operations = [
        migrations.AlterField(
            model_name="taskrun",
            name="kind",
            field=models.CharField(
                choices=[
                    ("fetch_outputs", "Fetch model outputs"),
                    ("compute_agreement", "Compute agreement"),
                    ("run_judge", "Run LLM judge"),
                    ("export_bundle", "Build the paper bundle"),
                    ("import", "Import cases and outputs"),
                ],
                max_length=30,
            ),
        ),
        migrations.CreateModel(
            name="ImportUpload",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("filename", models.CharField(max_length=255)),
                ("size", models.PositiveBigIntegerField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "run",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="upload",
                        to="annotation.taskrun",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ImportUploadChunk",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.PositiveIntegerField()),
                ("data", models.BinaryField()),
                (
                    "upload",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="chunks",
                        to="annotation.importupload",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("upload", "position"), name="import_upload_chunk_unique_position"
                    )
                ],
            },
        ),
    ]
