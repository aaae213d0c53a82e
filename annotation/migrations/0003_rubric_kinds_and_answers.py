"""Question kinds beyond Likert, and answers stored as given beside their numeric code.

Existing ratings were Likert points: the answer is the integer, the code the same number.
"""

from django.db import migrations, models


def copy_values_to_answers(apps, schema_editor):
    for name in ("Rating", "RatingRevision"):
        model = apps.get_model("annotation", name)
        for row in model.objects.all().only("pk", "value").iterator():
            model.objects.filter(pk=row.pk).update(answer=int(row.value))


class Migration(migrations.Migration):
    dependencies = [("annotation", "0002_study_manifest_hash")]

    operations = [
        migrations.AddField(
            model_name="question",
            name="allow_na",
            field=models.BooleanField(default=False, help_text='Offer "not applicable".'),
        ),
        migrations.AddField(
            model_name="question",
            name="required",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="question",
            name="minimum",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="question",
            name="maximum",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="question",
            name="help_text",
            field=models.TextField(blank=True, help_text="Guidance shown under the question."),
        ),
        migrations.AlterField(
            model_name="question",
            name="kind",
            field=models.CharField(
                choices=[
                    ("likert", "Likert scale"),
                    ("single_choice", "Single choice"),
                    ("multiple_choice", "Multiple choice"),
                    ("yes_no", "Yes / no"),
                    ("number", "Number"),
                    ("text", "Free text"),
                ],
                default="likert",
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="question",
            name="scale",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AlterField(
            model_name="question",
            name="level",
            field=models.CharField(
                blank=True,
                choices=[
                    ("nominal", "Nominal"),
                    ("ordinal", "Ordinal"),
                    ("interval", "Interval"),
                    ("ratio", "Ratio"),
                ],
                default="ordinal",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="rating", name="answer", field=models.JSONField(null=True)
        ),
        migrations.AddField(
            model_name="ratingrevision", name="answer", field=models.JSONField(null=True)
        ),
        migrations.RunPython(copy_values_to_answers, migrations.RunPython.noop),
        migrations.AlterField(model_name="rating", name="answer", field=models.JSONField()),
        migrations.AlterField(model_name="ratingrevision", name="answer", field=models.JSONField()),
        migrations.AlterField(
            model_name="rating", name="value", field=models.FloatField(null=True)
        ),
        migrations.AlterField(
            model_name="ratingrevision", name="value", field=models.FloatField(null=True)
        ),
    ]
