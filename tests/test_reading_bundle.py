"""Assisted reading in the exports: reads.csv and assisted_reading.csv in the paper bundle, the
`arm` column of the ratings and the unblinding key (a read that showed no output names no
source), the methods text for the sequential and crossover layouts, and the checklist evidence.
Each file is checked against the reads as stored, counted here independently."""

import json
import subprocess
import zipfile

import pandas as pd
import pyreadstat
import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from scipy.stats import binomtest

from annotation import services
from annotation.core import columns
from annotation.core.stats.names import FIXED_CASES, FIXED_READERS, RANDOM_BOTH
from annotation.models import AnswerScore, Assignment, Membership, Rating, Study, TaskRun
from annotation.services.statistics import agreement_compute
from checklists import services as checklist_services
from checklists.models import ChecklistDefinition
from checklists.selectors import assessment_sheet, study_facts_for
from tests.reading_support import CASES, bundle_csv, csv_file, reading_study
from tests.test_bundle import build
from tests.test_bundle_files import R_CLASSES, R_SCRIPT, _errors, _rscript, _validate
from tests.test_reading_statistics_stored import PLAN, _read

pytestmark = pytest.mark.django_db

SECONDS = {"unassisted": 3000, "llm": 5000}  # ms per read, plus 1 s per position below


def _compute(study: Study) -> None:
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    agreement_compute(run=services.task_run_claim(run_id=run.pk))


@pytest.fixture
def read_study(study_admin, raters, settings, tmp_path) -> Study:
    """A sequential study read by two readers as PLAN says, every answer scored, every read
    timed, the statistics computed."""
    settings.EXPORT_DIR = tmp_path / "exports"
    readers = raters[:2]
    study = reading_study(study_admin, readers)
    services.study_open(study=study)
    _read(study, readers)
    # "Gout" matches nothing: undecided until a scorer decides it, here wrong.
    AnswerScore.objects.filter(outcome="undecided").update(outcome="wrong", by="scorer")
    for read in study.assignments.select_related("arm"):
        read.time_on_task_ms = SECONDS[read.arm.key] + 1000 * read.position
        read.save(update_fields=["time_on_task_ms"])
    _compute(study)
    return study


def _stored_reads(study: Study) -> list[dict]:
    """Every read as the database holds it, read here without the export's selectors."""
    pseudonyms = dict(Membership.objects.filter(study=study).values_list("user_id", "pseudonym"))
    rows = []
    for read in Assignment.objects.filter(study=study).select_related("arm", "item__output__case"):
        rating = Rating.objects.get(assignment=read)
        score = AnswerScore.objects.get(rating=rating)
        rows.append(
            {
                "rater": pseudonyms[read.rater_id],
                "case_id": read.item.output.case.external_id,
                "arm": read.arm.key,
                "arm_kind": read.arm.kind,
                "session": str(read.session),
                "phase": str(read.phase),
                "position": str(read.position),
                "answer": json.dumps(rating.answer),
                "outcome": score.outcome,
                "scored_by": score.by,
                "rank": "" if score.rank is None else str(score.rank),
                "seconds": str(read.time_on_task_ms / 1000),
                "submitted": "TRUE",
                "locked": "TRUE" if read.phase == 1 else "FALSE",
            }
        )
    return rows


def _key(row: dict) -> tuple:
    return (row["rater"], int(row["position"]))


def test_reads_csv_holds_every_read_as_stored(read_study):
    archive = build(read_study)
    rows = bundle_csv(archive, "reads.csv")
    assert list(rows[0]) == columns.READS.names
    assert sorted(rows, key=_key) == sorted(_stored_reads(read_study), key=_key)
    assert len(rows) == 2 * 4 * 2  # readers x cases x (unassisted, assisted)
    # Accuracy per arm from the file alone, against the plan the reads followed.
    for arm, at in (("unassisted", 0), ("llm", 1)):
        mine = [r for r in rows if r["arm"] == arm]
        assert sum(r["outcome"] == "right" for r in mine) == sum(p[at] for p in PLAN.values())
    kinds = {(r["arm"], r["arm_kind"], r["phase"]) for r in rows}
    assert kinds == {("unassisted", "unassisted", "1"), ("llm", "source", "2")}


def test_assisted_reading_csv_gives_the_stored_figures_with_their_questions(read_study):
    archive = build(read_study)
    rows = bundle_csv(archive, "assisted_reading.csv")
    assert list(rows[0]) == columns.ASSISTED_READING.names
    by = {}
    for row in rows:
        by.setdefault((row["statistic"], row["arm"]), []).append(row)
    unassisted_right = sum(first for first, _ in PLAN.values())
    assisted_right = sum(second for _, second in PLAN.values())
    for arm, right in (("unassisted", unassisted_right), ("llm", assisted_right)):
        (accuracy,) = by[("accuracy", arm)]
        assert float(accuracy["value"]) == pytest.approx(right / 8)
        assert (accuracy["count"], accuracy["of"], accuracy["pending"]) == (str(right), "8", "0")
    # The interval is the arm's alone in the MRMC analysis: unassisted varies between readers;
    # with assistance both readers got 3 of 4 right, so there is none, and the row says why.
    (accuracy,) = by[("accuracy", "unassisted")]
    assert accuracy["interval_question"] == RANDOM_BOTH
    assert float(accuracy["ci_low"]) <= unassisted_right / 8 <= float(accuracy["ci_high"])
    (accuracy,) = by[("accuracy", "llm")]
    assert (accuracy["ci_low"], accuracy["note"]) == ("", "no variability at all: no interval")
    # The MRMC difference, assisted minus unassisted, once per question.
    differences = by[("mrmc_difference", "llm")]
    assert [r["interval_question"] for r in differences] == [
        RANDOM_BOTH,
        FIXED_READERS,
        FIXED_CASES,
    ]
    for row in differences:
        assert row["compared_with"] == "unassisted"
        assert float(row["value"]) == pytest.approx((assisted_right - unassisted_right) / 8)
        assert float(row["ci_low"]) < float(row["value"]) < float(row["ci_high"])
    harmed = sum(f and not s for f, s in PLAN.values())
    helped = sum(s and not f for f, s in PLAN.values())
    (exact,) = by[("mcnemar_exact", "llm")]
    assert float(exact["value"]) == pytest.approx(binomtest(helped, helped + harmed).pvalue)
    assert (exact["count"], exact["of"]) == (str(helped), str(helped + harmed))
    (odds,) = by[("odds_ratio", "llm")]
    assert float(odds["value"]) == pytest.approx(helped / harmed)
    helped_rows = by[("helped", "llm")]
    assert [r["interval_question"] for r in helped_rows] == [FIXED_READERS, RANDOM_BOTH]
    for row in helped_rows:
        assert float(row["value"]) == pytest.approx(helped / 8)
        assert (row["count"], row["of"]) == (str(helped), "8")
    (of_wrong, _) = by[("helped_of_wrong", "llm")]
    assert float(of_wrong["value"]) == pytest.approx(helped / (8 - unassisted_right))
    # Seconds per read: 3 s (unassisted) or 5 s (llm) plus 1 s per position.
    for arm in ("unassisted", "llm"):
        seconds = sorted(
            SECONDS[arm] / 1000 + read.position
            for read in read_study.assignments.filter(arm__key=arm)
        )
        (median,) = by[("seconds_median", arm)]
        assert float(median["value"]) == pytest.approx(pd.Series(seconds).median())
        (q1,) = by[("seconds_q1", arm)]
        assert float(q1["value"]) == pytest.approx(pd.Series(seconds).quantile(0.25))


def test_ratings_and_the_key_say_which_arm_and_name_no_unseen_output(read_study):
    archive = build(read_study)
    ratings = bundle_csv(archive, "ratings.csv")
    assert list(ratings[0]) == columns.RATINGS.names + ["arm"]
    arms = {
        (a.item.token, a.rater.memberships.get(study=read_study).pseudonym, a.phase): a.arm.key
        for a in read_study.assignments.select_related("item", "arm", "rater")
    }
    key = {(r["item_token"], r["arm"]): r for r in bundle_csv(archive, "unblinding.csv")}
    for row in ratings:
        phase = 1 if row["arm"] == "unassisted" else 2
        assert arms[(row["item_token"], row["rater"], phase)] == row["arm"]
        found = key[(row["item_token"], row["arm"])]  # every rating joins the key
        if row["arm"] == "unassisted":
            assert (found["source"], found["source_kind"], found["sources"]) == ("", "", "[]")
        else:
            assert (found["source"], found["arm_kind"]) == ("Model X", "source")
    assert {(r["arm"], r["arm_kind"]) for r in key.values()} == {
        ("unassisted", "unassisted"),
        ("llm", "source"),
    }
    assert len(key) == 2 * 4  # each case's item, read in both arms


def test_spss_and_stata_files_hold_a_row_per_read_with_its_arm(read_study, tmp_path):
    build(read_study).extractall(tmp_path)
    reads = {(r["rater"], r["case_id"], r["arm"]): r for r in csv_file(tmp_path / "reads.csv")}
    cases = {r["item_token"]: r["case_id"] for r in csv_file(tmp_path / "unblinding.csv")}
    for name in ("ratings.sav", "ratings.dta"):
        read = pyreadstat.read_sav if name.endswith(".sav") else pyreadstat.read_dta
        frame, meta = read(str(tmp_path / name))
        assert list(frame.columns[:5]) == ["item_token", "rater", "kind", "arm", "output_slot"]
        assert len(frame) == len(reads) == 16, name
        for row in frame.itertuples():
            found = reads[(row.rater, cases[row.item_token], row.arm)]
            assert row.answer == found["answer"], name
            assert row.time_on_task_seconds == float(found["seconds"]), name
        assert meta.column_names_to_labels["arm"].startswith("assisted-reading studies only")


def _api(client, user, url: str):
    token = Token.objects.get_or_create(user=user)[0].key
    return client.get(url, headers={"Authorization": f"Token {token}"})


def _header(response) -> str:
    """The first line of a streamed CSV download."""
    return b"".join(response.streaming_content).decode().splitlines()[0]


def test_the_api_and_the_dashboard_download_carry_the_arm_for_admins_only(
    client, read_study, study_admin, raters, open_study
):
    base = f"/api/v1/studies/{read_study.token}"
    ratings = _api(client, study_admin, f"{base}/ratings/").json()["results"]
    assert {r["arm"] for r in ratings} == {"unassisted", "llm"}
    assert _header(_api(client, study_admin, f"{base}/ratings/?format=csv")).endswith(
        ",session,reference_answer,reference_value,arm"
    )
    key = _api(client, study_admin, f"{base}/unblinding-key/").json()["results"]
    assert {(r["arm"], r["source"]) for r in key} == {("unassisted", ""), ("llm", "Model X")}
    key_csv = _api(client, study_admin, f"{base}/unblinding-key/?format=csv")
    assert _header(key_csv).endswith(",sources,arm,arm_kind")
    client.force_login(study_admin)
    download = client.get(reverse("study_ratings_csv", args=[read_study.token]))
    assert _header(download).endswith(",arm")
    # A study without arms keeps its columns: no arm.
    other = _api(client, study_admin, f"/api/v1/studies/{open_study.token}/ratings/?format=csv")
    assert _header(other) == ",".join(columns.RATINGS.names)
    # A reader, and a scorer (a member of nothing), reach none of it.
    client.logout()
    build(read_study)  # a bundle they could try to download
    run = TaskRun.objects.get(study=read_study, kind=TaskRun.Kind.EXPORT_BUNDLE)
    scorer = raters[2]
    services.scorer_add(study=read_study, user=scorer)
    for user, refused in ((raters[0], 403), (scorer, 404)):
        for path in ("ratings/", "unblinding-key/", "reads/", "ratings/?format=csv", "results/"):
            assert _api(client, user, f"{base}/{path}").status_code == refused, path
        client.force_login(user)
        for url in (
            reverse("study_ratings_csv", args=[read_study.token]),
            reverse("study_dashboard", args=[read_study.token]),
            reverse("study_bundle_download", args=[read_study.token, run.pk]),
        ):
            assert client.get(url).status_code == 404, url
        assert client.post(reverse("study_bundle", args=[read_study.token])).status_code == 404
        client.logout()


def test_r_and_pandas_read_the_reading_files_with_their_declared_types(read_study, tmp_path):
    folder = tmp_path / "bundle"
    build(read_study).extractall(folder)
    script = tmp_path / "read.R"
    script.write_text(R_SCRIPT.replace("R_TIMESTAMP", columns.R_TIMESTAMP))
    done = subprocess.run(
        [_rscript(), "--vanilla", str(script), str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    seen = {}
    for line in done.stdout.splitlines():
        name, column, klass, missing, rows, _ = line.split("\t")
        seen[(name, column)] = (klass, int(missing), int(rows))
    package = json.loads((folder / "datapackage.json").read_text())
    declared = {resource["path"]: resource for resource in package["resources"]}
    checked = 0
    for table in (columns.READS, columns.ASSISTED_READING, columns.RATINGS_READING):
        assert [f["name"] for f in declared[table.path]["schema"]["fields"]] == table.names
        frame = pd.read_csv(folder / table.path)
        assert list(frame.columns) == table.names
        for column in table.columns:
            klass, missing, rows = seen[(table.path, column.name)]
            if column.type == columns.ANY or missing == rows:
                continue
            assert klass in R_CLASSES[column.type], (table.path, column.name, klass)
            series = frame[column.name]
            if column.type == columns.BOOLEAN:
                assert pd.api.types.is_bool_dtype(series), column.name
            elif column.type in (columns.INTEGER, columns.NUMBER):
                assert pd.api.types.is_numeric_dtype(series), column.name
            checked += 1
    assert checked > 40
    report = _validate(folder)  # frictionless: every file against its Table Schema
    assert report["valid"] is True, _errors(report)[:10]
    assert len(report["tasks"]) == 7  # ratings, key, questions, agreement, comparison, 2 more


def _methods(archive: zipfile.ZipFile) -> str:
    return archive.read("methods.md").decode()


def test_the_methods_text_describes_the_sequential_study(read_study):
    text = _methods(build(read_study))
    assert "## Arms and blinding" in text
    assert (
        "Sequential layout, 4 cases: each reader read each case first unassisted and submitted "
        "an answer, which then locked and could no longer change" in text
    )
    assert "randomised from the stored seed 7; the allocation's SHA-256 digest" in text
    assert read_study.manifest_hash in text
    assert 'Arm "unassisted": the case alone; nothing of any model was on the screen' in text
    assert (
        'Arm "llm": Model X\'s output beside the case, under the neutral label '
        '"Assistant"; readers were not told which source wrote it.' in text
    )
    assert "a ranked list of up to 3 entries, most likely first" in text
    assert "by exact match: a ranked list is right when any entry equals an accepted" in text
    scored = AnswerScore.objects.filter(rating__assignment__study=read_study, by="scorer").count()
    matched = AnswerScore.objects.filter(rating__assignment__study=read_study, by="match").count()
    assert scored + matched == 16  # every read submitted and decided
    assert f"Of the submitted answers, {scored} were decided by a scorer and {matched} by" in text
    assert "by exact match; no submitted answer is waiting for a scorer." in text
    unassisted = sum(first for first, _ in PLAN.values())
    assert f"unassisted {unassisted / 8:.3f} ({unassisted} of 8 reads right; 95% CI" in text
    assisted = sum(second for _, second in PLAN.values())
    gain = (assisted - unassisted) / 8
    assert "Accuracy with assistance (llm) minus without, multi-reader multi-case" in text
    assert f": {gain:+.3f}; for {RANDOM_BOTH}: 95% CI" in text
    harmed = sum(f and not s for f, s in PLAN.values())
    helped = sum(s and not f for f, s in PLAN.values())
    p = binomtest(helped, helped + harmed).pvalue
    assert f"helped {helped}, harmed {harmed}" in text
    assert f"McNemar's test, exact (two-sided binomial on the discordant pairs) p = {p:.4f}" in (
        text
    )
    assert "No inter-reader agreement is computed in an assisted-reading study" in text
    assert (
        "Model X (model): outputs imported, not generated in evalapp. Its output was shown "
        'beside the case in arm "llm". Model Y (model): outputs imported, not generated in '
        "evalapp. Its outputs were imported with the cases and shown in no arm." in text
    )
    assert "### Which interval answers which question" in text
    # Nothing of the ratings-study wording that would be untrue here.
    assert "Each output was assigned to" not in text
    assert "Raters were blinded to the source of every output" not in text


def test_an_undecided_answer_is_pending_in_every_file(study_admin, raters, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"
    study = reading_study(study_admin, raters[:1])
    services.study_open(study=study)
    question = study.questions.get(key="answer")
    reads = list(study.assignments.select_related("item__output__case").order_by("position"))
    right = reads[0].item.output.case
    answer = next(c[2] for c in CASES if c[0] == right.external_id)
    for read, given in ((reads[0], answer), (reads[1], answer), (reads[2], "Gout")):
        services.rating_save(assignment=read, question=question, answer=[given])
        services.assignment_submit(assignment=read)
    _compute(study)
    archive = build(study)
    outcomes = [(r["arm"], r["outcome"], r["submitted"]) for r in bundle_csv(archive, "reads.csv")]
    assert outcomes[:3] == [
        ("unassisted", "right", "TRUE"),
        ("llm", "right", "TRUE"),
        ("unassisted", "undecided", "TRUE"),
    ]
    # The assisted read after the undecided one starts from it: undecided, not submitted.
    assert outcomes[3] == ("llm", "undecided", "FALSE")
    assert {r["outcome"] for r in bundle_csv(archive, "reads.csv")[4:]} == {""}
    (accuracy,) = [
        r
        for r in bundle_csv(archive, "assisted_reading.csv")
        if (r["statistic"], r["arm"]) == ("accuracy", "unassisted")
    ]
    assert (accuracy["value"], accuracy["count"], accuracy["of"], accuracy["pending"]) == (
        "1.0",
        "1",
        "1",
        "1",
    )
    text = _methods(archive)
    assert "1 submitted answer still undecided is waiting for a scorer and left out" in text
    assert "No clinician scorer has been added" in text


def test_the_methods_text_describes_a_crossover_with_its_washout(
    study_admin, raters, settings, tmp_path
):
    settings.EXPORT_DIR = tmp_path / "exports"
    study = reading_study(study_admin, raters[:2], named=True, seed=11)
    Study.objects.filter(pk=study.pk).update(
        reading_layout=Study.ReadingLayout.CROSSOVER, washout_days=14
    )
    study.refresh_from_db()
    services.study_open(study=study)
    study.refresh_from_db()
    text = _methods(build(study))
    assert (
        "Crossover layout, 4 cases, 2 arms (llm, unassisted): each reader read each case once "
        "in every arm, one arm per session (2 sessions)" in text
    )
    assert "followed a row of a Williams design" in text
    assert (
        "A reader's next session opened only once they had submitted every read of the one "
        "before and 14 days had passed since their last submit in it (the washout)." in text
    )
    assert (
        "An answer locked when submitted, and once a reader finished a session its reads "
        "closed: during the washout and in later sessions the reader could neither see them "
        "(nor the assistance shown with them) nor change them." in text
    )
    assert "open to change" not in text
    assert (
        "Each reader's case order within each session was randomised from the stored seed 11"
        in (text)
    )
    assert 'under its name "Model X" (the arm was named, so readers knew the source)' in text
    assert "16 reads were allocated (each reader read each of 4 cases once in each of 2 arms)" in (
        text
    )
    assert "Sequential layout" not in text
    assert "The assisted-reading statistics have not been computed yet." in text


def test_checklist_evidence_describes_arms_layout_readers_and_accuracy(read_study, study_admin):
    checklist_services.checklists_load(paths=checklist_services.definition_files_shipped())
    definition = ChecklistDefinition.objects.get(slug="mi-claim-gen")
    report = checklist_services.report_create(
        lead=study_admin, definition=definition, title="Assisted reading paper", study=read_study
    )
    assessment = report.assessments.get(assessor=study_admin)
    facts = study_facts_for(report=report, user=study_admin)
    sheet = assessment_sheet(assessment=assessment, facts=facts)
    evidence = {
        row.item.code: "\n".join(row.evidence.lines)
        for section in sheet.sections
        for row in section.rows
        if row.evidence
    }
    assert "2 readers (pseudonymised as R1 to R2 in exports)" in evidence["1.4"]
    assert (
        'Arm "llm": Model X\'s output beside the case, under the neutral label' in (evidence["1.4"])
    )
    assert (
        "Accuracy (share of submitted reads scored right) per arm: unassisted " in (evidence["3.2"])
    )
    assert "Sequential layout, 4 cases" in evidence["6.1"]


def test_each_source_arm_shows_and_the_key_names_its_own_source(
    study_admin, raters, settings, tmp_path
):
    """A crossover with two source arms: every read in an arm shows that arm's source (the
    case-alone reads borrow an item they never show), and the key says so."""
    settings.EXPORT_DIR = tmp_path / "exports"
    study = reading_study(study_admin, raters[:2])
    services.arm_add(
        study=study, key="second", kind="source", source=study.sources.get(label="Model Y")
    )
    Study.objects.filter(pk=study.pk).update(reading_layout=Study.ReadingLayout.CROSSOVER)
    study.refresh_from_db()
    services.study_open(study=study)
    reads = study.assignments.select_related("arm__source", "item__output__source")
    assert reads.count() == 2 * 4 * 3
    for read in reads:
        if read.arm.kind == "source":
            assert read.item.output.source == read.arm.source, read.arm.key
    key = bundle_csv(build(study), "unblinding.csv")
    named = {(r["arm"], r["source"]) for r in key}
    assert named == {("unassisted", ""), ("llm", "Model X"), ("second", "Model Y")}
