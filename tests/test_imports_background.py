"""Large imports run on the worker: the upload returns at once, the dashboard shows the job's
progress, and the study gets all of the file or, on a bad row or a cancel, none of it."""

import csv
import html
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotation import services
from annotation.models import Case, ImportUpload, ImportUploadChunk, Output, Study, TaskRun
from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.support.waiting import wait_for_run


def marked(*marks):
    def apply(test):
        for mark in marks:
            test = mark(test)
        return test

    return apply


# The worker reads committed data only.
ON_THE_WORKER = marked(pytest.mark.django_db(transaction=True), pytest.mark.worker)
OUTPUT = "The patient asks whether ibuprofen can be taken with warfarin. " * 8  # ~500 chars


def study_file(rows: int, *, bad_row: int | None = None, jsonl: bool = False) -> bytes:
    """A CSV of `rows` cases with an output each, about 600 bytes a row; the row `bad_row`
    (as a spreadsheet numbers it, the header being row 1) carries metadata that is not JSON.
    Or the same rows as JSONL."""
    if jsonl:
        lines = (
            json.dumps(
                {
                    "case_id": f"big-{n}",
                    "input": f"Question {n}?",
                    "source": "GPT-4o",
                    "output": OUTPUT,
                }
            )
            for n in range(rows)
        )
        return "\n".join(lines).encode()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["case_id", "input", "source", "output", "metadata"])
    for n in range(rows):
        metadata = "{age: 54}" if n + 2 == bad_row else '{"age": 54}'
        writer.writerow([f"big-{n}", f"Question {n} about warfarin?", "GPT-4o", OUTPUT, metadata])
    return out.getvalue().encode()


ROWS = 5000  # about 3 MB: over IMPORT_BACKGROUND_BYTES (2 MB)


@pytest.fixture
def admin_client(client, study_admin):
    client.force_login(study_admin)
    return client


def upload(admin_client, study: Study, name: str, content: bytes):
    return admin_client.post(
        reverse("study_import", args=[study.token]),
        {"file": SimpleUploadedFile(name, content)},
        follow=True,
    )


def run_partial(admin_client, study: Study, run: TaskRun) -> str:
    """The job as the dashboard polls it, as text (entities undone)."""
    url = reverse("study_task_run", args=[study.token, run.pk])
    return html.unescape(admin_client.get(url, headers={"HX-Request": "true"}).text)


@ON_THE_WORKER
def test_a_large_upload_returns_at_once_and_the_worker_imports_it(
    celery_worker, admin_client, draft_study, settings
):
    content = study_file(ROWS)
    assert len(content) > settings.IMPORT_BACKGROUND_BYTES
    cases_before = draft_study.cases.count()
    response = upload(admin_client, draft_study, "big.csv", content)
    returned = timezone.now()

    assert "Importing big.csv in the background" in response.text
    run = TaskRun.objects.get(study=draft_study, kind=TaskRun.Kind.IMPORT)
    # The job is on the dashboard straight away, polling itself until it is done.
    runs = response.text[response.text.index('id="runs"') :]
    assert "Import cases and outputs" in runs
    assert f'id="run-{run.pk}"' in runs

    run = wait_for_run(run.pk, timeout=60)
    assert run.status == "succeeded", run.message
    assert run.finished_at > returned  # the page came back before the import was done
    assert (run.done, run.total) == (ROWS, ROWS)
    assert run.message == (
        f"Imported big.csv: {ROWS} new cases, 1 new sources, {ROWS} new outputs "
        "(0 already present)."
    )
    shown = run_partial(admin_client, draft_study, run)
    assert f"{ROWS:,} / {ROWS:,}" in shown
    assert "Imported big.csv" in shown
    assert "hx-trigger" not in shown  # finished: it polls no more
    assert draft_study.cases.count() == cases_before + ROWS
    output = Output.objects.get(case__study=draft_study, case__external_id="big-4321")
    assert (output.source.label, output.text) == ("GPT-4o", OUTPUT)
    assert output.case.metadata == {"age": 54}
    # The stored upload is gone with the job.
    assert not ImportUpload.objects.exists()
    assert not ImportUploadChunk.objects.exists()


@ON_THE_WORKER
def test_a_bad_row_in_a_large_upload_names_file_row_and_field_and_writes_nothing(
    celery_worker, admin_client, draft_study
):
    cases_before = set(draft_study.cases.values_list("pk", flat=True))
    upload(admin_client, draft_study, "big.csv", study_file(ROWS, bad_row=3001))
    run = wait_for_run(TaskRun.objects.get(kind=TaskRun.Kind.IMPORT).pk, timeout=60)

    assert run.status == "failed"
    assert run.message.startswith("Nothing was imported: fix the file and upload it again.")
    assert "big.csv, row 3001, field 'metadata': not valid JSON" in run.message
    assert "big.csv, row 3001, field 'metadata'" in run_partial(admin_client, draft_study, run)
    assert set(draft_study.cases.values_list("pk", flat=True)) == cases_before
    assert not draft_study.sources.filter(label="GPT-4o").exists()
    assert not ImportUpload.objects.exists()


@ON_THE_WORKER
def test_a_large_upload_through_the_api_is_a_job_to_follow(
    celery_worker, client, draft_study, study_admin
):
    token = Token.objects.get_or_create(user=study_admin)[0].key
    headers = {"Authorization": f"Token {token}"}
    base = f"/api/v1/studies/{draft_study.token}"
    response = client.post(
        f"{base}/import/",
        {"file": SimpleUploadedFile("big.jsonl", study_file(ROWS, jsonl=True))},
        headers=headers,
    )

    assert response.status_code == 202, response.json()
    job = response.json()
    assert (job["kind"], job["status"]) == ("import", "queued")
    wait_for_run(job["id"], timeout=60)
    job = client.get(f"{base}/tasks/{job['id']}/", headers=headers).json()
    assert (job["status"], job["done"], job["total"]) == ("succeeded", ROWS, ROWS)
    assert job["message"].startswith(f"Imported big.jsonl: {ROWS} new cases")
    assert draft_study.cases.filter(external_id__startswith="big-").count() == ROWS


@pytest.mark.django_db  # the job is never sent: it stays queued, as behind a busy worker
def test_a_second_import_while_one_waits_or_runs_is_refused(admin_client, draft_study):
    upload(admin_client, draft_study, "first.csv", study_file(ROWS))
    first = TaskRun.objects.get(kind=TaskRun.Kind.IMPORT)
    cases_before = draft_study.cases.count()

    second = upload(admin_client, draft_study, "second.csv", study_file(ROWS))
    small = upload(admin_client, draft_study, "small.csv", study_file(3))

    # Both refused, the large one and the small one that would be imported at once: neither
    # stored nor imported.
    assert "An import of this study is already waiting or running" in second.text
    assert "An import of this study is waiting or running under Background jobs" in small.text
    for refused in (second, small):
        assert "Nothing was imported" in refused.text
    assert list(TaskRun.objects.filter(kind=TaskRun.Kind.IMPORT)) == [first]
    assert ImportUpload.objects.get().filename == "first.csv"
    assert draft_study.cases.count() == cases_before


@pytest.mark.django_db
def test_a_small_zip_that_unpacks_to_a_large_file_goes_to_the_worker(admin_client, draft_study):
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("study/big.csv", study_file(ROWS))
    assert len(packed.getvalue()) < 100_000  # the outputs repeat: it packs small

    response = upload(admin_client, draft_study, "study.zip", packed.getvalue())

    assert "Importing study.zip in the background" in response.text
    stored = ImportUpload.objects.get(run__kind=TaskRun.Kind.IMPORT, run__study=draft_study)
    assert (stored.filename, stored.size) == ("study.zip", len(packed.getvalue()))
    chunks = stored.chunks.order_by("position").values_list("data", flat=True)
    assert b"".join(bytes(c) for c in chunks) == packed.getvalue()
    assert not draft_study.cases.filter(external_id__startswith="big-").exists()


@pytest.mark.django_db
def test_a_zip_bomb_is_refused_at_once_and_never_stored(admin_client, draft_study, settings):
    settings.IMPORT_MAX_DATA_BYTES = 1024 * 1024
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cases.csv", study_file(ROWS))  # 3 MB unpacked

    response = upload(admin_client, draft_study, "bomb.zip", packed.getvalue())

    assert (
        "bomb.zip/cases.csv: larger than the limit of 1 MB for a data file "
        "(IMPORT_MAX_DATA_BYTES)" in html.unescape(response.text)
    )
    assert not TaskRun.objects.filter(kind=TaskRun.Kind.IMPORT).exists()
    assert not ImportUpload.objects.exists()


@pytest.mark.django_db
def test_a_small_upload_is_still_imported_at_once(admin_client, draft_study):
    response = upload(admin_client, draft_study, "small.csv", study_file(3))
    assert "Imported small.csv: 3 new cases, 1 new sources, 3 new outputs" in response.text
    assert not TaskRun.objects.filter(kind=TaskRun.Kind.IMPORT).exists()


@pytest.mark.django_db
def test_an_import_is_refused_once_the_study_is_open(admin_client, open_study):
    response = upload(admin_client, open_study, "big.csv", study_file(ROWS))
    assert "This study is no longer a draft; its cases are fixed." in response.text
    assert not TaskRun.objects.filter(kind=TaskRun.Kind.IMPORT).exists()
    assert not ImportUpload.objects.exists()


def _queued_import(study: Study, user, rows: int) -> TaskRun:
    content = study_file(rows)
    return services.study_import_start(
        study=study, upload=SimpleUploadedFile("big.csv", content), user=user
    )


@pytest.mark.django_db
def test_an_import_cancelled_while_it_writes_writes_nothing(draft_study, study_admin):
    run = _queued_import(draft_study, study_admin, 200)
    run = services.task_run_claim(run_id=run.pk)
    # The admin clicks Cancel after the worker claimed the run: it stops and keeps nothing.
    services.task_run_cancel(run=run)
    cases_before = draft_study.cases.count()

    services.study_import_run(run=run)

    run.refresh_from_db()
    assert (run.status, run.message) == ("cancelled", "Cancelled: nothing was imported.")
    assert draft_study.cases.count() == cases_before
    assert not ImportUpload.objects.exists()


@pytest.mark.django_db
def test_a_study_opened_before_the_worker_got_to_the_import_keeps_its_cases(
    draft_study, study_admin
):
    run = _queued_import(draft_study, study_admin, 20)
    with pytest.raises(ValidationError, match="An import of this study is waiting or running"):
        services.study_open(study=draft_study)  # the import's cases would be lost
    # Not heard from for longer than a message may wait, as if it were lost: opening goes ahead.
    gone = timezone.now() - timedelta(seconds=settings.TASK_RUN_QUEUED_SECONDS + 1)
    TaskRun.objects.filter(pk=run.pk).update(heartbeat_at=gone, created_at=gone)
    services.study_open(study=draft_study)
    run = services.task_run_claim(run_id=run.pk)
    cases_before = draft_study.cases.count()

    services.study_import_run(run=run)

    run.refresh_from_db()
    assert (run.status, run.message) == (
        "failed",
        "This study is no longer a draft; its cases are fixed.",
    )
    assert draft_study.cases.count() == cases_before


@pytest.mark.django_db
def test_a_queued_import_can_be_cancelled_from_the_dashboard(admin_client, draft_study):
    upload(admin_client, draft_study, "big.csv", study_file(ROWS))
    run = TaskRun.objects.get(kind=TaskRun.Kind.IMPORT)
    shown = run_partial(admin_client, draft_study, run)
    assert "Cancel" in shown

    admin_client.post(reverse("study_task_run_cancel", args=[draft_study.token, run.pk]))

    run.refresh_from_db()
    assert run.status == "cancelled"
    # The next upload is taken, and the cancelled one's stored file is cleared away.
    upload(admin_client, draft_study, "again.csv", study_file(ROWS))
    assert ImportUpload.objects.get().filename == "again.csv"


@marked(pytest.mark.worker, *BROWSER_MARKS)
def test_the_admin_uploads_a_large_file_and_watches_it_import(
    live_server, celery_worker, draft_study, study_admin, tmp_path
):
    path = tmp_path / "big.csv"
    path.write_bytes(study_file(ROWS))
    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.goto(f"/studies/{draft_study.token}/")
        page.set_input_files("#id_file", str(path))
        page.get_by_role("button", name="Import", exact=True).click()
        page.wait_for_selector(".messages >> text=Importing big.csv in the background")
        job = page.locator("#runs .task-run", has_text="Import cases and outputs")
        job.wait_for()
        page.wait_for_selector("#runs .badge.succeeded", timeout=60_000)
        assert f"{ROWS:,} / {ROWS:,}" in job.inner_text()
        assert f"Imported big.csv: {ROWS} new cases" in job.inner_text()
        # Finishing reloads the sources card: the imported source is there with its outputs.
        page.wait_for_selector("#sources tr:has-text('GPT-4o')", timeout=10_000)
    assert Case.objects.filter(study=draft_study, external_id__startswith="big-").count() == ROWS


@pytest.mark.django_db(transaction=True)  # the beat comes from a connection of its own
def test_a_long_import_keeps_its_heartbeat_while_it_writes(draft_study, study_admin, settings):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: the beat waits for the write's commit")
    # A beat every 50 ms; without it, the last sign of life would be from before the write.
    settings.TASK_RUN_LEASE_SECONDS = 0.15
    run = services.task_run_claim(run_id=_queued_import(draft_study, study_admin, ROWS).pk)

    services.study_import_run(run=run)

    run.refresh_from_db()
    assert run.status == "succeeded", run.message
    assert run.finished_at - run.heartbeat_at < timedelta(seconds=0.25)
