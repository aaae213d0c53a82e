"""ratings.csv read over two connections (issue 22): on a worker, the bundle's snapshot is shared
with a second connection, and the items' second half is sorted and written there while the
first half is on the bundle's own. The file is the same bytes as the Python formatting of the
rows, batches of both halves in order; a change committed after the snapshot is in neither
half, nor in methods.md, which a thread makes on a connection of its own in the same snapshot;
and a failure of the second half's query fails the run and leaves no transaction open."""

import io
import threading
import time
import zipfile

import pytest
from django.conf import settings
from django.db import connection

from annotation import services
from annotation.demo import DEMO_TITLE, SIDE_BY_SIDE_TITLE
from annotation.models import Assignment, Rating, TaskRun
from annotation.selectors import ratings_rows
from annotation.services import bundle
from annotation.services.bundle_ratings import BundleRatings
from tests.test_bundle_fast_paths import _studies
from tests.test_bundle_speed_csv import ORDERS, _python_csv, _tricky

pytestmark = [
    pytest.mark.skipif(
        not settings.POSTGRES,
        reason="the shared snapshot is PostgreSQL's: SQLite writes ratings.csv in Python, on "
        "one connection (CI runs this on PostgreSQL)",
    ),
    # Committed, as on a worker: the bundle's own transaction exports its snapshot.
    pytest.mark.django_db(transaction=True),
]


def _build(study) -> TaskRun:
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.EXPORT_BUNDLE)
    services.bundle_build(run=services.task_run_claim(run_id=run.pk))
    run.refresh_from_db()
    return run


def _ratings_csv(study) -> str:
    """ratings.csv as the bundle writes it, in the bundle's snapshot (the rest of the bundle
    left out: ratings.dta cannot hold the doubles past Stata's range that tricky answers use)."""
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.EXPORT_BUNDLE)
    out = io.BytesIO()
    with bundle._snapshot(run) as job:
        assert job.helper is not None
        BundleRatings(study, helper=job.helper).write_csv(out)
    return out.getvalue().decode()


@pytest.fixture
def parts_seen(monkeypatch):
    """The item ranges each ratings.csv was read in."""
    seen = []
    split = ratings_rows._parts

    def parts(items, count):
        found = split(items, count)
        seen.append(found)
        return found

    monkeypatch.setattr(ratings_rows, "_parts", parts)
    return seen


def test_both_halves_give_the_python_csv(settings, tmp_path, monkeypatch, parts_seen):
    settings.EXPORT_DIR = tmp_path / "exports"
    monkeypatch.setattr(ratings_rows, "CSV_BATCH", 7)  # many batches in each half
    for study in _studies():
        if study.title == DEMO_TITLE:
            _tricky(study)  # answers, values and times of every kind, in both halves
        if study.title == SIDE_BY_SIDE_TITLE:
            for n, assignment in enumerate(study.assignments.order_by("pk")):
                Assignment.objects.filter(pk=assignment.pk).update(order=ORDERS[n % len(ORDERS)])
        expected = _python_csv(study)
        assert _ratings_csv(study) == expected, study.title
        (first, second) = parts_seen.pop()  # read in two halves, each with rows
        items = study.items.count()
        assert (first[0], first[1], second[0]) == (1, items // 2, items // 2 + 1)
        assert items >= 4
        assert expected.count("\r\n") > 50


def test_a_change_after_the_snapshot_is_in_neither_half(settings, tmp_path, monkeypatch):
    settings.EXPORT_DIR = tmp_path / "exports"
    study = next(s for s in _studies() if s.title == DEMO_TITLE)
    # One rating in the first half of the items (by token) and one in the second.
    ratings = list(Rating.objects.filter(assignment__study=study, value__isnull=False))
    ratings.sort(key=lambda rating: rating.assignment.item.token)
    changed = [ratings[0].pk, ratings[-1].pk]
    before = _python_csv(study)
    methods_before = bundle.methods_text(study)  # made by a thread of its own, in the snapshot
    write = BundleRatings.write_csv

    def write_after_a_change(self, out, **options):
        # Another connection commits while the bundle holds its snapshot.
        def change():
            Rating.objects.filter(pk__in=changed).update(value=123456.5)
            connection.close()

        thread = threading.Thread(target=change)
        thread.start()
        thread.join()
        write(self, out, **options)

    monkeypatch.setattr(BundleRatings, "write_csv", write_after_a_change)
    run = _build(study)
    assert run.status == "succeeded", run.message
    written = zipfile.ZipFile(services.bundle_path(run)).read("ratings.csv").decode()
    assert written == before
    assert "123456.5" not in written
    assert "123456.5" in _python_csv(study)  # the change itself was committed
    methods = zipfile.ZipFile(services.bundle_path(run)).read("methods.md").decode()
    assert methods == methods_before
    assert bundle.methods_text(study) != methods_before  # its means moved with the change


def test_a_failing_second_half_fails_the_run_and_ends_every_transaction(
    settings, tmp_path, monkeypatch
):
    settings.EXPORT_DIR = tmp_path / "exports"
    study = next(s for s in _studies() if s.title == DEMO_TITLE)
    # The second half's query divides by zero at its first item; the first half's never does.
    broken = ratings_rows.CSV_SQL.replace(
        "ORDER BY r.rank",
        "ORDER BY 1 / (r.rank - %(first)s + CASE WHEN %(first)s = 1 THEN 1 ELSE 0 END), r.rank",
    )
    monkeypatch.setattr(ratings_rows, "CSV_SQL", broken)
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.EXPORT_BUNDLE)
    with pytest.raises(Exception, match="division by zero"):
        services.bundle_build(run=services.task_run_claim(run_id=run.pk))
    assert not connection.in_atomic_block
    assert not services.bundle_path(run).exists()
    # No session of the bundle is left in a transaction: a closed connection's server process
    # leaves pg_stat_activity a moment after the close, so it is given a few seconds.
    deadline = time.monotonic() + 10
    while (left := _idle_in_transaction()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == 0


def _idle_in_transaction() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_methods_md_is_made_while_ratings_csv_is_read(settings, tmp_path, monkeypatch):
    """methods.md's queries start with ratings.csv's first lines (the database has sorted them
    by then), not once the whole file is written."""
    from annotation.core import stat_files

    settings.EXPORT_DIR = tmp_path / "exports"
    monkeypatch.setattr(ratings_rows, "CSV_BATCH", 7)
    study = next(s for s in _studies() if s.title == DEMO_TITLE)
    started = threading.Event()
    make = bundle.methods_text

    def methods_text(study):
        started.set()
        return make(study)

    add_coded = stat_files.RatingsColumns.add_coded
    waited = []

    def add(self, coded):
        if len(waited) < 2:  # the second batch waits for methods.md's thread to begin
            waited.append(started.wait(10) if waited else None)
        return add_coded(self, coded)

    monkeypatch.setattr(bundle, "methods_text", methods_text)
    monkeypatch.setattr(stat_files.RatingsColumns, "add_coded", add)
    run = _build(study)
    assert run.status == "succeeded", run.message
    assert waited == [None, True]
