"""The audit log's CSV export read the way a reviewer reads it: base R's read.csv and pandas'
read_csv with their defaults, on entries whose text is hostile (commas, quotes, line breaks,
non-ASCII, a spreadsheet formula). Every row comes back whole, numbers as numbers, and each
entry's `details` parses to what the JSON export holds."""

import io
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from django.urls import reverse

from annotation import services
from annotation.core import audit
from tests.factories import UserFactory
from tests.test_bundle_files import _rscript

pytestmark = pytest.mark.django_db

TITLE = 'Études, "quoted"\nsecond line; ünïcode ✓'
DETAILS = {
    "note": 'a, b; "c"\nd',
    "nested": {"list": [1, "=SUM(A1)", None, True]},
    "consent": "Ihre Daten werden gemäß DSGVO verarbeitet; señal ✓",
}

R_READ = r"""
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], encoding = "UTF-8")
for (column in names(d)) cat(column, class(d[[column]]), sum(is.na(d[[column]])), "\n", sep = "\t")
at <- as.POSIXct(d$at, format = "%Y-%m-%dT%H:%M:%OSZ", tz = "UTC")
cat("at_unparsed", sum(is.na(at)), "\n", sep = "\t")
write.csv(d, args[2], row.names = FALSE, na = "", fileEncoding = "UTF-8")
"""


def _export(client, fmt: str) -> str:
    response = client.get(reverse("audit_log_export", args=[fmt]))
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def exported(client, draft_study):
    draft_study.title = TITLE
    draft_study.save(update_fields=["title"])
    services.audit_record(action="test.hostile", study=draft_study, details=DETAILS)
    services.audit_record(action="test.no_study", details={"formula": "=1+1"})
    client.force_login(UserFactory(username="auditor", is_staff=True))
    text = _export(client, "csv")
    entries = {entry["seq"]: entry for entry in json.loads(_export(client, "json"))}
    return text, entries


def _check_rows(frame: pd.DataFrame, entries: dict) -> None:
    assert len(frame) == len(entries) - 1  # the JSON export's own entry came after the CSV
    for row in frame.to_dict("records"):
        entry = entries[int(row["seq"])]
        assert json.loads(row["details"]) == entry["details"], row["seq"]
        assert row["hash"] == entry["hash"]
        assert row["action"] == entry["action"]
        assert (row["study_title"] if isinstance(row["study_title"], str) else "") == (
            entry["study_title"]
        )
        at = datetime.strptime(row["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert audit.format_time(at) == entry["at"]
    titles = set(frame["study_title"].dropna())
    assert TITLE in titles


def test_pandas_reads_the_audit_csv_with_numbers_as_numbers(exported):
    text, entries = exported
    frame = pd.read_csv(io.StringIO(text))
    assert pd.api.types.is_integer_dtype(frame["seq"])
    assert pd.api.types.is_numeric_dtype(frame["study_id"])  # float64: entries without a study
    assert frame["study_id"].isna().any()
    _check_rows(frame, entries)


def test_the_csv_details_keep_their_letters_not_escapes(exported):
    """A German or Spanish site reads `gemäß` in a spreadsheet, not `gem\\u00e4\\u00df`."""
    text, entries = exported
    frame = pd.read_csv(io.StringIO(text))
    [cell] = [details for details in frame["details"] if "DSGVO" in details]
    assert DETAILS["consent"] in cell
    assert "\\u00" not in text


def test_pandas_reads_the_audit_csv_as_docs_audit_md_says(exported):
    text, entries = exported
    docs = (Path(__file__).resolve().parent.parent / "docs" / "audit.md").read_text()
    assert 'dtype={"actor_id": "Int64", "study_id": "Int64"}, parse_dates=["at"]' in docs
    frame = pd.read_csv(
        io.StringIO(text), dtype={"actor_id": "Int64", "study_id": "Int64"}, parse_dates=["at"]
    )
    assert str(frame["study_id"].dtype) == "Int64"
    assert str(frame["actor_id"].dtype) == "Int64"
    assert frame["study_id"].isna().any()
    assert frame["study_id"].notna().any()
    assert str(frame["at"].dt.tz) == "UTC"


def test_base_r_reads_the_audit_csv_whole(exported, tmp_path):
    text, entries = exported
    source, back = tmp_path / "audit.csv", tmp_path / "back.csv"
    source.write_text(text, encoding="utf-8")
    script = tmp_path / "read.R"
    script.write_text(R_READ)
    done = subprocess.run(
        [_rscript(), "--vanilla", str(script), str(source), str(back)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = {}
    for line in done.stdout.splitlines():
        name, *rest = line.rstrip("\t\n ").split("\t")
        seen[name] = rest
    assert seen["seq"][0] == "integer"
    assert seen["study_id"][0] == "integer"
    assert int(seen["study_id"][1]) > 0  # NA where an entry has no study
    assert seen["details"][0] == "character"
    assert seen["at_unparsed"] == ["0"]
    # What R read, written back by R, holds every entry's text unchanged.
    _check_rows(pd.read_csv(back, keep_default_na=False, na_values=[""]), entries)
