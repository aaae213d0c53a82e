"""The dashboard's whole-study figures (progress by source, items short of k, data quality),
stored by the statistics recomputation."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0033_rater_numbers_and_revoked_invitations"),
    ]

    operations = [
        migrations.CreateModel(
            name="StudyFigures",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("data", models.JSONField(default=dict)),
                ("computed_at", models.DateTimeField()),
                (
                    "study",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="stored_figures",
                        to="annotation.study",
                    ),
                ),
            ],
        ),
    ]
