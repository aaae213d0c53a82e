"""A judge scored against the adjudicated reference as well as against the raters: a stored
figure per judge and question, on the adjudicated items only, with a case bootstrap interval;
the raters' agreement is unchanged by adjudication; the figure is in agreement.csv and on the
dashboard, labelled as against the reference."""

import io

import pandas as pd
import pytest
from django.urls import reverse
from django.utils import timezone

from annotation import services
from annotation.core.stats.names import VERSUS_REFERENCE
from annotation.models import Adjudication, Judge, JudgeRating, JudgeVerdict, Result
from annotation.services import adjudication as adjudication_service
from evalapp import task_queue
from tests.adjudication_support import rated_study
from tests.factories import UserFactory
from tests.test_bundle import build
from tests.test_judge_diagnostics_study import compute

pytestmark = pytest.mark.django_db

JUDGE_OVERALL = [4, 2, 3, 5, 2, 4]  # by item in token order


@pytest.fixture
def judged(study_admin, raters, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path
    study = rated_study(study_admin, raters)
    judge = Judge.objects.create(
        study=study, label="judge", base_url="http://127.0.0.1:9", model_name="m"
    )
    question, now = study.questions.get(key="overall"), timezone.now()
    items = list(study.items.order_by("token"))
    for item, value in zip(items, JUDGE_OVERALL, strict=True):
        verdict = JudgeVerdict.objects.create(
            judge=judge, item=item, order=[0], outcome="ok", started_at=now, finished_at=now
        )
        JudgeRating.objects.create(verdict=verdict, question=question, answer=value, value=value)
    return study, items


def adjudicate(study, admin, items, references: dict[int, int]) -> None:
    services.adjudication_select(study=study, by=admin, mode="all")
    senior = UserFactory(username="senior")
    services.adjudicator_add(study=study, user=senior)
    for number, overall in references.items():
        services.adjudication_record(
            adjudication=Adjudication.objects.get(item=items[number]),
            user=senior,
            answers={"overall": overall, "harm": "none"},
            reason="r",
        )


def alpha(study):
    return Result.objects.get(
        study=study, question__key="overall", statistic="krippendorff_alpha", source="", judge=""
    ).value


def test_the_judge_is_scored_against_the_reference_and_agreement_stays(judged, study_admin):
    study, items = judged
    compute(study)
    before = alpha(study)
    assert not Result.objects.filter(statistic=VERSUS_REFERENCE).exists()
    # The judge said 2 for item 1 (reference 2: right), 3 for item 2 (reference 2: wrong),
    # 4 for item 5 (reference 4: right).
    adjudicate(study, study_admin, items, {1: 2, 2: 2, 5: 4})
    compute(study)
    assert alpha(study) == before
    result = Result.objects.get(study=study, statistic=VERSUS_REFERENCE, question__key="overall")
    assert result.judge == "judge"
    assert result.value == pytest.approx(2 / 3)
    assert result.n_units == 3
    assert result.detail["reference"] == "adjudicated reference"
    low, high = result.detail["ci"]
    assert 0 <= low <= 2 / 3 <= high <= 1
    assert result.detail["interval_method"].startswith("percentile bootstrap resampling cases")


def test_the_figure_is_in_agreement_csv_and_on_the_dashboard(judged, study_admin, client):
    study, items = judged
    adjudicate(study, study_admin, items, {1: 2, 2: 2, 5: 4})
    compute(study)
    archive = build(study)
    frame = pd.read_csv(io.BytesIO(archive.read("agreement.csv")), keep_default_na=False)
    row = frame[frame["statistic"] == VERSUS_REFERENCE].iloc[0]
    assert (row["question"], row["judge"], row["n_units"]) == ("overall", "judge", 3)
    assert float(row["value"]) == pytest.approx(2 / 3)
    assert row["method"] == "exact agreement of the judge with the adjudicated reference"
    methods = archive.read("methods.md").decode()
    assert "Each LLM judge was also scored against the adjudicated reference" in methods
    assert "judge on 'overall' 0.67 (" in methods
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[study.token])).content.decode()
    assert "Each judge against the adjudicated reference" in page
    assert 'data-testid="judge-reference"' in page


def test_a_reference_recorded_after_the_lock_reaches_the_judge_figure(
    judged, study_admin, monkeypatch, django_capture_on_commit_callbacks
):
    study, items = judged
    adjudicate(study, study_admin, items, {1: 2})
    compute(study)
    services.study_lock(study=study)
    study.refresh_from_db()
    assert study.statistics_frozen_reason()
    before = alpha(study)
    stale = Result.objects.get(study=study, statistic=VERSUS_REFERENCE)
    assert (stale.value, stale.n_units) == (1.0, 1)
    queued = []
    send = task_queue.send
    monkeypatch.setattr(
        task_queue,
        "send",
        lambda name, args, **kw: (
            queued.append(*args)
            if name == adjudication_service.REFERENCE_TASK
            else send(name, args, **kw)
        ),
    )
    senior = Adjudication.objects.get(item=items[1]).adjudicator.user
    with django_capture_on_commit_callbacks(execute=True):
        for number, overall in {2: 2, 5: 4}.items():
            services.adjudication_record(
                adjudication=Adjudication.objects.get(item=items[number]),
                user=senior,
                answers={"overall": overall, "harm": "none"},
                reason="r",
            )
        # Until recomputed, no figure for the old reference stands beside the new one.
        assert not Result.objects.filter(statistic=VERSUS_REFERENCE).exists()
    assert queued == [study.pk, study.pk]
    assert services.judge_reference_compute(study_id=study.pk) == 1
    result = Result.objects.get(study=study, statistic=VERSUS_REFERENCE, question__key="overall")
    assert (result.value, result.n_units) == (pytest.approx(2 / 3), 3)
    assert alpha(study) == before  # the raters' locked figures are untouched
    methods = build(study).read("methods.md").decode()
    assert "judge on 'overall' 0.67 (" in methods
    assert "3 items" in methods
