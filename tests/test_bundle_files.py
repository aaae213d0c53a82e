"""The paper bundle's files as statistics packages read them: base R's read.csv and pandas'
read_csv with their default settings give the types datapackage.json declares, the documented
calls read the timestamps, `frictionless validate` accepts the data package, and the dictionary,
the data package and the files' headers come from the same column definitions."""

import csv
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from annotation import services
from annotation.core import columns, rubric, tables
from annotation.demo import load_demo
from annotation.models import Assignment, Result, Study
from annotation.selectors.studies import study_rater_pseudonyms
from tests.factories import UserFactory, submit_rated
from tests.test_bundle import build
from tests.test_checklist_evidence import HUMAN, MODEL
from tests.test_judge_diagnostics_study import judged_by
from tests.test_pairwise import make_pairwise_study
from tests.test_study_comparisons import compute
from tests.test_study_mrmc import PAIR as MRMC_PAIR
from tests.test_study_mrmc import make_study, rate_everything

pytestmark = pytest.mark.django_db

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FRICTIONLESS = Path(sys.executable).parent / "frictionless"


@pytest.fixture
def demo_bundle(settings, tmp_path) -> Path:
    """The demo study's bundle, unzipped, with time on task recorded for some items, and a
    draft answer (saved, not submitted) of rater1, who starts fresh."""
    settings.EXPORT_DIR = tmp_path / "exports"
    study = load_demo().study
    fresh = study.assignments.filter(rater__username="rater1", kind="study").first()
    services.rating_save(assignment=fresh, question=study.questions.get(), answer=3)
    for n, assignment in enumerate(study.assignments.filter(ratings__isnull=False).distinct()):
        if n % 3:
            services.assignment_add_time(assignment=assignment, elapsed_ms=1000 + 250 * n)
    return _unzipped(build(study), tmp_path / "demo")


@pytest.fixture
def pairwise_three_sources(study_admin, raters, settings, tmp_path) -> Study:
    """Three sources compared two at a time: Bradley-Terry strengths, and a pair per test."""
    settings.EXPORT_DIR = tmp_path / "exports"
    study = make_pairwise_study(study_admin, raters)
    question = study.questions.get()
    rank = {"Expert": 0, "Model-A": 1, "Model-B": 2}
    for n, assignment in enumerate(
        Assignment.objects.filter(study=study).select_related(
            "item__output__source", "item__output_b__source"
        )
    ):
        first, second = assignment.item.output.source.label, assignment.item.output_b.source.label
        canonical = 0 if n % 5 == 0 else (1 if rank[first] < rank[second] else -1)
        shown = -canonical if assignment.flipped else canonical
        services.rating_save(assignment=assignment, question=question, answer=shown)
    submit_rated(study)
    compute(study)
    return study


def _unzipped(archive: zipfile.ZipFile, into: Path) -> Path:
    archive.extractall(into)
    return into


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _package(folder: Path) -> dict:
    return json.loads((folder / "datapackage.json").read_text())


def test_frictionless_validate_accepts_the_demo_bundle(demo_bundle):
    package = _package(demo_bundle)
    names = {resource["path"] for resource in package["resources"]}
    assert names == {"ratings.csv", "unblinding.csv", "questions.csv", "agreement.csv"} | {
        "comparison.csv"
    }
    report = _validate(demo_bundle)
    assert report["valid"] is True, _errors(report)[:10]
    assert len(report["tasks"]) == 5


def _validate(folder: Path) -> dict:
    done = subprocess.run(
        [str(FRICTIONLESS), "validate", "--json", "datapackage.json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(done.stdout)
    assert (done.returncode == 0) == report["valid"]
    return report


def _errors(report: dict) -> list:
    return [(t["name"], e["type"], e["note"]) for t in report["tasks"] for e in t["errors"]]


def test_a_judged_pairwise_bundle_is_valid_too(study_admin, raters, settings, tmp_path):
    # Flipped pairs, a pairwise scale, and judge_diagnostics.csv and judge_calls.csv, its
    # sixth and seventh files.
    settings.EXPORT_DIR = tmp_path / "exports"
    study = make_pairwise_study(study_admin, raters)
    question = study.questions.get()
    for n, assignment in enumerate(study.assignments.order_by("pk")):
        services.rating_save(assignment=assignment, question=question, answer=(n % 3) - 1)
    submit_rated(study)
    judged_by(study, "GPT-judge", "gpt-4o", lambda item: 1.0)
    compute(study)
    folder = _unzipped(build(study), tmp_path / "judged")
    report = _validate(folder)
    assert report["valid"] is True, _errors(report)[:10]
    assert len(report["tasks"]) == 7
    assert {r["flipped"] for r in _rows(folder / "ratings.csv")} == {"TRUE", "FALSE"}
    assert _rows(folder / "judge_diagnostics.csv")


def test_a_broken_file_fails_frictionless_validate(demo_bundle):
    # The check can fail: a boolean the schema does not know, and a kind outside its enum.
    path = demo_bundle / "ratings.csv"
    text = path.read_text().replace(",TRUE,", ",yes,", 1).replace(",study,", ",studyy,", 1)
    path.write_text(text)
    report = _validate(demo_bundle)
    assert report["valid"] is False
    found = {error["type"] for task in report["tasks"] for error in task["errors"]}
    assert {"type-error", "constraint-error"} <= found


def test_every_file_has_the_columns_the_dictionary_and_the_package_describe(demo_bundle):
    package = _package(demo_bundle)
    dictionary = (demo_bundle / "data_dictionary.md").read_text()
    for resource in package["resources"]:
        table = next(t for t in columns.BUNDLE_TABLES if t.path == resource["path"])
        with (demo_bundle / table.path).open(newline="") as f:
            header = next(csv.reader(f))
        assert header == table.names == [f["name"] for f in resource["schema"]["fields"]]
        assert f"## `{table.path}`" in dictionary
        for column in table.columns:
            assert f"| `{column.name}` | {column.type} |" in dictionary, column.name
    assert columns.R_TIMESTAMP in dictionary
    assert columns.PANDAS_TIMESTAMP in dictionary
    from annotation.selectors.judges import DIAGNOSTIC_COLUMNS

    assert columns.JUDGE_DIAGNOSTICS.names == DIAGNOSTIC_COLUMNS


def test_ratings_write_booleans_timestamps_and_time_on_task(demo_bundle):
    ratings = _rows(demo_bundle / "ratings.csv")
    assert {r["submitted"] for r in ratings} == {"TRUE", "FALSE"}
    assert {r["flipped"] for r in ratings} == {"FALSE"}  # an absolute study shows no pairs
    for row in ratings:
        assert TIMESTAMP.match(row["first_saved_at"]), row["first_saved_at"]
        assert TIMESTAMP.match(row["last_saved_at"])
    study = Study.objects.get(title=load_demo().study.title)
    raters = {v: k for k, v in study_rater_pseudonyms(study=study).items()}
    recorded = {
        (a.item.token, a.rater_id, a.kind): a.time_on_task_ms  # a repeat is a second visit
        for a in study.assignments.select_related("item")
    }
    timed = [r for r in ratings if r["time_on_task_seconds"]]
    assert 0 < len(timed) < len(ratings)  # some recorded, the rest empty
    for row in ratings:
        ms = recorded[(row["item_token"], raters[row["rater"]], row["kind"])]
        assert row["time_on_task_seconds"] == (str(ms / 1000) if ms else ""), row


def test_every_csv_of_the_api_writes_booleans_and_timestamps_alike(client, open_study, raters):
    from tests.test_api import auth, body_text

    question = open_study.questions.get()
    assignment = open_study.assignments.filter(rater=raters[0]).first()
    services.rating_save(assignment=assignment, question=question, answer=4)
    admin = open_study.memberships.get(role="admin").user
    for table in ("ratings", "rating-history"):
        url = f"/api/v1/studies/{open_study.token}/{table}/?format=csv"
        response = client.get(url, headers=auth(admin))
        assert response.status_code == 200, url
        found = list(csv.DictReader(io.StringIO(body_text(response))))
        assert found, url
        for row in found:
            moments = [v for k, v in row.items() if k.endswith("_at")]
            assert moments
            assert all(TIMESTAMP.match(m) for m in moments), row
    [row] = list(
        csv.DictReader(
            io.StringIO(
                body_text(
                    client.get(
                        f"/api/v1/studies/{open_study.token}/ratings/?format=csv",
                        headers=auth(admin),
                    )
                )
            )
        )
    )
    assert (row["flipped"], row["submitted"]) == ("FALSE", "FALSE")
    # The JSON pages: JSON booleans, and the same timestamps.
    [page_row] = client.get(
        f"/api/v1/studies/{open_study.token}/ratings/", headers=auth(admin)
    ).json()["results"]
    assert page_row["submitted"] is False
    assert page_row["first_saved_at"] == row["first_saved_at"]


def test_csv_cells_are_written_as_r_and_pandas_read_them():
    moment = datetime(2026, 12, 4, 19, 0, 58, 123456, tzinfo=UTC)
    text = tables.to_csv(
        [{"a": True, "b": False, "c": moment, "d": "=1+1", "e": None, "f": 1.5}],
        ["a", "b", "c", "d", "e", "f"],
    )
    assert text.splitlines()[1] == "TRUE,FALSE,2026-12-04T19:00:58Z,'=1+1,,1.5"


def _pairwise_bundle_rows(study, tmp_path) -> list[dict]:
    folder = _unzipped(build(study), tmp_path / "pairwise")
    return _rows(folder / "comparison.csv")


def test_comparison_splits_each_pair_and_gives_its_effect_size(pairwise_three_sources, tmp_path):
    study = pairwise_three_sources
    found = _pairwise_bundle_rows(study, tmp_path)
    keys = [(r["question"], r["statistic"], r["source_a"], r["source_b"]) for r in found]
    assert len(keys) == len(set(keys))  # no row twice
    labels = {"Expert", "Model-A", "Model-B"}
    assert {r["source_a"] for r in found} <= labels | {""}
    assert {r["source_b"] for r in found} <= labels | {""}
    assert not any(" vs " in r["source_a"] for r in found)
    # Bradley-Terry: one log-strength and one probability per source; the result's own value,
    # the log-strength again, is not a row of its own.
    strengths = [r for r in found if r["statistic"].startswith("bradley_terry")]
    assert sorted((r["statistic"], r["source_a"]) for r in strengths) == sorted(
        (f"bradley_terry:{key}", source)
        for key in ("log_strength", "beats_average")
        for source in labels
    )
    assert {r["source_b"] for r in strengths} == {""}
    stored = {r.source: r for r in Result.objects.filter(study=study, statistic="bradley_terry")}
    for row in strengths:
        if row["statistic"] == "bradley_terry:log_strength":
            assert float(row["value"]) == pytest.approx(stored[row["source_a"]].value)
        assert row["effect_size"] == row["effect_kind"] == ""
    by = {(r["statistic"], r["source_a"], r["source_b"]): r for r in found}
    for (statistic, first, second), row in by.items():
        if not second:
            continue
        stored = Result.objects.get(
            study=study, statistic=statistic.split(":")[0], source=f"{first} vs {second}"
        )
        if statistic == "wilcoxon":
            assert float(row["effect_size"]) == pytest.approx(stored.detail["median_difference"])
            assert row["effect_kind"] == columns.MEDIAN_DIFFERENCE
        elif statistic == "sign_test":
            positive, negative = stored.detail["n_positive"], stored.detail["n_negative"]
            assert float(row["effect_size"]) == pytest.approx(positive / (positive + negative))
            assert row["effect_kind"] == columns.POSITIVE_SHARE
        elif statistic == "win_tie_loss:win":
            assert row["effect_size"] == row["value"]
            assert row["effect_kind"] == columns.WIN_SHARE
        elif statistic == "score_summary:mean":
            assert row["effect_size"] == row["value"]
            assert row["effect_kind"] == columns.MEAN_PREFERENCE
        elif statistic in ("win_tie_loss:tie", "win_tie_loss:loss"):
            assert row["effect_size"] == row["effect_kind"] == ""
    # Expert is the best of the three: it wins most of its comparisons with Model-B.
    assert float(by[("win_tie_loss:win", "Expert", "Model-B")]["effect_size"]) > 0.5


def test_a_label_holding_vs_is_split_where_both_halves_are_labels():
    from annotation.selectors.exports import split_pair

    labels = {"GPT vs Claude", "Expert", "B"}
    assert split_pair("GPT vs Claude vs Expert", labels) == ("GPT vs Claude", "Expert")
    assert split_pair("Expert vs GPT vs Claude", labels) == ("Expert", "GPT vs Claude")
    assert split_pair("GPT vs Claude", labels) == ("GPT vs Claude", "")
    assert split_pair("", labels) == ("", "")


def test_paired_tests_carry_the_difference(rated_absolute, tmp_path):
    found = _rows(_unzipped(build(rated_absolute), tmp_path / "abs") / "comparison.csv")
    by = {(r["statistic"], r["source_a"], r["source_b"]): r for r in found}
    wilcoxon = by[("wilcoxon", HUMAN, MODEL)]
    # The human reference scored 2, the model 4: human minus model is -2 in every case.
    assert float(wilcoxon["effect_size"]) == pytest.approx(-2.0)
    assert wilcoxon["effect_kind"] == "median difference"
    assert float(by[("sign_test", HUMAN, MODEL)]["effect_size"]) == pytest.approx(0.0)
    # Per-source summaries compare nothing: no effect size.
    assert by[("score_summary:mean", MODEL, "")]["effect_size"] == ""


@pytest.fixture
def crossed_study(study_admin, raters, settings, tmp_path) -> Study:
    """Every reader read every case under both sources: MRMC has its differences."""
    settings.EXPORT_DIR = tmp_path / "exports"
    readers = [*raters, UserFactory(username="rater4")]
    study = make_study(study_admin, readers, raters_per_item=len(readers))
    rate_everything(study)
    compute(study)
    return study


def test_mrmc_and_mcnemar_rows_carry_the_difference(crossed_study, tmp_path):
    found = _rows(_unzipped(build(crossed_study), tmp_path / "mrmc") / "comparison.csv")
    by = {(r["question"], r["statistic"]): r for r in found if r["source_b"]}
    first, second = MRMC_PAIR.split(" vs ")
    kinds = {"overall": columns.MEAN_DIFFERENCE, "safe": columns.PROPORTION_DIFFERENCE}
    for question, kind in kinds.items():
        stored = Result.objects.get(
            study=crossed_study, question__key=question, statistic="mrmc", source=MRMC_PAIR
        )
        difference = stored.detail["random_both"]["value"]
        assert difference is not None
        test = by[(question, "mrmc")]
        assert (test["source_a"], test["source_b"]) == (first, second)
        assert float(test["value"]) == pytest.approx(stored.value)  # the p
        assert float(test["effect_size"]) == pytest.approx(difference)
        assert test["effect_kind"] == kind
        for key in ("random_both", "fixed_readers", "fixed_cases"):
            row = by[(question, f"mrmc:{key}")]
            assert float(row["effect_size"]) == pytest.approx(stored.detail[key]["value"])
            assert row["effect_size"] == row["value"]
            assert row["effect_kind"] == kind
            assert row["interval_question"] == stored.detail[key]["interval_question"]
    mcnemar = Result.objects.get(study=crossed_study, statistic="mcnemar", source=MRMC_PAIR)
    row = by[("safe", "mcnemar")]
    b, c = mcnemar.detail["b"], mcnemar.detail["c"]
    assert row["effect_size"] == (str(b / c) if c else "")
    assert row["effect_kind"] == (columns.ODDS_RATIO if c else "")


@pytest.fixture
def rated_absolute(open_study, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"
    question = open_study.questions.get()
    for assignment in open_study.assignments.select_related("item__output__source"):
        value = 4 if assignment.item.output.source.label == MODEL else 2
        services.rating_save(assignment=assignment, question=question, answer=value)
    submit_rated(open_study)
    compute(open_study)
    return open_study


def test_questions_csv_describes_each_question(draft_study, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"
    drafts = [
        rubric.QuestionDraft(
            key="safe",
            prompt="Is it safe?",
            kind=rubric.YES_NO,
            level="nominal",
            allow_na=True,
        ),
        rubric.QuestionDraft(
            key="tone",
            prompt="Its tone",
            kind=rubric.SINGLE_CHOICE,
            level="nominal",
            scale=({"value": "warm", "label": "Warm, kind"}, {"value": "cold", "label": "Cold"}),
        ),
        rubric.QuestionDraft(
            key="notes", prompt="Anything else?", kind=rubric.TEXT, level="", required=False
        ),
    ]
    for draft in drafts:
        services.question_add(study=draft_study, draft=draft)
    folder = _unzipped(build(draft_study), tmp_path / "q")
    found = {r["question"]: r for r in _rows(folder / "questions.csv")}
    overall = found["overall"]
    likert = draft_study.questions.get(key="overall")
    assert overall["prompt"] == likert.prompt
    assert (overall["kind"], overall["level"], overall["na_offered"]) == (
        "likert",
        likert.level,
        "TRUE" if likert.allow_na else "FALSE",
    )
    points = [f"{p['value']}={p['label']}" for p in likert.scale]
    assert overall["scale"] == "|".join(points)
    assert overall["scale_values"] == "|".join(str(p["value"]) for p in likert.scale)
    safe = found["safe"]
    assert safe["na_offered"] == "TRUE"
    assert safe["scale"].split("|")[0].split("=")[0] in ("yes", "no")
    answers = dict(p.split("=", 1) for p in safe["scale"].split("|"))
    codes = dict(zip(answers, safe["scale_values"].split("|"), strict=True))
    assert codes == {"yes": "1", "no": "0"}
    tone = found["tone"]
    assert tone["scale"] == "warm=Warm, kind|cold=Cold"
    assert tone["scale_values"] == "0|1"
    assert json.loads(tone["scale_json"]) == [
        {"answer": "warm", "value": 0.0, "label": "Warm, kind"},
        {"answer": "cold", "value": 1.0, "label": "Cold"},
    ]
    notes = found["notes"]
    assert (notes["scale"], notes["scale_json"], notes["level"]) == ("", "[]", "")
    assert notes["required"] == "FALSE"


R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
folder <- args[1]
for (name in list.files(folder, pattern = "\\.csv$")) {
  d <- read.csv(file.path(folder, name))
  for (column in names(d)) {
    x <- d[[column]]
    parsed <- NA
    if (grepl("_at$", column)) {
      moments <- R_TIMESTAMP
      parsed <- paste(sum(is.na(moments)), format(as.numeric(moments[1]), scientific = FALSE))
    }
    cat(name, column, class(x)[1], sum(is.na(x)), nrow(d), parsed, sep = "\t")
    cat("\n")
  }
}
"""

R_CLASSES = {
    columns.BOOLEAN: {"logical"},
    columns.INTEGER: {"integer"},
    columns.NUMBER: {"numeric", "integer"},
    columns.STRING: {"character"},
    columns.DATETIME: {"character"},
}


def _rscript() -> str:
    found = shutil.which("Rscript")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("Rscript is missing: .ci/run installs Debian's r-base-core")
    pytest.skip("Rscript is not installed (CI installs it)")


def test_base_r_reads_every_csv_with_the_declared_types(demo_bundle, tmp_path):
    script = tmp_path / "read.R"
    script.write_text(R_SCRIPT.replace("R_TIMESTAMP", columns.R_TIMESTAMP))  # the documented call
    done = subprocess.run(
        [_rscript(), "--vanilla", str(script), str(demo_bundle)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    seen = {}
    for line in done.stdout.splitlines():
        name, column, klass, missing, rows, parsed = line.split("\t")
        seen[(name, column)] = (klass, int(missing), int(rows), parsed)
    checked = 0
    for table in columns.BUNDLE_TABLES:
        if not (demo_bundle / table.path).exists():
            continue
        for column in table.columns:
            klass, missing, rows, parsed = seen[(table.path, column.name)]
            if column.type == columns.ANY or rows == 0 or missing == rows:
                continue  # a column empty throughout is logical NA in R, as documented
            assert klass in R_CLASSES[column.type], (table.path, column.name, klass)
            checked += 1
            if column.type == columns.DATETIME:
                failed, first = parsed.split(" ")
                assert failed == "0", (table.path, column.name)
                value = _rows(demo_bundle / table.path)[0][column.name]
                moment = datetime.strptime(value, columns.TIMESTAMP_FORMAT).replace(tzinfo=UTC)
                assert float(first) == moment.timestamp()
    assert seen[("ratings.csv", "submitted")][0] == "logical"
    assert seen[("ratings.csv", "time_on_task_seconds")][0] == "numeric"
    assert checked > 40


def test_pandas_reads_every_csv_with_the_declared_types(demo_bundle):
    checked = 0
    for resource in _package(demo_bundle)["resources"]:
        frame = pd.read_csv(demo_bundle / resource["path"])
        for field in resource["schema"]["fields"]:
            series = frame[field["name"]]
            if field["type"] == "any" or series.isna().all():
                continue
            kind = field["type"]
            where = (resource["path"], field["name"], series.dtype)
            if kind == "boolean":
                assert pd.api.types.is_bool_dtype(series), where
            elif kind == "integer":
                # pandas has no missing integer by default: float64 when a cell is empty.
                assert pd.api.types.is_integer_dtype(series) or (
                    series.isna().any() and pd.api.types.is_float_dtype(series)
                ), where
            elif kind == "number":
                assert pd.api.types.is_numeric_dtype(series), where
                assert not pd.api.types.is_bool_dtype(series), where
            elif kind in ("string", "datetime"):
                assert pd.api.types.is_string_dtype(series), where
            if kind == "datetime":
                moments = pd.to_datetime(series, format=columns.TIMESTAMP_FORMAT, utc=True)
                assert moments.notna().all()
                first = datetime.strptime(series.iloc[0], columns.TIMESTAMP_FORMAT)
                assert moments.iloc[0] == pd.Timestamp(first.replace(tzinfo=UTC))
            if "constraints" in field:
                assert set(series.dropna().astype(str)) <= set(field["constraints"]["enum"])
            checked += 1
    assert checked > 40


def test_the_docs_data_dictionary_is_the_bundles():
    written = (Path(__file__).resolve().parents[1] / "docs" / "data-dictionary.md").read_text()
    assert written == tables.data_dictionary(), (
        "docs/data-dictionary.md is out of date: write it again with .venv/bin/python -c "
        "\"from annotation.core import tables; print(tables.data_dictionary(), end='')\" "
        "> docs/data-dictionary.md"
    )


def test_methods_give_each_raters_median_time_on_task_and_its_iqr(demo_bundle):
    study = Study.objects.get(title=load_demo().study.title)
    names = study_rater_pseudonyms(study=study)
    seconds: dict[str, list[float]] = {}
    unrecorded = 0
    for a in study.assignments.filter(kind="study", submitted_at__isnull=False):
        if a.time_on_task_ms:
            seconds.setdefault(names[a.rater_id], []).append(a.time_on_task_ms / 1000)
        else:
            unrecorded += 1
    assert len(seconds) >= 2
    assert unrecorded > 0
    methods = (demo_bundle / "methods.md").read_text()
    for rater, found in seconds.items():
        q1, median, q3 = statistics.quantiles(found, n=4, method="inclusive")
        n = len(found)
        expected = f"{rater} {median:.1f} s (IQR {q1:.1f} to {q3:.1f} s, {n} items)"
        assert expected in methods, expected
    assert f"{unrecorded} submitted items have no time recorded" in methods
