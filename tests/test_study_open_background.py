"""A large study is opened by a worker: the click returns at once, the dashboard shows the job,
and the study opens exactly as it would have in the request, or stays a draft saying why."""

import threading
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotation import services
from annotation.models import Assignment, Study, TaskRun
from annotation.services import task_runs
from annotation.services.studies import assignments, opening
from tests.conftest import STUDY_ROWS, study_drafted
from tests.factories import UserFactory
from tests.support.waiting import wait_for_run


@pytest.fixture
def admin_client(client, study_admin):
    client.force_login(study_admin)
    return client


@pytest.fixture
def large(settings):
    # draft_study: 6 outputs x 3 raters = 18 possible assignments, so "large" past 17.
    settings.OPEN_BACKGROUND_PLACEMENTS = 17


def _open(admin_client, study: Study):
    url = reverse("study_open", args=[study.token])
    return admin_client.post(url, {"confirm": "yes"}, follow=True)


def _work(run: TaskRun) -> TaskRun:
    """What the worker does with the run, here and now."""
    claimed = services.task_run_claim(run_id=run.pk)
    services.study_open_run(run=claimed)
    claimed.refresh_from_db()
    return claimed


def test_a_small_study_still_opens_in_the_request(admin_client, draft_study):
    response = _open(admin_client, draft_study)
    assert "The study is open: 12 assignments stored." in response.text
    assert not TaskRun.objects.exists()


def test_a_large_study_is_opened_by_a_job_and_opens_as_the_request_would(
    admin_client, draft_study, study_admin, raters, large
):
    twin = study_drafted(study_admin, raters, title="The same study, opened at once")
    services.study_open(study=twin)

    response = _open(admin_client, draft_study)

    run = TaskRun.objects.get(study=draft_study)
    assert (run.kind, run.status) == (TaskRun.Kind.OPEN, TaskRun.Status.QUEUED)
    assert f"Opening the study in the background (job {run.pk})" in response.text
    assert "A worker is opening the study" in response.text
    assert "Open the study to raters" not in response.text  # its button waits for the job
    draft_study.refresh_from_db()
    assert draft_study.status == Study.Status.DRAFT
    assert not Assignment.objects.filter(study=draft_study).exists()

    run = _work(run)

    assert (run.status, run.message) == ("succeeded", "The study is open: 12 assignments stored.")
    draft_study.refresh_from_db()
    twin.refresh_from_db()
    assert draft_study.status == Study.Status.OPEN
    assert draft_study.manifest_hash == twin.manifest_hash
    assert Assignment.objects.filter(study=draft_study).count() == 12


def test_while_it_is_opened_a_second_open_and_an_import_are_refused(
    admin_client, draft_study, study_admin, large
):
    services.study_open_start(study=draft_study, user=study_admin)

    again = _open(admin_client, draft_study)
    upload = SimpleUploadedFile("more.csv", STUDY_ROWS)
    imported = admin_client.post(
        reverse("study_import", args=[draft_study.token]), {"file": upload}, follow=True
    )

    assert "The study is being opened by a worker" in again.text
    assert "The study is being opened by a worker" in imported.text
    assert TaskRun.objects.filter(study=draft_study).count() == 1


def test_a_study_that_cannot_open_says_why_and_stays_a_draft(draft_study, study_admin, large):
    draft_study.raters_per_item = 5
    draft_study.save(update_fields=["raters_per_item"])
    run = services.study_open_start(study=draft_study, user=study_admin)

    run = _work(run)

    assert run.status == "failed"
    assert run.message == "Each output needs 5 raters, but the study has 3."
    draft_study.refresh_from_db()
    assert draft_study.status == Study.Status.DRAFT
    assert not Assignment.objects.filter(study=draft_study).exists()


def test_a_cancel_asked_while_it_works_keeps_nothing(draft_study, study_admin, large):
    run = services.study_open_start(study=draft_study, user=study_admin)
    claimed = services.task_run_claim(run_id=run.pk)
    services.task_run_cancel(run=claimed)  # the admin's click, while the worker is at it

    services.study_open_run(run=claimed)

    claimed.refresh_from_db()
    assert (claimed.status, claimed.message) == (
        "cancelled",
        "Cancelled: the study is still a draft.",
    )
    draft_study.refresh_from_db()
    assert draft_study.status == Study.Status.DRAFT
    assert not Assignment.objects.filter(study=draft_study).exists()
    assert not draft_study.items.exists()


def test_the_api_answers_202_with_the_job(client, draft_study, study_admin, large):
    token = Token.objects.get_or_create(user=study_admin)[0].key
    response = client.post(
        f"/api/v1/studies/{draft_study.token}/open/", headers={"Authorization": f"Token {token}"}
    )
    assert response.status_code == 202, response.json()
    job = response.json()
    assert (job["kind"], job["status"]) == ("open_study", "queued")


@pytest.mark.django_db(transaction=True)  # the worker reads committed data only
@pytest.mark.worker
def test_the_worker_opens_it(celery_worker, admin_client, draft_study, large):
    _open(admin_client, draft_study)
    run = wait_for_run(TaskRun.objects.get(study=draft_study).pk, timeout=60)
    assert (run.status, run.message) == ("succeeded", "The study is open: 12 assignments stored.")
    draft_study.refresh_from_db()
    assert draft_study.status == Study.Status.OPEN
    dashboard = admin_client.get(reverse("study_dashboard", args=[draft_study.token]))
    assert "Open the study" in dashboard.text  # the job, under Background jobs


def test_a_quick_open_waits_for_a_pending_import(admin_client, draft_study, study_admin):
    TaskRun.objects.create(
        study=draft_study,
        kind=TaskRun.Kind.IMPORT,
        status=TaskRun.Status.QUEUED,
        heartbeat_at=timezone.now(),
    )
    response = _open(admin_client, draft_study)
    assert "An import of this study is waiting or running" in response.text
    draft_study.refresh_from_db()
    assert draft_study.status == Study.Status.DRAFT


@pytest.mark.django_db(transaction=True)  # two connections: the worker's and the admin's
def test_while_a_worker_writes_the_study_other_changes_are_refused_at_once(
    draft_study, study_admin, large, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite has no row locks: while the opening writes, every other write waits for the "
            "whole file, whatever study it changes (CI runs this on PostgreSQL)"
        )
    writing, release = threading.Event(), threading.Event()
    create = opening.assignments_defer

    def slow_create(*args, **kwargs):
        writing.set()  # the study's row is locked from here until the opening commits
        release.wait(30)
        return create(*args, **kwargs)

    monkeypatch.setattr(opening, "assignments_defer", slow_create)
    run = services.task_run_claim(
        run_id=services.study_open_start(study=draft_study, user=study_admin).pk
    )
    worker = threading.Thread(target=lambda: (services.study_open_run(run=run), _closed()))
    worker.start()
    try:
        assert writing.wait(30)
        started = time.monotonic()
        for change in (
            lambda: services.study_open_start(study=draft_study, user=study_admin),
            lambda: services.study_add_raters(study=draft_study, users=[UserFactory()]),
            lambda: services.study_import_file(
                study=draft_study, filename="more.csv", content=STUDY_ROWS
            ),
        ):
            with pytest.raises(ValidationError, match="being opened by a worker"):
                change()
        assert time.monotonic() - started < 5  # not the opening's whole time
    finally:
        release.set()
        worker.join(60)
    run.refresh_from_db()
    assert run.status == TaskRun.Status.SUCCEEDED


def _closed() -> None:
    connection.close()  # the thread's own


class _PausedOpening:
    """A worker's opening of the study in a thread, paused after the study has opened, while
    it writes its raters' assignments: the first rater's four are written, the second's
    inside their transaction after one of four, the third's still pending, until `release`."""

    def __init__(self, study: Study, admin, monkeypatch) -> None:
        monkeypatch.setattr(task_runs, "PROGRESS_BEAT_SECONDS", 0.05)
        self.halfway, self.release = threading.Event(), threading.Event()
        insert = assignments._assignments_insert
        taken = iter(range(100))

        def paused_insert(rows):
            def paused():
                for row in rows:
                    if next(taken) == 5:
                        self.halfway.set()
                        self.release.wait(30)
                    yield row

            insert(paused())

        monkeypatch.setattr(assignments, "_assignments_insert", paused_insert)
        self.run = services.task_run_claim(
            run_id=services.study_open_start(study=study, user=admin).pk
        )
        self.worker = threading.Thread(
            target=lambda: (services.study_open_run(run=self.run), _closed())
        )

    def __enter__(self) -> "_PausedOpening":
        self.worker.start()
        assert self.halfway.wait(30)
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.worker.join(60)
        self.run.refresh_from_db()

    def seen(self) -> TaskRun:
        """The run as the dashboard reads it, once the beat has reported the five."""
        deadline = time.monotonic() + 10
        while (run := TaskRun.objects.get(pk=self.run.pk)).done < 5:
            assert time.monotonic() < deadline, "no progress reported"
            time.sleep(0.05)
        return run


def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite has one writer at a time: the beat and every other write wait for the "
            "rater's assignments being written (CI runs this on PostgreSQL)"
        )


WRITING = "The study is open; writing each rater's assignments"


@pytest.mark.django_db(transaction=True)  # the opening's, its beat's and the admin's connections
def test_the_study_opens_before_its_raters_assignments_are_all_written(
    admin_client, draft_study, study_admin, raters, large, monkeypatch
):
    _postgresql_only()
    with _PausedOpening(draft_study, study_admin, monkeypatch) as opening_:
        seen = opening_.seen()
        assert (seen.done, seen.total, seen.message) == (5, 12, WRITING)
        draft_study.refresh_from_db()
        assert draft_study.status == Study.Status.OPEN
        assert Assignment.objects.filter(study=draft_study).count() == 4  # the first rater's
        page = admin_client.get(reverse("study_task_run", args=[draft_study.token, seen.pk]))
        assert "5 / 12" in page.text
        assert "The study is open; writing each rater&#x27;s assignments" in page.text
        dashboard = admin_client.get(reverse("study_dashboard", args=[draft_study.token]))
        assert "A worker is writing each rater's assignments (2 raters to go" in dashboard.text
        assert seen.eta_seconds is not None
        # The time left is reckoned from when the writing began, not from the job's start:
        # making the items and placing them (seconds at a million) count for nothing here.
        assert seen.counted_from >= seen.started_at
        seen.started_at -= timedelta(hours=1)
        assert seen.eta_seconds < 60
        seen.done = 12  # counted to the end, the last not yet committed: no "about 0 s left"
        assert seen.eta_seconds is None
        # No change to the study while its raters' lists are being written.
        with pytest.raises(ValidationError, match="being opened by a worker"):
            services.study_add_raters(study=draft_study, users=[UserFactory()])
        with pytest.raises(ValidationError, match="being opened by a worker"):
            services.study_lock(study=draft_study)
        # The third rater, not reached yet, signs in: theirs are written there and then.
        third = Client()
        third.force_login(raters[2])
        home = third.get(reverse("rater_home"))
        assert draft_study.title in home.text
        assert Assignment.objects.filter(study=draft_study, rater=raters[2]).count() == 4
        resumed = third.get(reverse("rater_resume", args=[draft_study.token]))
        assert resumed.status_code == 302
        first = Assignment.objects.filter(study=draft_study, rater=raters[2]).order_by("position")
        assert resumed.url == reverse("rater_item", args=[draft_study.token, first[0].token])
    run = opening_.run
    # Where it ended, not where the last beat found it: a finished job never shows 5 / 12.
    assert (run.status, run.done, run.total) == (TaskRun.Status.SUCCEEDED, 12, 12)
    assert run.message == "The study is open: 12 assignments stored."
    assert Assignment.objects.filter(study=draft_study).count() == 12
    assert not draft_study.pending_assignments.exists()


@pytest.mark.django_db(transaction=True)
def test_once_the_study_has_opened_its_opening_cannot_be_cancelled(
    admin_client, draft_study, study_admin, large, monkeypatch
):
    _postgresql_only()
    with _PausedOpening(draft_study, study_admin, monkeypatch) as opening_:
        seen = opening_.seen()
        page = admin_client.get(reverse("study_task_run", args=[draft_study.token, seen.pk]))
        assert "Cancel</button>" not in page.text  # its raters' assignments must be written
        cancelled = services.task_run_cancel(run=TaskRun.objects.get(pk=opening_.run.pk))
        assert cancelled.cancel_requested_at is None
    run = opening_.run
    assert (run.status, run.done, run.total) == (TaskRun.Status.SUCCEEDED, 12, 12)
    assert run.message == "The study is open: 12 assignments stored."
    assert Assignment.objects.filter(study=draft_study).count() == 12


def test_assignments_a_stopped_worker_left_are_written_by_the_raters_or_a_new_job(
    admin_client, draft_study, study_admin, raters, large
):
    # The worker opened the study and stopped before writing its raters' assignments: its run
    # is still "running", its heartbeat long gone (the workers' sweep has not taken it yet).
    services.study_open(study=draft_study, defer=True)
    draft_study.refresh_from_db()
    assert draft_study.status == Study.Status.OPEN
    long_ago = timezone.now() - timedelta(hours=1)
    dead = TaskRun.objects.create(
        study=draft_study,
        kind=TaskRun.Kind.OPEN,
        status=TaskRun.Status.RUNNING,
        started_at=long_ago,
        heartbeat_at=long_ago,
    )
    dashboard = admin_client.get(reverse("study_dashboard", args=[draft_study.token]))
    assert "The assignments of 3 raters are not written yet" in dashboard.text
    assert "Write the remaining assignments" in dashboard.text
    assert "if they are no more than 100,000 (others are told" in dashboard.text
    assert dashboard.text.count("items still being written") == 3  # in the raters' card
    assert "The study can be locked once every rater's assignments are written" in dashboard.text
    assert "Lock the study</button>" not in dashboard.text
    for change in (
        lambda: services.study_add_raters(study=draft_study, users=[UserFactory()]),
        lambda: services.study_lock(study=draft_study),
        lambda: services.task_run_create(
            study=draft_study, kind=TaskRun.Kind.EXPORT_BUNDLE, user=study_admin
        ),
    ):
        with pytest.raises(ValidationError, match="not written yet"):
            change()
    draft_study.refresh_from_db()
    assert draft_study.status == Study.Status.OPEN  # the lock was refused, not half done

    # A rater who signs in has theirs written at once and starts.
    rater = Client()
    rater.force_login(raters[0])
    assert draft_study.title in rater.get(reverse("rater_home")).text
    assert Assignment.objects.filter(study=draft_study, rater=raters[0]).count() == 4

    # The admin's button queues a job that writes the rest.
    response = admin_client.post(
        reverse("study_open", args=[draft_study.token]), {"confirm": "yes"}, follow=True
    )
    run = TaskRun.objects.filter(study=draft_study, kind=TaskRun.Kind.OPEN).latest("pk")
    assert f"Writing the remaining assignments in the background (job {run.pk})" in response.text
    dead.refresh_from_db()
    assert dead.status == TaskRun.Status.FAILED  # superseded by the new run
    run = _work(run)
    assert (run.status, run.message) == ("succeeded", "The study is open: 12 assignments stored.")
    assert not draft_study.pending_assignments.exists()
    dashboard = admin_client.get(reverse("study_dashboard", args=[draft_study.token]))
    assert "not written yet" not in dashboard.text
    assert "items still being written" not in dashboard.text
    assert "Lock the study</button>" in dashboard.text
    services.study_lock(study=draft_study)  # changes are taken again
    # Opening an open study with nothing pending is still refused.
    again = admin_client.post(
        reverse("study_open", args=[draft_study.token]), {"confirm": "yes"}, follow=True
    )
    assert "Only a draft study can be opened." in again.text


def test_the_api_writes_a_raters_pending_assignments_before_listing(
    client, draft_study, raters, large
):
    services.study_open(study=draft_study, defer=True)
    token = Token.objects.get_or_create(user=raters[1])[0].key
    headers = {"Authorization": f"Token {token}"}
    items = client.get(f"/api/v1/rate/{draft_study.token}/items/", headers=headers)
    assert items.status_code == 200, items.content
    assert items.json()["count"] == 4


def test_a_job_counts_a_million_in_groups_of_three(admin_client, draft_study):
    run = TaskRun.objects.create(
        study=draft_study,
        kind=TaskRun.Kind.OPEN,
        status=TaskRun.Status.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        done=180_056,
        total=1_000_000,
        message="Writing the assignments",
    )
    page = admin_client.get(reverse("study_task_run", args=[draft_study.token, run.pk]))
    assert "180,056 / 1,000,000" in page.text


def test_a_rater_whose_assignments_are_too_many_to_write_in_a_page_is_told_they_are_coming(
    client, draft_study, raters, large, settings
):
    settings.RATER_ASSIGNMENTS_WRITE_MAX = 3  # each rater has 4
    services.study_open(study=draft_study, defer=True)
    client.force_login(raters[0])
    home = client.get(reverse("rater_home"))
    assert "Your items in this study are being prepared." in home.text
    assert draft_study.title in home.text
    assert "No study is waiting for you" not in home.text
    assert not Assignment.objects.filter(rater=raters[0]).exists()  # left to the worker
    for page in ("rater_resume", "rater_review"):
        resumed = client.get(reverse(page, args=[draft_study.token]))
        assert resumed.status_code == 302
        assert resumed.url == reverse("rater_home")
    token = Token.objects.get_or_create(user=raters[0])[0].key
    api = client.get(
        f"/api/v1/rate/{draft_study.token}/items/", headers={"Authorization": f"Token {token}"}
    )
    assert api.status_code == 404
    assert api.json()["detail"] == (
        "Your items in this study are being prepared; try again in a minute."
    )

    services.pending_assignments_write_all(draft_study)  # the worker gets to them

    home = client.get(reverse("rater_home"))
    assert "being prepared" not in home.text
    assert client.get(reverse("rater_resume", args=[draft_study.token])).status_code == 302
    assert Assignment.objects.filter(rater=raters[0]).count() == 4


def test_a_live_opening_pushed_out_of_the_latest_jobs_still_counts_as_writing(
    admin_client, draft_study, large
):
    services.study_open(study=draft_study, defer=True)
    now = timezone.now()
    TaskRun.objects.create(
        study=draft_study,
        kind=TaskRun.Kind.OPEN,
        status=TaskRun.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
    )
    for _ in range(6):  # the recomputations raters' submits queue meanwhile, newer than it
        TaskRun.objects.create(
            study=draft_study,
            kind=TaskRun.Kind.COMPUTE_AGREEMENT,
            status=TaskRun.Status.SUCCEEDED,
            finished_at=now,
        )
    dashboard = admin_client.get(reverse("study_dashboard", args=[draft_study.token]))
    assert "A worker is writing each rater's assignments" in dashboard.text
    assert "Write the remaining assignments" not in dashboard.text


def test_a_rater_straight_to_the_study_from_a_reminder_has_theirs_written_there(
    client, draft_study, raters, large
):
    services.study_open(study=draft_study, defer=True)
    client.force_login(raters[2])
    response = client.get(reverse("rater_resume", args=[draft_study.token]))
    first = Assignment.objects.filter(study=draft_study, rater=raters[2]).order_by("position")[0]
    assert response.url == reverse("rater_item", args=[draft_study.token, first.token])
    review = client.get(reverse("rater_review", args=[draft_study.token]))
    assert review.status_code == 200
    assert draft_study.pending_assignments.count() == 2  # the others' still to write
