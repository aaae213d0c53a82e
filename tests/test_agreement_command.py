"""`manage.py agreement FILE.csv` and `python -m annotation.core.stats agreement FILE.csv`:
agreement for ratings collected anywhere, as one JSON object, with no settings or secret."""

import io
import json
import os
import re
import shlex
import subprocess
import sys

import krippendorff
import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from scipy import stats as scipy_stats

from annotation.core.stats import coefficients
from annotation.core.stats.cli import INTERVAL_QUESTIONS
from annotation.core.stats.data import Observation, ratings_from
from annotation.core.stats.names import RATERS_LIKE_THESE
from annotation.core.stats.resampling import Bootstrap
from tests.test_stats_agreement import SHROUT_FLEISS_1979, fleiss_rows

KRIPPENDORFF_ROWS = {
    "A": "1 2 3 3 2 1 4 1 2 . . .",
    "B": "1 2 3 3 2 2 4 1 2 5 . 3",
    "C": ". 3 3 3 2 3 4 2 2 5 1 .",
    "D": "1 2 3 3 2 4 4 1 2 5 1 .",
}


def write_csv(path, rows) -> str:
    path.write_text("unit,rater,value\n" + "".join(f"{u},{r},{v}\n" for u, r, v in rows))
    return str(path)


def run(*args) -> dict:
    out = io.StringIO()
    call_command("agreement", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def krippendorff_csv(tmp_path):
    rows = [
        (f"u{unit}", coder, value)  # "." is a missing rating, as in the published table
        for coder, line in KRIPPENDORFF_ROWS.items()
        for unit, value in enumerate(line.split(), start=1)
    ]
    return write_csv(tmp_path / "k2011.csv", rows)


def test_ordinal_file_gives_every_coefficient_that_applies(krippendorff_csv):
    report = run(krippendorff_csv, "--level", "ordinal", "--categories", "1,2,3,4,5")
    assert (report["n_units"], report["n_raters"], report["n_ratings"]) == (12, 4, 41)
    assert report["categories"] == [1, 2, 3, 4, 5]
    coefficients = report["coefficients"]
    assert set(coefficients) == {
        "krippendorff_alpha",
        "percent_agreement",
        "fleiss_kappa",
        "gwet_ac1",
    }  # four raters: no Cohen's kappa; ordinal: no ICC
    assert round(coefficients["krippendorff_alpha"]["value"], 3) == 0.815
    assert round(coefficients["percent_agreement"]["value"], 3) == 0.818
    assert round(coefficients["fleiss_kappa"]["value"], 3) == 0.761
    assert round(coefficients["gwet_ac1"]["value"], 3) == 0.775
    for coefficient in coefficients.values():
        low, high = coefficient["ci"]
        assert low <= coefficient["value"] <= high
    assert coefficients["gwet_ac1"]["resamples"] == 1000


def test_two_raters_add_cohens_kappa_and_its_weighted_forms(tmp_path):
    pairs = [(1, 1), (2, 2), (3, 2), (4, 4), (5, 4), (2, 1), (3, 3), (1, 2)]
    rows = [
        (f"u{i}", rater, v)
        for i, pair in enumerate(pairs)
        for rater, v in zip("ab", pair, strict=True)
    ]
    path = write_csv(tmp_path / "two.csv", rows)
    report = run(path, "--level", "ordinal", "--categories", "1,2,3,4,5", "--bootstrap", "200")
    coefficients = report["coefficients"]
    for key in ("cohen_kappa", "cohen_kappa_linear", "cohen_kappa_quadratic"):
        assert coefficients[key]["se"] > 0
        assert len(coefficients[key]["ci"]) == 2
    nominal = run(path, "--level", "nominal", "--bootstrap", "0")["coefficients"]
    assert "cohen_kappa" in nominal
    assert "cohen_kappa_linear" not in nominal
    assert nominal["cohen_kappa"]["ci"] is None  # --bootstrap 0: no interval


def test_interval_data_adds_icc_in_all_six_forms(tmp_path):
    rows = [
        (f"t{i}", f"judge{j}", v)
        for i, row in enumerate(SHROUT_FLEISS_1979)
        for j, v in enumerate(row)
    ]
    report = run(write_csv(tmp_path / "sf.csv", rows), "--level", "interval", "--seed", "3")
    icc = report["coefficients"]["icc"]
    assert {k: round(v["value"], 3) for k, v in icc.items()} == {
        "ICC1": 0.166,
        "ICC2": 0.290,
        "ICC3": 0.715,
        "ICC1k": 0.443,
        "ICC2k": 0.620,
        "ICC3k": 0.909,
    }
    assert icc["ICC2"]["seed"] == 3


def test_fleiss_1971_from_a_file(tmp_path):
    rows = [(f"s{i}", f"r{j}", v) for i, row in enumerate(fleiss_rows()) for j, v in enumerate(row)]
    report = run(write_csv(tmp_path / "f.csv", rows), "--level", "nominal", "--bootstrap", "100")
    fleiss = report["coefficients"]["fleiss_kappa"]
    assert round(fleiss["value"], 3) == 0.430
    assert round(fleiss["z"], 2) == 17.65


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("unit,value\nu1,3\n", [], "bad.csv, row 1: the header needs the columns unit,rater,value"),
        (
            "unit,rater,value\nu1,a,3\nu1,b,seven\n",
            ["--level", "interval"],
            "bad.csv, row 3, field 'value': 'seven' is not a number",
        ),
        (
            "unit,rater,value\nu1,a,3\nu1,b,6\n",
            ["--categories", "1,2,3,4,5"],
            "bad.csv, row 3, field 'value': '6' is not one of the categories",
        ),
        ("unit,rater,value\nu1,a,3\nu2,,4\n", [], "bad.csv, row 3, field 'rater': is empty"),
        (
            "unit,rater,value\nu1,a,3\nu1,a,4\n",
            [],
            "bad.csv, row 3, field 'value': rater 'a' already rated unit 'u1' at row 2",
        ),
        ("unit,rater,value\nu1,a,3\nu2,a,4\n", [], "bad.csv: agreement needs two or more raters"),
        ("unit,rater,value\nu1,a,3\nu1,b\n", [], "bad.csv, row 3: fewer values than columns"),
        ("unit,rater,value\nu1,a,3\n", ["--seed", "-1"], "--seed: give a whole number"),
        (
            "unit,rater,value\nu1,a,3\n",
            ["--categories", "1,2,2"],
            "--categories: the declared categories repeat",
        ),
    ],
)
def test_a_file_that_cannot_be_read_names_the_row(tmp_path, content, args, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    level = [] if "--level" in args else ["--level", "ordinal"]
    with pytest.raises(CommandError) as caught:
        call_command("agreement", str(path), *level, *args, stdout=io.StringIO())
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_the_command_exits_non_zero_with_one_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("unit,rater,value\nu1,a,3\nu1,b,x\n")
    done = subprocess.run(
        [sys.executable, "manage.py", "agreement", str(path), "--level", "interval"],
        capture_output=True,
        text=True,
        check=False,
        cwd=settings.BASE_DIR,
        env={**os.environ, "SECRET_KEY": "test-only-secret"},
    )
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "CommandError: bad.csv, row 3, field 'value': 'x' is not a number"
    ]


# Nothing of the caller's environment: no SECRET_KEY, DEBUG or DJANGO_SETTINGS_MODULE.
CLEAN_ENV = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}


def readme_agreement_commands() -> list[list[str]]:
    readme = (settings.BASE_DIR / "README.md").read_text()
    found = re.findall(
        r"`(\.venv/bin/python (?:manage\.py|-m annotation\.core\.stats) agreement [^`]+)`", readme
    )
    return [shlex.split(command) for command in found]


def clean_run(argv: list[str], **replace: str) -> subprocess.CompletedProcess:
    argv = [sys.executable if a == "python" else replace.get(a, a) for a in argv]
    return subprocess.run(
        argv, capture_output=True, text=True, check=False, cwd=settings.BASE_DIR, env=CLEAN_ENV
    )


def intervals(report: dict):
    """Every interval of the report: the coefficients', ICC's forms', and those beside them."""
    coefficients = dict(report["coefficients"])
    coefficients.update(coefficients.pop("icc", {}))
    for coefficient in coefficients.values():
        if coefficient["ci"]:
            yield coefficient
        # An entry saying why there is no interval for a question names no method.
        yield from (o for o in coefficient.get("other_intervals", []) if o["ci"])


def test_the_readmes_command_lines_run_with_no_settings_or_secret(krippendorff_csv):
    commands = readme_agreement_commands()
    assert [argv[:3] for argv in commands] == [
        [".venv/bin/python", "manage.py", "agreement"],
        [".venv/bin/python", "-m", "annotation.core.stats"],
    ]
    reports = []
    for argv in commands:
        done = clean_run(argv, **{"ratings.csv": krippendorff_csv})
        assert (done.returncode, done.stderr) == (0, "")
        reports.append(json.loads(done.stdout))
    django, pure = reports
    assert django == pure
    # Krippendorff (2011): ordinal alpha 0.815 on the 1-5 scale the README declares.
    assert round(django["coefficients"]["krippendorff_alpha"]["value"], 3) == 0.815
    assert django["bootstrap"] == {"resamples": 1000, "seed": 0}


def test_every_interval_names_its_kind_and_the_question_it_answers(tmp_path):
    rows = [
        (f"t{i}", f"judge{j}", v)
        for i, row in enumerate(SHROUT_FLEISS_1979)
        for j, v in enumerate(row)
    ]
    report = run(write_csv(tmp_path / "sf.csv", rows), "--level", "interval", "--bootstrap", "200")
    assert report["interval_questions"] == INTERVAL_QUESTIONS
    found = list(intervals(report))
    assert len(found) >= 10  # alpha, percent agreement, Fleiss, AC1 and ICC's six forms
    for interval in found:
        assert interval["interval_method"]
        assert interval["interval_question"].startswith(tuple(INTERVAL_QUESTIONS))
    # A unit bootstrap holds the raters fixed: it answers for these raters only. Alpha's is
    # BCa, as in a study, with the percentile interval beside it; percent agreement's is the
    # percentile interval.
    coefficients = report["coefficients"]
    alpha = coefficients["krippendorff_alpha"]
    assert alpha["interval_method"] == "BCa bootstrap over cases"
    assert alpha["interval_question"] == "these raters, cases like these"
    assert coefficients["percent_agreement"]["interval_method"] == "percentile bootstrap over cases"
    assert set(report["interval_methods"]) == set(INTERVAL_QUESTIONS)


def by_question(coefficient: dict, question: str) -> list[dict]:
    return [o for o in coefficient.get("other_intervals", []) if o["interval_question"] == question]


def test_beside_each_interval_for_these_raters_is_one_for_raters_like_these(krippendorff_csv):
    """Four raters: alpha, percent agreement, Fleiss and AC1 each carry the raters-and-cases
    interval, the same a study stores (reported.add_raters_like_these); alpha's is checked
    against its definition: the percentile interval's variance plus the jackknife over raters
    of the krippendorff package's alpha, t on Satterthwaite's df, cut back to at most 1."""
    report = run(krippendorff_csv, "--level", "ordinal", "--categories", "1,2,3,4,5")
    coefficients = report["coefficients"]
    for key in ("krippendorff_alpha", "percent_agreement", "fleiss_kappa", "gwet_ac1"):
        (like,) = by_question(coefficients[key], RATERS_LIKE_THESE)
        assert like["interval_method"] == "bootstrap over cases + jackknife over raters", key
        assert like["ci_method"].startswith("raters and cases random"), key
        low, high = like["ci"]
        assert low <= coefficients[key]["value"] <= high, key
    alpha = coefficients["krippendorff_alpha"]
    (percentile,) = [
        o["ci"]
        for o in alpha["other_intervals"]
        if o["interval_method"] == "percentile bootstrap over cases"
    ]
    matrix = np.array(
        [
            [np.nan if v == "." else float(v) for v in line.split()]
            for line in KRIPPENDORFF_ROWS.values()
        ]
    )
    leave_outs = np.array(
        [
            krippendorff.alpha(
                reliability_data=np.delete(matrix, j, axis=0),
                level_of_measurement="ordinal",
                value_domain=[1, 2, 3, 4, 5],
            )
            for j in range(4)
        ]
    )
    v_raters = 3 / 4 * ((leave_outs - leave_outs.mean()) ** 2).sum()
    v_units = ((percentile[1] - percentile[0]) / (2 * scipy_stats.norm.ppf(0.975))) ** 2
    df = (v_units + v_raters) ** 2 / (v_units**2 / (alpha["n_units"] - 1) + v_raters**2 / 3)
    half = scipy_stats.t.ppf(0.975, df) * np.sqrt(v_units + v_raters)
    (like,) = by_question(alpha, RATERS_LIKE_THESE)
    assert like["ci"] == pytest.approx(
        [max(alpha["value"] - half, -1), min(alpha["value"] + half, 1)], abs=1e-9
    )
    assert like["df"] == pytest.approx(df)


def test_alphas_interval_is_bca_over_cases_as_in_a_study(krippendorff_csv):
    report = run(krippendorff_csv, "--level", "ordinal", "--categories", "1,2,3,4,5")
    alpha = report["coefficients"]["krippendorff_alpha"]
    rows = [
        Observation(f"u{unit}", coder, int(value))
        for coder, line in KRIPPENDORFF_ROWS.items()
        for unit, value in enumerate(line.split(), start=1)
        if value != "."
    ]
    ratings = ratings_from(rows, level="ordinal", categories=[1, 2, 3, 4, 5])
    direct = coefficients.krippendorff_alpha(ratings, bootstrap=Bootstrap(1000, 0, kind="bca"))
    assert alpha["ci"] == pytest.approx(list(direct.ci), abs=1e-12)
    assert alpha["ci_method"] == direct.ci_method


def test_two_raters_say_why_they_have_no_interval_for_raters_like_these(tmp_path):
    rows = [(f"u{i}", rater, (i + (rater == "b")) % 4 + 1) for i in range(12) for rater in "ab"]
    report = run(write_csv(tmp_path / "two.csv", rows), "--level", "ordinal")
    for key, coefficient in report["coefficients"].items():
        (like,) = by_question(coefficient, RATERS_LIKE_THESE)
        assert like["ci"] is None, key
        assert like["reason"].startswith("needs three or more raters"), key


def test_icc_names_which_form_answers_which_question(tmp_path):
    rows = [
        (f"t{i}", f"judge{j}", v)
        for i, row in enumerate(SHROUT_FLEISS_1979)
        for j, v in enumerate(row)
    ]
    report = run(write_csv(tmp_path / "sf.csv", rows), "--level", "interval", "--bootstrap", "200")
    icc = report["coefficients"]["icc"]
    for form in ("ICC1", "ICC2", "ICC1k", "ICC2k"):
        assert icc[form]["interval_question"].startswith(RATERS_LIKE_THESE), form
        assert icc[form]["ci"], form
    for form in ("ICC3", "ICC3k"):
        assert icc[form]["interval_method"] == "McGraw-Wong F"
        assert icc[form]["interval_question"] == "these raters, cases like these"
        (like,) = by_question(icc[form], RATERS_LIKE_THESE)
        assert like["ci"] is None
        assert like["reason"].startswith("ICC(3) is about these raters only")
    # Beside each form, its bootstrap over cases, for these raters, percentile as in a study.
    (these,) = [
        o
        for o in icc["ICC2"]["other_intervals"]
        if o["interval_method"] == "percentile bootstrap over cases"
    ]
    assert these["interval_question"] == "these raters, cases like these"


def test_the_pure_command_exits_non_zero_with_one_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("unit,rater,value\nu1,a,3\nu1,b,x\n")
    argv = ["python", "-m", "annotation.core.stats", "agreement", str(path), "--level", "interval"]
    done = clean_run(argv)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == ["error: bad.csv, row 3, field 'value': 'x' is not a number"]


def test_other_commands_still_refuse_to_start_without_a_secret():
    done = clean_run(["python", "manage.py", "check"])
    assert done.returncode != 0
    assert "Set SECRET_KEY (or DEBUG=1" in done.stderr
