import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone


@pytest.fixture(autouse=True)
def _back_to_the_latest_migrations(request):
    # A test that migrates back must not leave the next test an old schema.
    yield
    if request.node.get_closest_marker("django_db").kwargs.get("transaction"):
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


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
    # Heard from just now: a worker's sweep (the session's worker may be up) would otherwise
    # send these runs again, and the job's reads deadlock with the migration (as on one CI run).
    alive = {"status": "running", "heartbeat_at": timezone.now()}
    older = TaskRun.objects.create(study_id=draft_study.pk, kind="compute_agreement", **alive)
    newer = TaskRun.objects.create(study_id=draft_study.pk, kind="export_bundle", **alive)
    executor.loader.build_graph()
    executor.migrate(after)
    states = dict(TaskRun.objects.values_list("pk", "status"))
    assert states == {older.pk: "failed", newer.pk: "running"}


@pytest.mark.django_db(transaction=True)
def test_empty_span_and_criteria_lists_from_before_none_keep_their_meaning(open_study, raters):
    # Before 0026 an emptied list was the only "no errors found", coded 0 spans. A submitted one
    # becomes "none" with the same code; one not yet submitted becomes unanswered (no code); a
    # judge's becomes "none"; any other answer is left alone.
    before = [("annotation", "0025_call_ids")]
    after = [("annotation", "0026_span_criteria_empty_lists")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    Question = apps.get_model("annotation", "Question")
    Assignment = apps.get_model("annotation", "Assignment")
    Rating = apps.get_model("annotation", "Rating")
    spans = Question.objects.create(
        study_id=open_study.pk, key="errors", prompt="Errors", kind="span", level="ratio", order=5
    )
    submitted, unsubmitted, other = Assignment.objects.filter(study_id=open_study.pk)[:3]
    Assignment.objects.filter(pk=submitted.pk).update(submitted_at="2026-01-01T00:00:00Z")
    Assignment.objects.filter(pk=other.pk).update(submitted_at="2026-01-01T00:00:00Z")
    marked = [{"start": 0, "end": 2, "category": "factual", "severity": "minor"}]
    rows = {
        "submitted": Rating.objects.create(
            assignment_id=submitted.pk, question_id=spans.pk, answer=[], value=0.0
        ),
        "unsubmitted": Rating.objects.create(
            assignment_id=unsubmitted.pk, question_id=spans.pk, answer=[], value=0.0
        ),
        "marked": Rating.objects.create(
            assignment_id=other.pk, question_id=spans.pk, answer=marked, value=1.0
        ),
    }
    executor.loader.build_graph()
    executor.migrate(after)
    stored = {
        name: tuple(Rating.objects.filter(pk=row.pk).values_list("answer", "value").get())
        for name, row in rows.items()
    }
    assert stored == {
        "submitted": ("none", 0.0),
        "unsubmitted": ([], None),
        "marked": (marked, 1.0),
    }
