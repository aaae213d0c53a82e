"""The dashboard's figures, stored by a recomputation in a thread of their own on PostgreSQL
(outside a transaction) while the statistics are computed: the same figures as computed on
their own, the same statistics beside them, and their error still the run's error."""

import json
import threading

import pytest
from django.db import connection

from annotation import selectors, services
from annotation.models import Result, StudyFigures, TaskRun
from annotation.services import statistics
from tests.test_study_statistics import compute, rate_absolute

# Outside a transaction, as a worker runs: only then may a second connection see the ratings.
pytestmark = pytest.mark.django_db(transaction=True)


def _recorded(monkeypatch) -> list[str]:
    """The name of each thread that stores the figures."""
    threads = []
    store = statistics.study_figures_store

    def recording(*, study):
        threads.append(threading.current_thread().name)
        return store(study=study)

    monkeypatch.setattr(statistics, "study_figures_store", recording)
    return threads


def test_figures_stored_alongside_are_those_computed_alone(open_study, monkeypatch):
    rate_absolute(open_study)
    threads = _recorded(monkeypatch)
    run = compute(open_study)
    assert run.status == TaskRun.Status.SUCCEEDED
    alongside = connection.vendor == "postgresql"
    assert len(threads) == 1
    assert (threads[0] != threading.current_thread().name) == alongside
    stored = StudyFigures.objects.get(study=open_study).data
    alone = selectors.study_dashboard_figures_compute(study=open_study)
    assert stored == json.loads(json.dumps(alone))  # as the JSON field keeps them
    values = dict(Result.objects.filter(study=open_study).values_list("statistic", "value"))
    assert values["krippendorff_alpha"] is not None


def test_figures_stored_alongside_leave_the_other_core_to_the_computation(open_study, monkeypatch):
    """Their queries run without parallel workers beside the computation, and the setting goes
    with the thread's connection, not into the computation's own."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "only PostgreSQL stores the figures alongside the computation, and only it has "
            "parallel workers (CI runs this on PostgreSQL)"
        )
    rate_absolute(open_study)
    settings_seen = []

    def recording(*, study):
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_parallel_workers_per_gather")
            settings_seen.append(cursor.fetchone()[0])

    def own_setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_parallel_workers_per_gather")
            return cursor.fetchone()[0]

    before = own_setting()
    monkeypatch.setattr(statistics, "study_figures_store", recording)
    with connection.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 2")
    with statistics._figures_stored_alongside(open_study):
        during = own_setting()
    assert settings_seen == ["0"]
    assert during == own_setting() == "2"
    with connection.cursor() as cursor:
        cursor.execute(f"SET max_parallel_workers_per_gather = {int(before)}")


def test_figures_that_fail_fail_the_recomputation(open_study, monkeypatch):
    rate_absolute(open_study)

    def failing(*, study):
        raise RuntimeError("figures failed")

    monkeypatch.setattr(statistics, "study_figures_store", failing)
    run = TaskRun.objects.create(study=open_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    with pytest.raises(RuntimeError, match="figures failed"):
        services.agreement_compute(run=services.task_run_claim(run_id=run.pk))


def test_when_both_fail_the_computations_error_is_the_one_raised(open_study, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip(
            "only PostgreSQL stores the figures alongside the computation; elsewhere they come "
            "first, so there is no second error (CI runs this on PostgreSQL)"
        )

    def failing(*, study):
        raise RuntimeError("figures failed")

    monkeypatch.setattr(statistics, "study_figures_store", failing)
    with (
        pytest.raises(services.TaskRunLost),
        statistics._figures_stored_alongside(open_study),
    ):
        raise services.TaskRunLost(1)  # another worker took the run over meanwhile
