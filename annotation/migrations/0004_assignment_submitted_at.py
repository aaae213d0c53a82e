from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotation", "0003_rubric_kinds_and_answers")]

    operations = [
        migrations.RenameField(
            model_name="assignment", old_name="completed_at", new_name="submitted_at"
        ),
        migrations.AddField(
            model_name="assignment",
            name="time_on_task_ms",
            field=models.PositiveIntegerField(default=0),
        ),
    ]
