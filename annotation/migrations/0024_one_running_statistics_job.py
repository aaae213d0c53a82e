from django.db import migrations, models
from django.db.models import Max
from django.utils import timezone

JOBS = ["compute_agreement", "export_bundle"]


def keep_one_running_job_per_study(apps, schema_editor):
    """Before the constraint: where a study has a recomputation and a bundle both marked
    running (one of them left so by a worker that died), the newer stays running and the others
    are marked failed, as a new run would have superseded them."""
    TaskRun = apps.get_model("annotation", "TaskRun")
    running = TaskRun.objects.filter(kind__in=JOBS, status="running")
    newest = running.values("study_id").annotate(last=Max("pk")).values_list("last", flat=True)
    running.exclude(pk__in=list(newest)).update(
        status="failed",
        finished_at=timezone.now(),
        message="Its worker stopped; a new run took over.",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0023_task_run_export_bundle"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="taskrun",
            name="task_run_one_running_recompute",
        ),
        migrations.RunPython(keep_one_running_job_per_study, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="taskrun",
            constraint=models.UniqueConstraint(
                condition=models.Q(("kind__in", JOBS), ("status", "running")),
                fields=("study",),
                name="task_run_one_running_statistics_job",
            ),
        ),
    ]
