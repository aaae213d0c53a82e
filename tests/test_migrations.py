import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@pytest.mark.django_db
def test_models_and_migrations_agree():
    # Exits non-zero (SystemExit) if a model change has no migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_one_running_statistics_job_keeps_the_newest_where_two_were_running(draft_study):
    # Before 0024 a recomputation and a bundle of one study could both be running (one left so
    # by a dead worker); the migration must not fail on them, and keeps the newer running.
    before = [("annotation", "0023_task_run_export_bundle")]
    after = [("annotation", "0024_one_running_statistics_job")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    TaskRun = executor.loader.project_state(before).apps.get_model("annotation", "TaskRun")
    older = TaskRun.objects.create(
        study_id=draft_study.pk, kind="compute_agreement", status="running"
    )
    newer = TaskRun.objects.create(study_id=draft_study.pk, kind="export_bundle", status="running")
    executor.loader.build_graph()
    executor.migrate(after)
    states = dict(TaskRun.objects.values_list("pk", "status"))
    assert states == {older.pk: "failed", newer.pk: "running"}
