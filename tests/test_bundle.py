"""The paper bundle: every file checked against the study's known numbers, the manifest's hashes
verified, the same bytes when built twice, and only the study's admins can build or fetch it."""

import csv
import hashlib
import io
import json
import threading
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from annotation import selectors, services
from annotation.core import tables
from annotation.models import Result, Source, Study, TaskRun
from tests.factories import submit_rated
from tests.test_checklist_evidence import HUMAN, MODEL
from tests.test_study_statistics import compute, rate_absolute, two_rater_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated(open_study, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"
    question = open_study.questions.get()
    for assignment in open_study.assignments.select_related("item__output__source"):
        value = 4 if assignment.item.output.source.label == MODEL else 2
        services.rating_save(assignment=assignment, question=question, answer=value)
    submit_rated(open_study)
    run = TaskRun.objects.create(study=open_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    return open_study


def build(study) -> zipfile.ZipFile:
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.EXPORT_BUNDLE)
    services.bundle_build(run=services.task_run_claim(run_id=run.pk))
    run.refresh_from_db()
    assert run.status == "succeeded", run.message
    return zipfile.ZipFile(services.bundle_path(run))


def rows(archive: zipfile.ZipFile, name: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(archive.read(name).decode())))


def test_every_file_is_there_and_the_manifest_hashes_verify(rated):
    archive = build(rated)
    manifest = json.loads(archive.read("manifest.json"))
    names = set(archive.namelist()) - {"manifest.json"}
    assert set(manifest["files"]) == names
    for name in names:
        assert hashlib.sha256(archive.read(name)).hexdigest() == manifest["files"][name]["sha256"]
    assert {"ratings.csv", "unblinding.csv", "agreement.csv", "comparison.csv"} <= names
    assert {"methods.md", "data_dictionary.md"} <= names
    for fmt in ("svg", "png", "pdf"):
        assert f"figures/overall-means.{fmt}" in names
        assert f"figures/overall-distribution.{fmt}" in names
    assert archive.read("figures/overall-means.png").startswith(b"\x89PNG")
    assert archive.read("figures/overall-means.pdf").startswith(b"%PDF")
    assert manifest["seeds"] == {"assignment": rated.seed, "bootstrap": rated.seed}
    assert manifest["study"]["token"] == rated.token


def test_the_tables_hold_the_studys_numbers(rated):
    archive = build(rated)
    ratings = rows(archive, "ratings.csv")
    assert len(ratings) == 12
    assert {r["submitted"] for r in ratings} == {"TRUE"}
    key = {r["item_token"]: r["source"] for r in rows(archive, "unblinding.csv")}
    assert {key[r["item_token"]] for r in ratings if r["value"] == "4.0"} == {MODEL}
    agreement = {(r["statistic"], r["source"]): r for r in rows(archive, "agreement.csv")}
    alpha = Result.objects.get(study=rated, statistic="krippendorff_alpha", source="", judge="")
    assert float(agreement[("krippendorff_alpha", "")]["value"]) == pytest.approx(alpha.value)
    assert agreement[("krippendorff_alpha", "")]["seed"] == str(rated.seed)
    comparison = {(r["statistic"], r["source_a"]): r for r in rows(archive, "comparison.csv")}
    assert float(comparison[("score_summary:mean", MODEL)]["value"]) == pytest.approx(4.0)
    assert float(comparison[("score_summary:mean", HUMAN)]["value"]) == pytest.approx(2.0)
    test = comparison[("wilcoxon", HUMAN)]
    assert test["source_b"] == MODEL
    assert test["adjustment"].startswith("Holm")
    methods = archive.read("methods.md").decode()
    assert "## Inter-rater agreement" in methods
    assert f"seed {rated.seed}" in methods
    assert "mean rating 4.00 over 6 ratings" in methods
    dictionary = archive.read("data_dictionary.md").decode()
    assert "`submitted`" in dictionary
    assert "`item_token`" in dictionary


def test_built_twice_every_file_but_the_manifest_is_the_same(rated):
    first, second = build(rated), build(rated)
    names = sorted(set(first.namelist()) - {"manifest.json"})
    assert names == sorted(set(second.namelist()) - {"manifest.json"})
    for name in names:
        assert first.read(name) == second.read(name), name
    assert (
        json.loads(first.read("manifest.json"))["files"]
        == json.loads(second.read("manifest.json"))["files"]
    )


def test_a_linked_checklist_comes_as_markdown_and_latex(rated, study_admin, mi_claim):
    from checklists import services as checklist_services

    report = checklist_services.report_create(
        lead=study_admin, definition=mi_claim, title="Summaries paper", study=rated
    )
    names = build(rated).namelist()
    stem = f"checklists/{mi_claim.slug}-{report.token}"
    assert f"{stem}.md" in names
    assert f"{stem}.tex" in names


def test_a_linked_modular_checklist_comes_with_its_scope_and_its_items_only(
    rated, study_admin, mi_claim
):
    from checklists import services as checklist_services
    from checklists.models import ChecklistDefinition

    report = checklist_services.report_create(
        lead=study_admin,
        definition=ChecklistDefinition.objects.get(slug="tripod-llm"),
        title="Scoped paper",
        study=rated,
    )
    checklist_services.report_set_scope(
        report=report, user=study_admin, scope={"design": ["E"], "task": ["QA"]}
    )
    markdown = build(rated).read(f"checklists/tripod-llm-{report.token}.md").decode()
    assert "- Items answered: 0 of 42" in markdown
    assert "- Scope: Research design: E: LLM evaluation; LLM task: QA" in markdown
    assert "| 6b |" not in markdown
    assert "| 6a |" in markdown


def test_only_the_studys_admins_build_and_fetch_the_bundle(
    client, rated, study_admin, raters, outsider, django_capture_on_commit_callbacks
):
    archive_run = TaskRun.objects.create(study=rated, kind=TaskRun.Kind.EXPORT_BUNDLE)
    services.bundle_build(run=services.task_run_claim(run_id=archive_run.pk))
    download = reverse("study_bundle_download", args=[rated.token, archive_run.pk])
    start = reverse("study_bundle", args=[rated.token])
    for user in (raters[0], outsider):
        client.force_login(user)
        assert client.get(download).status_code == 404
        assert client.post(start).status_code == 404
    client.logout()
    assert client.get(download).status_code == 302  # to the login page
    client.force_login(study_admin)
    response = client.get(download)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    body = b"".join(response.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(body)).read("manifest.json")
    with django_capture_on_commit_callbacks():
        assert client.post(start).status_code == 302
    assert rated.task_runs.filter(kind="export_bundle", status="queued").count() == 1


def test_figures_are_served_to_the_studys_admins_in_three_formats(
    client, rated, study_admin, outsider
):
    url = lambda name, fmt: reverse("study_figure", args=[rated.token, name, fmt])  # noqa: E731
    client.force_login(outsider)
    assert client.get(url("overall-means", "png")).status_code == 404
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[rated.token])).content.decode()
    assert url("overall-means", "svg") in page
    svg = client.get(url("overall-means", "svg"))
    assert svg["Content-Type"] == "image/svg+xml"
    assert "Content-Disposition" not in svg  # shown in the page
    assert svg.content.lstrip().startswith(b"<?xml")
    pdf = client.get(url("overall-means", "pdf"))
    assert pdf.content.startswith(b"%PDF")
    assert pdf["Content-Disposition"].startswith("attachment")
    assert client.get(url("overall-nothing", "png")).status_code == 404
    assert client.get(url("overall-means", "gif")).status_code == 404


def test_a_figure_is_drawn_again_only_when_its_statistics_change(client, rated, study_admin):
    client.force_login(study_admin)
    url = reverse("study_figure", args=[rated.token, "overall-means", "svg"])
    first = client.get(url)
    assert first["Cache-Control"] == "private, no-cache"
    again = client.get(url, headers={"If-None-Match": first["ETag"]})
    assert (again.status_code, again.content) == (304, b"")
    png = client.get(reverse("study_figure", args=[rated.token, "overall-means", "png"]))
    assert png["ETag"] != first["ETag"]
    mean = Result.objects.get(study=rated, statistic="score_summary", source=MODEL)
    mean.value = 3.5
    mean.save()
    changed = client.get(url, headers={"If-None-Match": first["ETag"]})
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]
    assert changed.content != first.content


def test_the_ratings_download_streams_every_rating(client, rated, study_admin):
    client.force_login(study_admin)
    response = client.get(reverse("study_ratings_csv", args=[rated.token]))
    assert response.streaming  # written as it is read, in constant memory
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("item_token,rater,question,answer,value")
    assert len(lines) == 1 + 12


def test_every_estimate_of_a_comparison_is_its_own_row_with_its_method(rated):
    archive = build(rated)
    found = rows(archive, "comparison.csv")
    by = {(r["statistic"], r["source_a"]): r for r in found}
    mean = by[("score_summary:mean", MODEL)]
    assert float(mean["value"]) == pytest.approx(4.0)
    assert mean["method"]
    assert mean["seed"] == str(rated.seed)
    assert ("score_summary:median", MODEL) in by
    assert ("score_summary", MODEL) not in by  # a container, not an estimate of its own
    test = by[("wilcoxon", HUMAN)]
    assert "median difference" in test["effect"]
    assert all(r["method"] for r in found if r["value"])
    # A second build replaces the first: a study keeps its newest bundle only.
    build(rated)
    from django.conf import settings

    assert len(list(settings.EXPORT_DIR.glob(f"study-{rated.token}-bundle-*.zip"))) == 1


def test_figures_take_labels_as_text_and_every_sources_categories():
    from annotation.core import figures
    from annotation.models import Result
    from annotation.services import figure_data

    drawn = figures.forest([figures.Interval("$x^$ model", 1.0, 0.5, 1.5)], title="t", xlabel="x")
    assert figures.render(drawn, "png").startswith(b"\x89PNG")
    ranked = [
        Result(source="A", detail={"distribution": [{"category": 1, "count": 2}]}),
        Result(
            source="B",
            detail={"distribution": [{"category": 1, "count": 1}, {"category": 3, "count": 4}]},
        ),
    ]
    assert figure_data._categories(ranked) == [1, 3]
    figure = figure_data._distribution("rank", ranked)
    assert figures.render(figure, "svg").lstrip().startswith(b"<?xml")


def _from_another_connection(work):
    """Run `work` on a thread, hence over its own database connection, as a web request or
    another worker would."""
    outcome = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return outcome["value"]


def _build_while(study, monkeypatch, meanwhile) -> TaskRun:
    """Build the study's bundle, with `meanwhile()` done over another connection (as a web
    request would) after ratings.csv is written and before unblinding.csv; the run, refreshed,
    with what `meanwhile` returned as `seen`."""
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.EXPORT_BUNDLE)
    dictionary, seen = tables.data_dictionary, []

    def dictionary_meanwhile(files) -> str:
        seen.append(_from_another_connection(lambda: meanwhile(run)))
        return dictionary(files)

    monkeypatch.setattr(tables, "data_dictionary", dictionary_meanwhile)
    services.bundle_build(run=services.task_run_claim(run_id=run.pk))
    if TaskRun.objects.filter(pk=run.pk).exists():
        run.refresh_from_db()
    run.seen = seen
    return run


@pytest.mark.skipif(
    not settings.POSTGRES,
    reason="the snapshot is PostgreSQL's; SQLite reads the files as they stand (docs/api.md)",
)
@pytest.mark.django_db(transaction=True)
def test_a_change_while_the_bundle_is_written_is_in_none_of_its_files(rated, monkeypatch):
    source = rated.sources.get(label=MODEL)

    def rename(run: TaskRun) -> int:
        # A source renamed now must not reach unblinding.csv, or it would disagree with
        # ratings.csv, already written.
        Source.objects.filter(pk=source.pk).update(label="Renamed meanwhile")
        return TaskRun.objects.get(pk=run.pk).done

    run = _build_while(rated, monkeypatch, rename)
    assert run.status == "succeeded", run.message
    assert Source.objects.get(pk=source.pk).label == "Renamed meanwhile"
    archive = zipfile.ZipFile(services.bundle_path(run))
    unblinding = archive.read("unblinding.csv").decode()
    assert MODEL in unblinding
    assert "Renamed meanwhile" not in unblinding
    # The progress bar moved while the snapshot was held: ratings.csv was done.
    assert run.seen == [1]
    assert (run.done, run.total) == (run.total, len(archive.namelist()))


@pytest.mark.django_db(transaction=True)
def test_a_cancel_reaches_a_bundle_being_built(rated, monkeypatch):
    # On PostgreSQL through the snapshot's second connection, on SQLite directly.
    run = _build_while(rated, monkeypatch, lambda run: services.task_run_cancel(run=run))
    assert run.status == "cancelled"
    assert not services.bundle_path(run).exists()
    assert list(services.bundle_path(run).parent.iterdir()) == []


def test_a_bundle_waits_while_its_study_is_recomputed_and_the_other_way(rated, study_admin):
    now = timezone.now()
    computing = TaskRun.objects.create(
        study=rated, kind=TaskRun.Kind.COMPUTE_AGREEMENT, status="running", heartbeat_at=now
    )
    bundle = TaskRun.objects.create(study=rated, kind=TaskRun.Kind.EXPORT_BUNDLE)
    assert services.task_run_claim(run_id=bundle.pk) is None
    bundle.refresh_from_db()
    assert bundle.status == "queued"
    computing.status = "succeeded"
    computing.save()
    assert services.task_run_claim(run_id=bundle.pk).status == "running"
    recompute = TaskRun.objects.create(study=rated, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    assert services.task_run_claim(run_id=recompute.pk) is None
    # Another study's recomputation is not held up.
    other = services.study_create(creator=study_admin, title="Other", question_prompt="Good?")
    elsewhere = TaskRun.objects.create(study=other, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    assert services.task_run_claim(run_id=elsewhere.pk).status == "running"


def test_a_dead_recomputation_does_not_hold_the_bundle_up(rated, settings):
    stale = timezone.now() - timedelta(seconds=settings.TASK_RUN_LEASE_SECONDS + 1)
    dead = TaskRun.objects.create(
        study=rated, kind=TaskRun.Kind.COMPUTE_AGREEMENT, status="running", heartbeat_at=stale
    )
    bundle = TaskRun.objects.create(study=rated, kind=TaskRun.Kind.EXPORT_BUNDLE)
    assert services.task_run_claim(run_id=bundle.pk).status == "running"
    dead.refresh_from_db()
    assert dead.status == "failed"


def test_deleting_a_study_deletes_its_bundles_too(
    admin_client, draft_study, settings, tmp_path, django_capture_on_commit_callbacks
):
    # Each bundle holds the unblinding key: none may outlive its study on the disk. (An opened
    # study cannot be deleted: its items are protected.)
    settings.EXPORT_DIR = tmp_path / "exports"
    rated = draft_study
    archive = build(rated)
    path = Path(archive.filename)
    path.with_name(path.stem + "-0.part").write_bytes(b"half")  # as a build cut off leaves it
    kept = path.with_name("study-another-bundle-1.zip")
    kept.write_bytes(b"another study's")
    url = reverse("admin:annotation_study_delete", args=[rated.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert not Study.objects.filter(pk=rated.pk).exists()
    assert sorted(p.name for p in path.parent.iterdir()) == [kept.name]


def test_a_long_file_keeps_the_bundles_heartbeat_going(rated, monkeypatch):
    # A ratings file of millions of rows takes longer than the lease: were the run silent all
    # that while, a waiting recomputation would take it for dead and run beside it.
    from annotation.services import bundle

    monkeypatch.setattr(bundle._Job, "HEARTBEAT_SECONDS", 0)
    run = TaskRun.objects.create(study=rated, kind=TaskRun.Kind.EXPORT_BUNDLE)
    beats, real = [], tables.csv_chunks

    def chunks(rows, columns, every=1000):
        for n, chunk in enumerate(real(rows, columns, every=4)):
            yield chunk  # written (and the heartbeat sent) before this generator resumes
            if columns == selectors.RATINGS_COLUMNS and n < 3:
                beats.append(TaskRun.objects.get(pk=run.pk).heartbeat_at)

    monkeypatch.setattr(bundle.tables, "csv_chunks", chunks)
    # On PostgreSQL the database writes the lines, in batches: four rows each here.
    from annotation.selectors import ratings_rows
    from annotation.services import bundle_ratings

    real_batches = bundle_ratings.study_ratings_csv_batches

    def batches(**kwargs):
        found = real_batches(**kwargs)
        for n, batch in enumerate(found or ()):
            yield batch
            if n < 3:
                beats.append(TaskRun.objects.get(pk=run.pk).heartbeat_at)

    if connection.vendor == "postgresql":
        monkeypatch.setattr(ratings_rows, "CSV_BATCH", 4)
        monkeypatch.setattr(bundle_ratings, "study_ratings_csv_batches", batches)
    services.bundle_build(run=services.task_run_claim(run_id=run.pk))
    assert len(beats) == 3  # 12 ratings, four rows a chunk
    assert beats == sorted(set(beats))


@pytest.mark.django_db(transaction=True)
def test_a_study_deleted_while_its_bundle_is_built_leaves_no_bundle(
    draft_study, settings, tmp_path, monkeypatch
):
    settings.EXPORT_DIR = tmp_path / "exports"
    run = _build_while(draft_study, monkeypatch, lambda run: services.study_delete(study=run.study))
    assert not TaskRun.objects.filter(pk=run.pk).exists()
    assert list((tmp_path / "exports").iterdir()) == []


def test_agreement_csv_and_methods_say_which_interval_answers_which_question(rated):
    archive = build(rated)
    agreement = {(r["statistic"], r["source"]): r for r in rows(archive, "agreement.csv")}
    alpha = agreement[("krippendorff_alpha", "")]
    assert alpha["interval_method"] == "BCa bootstrap over cases"
    assert alpha["interval_question"] == "these raters, cases like these"
    assert alpha["other_interval_question"] == "raters like these, cases like these"
    # Every rater gave every item the same answer: alpha is 1 with any rater left out, so the
    # raters part is 0, and the units part is 0 too.
    assert float(alpha["value"]) == pytest.approx(1.0)
    assert float(alpha["other_ci_low"]) == pytest.approx(1.0)
    assert float(alpha["other_ci_high"]) == pytest.approx(1.0)
    assert alpha["other_ci_method"].startswith("raters and cases random")
    assert alpha["other_ci_note"] == ""
    # Comparisons answer neither agreement question: their other_ columns stay empty.
    comparison = rows(archive, "comparison.csv")
    assert {r["other_interval_question"] for r in comparison} == {""}
    methods = archive.read("methods.md").decode()
    assert "### Which interval answers which question" in methods
    assert "**These raters (cases random)**" in methods
    assert "**Raters like these (raters and cases random)**" in methods
    assert (
        "95% CI for these raters (cases random): 1.000 to 1.000; for raters like these "
        "(raters and cases random): 1.000 to 1.000." in methods
    )


def test_a_two_rater_bundle_says_why_it_has_no_interval_for_raters_like_these(
    study_admin, raters, settings, tmp_path
):
    settings.EXPORT_DIR = tmp_path / "exports"
    study = two_rater_study(study_admin, raters)
    rate_absolute(study)
    compute(study)
    archive = build(study)
    agreement = {(r["statistic"], r["source"]): r for r in rows(archive, "agreement.csv")}
    for key in ("krippendorff_alpha", "cohen_kappa"):
        row = agreement[(key, "")]
        assert row["ci_low"], key
        assert row["other_ci_low"] == "", key
        assert row["other_interval_question"] == "raters like these, cases like these", key
        assert row["other_ci_note"].startswith("needs three or more raters"), key
    methods = archive.read("methods.md").decode()
    assert "for raters like these (raters and cases random): none (needs three or more" in methods


@pytest.mark.django_db(transaction=True)  # the bundle's own snapshot transaction, as on a worker
def test_a_failure_while_ratings_csv_is_written_still_fails_the_run(rated, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip(
            "only PostgreSQL writes ratings.csv in batches of their own transaction block; "
            "SQLite's Python path has none (CI runs this on PostgreSQL)"
        )
    from annotation.core import stat_files
    from annotation.selectors import ratings_rows

    monkeypatch.setattr(ratings_rows, "CSV_BATCH", 2)
    calls = []

    def add_coded(self, coded):
        calls.append(coded)
        if len(calls) == 2:
            raise OSError("No space left on device")

    monkeypatch.setattr(stat_files.RatingsColumns, "add_coded", add_coded)
    run = services.task_run_claim(
        run_id=TaskRun.objects.create(study=rated, kind=TaskRun.Kind.EXPORT_BUNDLE).pk
    )
    with pytest.raises(OSError, match="No space left"):
        services.bundle_build(run=run)

    # What the worker does next (tasks._run): the run is recorded as failed, out of the
    # bundle's read-only transaction.
    assert not connection.in_atomic_block
    services.task_run_finish(run=run, ok=False, message="Failed unexpectedly.")
    run.refresh_from_db()
    assert run.status == TaskRun.Status.FAILED
