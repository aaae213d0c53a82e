"""The adjudicated reference in ratings.csv (issue 24): `reference_answer` and `reference_value`
on every row of a decided item and question (a pairwise reference in the pair's canonical
order), empty elsewhere; PostgreSQL's lines and Python's rows alike, in the bundle and the API."""

import io

import pandas as pd
import pytest

from annotation import services
from annotation.core import tables
from annotation.demo import PAIRWISE_TITLE, load_demo
from annotation.models import Study
from annotation.selectors import adjudication as selectors
from annotation.services import bundle_ratings
from tests.factories import UserFactory
from tests.test_adjudication_shown_order import _answer
from tests.test_api import auth, body_text
from tests.test_bundle import build

pytestmark = pytest.mark.django_db


@pytest.fixture
def adjudicated(settings, tmp_path) -> Study:
    """The pairwise demo rated and submitted, every item chosen, half of them decided (each
    reference posted as "Response A is better" in the adjudicator's shown order)."""
    settings.EXPORT_DIR = tmp_path
    load_demo()
    study = Study.objects.get(title=PAIRWISE_TITLE)
    for assignment in study.assignments.filter(kind="study", submitted_at__isnull=True):
        for question in study.questions.filter(required=True):
            services.rating_save(assignment=assignment, question=question, answer=_answer(question))
        services.assignment_submit(assignment=assignment)
    admin = study.memberships.get(role="admin").user
    services.adjudication_select(study=study, by=admin, mode="all")
    senior = UserFactory(username="senior")
    services.adjudicator_add(study=study, user=senior)
    adjudications = list(study.adjudications.order_by("token"))
    answers = {q.key: _answer(q) for q in selectors.reference_questions(study=study)}
    for adjudication in adjudications[: len(adjudications) // 2]:
        services.adjudication_record(
            adjudication=adjudication, user=senior, answers=answers, reason="A reads better."
        )
    return study


def _expected(study: Study) -> dict[tuple[str, str], tuple[str, str]]:
    """The two cells by (item token, question), from the model."""
    return {
        (a.item.token, key): (
            tables.csv_cell(answer if not isinstance(answer, list) else str(answer)),
            tables.csv_cell(a.values.get(key)),
        )
        for a in study.adjudications.filter(decided_at__isnull=False).select_related("item")
        for key, answer in a.answers.items()
    }


def _frame(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), keep_default_na=False, dtype=str)


def _check(frame: pd.DataFrame, study: Study) -> None:
    expected = _expected(study)
    pairwise = set(study.questions.filter(kind="pairwise").values_list("key", flat=True))
    referenced = codes = 0
    for row in frame.itertuples():
        found = (row.reference_answer, row.reference_value)
        cells = expected.get((row.item_token, row.question), ("", ""))
        assert found == cells, row
        referenced += cells != ("", "")
        if row.question in pairwise and cells != ("", ""):
            # Canonical: the code the stored reference has, whichever side the rater saw first.
            assert float(row.reference_answer) == float(row.reference_value)
            codes += 1
    assert 0 < referenced < len(frame)
    assert codes > 0


def test_the_bundle_ratings_csv_carries_the_reference(adjudicated, monkeypatch):
    study = adjudicated
    written = build(study).read("ratings.csv").decode()
    frame = _frame(written)
    assert list(frame.columns[-2:]) == ["reference_answer", "reference_value"]
    _check(frame, study)
    # Pairwise references stored in canonical order: -1 where the adjudicator saw B as A.
    assert {float(v) for v in frame["reference_value"] if v} >= {-1.0, 1.0}
    # Python's rows, where PostgreSQL does not write the lines: the same file.
    monkeypatch.setattr(bundle_ratings, "study_ratings_csv_batches", lambda **kwargs: None)
    assert build(study).read("ratings.csv").decode() == written


def test_the_api_ratings_csv_carries_the_reference(adjudicated, client):
    study = adjudicated
    admin = study.memberships.get(role="admin").user
    response = client.get(f"/api/v1/studies/{study.token}/ratings/?format=csv", headers=auth(admin))
    assert response.status_code == 200
    frame = _frame(body_text(response))
    _check(frame, study)
    bundle = _frame(build(study).read("ratings.csv").decode())
    columns = ["item_token", "rater", "question", "reference_answer", "reference_value"]
    assert frame[columns].equals(bundle[columns])


def test_a_study_without_references_has_the_columns_empty(adjudicated):
    others = Study.objects.exclude(pk=adjudicated.pk).filter(adjudications__isnull=True)
    study = next(s for s in others.distinct() if not s.is_reading)
    frame = _frame(build(study).read("ratings.csv").decode())
    assert len(frame) > 0
    assert set(frame["reference_answer"]) == {""}
    assert set(frame["reference_value"]) == {""}
