"""The `mrmc` command (issue 20): the multi-reader multi-case analysis of a reader study done
anywhere, from a long CSV, as `manage.py mrmc` and `python -m annotation.core.stats mrmc`, with no
settings or secret. On the Van Dyke data it prints the published figures, and its JSON is the
pure analysis's."""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest
from django.conf import settings

from annotation.core.stats.mrmc import FIXED_CASES, FIXED_READERS, RANDOM_BOTH, mrmc
from tests.test_stats_mrmc import VANDYKE, vandyke_rows

# Nothing of the caller's environment: no SECRET_KEY, DEBUG or DJANGO_SETTINGS_MODULE.
CLEAN_ENV = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}


def complaints(stderr: str) -> list[str]:
    """What the command said on stderr, less matplotlib's one-off note that it built its font
    cache (a fresh HOME; the web process imports it until issue 22)."""
    return [line for line in stderr.splitlines() if "fontManager" not in line]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=settings.BASE_DIR,
        env=CLEAN_ENV,
    )


def test_the_readmes_command_runs_as_written_and_prints_the_published_analysis():
    readme = (settings.BASE_DIR / "README.md").read_text()
    (command,) = re.findall(r"`(\.venv/bin/python manage\.py mrmc [^`]+)`", readme)
    argv = shlex.split(command)
    assert argv[:3] == [".venv/bin/python", "manage.py", "mrmc"]
    done = run(*[str(VANDYKE) if a == "readers.csv" else a for a in argv[1:]])
    assert (done.returncode, complaints(done.stderr)) == (0, [])
    report = done.stdout
    # Van Dyke et al. (1993) as Hillis (2007) analyses it: F = 4.46 on (1, 15.26), p = 0.0517,
    # difference -0.0438 (95% CI -0.0880 to 0.0004); readers fixed: chi-square 5.48, p = 0.0193.
    assert "5 readers, 114 cases, 2 modalities; figure of merit: auc." in report
    assert "F(1, 15.26) = 4.4563, p = 0.0517" in report
    assert "T0 - T1: -0.04380, 95% CI -0.08796 to 0.00036" in report
    assert "chi-square(1) = 5.4760, p = 0.0193" in report
    for question in (RANDOM_BOTH, FIXED_READERS, FIXED_CASES):
        assert f"{question[0].upper()}{question[1:]}:" in report
    assert "T1 alone: 0.94084, 95% CI 0.89414 to 0.98754" in report


def test_the_json_is_the_pure_analysis_with_or_without_django():
    rows, truth = vandyke_rows()
    expected = mrmc(rows, figure="auc", truth=truth).as_dict()
    for prefix in (["manage.py", "mrmc"], ["-m", "annotation.core.stats", "mrmc"]):
        done = run(*prefix, str(VANDYKE), "--fom", "auc", "--json")
        assert done.returncode == 0, done.stderr
        assert _close(json.loads(done.stdout), expected)


def _close(found, expected) -> bool:
    if isinstance(expected, dict):
        return found.keys() == expected.keys() and all(
            _close(found[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return len(found) == len(expected) and all(
            _close(f, e) for f, e in zip(found, expected, strict=True)
        )
    if isinstance(expected, float):
        return found == pytest.approx(expected, rel=1e-12, abs=1e-15)
    return found == expected


def test_bootstrap_covariances_are_seeded_and_labelled():
    args = [str(VANDYKE), "--fom", "auc", "--covariance", "bootstrap", "--bootstrap", "200"]
    first = run("-m", "annotation.core.stats", "mrmc", *args, "--seed", "3", "--json")
    again = run("-m", "annotation.core.stats", "mrmc", *args, "--seed", "3", "--json")
    other = run("-m", "annotation.core.stats", "mrmc", *args, "--seed", "4", "--json")
    assert first.stdout == again.stdout
    assert first.stdout != other.stdout
    components = json.loads(first.stdout)["components"]
    assert "bootstrap" in components["covariance_method"]


@pytest.mark.parametrize(
    ("rows", "extra", "message"),
    [
        (
            "reader,case,modality,value\nR1,c1,A,1\n",
            ["--fom", "auc"],
            "readers.csv: no column truth (or no rows).",
        ),
        (
            "reader,case,modality,value\nR1,c1,A,1\nR1,c1,B,x\n",
            ["--fom", "mean"],
            "readers.csv, row 3: value 'x' is not a number.",
        ),
        (
            "reader,case,modality,value\nR1,c1,A,1\nR1,c2,A,2\nR2,c1,A,3\nR2,c2,A,2\n",
            ["--fom", "mean"],
            "readers.csv: an MRMC comparison needs two or more modalities.",
        ),
        (
            "reader,case,modality,value\nR1,c1,A,1\nR1,c1,B,1\n",
            ["--fom", "mean", "--covariance", "bootstrap", "--bootstrap", "100000000"],
            "--bootstrap: bootstrap covariances need 100 to 100,000 resamples.",
        ),
        (
            "reader,case,modality,value\nR1,c1,A,1\nR1,c1,B,1\n",
            ["--fom", "mean", "--level", "95"],
            "--level: give a coverage between 0 and 1, such as 0.95.",
        ),
    ],
)
def test_a_bad_file_gets_one_clear_line(tmp_path, rows, extra, message):
    path = tmp_path / "readers.csv"
    path.write_text(rows)
    done = run("-m", "annotation.core.stats", "mrmc", str(path), *extra)
    assert done.returncode == 1
    assert complaints(done.stderr) == [f"error: {message}"]
    assert done.stdout == ""
    managed = run("manage.py", "mrmc", str(path), *extra)
    assert managed.returncode == 1
    assert complaints(managed.stderr) == [f"CommandError: {message}"]


def test_a_reader_missing_a_case_is_named(tmp_path):
    path = tmp_path / "readers.csv"
    path.write_text("reader,case,modality,value\nR1,c1,A,1\nR1,c1,B,2\nR2,c1,A,1\n")
    done = run("-m", "annotation.core.stats", "mrmc", str(path), "--fom", "mean")
    assert done.returncode == 1
    (said,) = complaints(done.stderr)
    assert said.startswith("error: readers.csv:")
    assert "R2" in said
