"""The bundle's files for statistics packages and its provenance files: ratings.sav and
ratings.dta read back by ReadStat with their variable and value labels, read_bundle.R run by
base R giving the declared types and labelled factors, and generations.csv and judge_calls.csv
with every call's provenance, valid in the data package."""

import csv
import json
import subprocess
from pathlib import Path

import numpy as np
import pyreadstat
import pytest

from annotation import services
from annotation.core import columns, rubric, stat_files
from annotation.demo import load_demo
from annotation.models import Generation, JudgeVerdict
from tests.factories import submit_rated
from tests.support.fake_llm import Reply
from tests.test_api_provenance import _expected_hash, fetched  # noqa: F401 (a fixture)
from tests.test_bundle import build
from tests.test_bundle_files import _errors, _rscript, _validate
from tests.test_judges import _judge, _run

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path):
    """The demo study and its bundle, unzipped."""
    settings.EXPORT_DIR = tmp_path / "exports"
    study = load_demo().study
    folder = tmp_path / "demo"
    build(study).extractall(folder)
    return study, folder


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _scale(folder: Path) -> tuple[str, dict]:
    """The demo's one question: its key and its scale (value code -> label)."""
    (question,) = _rows(folder / "questions.csv")
    scale = {float(p["value"]): p["label"] for p in json.loads(question["scale_json"])}
    return question["question"], scale


def _expected_values(folder: Path, key: str) -> dict:
    """ratings.csv's values of the question, by (item, rater, kind)."""
    return {
        (r["item_token"], r["rater"], r["kind"]): float(r["value"]) if r["value"] else None
        for r in _rows(folder / "ratings.csv")
        if r["question"] == key
    }


@pytest.mark.parametrize("name", [stat_files.SAV, stat_files.DTA])
def test_spss_and_stata_files_hold_the_ratings_with_their_labels(demo, name):
    study, folder = demo
    key, scale = _scale(folder)
    assert len(scale) >= 3
    read = pyreadstat.read_sav if name == stat_files.SAV else pyreadstat.read_dta
    frame, meta = read(str(folder / name))
    variable = stat_files.question_variables(
        [{"question": key, "prompt": "", "kind": rubric.LIKERT, "scale_json": "[]"}]
    )[0].name
    assert list(frame.columns) == [*stat_files.KEYS, *stat_files.ROW_FACTS, variable]
    # Value labels: the scale's, on the codes ratings.csv's `value` holds.
    labels = meta.variable_value_labels[variable]
    assert {float(code): label for code, label in labels.items()} == scale
    assert meta.variable_value_labels["submitted"] == {0: "No", 1: "Yes"}
    # Variable labels: the question's prompt, and the data dictionary's words.
    prompt = study.questions.get().prompt
    assert meta.column_names_to_labels[variable].startswith(f"[{key}] {prompt[:20]}")
    assert meta.column_names_to_labels["rater"].startswith("the rater's pseudonym")
    assert all(len(label) <= stat_files.LABEL_LIMIT for label in meta.column_labels)
    # Every rating, where ratings.csv has it.
    expected = _expected_values(folder, key)
    records = frame.to_dict("records")
    found = {
        (row["item_token"], row["rater"], row["kind"]): (
            None if row[variable] != row[variable] else float(row[variable])  # NaN: missing
        )
        for row in records
    }
    assert found == expected
    assert len(frame) == len(expected) > 10
    submitted = {
        (r["item_token"], r["rater"], r["kind"]): r["submitted"] == "TRUE"
        for r in _rows(folder / "ratings.csv")
    }
    assert {
        (row["item_token"], row["rater"], row["kind"]): row["submitted"] == 1 for row in records
    } == submitted


def test_the_same_study_gives_the_same_bytes(demo, tmp_path):
    study, folder = demo
    again = build(study)
    for name in (stat_files.SAV, stat_files.DTA, stat_files.R_SCRIPT):
        assert again.read(name) == (folder / name).read_bytes(), name


R_CHECK = r"""
args <- commandArgs(trailingOnly = TRUE)
setwd(args[[1]])
source("read_bundle.R")
key <- args[[2]]
labelled <- bundle$rating_labels[[key]]$label
cat("levels", paste(levels(labelled), collapse = "|"), "\n", sep = "\t")
cat("first", as.character(labelled[!is.na(labelled)][1]), "\n", sep = "\t")
first_value <- bundle$rating_labels[[key]]$value[!is.na(labelled)][1]
cat("first_value", first_value, "\n", sep = "\t")
cat("case_id", class(bundle$unblinding$case_id), "\n", sep = "\t")
cat("submitted", class(bundle$ratings$submitted), "\n", sep = "\t")
cat("first_saved_at", class(bundle$ratings$first_saved_at)[1], "\n", sep = "\t")
cat("kind", class(bundle$ratings$kind), paste(levels(bundle$ratings$kind), collapse = "|"),
    "\n", sep = "\t")
cat("revisions", class(bundle$ratings$revisions), "\n", sep = "\t")
cat("tables", paste(sort(names(bundle)), collapse = "|"), "\n", sep = "\t")
"""


def test_the_r_script_reads_every_file_with_its_types_and_labelled_factors(demo, tmp_path):
    study, folder = demo
    key, scale = _scale(folder)
    script = tmp_path / "check.R"
    script.write_text(R_CHECK)
    done = subprocess.run(
        [_rscript(), "--vanilla", str(script), str(folder), key],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    seen = {}
    for line in done.stdout.splitlines():
        name, *values = line.rstrip("\t").split("\t")
        seen[name] = [v for v in values if v]
    assert seen["levels"] == ["|".join(scale[code] for code in sorted(scale))]
    assert seen["first"] == [scale[float(seen["first_value"][0])]]
    assert seen["case_id"] == ["character"]  # "1", "2" stay ids, not numbers
    assert seen["submitted"] == ["logical"]
    assert seen["first_saved_at"] == ["POSIXct"]
    assert seen["kind"] == ["factor", "|".join(columns.ASSIGNMENT_KINDS)]
    assert seen["revisions"] == ["integer"]
    package = json.loads((folder / "datapackage.json").read_text())
    stems = {resource["name"] for resource in package["resources"]}
    assert seen["tables"] == ["|".join(sorted(stems | {"scales", "rating_labels"}))]


def test_the_r_script_runs_on_its_own_too(demo):
    _, folder = demo
    done = subprocess.run(
        [_rscript(), "--vanilla", "read_bundle.R", "."],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "ratings :" in done.stdout


def test_question_keys_become_names_stata_and_spss_accept():
    keys = ["fluency", "1st-score", "in", "Fluency", "x" * 40, "x" * 40 + "y", "rater"]
    questions = [
        {"question": key, "prompt": "How? " * 30, "kind": rubric.LIKERT, "scale_json": "[]"}
        for key in keys
    ]
    names = [v.name for v in stat_files.question_variables(questions)]
    assert names[:4] == ["fluency", "q_1st_score", "q_in", "q_Fluency"]
    assert names[4] == "x" * 32
    assert names[5] == "x" * 30 + "_2"
    assert names[6] == "q_rater"  # not the key column it would shadow
    assert len({name.lower() for name in names}) == len(names)
    labels = [v.label for v in stat_files.question_variables(questions)]
    assert all(len(label) <= stat_files.LABEL_LIMIT for label in labels)
    assert labels[0].startswith("[fluency] How? How?")
    assert labels[0].endswith("...")


def test_r_strings_are_ascii_escapes_of_any_label():
    assert stat_files._r_string('Sehr "gut"\\ é 😀') == (
        '"Sehr \\"gut\\"\\\\ \\u{00e9} \\U{0001f600}"'
    )


# --- generations.csv and judge_calls.csv -------------------------------------------------------


def test_generations_and_judge_calls_are_in_the_bundle_as_stored(
    fetched,  # noqa: F811
    fake_llm,
    settings,
    tmp_path,
):
    settings.EXPORT_DIR = tmp_path / "exports"
    study = fetched
    services.study_open(study=study)
    key = study.questions.get().key
    fake_llm.set_default(Reply(json.dumps({"rationale": "", key: 4})))
    judge = _judge(study, fake_llm)
    assert _run(judge).status == "succeeded"
    for n, assignment in enumerate(study.assignments.order_by("pk")):
        services.rating_save(
            assignment=assignment, question=study.questions.get(), answer=1 + n % 5
        )
    submit_rated(study)

    archive = build(study)
    folder = tmp_path / "bundle"
    archive.extractall(folder)
    report = _validate(folder)
    assert report["valid"] is True, _errors(report)[:10]

    rows = _rows(folder / "generations.csv")
    assert list(rows[0]) == columns.GENERATIONS.names
    generations = Generation.objects.filter(case__study=study)
    assert len(rows) == generations.count() == 3
    for row in rows:
        stored = generations.get(case__external_id=row["case_id"])
        assert row["source"] == "Echo-70B"
        assert row["model_requested"] == "echo-70b"
        assert row["model_version"] == stored.model_version
        assert row["response_id"] == stored.response_id != ""
        assert int(row["prompt_tokens"]) == stored.prompt_tokens
        assert float(row["latency_seconds"]) == stored.latency_ms / 1000
        assert row["prompt_sha256"] == _expected_hash(stored.request)
        assert json.loads(row["served_headers"]) == stored.served_headers
        assert int(row["retries"]) == len(stored.retries)
    assert sorted(int(r["retries"]) for r in rows) == [0, 0, 1]

    calls = _rows(folder / "judge_calls.csv")
    assert list(calls[0]) == columns.JUDGE_CALLS.names
    verdicts = JudgeVerdict.objects.filter(judge=judge)
    assert len(calls) == verdicts.count() > 0
    assert {(c["judge"], c["model_requested"], c["outcome"]) for c in calls} == {
        ("GPT-judge", "judge-1", "ok")
    }
    tokens = {v.item.token: v.prompt_tokens for v in verdicts.select_related("item")}
    assert {c["item_token"]: int(c["prompt_tokens"]) for c in calls} == tokens

    dictionary = (folder / "data_dictionary.md").read_text()
    assert "## `generations.csv`" in dictionary
    assert "## `judge_calls.csv`" in dictionary
    assert "## `ratings.sav` and `ratings.dta`" in dictionary


def test_a_study_without_calls_has_no_call_files(demo):
    _, folder = demo
    assert not (folder / "generations.csv").exists()
    assert not (folder / "judge_calls.csv").exists()
    assert (folder / stat_files.SAV).exists()


def _na_files(tmp_path) -> dict:
    """A pairwise and a number question, each answered `na` once, written as both files."""
    pairwise = [{"answer": v, "value": v, "label": f"pref {v}"} for v in (-1, 0, 1)]

    def question(key: str, kind: str, minimum, scale: list) -> dict:
        return {"question": key, "prompt": f"{key}?", "kind": kind, "minimum": minimum} | {
            "na_offered": True,
            "scale_json": json.dumps(scale),
        }

    questions = [
        question("pref", rubric.PAIRWISE, None, pairwise),
        question("dose", rubric.NUMBER, 0, []),
        question("free", rubric.NUMBER, None, []),
    ]
    variables = stat_files.question_variables(questions)
    base = {"item_token": "i1", "kind": "study", "output_slot": "", "flipped": False}
    base |= {"shown_order": "", "submitted": True, "time_on_task_seconds": 2.5}
    ratings = [
        base | {"rater": "R1", "question": "pref", "answer": -1, "value": -1.0},
        base | {"rater": "R1", "question": "dose", "answer": 5, "value": 5.0},
        base | {"rater": "R2", "question": "pref", "answer": "na", "value": None},
        base | {"rater": "R2", "question": "dose", "answer": "na", "value": None},
        base | {"rater": "R2", "question": "free", "answer": "na", "value": None},
    ]
    frame = stat_files.ratings_frame(ratings, variables)
    paths = {}
    for name, write in (
        (stat_files.SAV, stat_files.sav_bytes),
        (stat_files.DTA, stat_files.dta_bytes),
    ):
        paths[name] = tmp_path / name
        paths[name].write_bytes(write(frame, variables, file_label="Test"))
    return paths


def test_not_applicable_is_a_labelled_missing_value_in_both_files(tmp_path):
    paths = _na_files(tmp_path)
    frame, meta = pyreadstat.read_sav(str(paths[stat_files.SAV]), user_missing=True)
    assert frame["rater"].tolist() == ["R1", "R2"]
    assert frame["pref"].tolist() == [-1.0, -99.0]
    assert frame["dose"].tolist() == [5.0, -99.0]
    assert frame["free"].isna().tolist() == [True, True]  # no code can be safe: system missing
    assert meta.missing_ranges["pref"] == [{"lo": -99.0, "hi": -99.0}]
    assert meta.variable_value_labels["pref"][-99.0] == "Not applicable"
    assert meta.variable_value_labels["pref"][-1.0] == "pref -1"
    plain, _ = pyreadstat.read_sav(str(paths[stat_files.SAV]))
    assert plain["pref"].isna().tolist() == [False, True]  # missing to any analysis

    frame, meta = pyreadstat.read_dta(str(paths[stat_files.DTA]), user_missing=True)
    assert frame["pref"].tolist() == [-1.0, "a"]
    assert frame["free"].tolist()[1] == "a"
    assert meta.variable_value_labels["pref"] == {-1: "pref -1", 0: "pref 0", 1: "pref 1"} | {
        "a": "Not applicable"
    }
    assert frame["time_on_task_seconds"].tolist() == [2.5, 2.5]


def _rating(item: str, rater: str, question: str, answer, value) -> tuple:
    """A row of ratings.csv as `RatingsColumns.add` takes it (`columns.RATINGS` order)."""
    fixed = (False, "", "", "study", None, None, 0, True, 2.5, 1, None, None)
    return (item, rater, question, answer, value, *fixed)


def _coded(rows: list[tuple]) -> stat_files.CodedRatings:
    """Rows of ratings.csv as `RatingsColumns.add_coded` takes them: every answer given."""
    columns = list(zip(*rows, strict=True))

    def texts(values) -> tuple[list, np.ndarray]:
        found: dict = {}
        at = [found.setdefault(value, len(found)) for value in values]
        return list(found), np.array(at, dtype=np.intp)

    values = columns[4]
    return stat_files.CodedRatings(
        texts={
            "item": texts(columns[0]),
            "rater": texts(columns[1]),
            "kind": texts(columns[8]),
            "shown": texts(columns[6]),
        },
        question=texts(columns[2]),
        slot=np.array([-1 if slot == "" else slot for slot in columns[7]]),
        flipped=np.array(columns[5], dtype="u1"),
        submitted=np.array(columns[12], dtype="u1"),
        session=np.array([session or 0 for session in columns[14]]),
        seconds=np.array([np.nan if s is None else s for s in columns[13]], dtype=float),
        values=np.array([np.nan if v is None else v for v in values], dtype=float),
        value_missing=np.array([v is None for v in values]),
        answer_at=np.arange(len(rows)),
        answers=list(columns[3]),
    )


SCORE = stat_files.Variable("score", "score", "Score", True, {1: "Low", 5: "High"}, -99)
NOTE = stat_files.Variable("note", "note", "Note", False, {})


def test_each_row_holds_its_last_answer_to_each_question_as_given():
    """A row per item and rater, each question's cell from its last rating: floats as floats,
    "na" and a missing value as they are, texts as texts; a question with no variable is
    left out. Gathered a row or a batch at a time, the same frame."""
    rows = [
        _rating("A", "R1", "score", 4, 4.0),
        _rating("A", "R1", "note", "fine", None),
        _rating("A", "R2", "score", rubric.NA, None),
        _rating("B", "R1", "score", "?", None),
        _rating("B", "R2", "score", 2, 2.0),
        _rating("B", "R2", "score", rubric.NA, None),  # the last of two: "na"
        _rating("C", "R1", "score", rubric.NA, None),
        _rating("C", "R1", "score", 3, 3.0),  # the last of two: 3.0
        _rating("C", "R2", "other", 1, 1.0),  # no variable: a row with no answers
    ]
    one_by_one = stat_files.RatingsColumns([SCORE, NOTE])
    for row in rows:
        one_by_one.add(row)
    batch = stat_files.RatingsColumns([SCORE, NOTE])
    batch.add_coded(_coded(rows))
    frame = one_by_one.frame()
    assert frame["score"].tolist() == [4.0, "na", None, "na", 3.0, None]
    assert frame["note"].tolist() == ["fine", "", "", "", "", ""]
    assert frame.equals(batch.frame())
    floats = stat_files.RatingsColumns([SCORE])
    floats.add_coded(_coded([*rows[:2], rows[4], rows[7]]))
    frame = floats.frame()
    assert frame["score"].dtype == "float64"  # floats only: no object per cell
    assert frame["score"].tolist()[:2] == [4.0, 2.0]
    assert frame["score"].isna().tolist() == [False, False, False]


def test_a_float_answer_is_kept_without_an_object():
    """A million ratings' cells held until ratings.sav is made: a float answer takes 8 bytes,
    where a float object and its place in a list took 32 (issue 22, the bundle's peak)."""
    import gc
    import tracemalloc

    n = 100_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        rows = [_rating(f"I{i // 20}", f"R{i % 20}", "score", 3, float(i)) for i in range(n)]
        columns = stat_files.RatingsColumns([SCORE])
        columns.add_coded(_coded(rows))
        del rows
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # 56 bytes a rating (the arrays of ids, slot, flags, seconds, session and the cell, the
    # texts' dicts); a float object per cell made it 80.
    assert kept / n < 68
