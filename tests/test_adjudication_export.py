"""Adjudication in the paper bundle: adjudications.csv read back by pandas (the reference, the
reason, the adjudicator's label, how the item was chosen, the majority and whether the
reference sided with it), its columns in the data dictionary, and the methods paragraph."""

import io

import pandas as pd
import pytest

from annotation import services
from annotation.core import columns as cols
from annotation.models import Adjudication
from tests.adjudication_support import rated_study
from tests.factories import UserFactory
from tests.test_bundle import build

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
