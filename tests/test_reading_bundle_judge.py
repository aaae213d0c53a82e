"""Assisted reading's bundle after review: top-j accuracy and each LLM judge's agreement in
assisted_reading.csv and methods.md, the judge's decisions in judge_scores.csv, who decided
each answer (undecided answers decided by nobody), the methods' wording while nothing is
scored, intervals beyond 0 to 1, answers that read as missing or as formulas, and the
arm in the SPSS and Stata frames. Each is checked against the database or a count here."""

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from django.urls import reverse
from sklearn.metrics import cohen_kappa_score

from annotation import selectors, services
from annotation.core import columns, stat_files, tables
from annotation.core.stats.names import RANDOM_BOTH
from annotation.models import AnswerScore, JudgeScore, Question, Result, Source, TaskRun
from annotation.selectors import reading_facts
from annotation.selectors.reading import JUDGE_MATCH, JUDGE_SCORER, TOP_J
from tests.factories import UserFactory
from tests.reading_support import (
    bundle_csv,
    csv_file,
    reading_reads_answered,
    reading_rows,
    reading_study,
)
from tests.test_bundle import build
from tests.test_bundle_files import R_CLASSES, R_SCRIPT, _errors, _rscript, _validate
from tests.test_reading_bundle import _api, _compute
from tests.test_reading_bundle import read_study as read_study  # a fixture
from tests.test_reading_judge import _decide, _judge, _run, keyword_judge

pytestmark = pytest.mark.django_db


@pytest.fixture
def judged(study_admin, raters, fake_llm, settings, tmp_path):
    """Two readers' ranked answers, a judge run on the undecided ones and a sample of two
    matched ones, a clinician scorer's decisions on six, the statistics computed."""
    settings.EXPORT_DIR = tmp_path / "exports"
    study = reading_reads_answered(study_admin, raters[:2])
    fake_llm.reply_with(keyword_judge)
    _run(_judge(study, fake_llm), decided_sample=2)
    _decide(study)
    _compute(study)
    return study


def _top_by_hand(reads: list[dict], arm: str, top: int) -> tuple[int, int, int]:
    """(right, decided, pending) at top-j from reads.csv alone: undecided answers are
    pending, and so is a list exact match found right below j (its earlier entries may be
    unlisted wordings); a scorer's rank is exact."""
    right = decided = pending = 0
    for read in reads:
        if read["arm"] != arm or read["submitted"] != "TRUE":
            continue
        if read["outcome"] == "undecided":
            pending += 1
            continue
        rank = int(read["rank"]) if read["rank"] else None
        if read["outcome"] == "right" and read["scored_by"] == "match" and rank > top:
            pending += 1
            continue
        decided += 1
        right += read["outcome"] == "right" and rank <= top
    return right, decided, pending


def test_top_j_rows_give_the_stored_figures_and_the_reads_counted_by_hand(judged):
    archive = build(judged)
    reads = bundle_csv(archive, "reads.csv")
    rows = [r for r in bundle_csv(archive, "assisted_reading.csv") if r["statistic"] == "top_j"]
    stored = {r.source: r for r in Result.objects.filter(study=judged, statistic=TOP_J)}
    assert {r["arm"] for r in rows} == set(stored) == {"unassisted", "llm"}
    for arm, result in stored.items():
        mine = [r for r in rows if r["arm"] == arm]
        assert [int(r["top"]) for r in mine] == [t["top"] for t in result.detail["tops"]] == [1, 3]
        for row, top in zip(mine, result.detail["tops"], strict=True):
            right, decided, pending = _top_by_hand(reads, arm, top["top"])
            assert (int(row["count"]), int(row["of"]), int(row["pending"])) == (
                right,
                decided,
                pending,
            )
            assert (top["right"], top["reads"], top["pending"]) == (right, decided, pending)
            assert float(row["value"]) == pytest.approx(right / decided)
            assert row["judge"] == ""
    # A list matched below j is pending at j: somewhere in these reads it happens at top-1.
    assert any(int(r["pending"]) > 0 for r in rows if r["top"] == "1")
    text = archive.read("methods.md").decode()
    assert "Top-j accuracy of the ranked lists" in text
    top1 = stored["unassisted"].detail["tops"][0]
    pending = f"; {top1['pending']} pending" if top1["pending"] else ""
    assert f"top-1 {top1['accuracy']:.3f} ({top1['right']} of {top1['reads']}{pending})" in text


def _table(pairs: list[tuple[bool, bool]]) -> tuple[int, int, int, int]:
    return (
        pairs.count((True, True)),
        pairs.count((True, False)),
        pairs.count((False, True)),
        pairs.count((False, False)),
    )


def test_the_judge_rows_and_judge_scores_agree_with_a_count_from_the_files(judged):
    archive = build(judged)
    decisions = bundle_csv(archive, "judge_scores.csv")
    assert list(decisions[0]) == columns.JUDGE_SCORES.names
    assert len(decisions) == JudgeScore.objects.filter(judge__study=judged).count()
    # The clinician's table from the files alone: the judge's current, parsed decisions on
    # answers exact match left undecided that the scorer decided.
    pairs = [
        (d["clinician_outcome"] == "right", d["judge_right"] == "TRUE")
        for d in decisions
        if d["why"] == "undecided"
        and d["current"] == "TRUE"
        and d["outcome"] == "ok"
        and d["decided_by"] == "scorer"
    ]
    sampled = [
        (d["clinician_outcome"] == "right", d["judge_right"] == "TRUE")
        for d in decisions
        if d["why"] == "sampled" and d["current"] == "TRUE" and d["outcome"] == "ok"
    ]
    assert len(pairs) == 6
    assert len(sampled) == 2
    assert {d["decided_by"] for d in decisions if d["why"] == "sampled"} == {"match"}
    rows = [r for r in bundle_csv(archive, "assisted_reading.csv") if r["judge"]]
    for reference, cells in (("scorer", pairs), ("match", sampled)):
        mine = {r["statistic"]: r for r in rows if r["compared_with"] == reference}
        both_right, reference_only, judge_only, both_wrong = _table(cells)
        kappas = [r for r in rows if r["compared_with"] == reference]
        kappas = [r for r in kappas if r["statistic"] == "judge_kappa"]
        for row in [*kappas, *mine.values()]:
            assert row["judge"] == "Judge-LLM"
            assert tuple(
                int(row[c])
                for c in ("both_right", "reference_only_right", "judge_only_right", "both_wrong")
            ) == (both_right, reference_only, judge_only, both_wrong)
        n = len(cells)
        assert float(mine["judge_agreement"]["value"]) == pytest.approx(
            (both_right + both_wrong) / n
        )
        assert (mine["judge_agreement"]["count"], mine["judge_agreement"]["of"]) == (
            str(both_right + both_wrong),
            str(n),
        )
        if both_right + reference_only:
            assert float(mine["judge_sensitivity"]["value"]) == pytest.approx(
                both_right / (both_right + reference_only)
            )
        if reference == "scorer":
            expected = cohen_kappa_score([c for c, _ in cells], [j for _, j in cells])
            assert [float(k["value"]) for k in kappas] == pytest.approx([expected] * len(kappas))
            # Each interval on its own row, with the question it answers.
            assert len(kappas) >= 2
            assert all(k["interval_question"] and k["ci_low"] for k in kappas)
            assert len({k["interval_method"] for k in kappas}) == len(kappas)
    stored = Result.objects.get(study=judged, statistic=JUDGE_SCORER)
    scorer_kappa = next(
        r for r in rows if r["compared_with"] == "scorer" and r["statistic"] == "judge_kappa"
    )
    assert float(scorer_kappa["ci_low"]) == pytest.approx(stored.detail["kappa"]["ci"][0])
    assert Result.objects.filter(study=judged, statistic=JUDGE_MATCH).exists()
    text = archive.read("methods.md").decode()
    assert 'LLM judge "Judge-LLM" against the clinician scorer' in text
    assert 'LLM judge "Judge-LLM" against the exact match' in text
    assert f"Cohen's kappa {stored.value:.3f} (95% CI" in text


def test_judge_scores_mark_a_changed_answer_and_a_failed_call(judged):
    score = JudgeScore.objects.filter(judge__study=judged, sampled=False).first().score
    # The reader's answer changes after the judge decided it (as an admin's fix would).
    rating = score.rating
    rating.answer = ["Something else entirely"]
    rating.save(update_fields=["answer"])
    ok = JudgeScore.objects.filter(judge__study=judged, outcome="ok").first()
    JudgeScore.objects.create(
        judge=ok.judge,
        score=ok.score,
        answer=ok.answer,
        outcome=JudgeScore.Outcome.FAILED,
        error="no JSON",
        started_at=ok.started_at,
        finished_at=ok.finished_at,
    )
    rows = bundle_csv(build(judged), "judge_scores.csv")
    changed = [r for r in rows if r["answer"] == json.dumps(score.judged.first().answer)]
    assert changed
    assert {r["current"] for r in changed} == {"FALSE"}
    failed = [r for r in rows if r["outcome"] == "failed"]
    assert len(failed) == 1
    assert (failed[0]["judge_right"], failed[0]["judge_rank"]) == ("", "")
    assert failed[0]["finished_at"] == tables.timestamp(ok.finished_at)


def test_r_and_pandas_read_judge_scores_with_its_declared_types(judged, tmp_path):
    folder = tmp_path / "bundle"
    build(judged).extractall(folder)
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
    for table in (columns.JUDGE_SCORES, columns.ASSISTED_READING):
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
    assert checked > 30
    report = _validate(folder)
    assert report["valid"] is True, _errors(report)[:10]


def test_judge_scores_only_where_a_judge_scored_and_for_admins_only(
    read_study, judged, client, raters
):
    assert "judge_scores.csv" not in build(read_study).namelist()
    assert "judge_scores.csv" in build(judged).namelist()
    # The bundle is the study admins' only: a reader is refused it.
    run = TaskRun.objects.filter(study=judged, kind=TaskRun.Kind.EXPORT_BUNDLE).latest("pk")
    client.force_login(raters[0])
    download = reverse("study_bundle_download", args=[judged.token, run.pk])
    assert client.get(download).status_code == 404


# --- who decided, and what the methods say while nobody has -----------------------------------


def test_an_undecided_answer_was_decided_by_nobody(study_admin, raters, client, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"
    study = reading_reads_answered(study_admin, raters[:2])
    undecided = AnswerScore.objects.filter(rating__assignment__study=study, outcome="undecided")
    assert undecided.exists()
    assert set(undecided.values_list("by", flat=True)) == {"match"}
    reads = bundle_csv(build(study), "reads.csv")
    assert {r["scored_by"] for r in reads if r["outcome"] == "undecided"} == {""}
    assert {r["scored_by"] for r in reads if r["outcome"] == "right"} == {"match"}
    api = _api(client, study_admin, f"/api/v1/studies/{study.token}/reads/?page_size=100")
    rows = api.json()["results"]
    assert {r["scored_by"] for r in rows if r["outcome"] == "undecided"} == {""}


def test_the_methods_count_submitted_answers_by_who_decided_them(
    study_admin, raters, settings, tmp_path
):
    settings.EXPORT_DIR = tmp_path / "exports"
    study = reading_reads_answered(study_admin, raters[:2])
    scores = AnswerScore.objects.filter(rating__assignment__study=study)
    # One read back to a draft: its answer no longer counts.
    draft = scores.filter(outcome="right").first().rating.assignment
    draft.submitted_at = None
    draft.save(update_fields=["submitted_at"])
    submitted = scores.filter(rating__assignment__submitted_at__isnull=False)
    matched = submitted.filter(outcome__in=("right", "wrong"), by="match").count()
    pending = submitted.filter(outcome="undecided").count()
    assert matched + pending == 15
    study.refresh_from_db()
    text = " ".join(reading_facts.reading_scoring(study))
    assert f"Of the submitted answers, 0 were decided by a scorer and {matched} by exact" in text
    assert f"{pending} submitted answers still undecided are waiting for a scorer" in text
    # No scorer decided anything: the methods say none has, never that one did.
    assert "no scorer has decided one yet" in text
    assert "A clinician scorer, blinded to reader and arm, decided" not in text
    facts = reading_facts.reading_raters(study)
    assert "No clinician scorer has been added: answers an exact match cannot decide are " in (
        " ".join(facts)
    )
    scorer = UserFactory(username="scorer")
    services.scorer_add(study=study, user=scorer)
    facts = " ".join(reading_facts.reading_raters(study))
    assert "1 clinician scorer, neither readers nor admins, has been added but none has" in facts
    assert "decided the answers an exact match could not" not in facts
    score = submitted.filter(outcome="undecided").first()
    services.answer_score_decide(score=score, scorer=scorer, right=False, rank=None)
    facts = " ".join(reading_facts.reading_raters(study))
    assert "1 clinician scorer, neither readers nor admins, decided the answers" in facts
    text = " ".join(reading_facts.reading_scoring(study))
    assert "A clinician scorer, blinded to reader and arm, decided the answers" in text
    assert "Of the submitted answers, 1 was decided by a scorer" in text


def test_pending_answers_are_named_where_the_interval_is_missing(
    study_admin, raters, settings, tmp_path
):
    settings.EXPORT_DIR = tmp_path / "exports"
    study = reading_reads_answered(study_admin, raters[:2])
    _compute(study)
    archive = build(study)
    pending = AnswerScore.objects.filter(rating__assignment__study=study, outcome="undecided")
    n = pending.count()
    accuracy = [
        r for r in bundle_csv(archive, "assisted_reading.csv") if r["statistic"] == "accuracy"
    ]
    assert accuracy
    assert all(r["ci_low"] == "" for r in accuracy)
    for row in accuracy:
        assert row["note"].startswith(f"no interval yet: {n} submitted answers still undecided")
    text = archive.read("methods.md").decode()
    assert f"No interval is given yet: {n} submitted answers are still undecided" in text


def test_an_interval_beyond_0_to_1_is_kept_and_said_so(read_study):
    archive = build(read_study)
    rows = bundle_csv(archive, "assisted_reading.csv")
    (accuracy,) = [r for r in rows if (r["statistic"], r["arm"]) == ("accuracy", "unassisted")]
    low, high = float(accuracy["ci_low"]), float(accuracy["ci_high"])
    assert low < 0 or high > 1  # two readers: the analysis's interval overshoots
    assert accuracy["interval_question"] == RANDOM_BOTH
    assert "extends beyond 0 to 1" in accuracy["note"]
    assert "not clipped" in accuracy["note"]
    differences = [r for r in rows if r["statistic"] == "mrmc_difference" and r["ci_low"]]
    for row in differences:
        beyond = float(row["ci_low"]) < -1 or float(row["ci_high"]) > 1
        assert ("extends beyond -1 to 1" in row["note"]) == beyond
    text = archive.read("methods.md").decode()
    assert (
        "An interval reaching below 0 or above 1 is as the multi-reader multi-case analysis "
        "computed it (a normal-theory interval, here with 2 readers, too few" in text
    )
    assert "reported as computed, not clipped" in text


# --- the wording before anything happened -----------------------------------------------------


def test_a_study_not_opened_is_described_as_planned(study_admin, raters, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"
    study = reading_study(study_admin, raters[:2])
    design = " ".join(reading_facts.reading_design(study))
    assert "each reader is to read each case first unassisted and submit an answer" in design
    assert "Each reader's case order is to be randomised from the stored seed 7" in design
    assert " read each case first" not in design.replace("is to read each case first", "")
    services.study_open(study=study)
    study.refresh_from_db()
    design = " ".join(reading_facts.reading_design(study))
    assert "each reader read each case first unassisted and submitted an answer" in design
    assert "Each reader's case order was randomised" in design


def test_statistics_computed_with_everything_pending_say_so(
    study_admin, raters, settings, tmp_path
):
    settings.EXPORT_DIR = tmp_path / "exports"
    study = reading_study(study_admin, raters[:1])
    assert reading_facts.reading_scores(study) == [
        "The assisted-reading statistics have not been computed yet."
    ]
    services.study_open(study=study)
    question = study.questions.get(kind=Question.Kind.ANSWER)
    first = study.assignments.order_by("position").first()
    services.rating_save(assignment=first, question=question, answer=["Gout"])
    services.assignment_submit(assignment=first)
    _compute(study)
    (fact,) = reading_facts.reading_scores(study)
    assert "have not been computed" not in fact
    assert "have been computed, but no submitted answer has been scored right or wrong yet: 1" in (
        fact
    )


# --- answers that look like missing values, numbers or formulas --------------------------------


def test_text_answers_survive_the_documented_read_and_numbers_are_not_escaped(
    study_admin, raters, settings, tmp_path
):
    settings.EXPORT_DIR = tmp_path / "exports"
    study = services.reading_study_create(
        creator=study_admin,
        title="Text answers",
        layout="sequential",
        answer_kind="text",
        prompt="Diagnosis",
        seed=3,
    )
    services.study_import_file(study=study, filename="cases.jsonl", content=reading_rows())
    source = Source.objects.get(study=study, label="Model X")
    services.arm_add(study=study, key="llm", kind="source", source=source)
    services.study_add_raters(study=study, users=raters[:1])
    services.study_open(study=study)
    question = study.questions.get(kind=Question.Kind.ANSWER)
    given = ["NA", "None", "-3", "=1+1", "+2.5", "-x", "n/a", "null"]
    reads = list(study.assignments.order_by("position"))
    for read, answer in zip(reads, given, strict=True):
        services.rating_save(assignment=read, question=question, answer=answer)
        services.assignment_submit(assignment=read)
    folder = tmp_path / "bundle"
    build(study).extractall(folder)
    raw = [r["answer"] for r in csv_file(folder / "reads.csv")]
    assert raw == ["NA", "None", "-3", "'=1+1", "+2.5", "'-x", "n/a", "null"]
    # ratings.csv, written by PostgreSQL, escapes the same way.
    assert sorted(r["answer"] for r in csv_file(folder / "ratings.csv")) == sorted(raw)
    # Read as the data dictionary advises: every answer as written.
    frame = pd.read_csv(
        folder / "reads.csv", keep_default_na=False, na_values=[""], dtype={"answer": str}
    )
    assert list(frame["answer"]) == raw
    assert pd.api.types.is_integer_dtype(frame["position"])  # other columns keep their types
    assert pd.api.types.is_bool_dtype(frame["submitted"])
    assert 'keep_default_na=False, na_values=[""]' in (
        Path(__file__).parents[1] / "docs" / "data-dictionary.md"
    ).read_text().replace("\n  ", " ")
    script = tmp_path / "answers.R"
    script.write_text(
        'd <- read.csv(commandArgs(trailingOnly = TRUE)[1], na.strings = "", '
        'colClasses = c(answer = "character"))\n'
        'cat(d$answer, sep = "\\n")\ncat(class(d$position), "\\n")\n'
    )
    done = subprocess.run(
        [_rscript(), "--vanilla", str(script), str(folder / "reads.csv")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [*raw, "integer "]


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("-3", "-3"),
        ("+1.5", "+1.5"),
        ("-2e-3", "-2e-3"),
        ("-.5", "-.5"),
        ("=1+1", "'=1+1"),
        ("-3+cmd|' /C calc'!A0", "'-3+cmd|' /C calc'!A0"),
        ("-", "'-"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+", "'+"),
        ("-1-1", "'-1-1"),
        ("\t-3", "'\t-3"),
    ],
)
def test_a_plain_number_is_not_escaped_a_formula_is(cell, written):
    assert tables.safe_cell(cell) == written


# --- the arm in the SPSS and Stata frame ------------------------------------------------------


def test_the_ratings_frame_keeps_a_readers_two_reads_of_a_case_apart(read_study):
    from annotation.services.bundle_ratings import BundleRatings

    variables = BundleRatings(read_study).variables
    frame = stat_files.ratings_frame(selectors.study_ratings_iter(study=read_study), variables)
    assert "arm" in frame.columns
    assert len(frame) == read_study.assignments.count() == 16
    assert set(frame["arm"]) == {"unassisted", "llm"}
