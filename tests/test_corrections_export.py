"""Corrections as data: the corrected text in ratings.csv (both the PostgreSQL and the Python
writer) and the bundle's corrections.csv, read back by pandas as written."""

import io

import pandas as pd
import pytest

from annotation import services
from annotation.core import rubric
from annotation.models import TaskRun
from tests.factories import submit_rated
from tests.test_bundle import build

pytestmark = pytest.mark.django_db

ORIGINAL = 'Stop "ibuprofen", café au lait\nthen rest.'
CORRECTED = 'Stop "ibuprofen" now,\ncafé au lait\r\nthen rest.'


@pytest.fixture
def corrected(draft_study, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"
    draft = rubric.QuestionDraft(
        key="corrected", prompt="Correct it", kind="correction", level="ratio", required=False
    )
    services.question_add(study=draft_study, draft=draft)
    services.study_open(study=draft_study)
    question = draft_study.questions.get(key="corrected")
    assignments = list(draft_study.assignments.select_related("item__output").order_by("pk"))
    first = assignments[0]
    first.item.output.text = ORIGINAL
    first.item.output.save(update_fields=["text"])
    services.rating_save(assignment=first, question=question, answer=CORRECTED)
    services.rating_save(
        assignment=assignments[1], question=question, answer={"text": "", "accepted": False}
    )
    accepted = assignments[2]
    services.rating_save(assignment=accepted, question=question, answer=accepted.item.output.text)
    submit_rated(draft_study)
    run = TaskRun.objects.create(study=draft_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    return draft_study, first, accepted


def _read(archive, name: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(archive.read(name)), encoding="utf-8", keep_default_na=False)


def _check(study, first, accepted):
    archive = build(study)
    corrections = _read(archive, "corrections.csv")
    assert len(corrections) == 2  # the emptied answer is no correction
    expected_text = CORRECTED.replace("\r\n", "\n")
    [row] = [r for _, r in corrections.iterrows() if r["corrected"] == expected_text]
    assert row["case_id"] == first.item.output.case.external_id
    assert (row["original"], row["corrected"]) == (ORIGINAL, expected_text)
    assert row["chars"] == 5  # " now" in, the space before "café" now a line break
    assert (row["words"], row["original_words"]) == (2, 7)  # "ibuprofen"," -> two words
    assert row["edit_rate"] == pytest.approx(2 / 7)
    assert not row["unchanged"]
    kept = corrections[corrections["unchanged"]]
    assert list(kept["corrected"]) == [accepted.item.output.text]
    assert list(kept["edit_rate"]) == [0.0]
    ratings = _read(archive, "ratings.csv")
    answers = ratings[ratings["question"] == "corrected"]
    assert sorted(answers["answer"]) == sorted(["", expected_text, accepted.item.output.text])
    mine = answers[answers["answer"] == expected_text].iloc[0]
    assert float(mine["value"]) == pytest.approx(2 / 7)
    assert "corrections.csv" in archive.read("data_dictionary.md").decode()


def test_the_bundle_writes_corrections_readable_by_pandas(corrected):
    _check(*corrected)


def test_ratings_csv_from_postgresql_holds_the_corrected_text(corrected, settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL writer of ratings.csv: run with DATABASE_URL (CI does)")
    _check(*corrected)


def test_base_r_reads_corrections_with_their_line_breaks(corrected, tmp_path):
    import subprocess

    from tests.test_bundle_files import _rscript

    study, _, _ = corrected
    archive = build(study)
    (tmp_path / "corrections.csv").write_bytes(archive.read("corrections.csv"))
    script = (
        'd <- read.csv("corrections.csv", encoding = "UTF-8", stringsAsFactors = FALSE); '
        'cat(nrow(d), "\\n"); cat(class(d$chars), class(d$unchanged), "\\n"); '
        'cat(d$corrected[d$chars == 5], sep = "")'
    )
    done = subprocess.run(
        [_rscript(), "--vanilla", "-e", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    rows, classes, text = done.stdout.split("\n", 2)
    assert (rows.strip(), classes.strip()) == ("2", "integer logical")
    assert text == CORRECTED.replace("\r\n", "\n")


def test_the_bundle_s_r_script_reads_corrections_with_their_types(corrected, tmp_path):
    import subprocess

    from tests.test_bundle_files import _rscript

    study, _, _ = corrected
    build(study).extractall(tmp_path)
    check = (
        'source("read_bundle.R"); d <- bundle$corrections; '
        'cat(nrow(d), class(d$chars), class(d$edit_rate), class(d$unchanged), "\\n"); '
        'cat(d$corrected[d$chars == 5], sep = "")'
    )
    done = subprocess.run(
        [_rscript(), "--vanilla", "-e", check],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    sizes, text = done.stdout.split("\n", 1)
    assert sizes.split() == ["2", "integer", "numeric", "logical"]
    assert text == CORRECTED.replace("\r\n", "\n")
