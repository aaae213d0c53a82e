"""Adjudication in the paper bundle: adjudications.csv read back by pandas and by base R's
read.csv (the reference, the reason, the adjudicator's label, how the item was chosen, the
majority and whether the reference sided with it), its columns in the data dictionary, and the
methods paragraph."""

import io
import subprocess

import pandas as pd
import pytest

from annotation import services
from annotation.core import columns as cols
from annotation.models import Adjudication
from tests.adjudication_support import rated_study
from tests.factories import UserFactory
from tests.test_bundle import build
from tests.test_bundle_files import _rscript

pytestmark = pytest.mark.django_db


@pytest.fixture
def adjudicated(study_admin, raters, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path
    study = rated_study(study_admin, raters)
    rule = {"kind": "range", "question": "overall", "threshold": 1}
    services.adjudication_select(study=study, by=study_admin, mode="rule", rule=rule)
    senior = UserFactory(username="senior")
    services.adjudicator_add(study=study, user=senior)
    items = list(study.items.order_by("token"))
    # Item 1 (1 and 4): no majority on overall; item 5 (3 and 4): none either.
    for number, overall in ((1, 2), (5, 4)):
        services.adjudication_record(
            adjudication=Adjudication.objects.get(item=items[number]),
            user=senior,
            answers={"overall": overall, "harm": "none"},
            reason=f"Reason, with a comma, for item {number}.",
        )
    return study, items


def test_adjudications_csv_reads_back_with_every_column(adjudicated):
    study, items = adjudicated
    archive = build(study)
    frame = pd.read_csv(
        io.BytesIO(archive.read("adjudications.csv")), encoding="utf-8", keep_default_na=False
    )
    assert list(frame.columns) == cols.ADJUDICATIONS.names
    assert len(frame) == 4  # two items, two reference questions each
    harm = frame[(frame["item_token"] == items[1].token) & (frame["question"] == "harm")].iloc[0]
    assert harm["reference_answer"] == "none"
    assert harm["reference_value"] == 0
    assert harm["majority"] == "none"
    assert bool(harm["sided_with_majority"]) is True
    assert harm["adjudicator"] == "A1"
    assert harm["reason"] == "Reason, with a comma, for item 1."
    assert harm["selected_by"] == "rule"
    assert harm["selection_rule"] == "answers to 'overall' span 1 or more points"
    assert harm["n_raters"] == 2
    overall = frame[(frame["item_token"] == items[5].token) & (frame["question"] == "overall")]
    assert overall.iloc[0]["reference_answer"] == "4"  # a column of numbers and choices: text
    assert overall.iloc[0]["majority"] == ""
    assert overall.iloc[0]["sided_with_majority"] == ""
    assert "senior" not in archive.read("adjudications.csv").decode()


# Read as an analyst would, with read.csv's defaults; then each column's class and count of NA,
# and the cells the test checks, one per line.
R_READ = r"""
d <- read.csv(commandArgs(trailingOnly = TRUE)[1])
for (column in names(d)) cat("class", column, class(d[[column]]), sum(is.na(d[[column]])), "\n")
cell <- function(token, question, column) d[d$item_token == token & d$question == question, column]
args <- commandArgs(trailingOnly = TRUE)
for (column in c("reference_answer", "reference_value", "majority", "sided_with_majority",
                 "reason", "adjudicator", "n_raters")) {
  cat("harm", column, format(cell(args[2], "harm", column)), "\n", sep = "|")
  cat("overall", column, format(cell(args[3], "overall", column)), "\n", sep = "|")
}
x <- d$decided_at
moments <- R_TIMESTAMP
cat("decided_at", sum(is.na(moments)), format(as.numeric(moments[1]), scientific = FALSE), "\n")
"""


def test_base_r_reads_adjudications_csv_with_its_types_and_missing_values(adjudicated, tmp_path):
    study, items = adjudicated
    archive = build(study)
    (tmp_path / "adjudications.csv").write_bytes(archive.read("adjudications.csv"))
    (tmp_path / "read.R").write_text(R_READ.replace("R_TIMESTAMP", cols.R_TIMESTAMP))
    done = subprocess.run(
        [_rscript(), "--vanilla", str(tmp_path / "read.R"), str(tmp_path / "adjudications.csv")]
        + [items[1].token, items[5].token],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    classes = {
        column: (klass, int(missing))
        for _, column, klass, missing in (line.split() for line in lines if line[:6] == "class ")
    }
    assert list(classes) == cols.ADJUDICATIONS.names
    assert classes["item_token"] == ("character", 0)
    assert classes["reference_answer"] == ("character", 0)  # "2", "none", ...: text
    assert classes["reference_value"][0] in ("integer", "numeric")
    assert classes["reference_value"][1] == 0
    assert classes["n_raters"] == ("integer", 0)
    # No majority on 'overall' in either item: an empty cell, NA in the logical column...
    assert classes["sided_with_majority"] == ("logical", 2)
    # ...and the empty string, not NA, in the text column (read.csv's default na.strings).
    assert classes["majority"] == ("character", 0)
    cells = {tuple(line.split("|")[:2]): line.split("|")[2] for line in lines if "|" in line}
    assert cells[("harm", "reference_answer")] == "none"
    assert float(cells[("harm", "reference_value")]) == 0
    assert (cells[("harm", "majority")], cells[("harm", "sided_with_majority")]) == ("none", "TRUE")
    assert cells[("harm", "reason")] == "Reason, with a comma, for item 1."
    assert (cells[("harm", "adjudicator")], cells[("harm", "n_raters")]) == ("A1", "2")
    assert cells[("overall", "reference_answer")] == "4"
    assert float(cells[("overall", "reference_value")]) == 4
    assert (cells[("overall", "majority")], cells[("overall", "sided_with_majority")]) == ("", "NA")
    [timestamps] = [line.split() for line in lines if line.startswith("decided_at ")]
    assert timestamps[1] == "0"  # every decided_at parsed by the documented call
    first = study.adjudications.filter(decided_at__isnull=False).order_by("item__token").first()
    assert float(timestamps[2]) == first.decided_at.replace(microsecond=0).timestamp()


def test_the_dictionary_and_methods_describe_adjudication(adjudicated):
    study, _ = adjudicated
    archive = build(study)
    assert "adjudications.csv" in archive.read("data_dictionary.md").decode()
    methods = archive.read("methods.md").decode()
    assert "## Adjudication" in methods
    assert "answers to 'overall' span 1 or more points (2 items)" in methods
    assert "2 items needed adjudication and 2 received a reference answer" in methods
    assert "'harm': 2 of 2 (0 without a majority)" in methods
    assert "'overall': 0 of 0 (2 without a majority)" in methods


def test_a_study_without_references_has_no_adjudications_file(
    study_admin, raters, settings, tmp_path
):
    settings.EXPORT_DIR = tmp_path
    study = rated_study(study_admin, raters)
    archive = build(study)
    assert "adjudications.csv" not in archive.namelist()
    assert "## Adjudication" not in archive.read("methods.md").decode()
