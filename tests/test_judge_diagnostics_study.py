"""A judge's diagnostics as a study stores and shows them: length bias and self-preference per
judge and question, from the outputs' texts and the sources' and judge's model names, with
their intervals; calibration stated as not computed (the reply has no confidence). Expected
figures are worked out here with scipy and numpy from the ratings, not from the service."""

import csv
import io
import random
import zipfile

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone
from scipy import stats as scipy_stats

from annotation import services
from annotation.core.stats.names import CALIBRATION, LENGTH_BIAS, SELF_PREFERENCE
from annotation.models import Assignment, Item, Judge, JudgeRating, JudgeVerdict, Result, TaskRun
from annotation.services.bundle import bundle_path
from tests.factories import submit_rated
from tests.test_pairwise import make_pairwise_study

pytestmark = pytest.mark.django_db

N_CASES = 8
GPT, EXPERT = "Summariser", "Expert"


def compute(study) -> None:
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))


def judged_by(study, label: str, model_name: str, value_of) -> Judge:
    """A judge whose canonical-order answer to every item is `value_of(item)`, stored as a
    judge run stores it."""
    judge = Judge.objects.create(
        study=study, label=label, base_url="http://127.0.0.1:9", model_name=model_name
    )
    question, now = study.questions.get(), timezone.now()
    items = Item.objects.filter(study=study).select_related(
        "output__case", "output__source", "output_b__source"
    )
    for item in items:
        verdict = JudgeVerdict.objects.create(
            judge=judge, item=item, order=[0, 1], outcome="ok", started_at=now, finished_at=now
        )
        value = value_of(item)
        JudgeRating.objects.create(verdict=verdict, question=question, answer=value, value=value)
    return judge


@pytest.fixture
def scored_study(study_admin, raters):
    """Eight cases, each with a model's summary (an OpenAI model's) and an expert's, of
    different lengths; every output rated 1-5 by two raters at random (seeded)."""
    study = services.study_create(
        creator=study_admin,
        title="Summaries",
        raters_per_item=2,
        question_prompt="How good is the summary?",
        seed=99,
    )
    rows = ["case_id,input,source,output,source_kind"]
    for case in range(N_CASES):
        rows.append(f"c{case},Question {case},{GPT},{'word ' * (3 + 2 * case)}summary,model")
        rows.append(f"c{case},Question {case},{EXPERT},{'w ' * (9 - case)}x,human_reference")
    services.study_import_file(
        study=study, filename="s.csv", content=("\n".join(rows) + "\n").encode()
    )
    study.sources.filter(label=GPT).update(model_name="gpt-4o-mini")
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    question, rng = study.questions.get(), random.Random(3)
    for assignment in study.assignments.all():
        services.rating_save(assignment=assignment, question=question, answer=rng.randint(1, 5))
    submit_rated(study)
    return study


def _outputs(study):
    """(case, source) -> (length of its text, the raters' mean score)."""
    found = {}
    for item in Item.objects.filter(study=study).select_related("output__case", "output__source"):
        values = [r.value for a in item.assignments.all() for r in a.ratings.all()]
        found[(item.output.case.external_id, item.output.source.label)] = (
            len(item.output.text),
            float(np.mean(values)),
        )
    return found


def test_length_bias_and_self_preference_are_stored_per_judge_and_question(scored_study):
    # A judge that scores by length and adds a point to its own family's (OpenAI's) outputs.
    def score(item):
        bonus = item.output.source.label == GPT
        return float(min(5, 1 + len(item.output.text) // 12 + bonus))

    judge = judged_by(scored_study, "GPT-judge", "openai/gpt-4o", score)
    compute(scored_study)
    stored = {r.statistic: r for r in Result.objects.filter(study=scored_study, judge=judge.label)}
    outputs = _outputs(scored_study)
    keys = sorted(outputs)
    length = [outputs[k][0] for k in keys]
    mean = np.array([outputs[k][1] for k in keys])
    items = Item.objects.filter(study=scored_study).select_related("output__case", "output__source")
    item_of = {(i.output.case.external_id, i.output.source.label): i for i in items}
    judge_score = np.array([score(item_of[k]) for k in keys])
    expected_rho = scipy_stats.spearmanr(judge_score, length)[0]
    expected_raters = scipy_stats.spearmanr(mean, length)[0]
    bias = stored[LENGTH_BIAS]
    assert bias.value == pytest.approx(expected_rho - expected_raters)
    assert bias.detail["judge"] == pytest.approx(expected_rho)
    assert (bias.n_units, bias.detail["n_cases"]) == (2 * N_CASES, N_CASES)
    low, high = bias.detail["ci"]
    assert low < high
    assert bias.detail["interval_question"].startswith("this judge against these clinicians")
    assert "seed 99" in bias.detail["ci_method"]

    own = np.array([k[1] == GPT for k in keys])
    gap = judge_score - mean
    preference = stored[SELF_PREFERENCE]
    assert preference.value == pytest.approx(gap[own].mean() - gap[~own].mean())
    assert preference.detail["judge_family"] == "OpenAI"
    assert (preference.detail["n_own_family"], preference.detail["n_other"]) == (8, 8)

    calibration = stored[CALIBRATION]
    assert calibration.value is None
    assert "states no confidence" in calibration.detail["reason"]


def test_a_judge_of_no_known_family_has_no_self_preference(scored_study):
    judge = judged_by(scored_study, "Local", "my-own-model", lambda item: 3.0)
    compute(scored_study)
    result = Result.objects.get(study=scored_study, judge=judge.label, statistic=SELF_PREFERENCE)
    assert result.value is None
    assert "matches no known model family" in result.detail["reason"]


def test_pairwise_diagnostics_count_the_longer_side_and_the_judges_family(study_admin, raters):
    study = make_pairwise_study(study_admin, raters)  # Expert, Model-A, Model-B on 4 cases
    Assignment.objects.filter(study=study).update(flipped=False)
    study.sources.filter(label="Model-A").update(model_name="claude-3-haiku")
    question, rng = study.questions.get(), random.Random(8)
    canonical = {}
    for assignment in Assignment.objects.filter(study=study).select_related("item"):
        value = rng.choice([-2, -1, 0, 1, 2])
        canonical.setdefault(assignment.item_id, []).append(value)
        services.rating_save(assignment=assignment, question=question, answer=value)
    submit_rated(study)
    # Always the second output: the longer one wherever the Expert's (shorter text) is first.
    judge = judged_by(study, "Claude", "claude-3-5-sonnet", lambda item: -1.0)
    compute(study)
    stored = {r.statistic: r for r in Result.objects.filter(study=study, judge=judge.label)}

    def toward(value, side):
        return 0.5 if value == 0 else float(np.sign(value) == side)

    items = Item.objects.filter(study=study).select_related("output__source", "output_b__source")
    pairs = {i.pk: (i.output.source.label, i.output_b.source.label) for i in items}
    longer = [pk for pk, pair in pairs.items() if pair[0] == "Expert"]  # second is longer
    raters_share = np.mean([np.mean([toward(v, -1) for v in canonical[pk]]) for pk in longer])
    bias = stored[LENGTH_BIAS]
    assert bias.detail["kind"] == "side_bias"
    assert bias.detail["judge"] == 1.0
    assert bias.value == pytest.approx(1.0 - raters_share)
    assert bias.n_units == 8  # Model-A against Model-B: equally long, left out

    # Only Model-A is Anthropic's: it is second against the Expert, first against Model-B.
    side = {
        pk: -1 if pair[1] == "Model-A" else 1 for pk, pair in pairs.items() if "Model-A" in pair
    }
    raters_own = np.mean([np.mean([toward(v, s) for v in canonical[pk]]) for pk, s in side.items()])
    own = stored[SELF_PREFERENCE]
    assert own.detail["judge"] == 0.5
    assert own.value == pytest.approx(0.5 - raters_own)


def test_the_dashboard_and_the_bundle_show_each_diagnostic_with_its_reading(
    client, study_admin, raters, scored_study, settings, tmp_path
):
    settings.EXPORT_DIR = tmp_path
    judge = judged_by(
        scored_study, "GPT-judge", "gpt-4o", lambda i: float(len(i.output.text) % 5 + 1)
    )
    compute(scored_study)
    url = reverse("study_dashboard", args=[scored_study.token])
    client.force_login(raters[0])  # blinded: a rater never reaches the judge's results
    assert client.get(url).status_code == 404
    client.force_login(study_admin)
    page = client.get(url).text
    assert "Diagnostics of GPT-judge" in page
    assert "follows output length" in page
    assert "states no confidence" in page

    run = TaskRun.objects.create(study=scored_study, kind=TaskRun.Kind.EXPORT_BUNDLE)
    services.bundle_build(run=services.task_run_claim(run_id=run.pk))
    with zipfile.ZipFile(bundle_path(run)) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("judge_diagnostics.csv").decode())))
    by_name = {(row["judge"], row["diagnostic"]): row for row in rows}
    assert set(by_name) == {
        (judge.label, name) for name in ("Length bias", "Self-preference", "Calibration")
    }
    stored = Result.objects.get(study=scored_study, judge=judge.label, statistic=LENGTH_BIAS)
    row = by_name[(judge.label, "Length bias")]
    assert float(row["value"]) == pytest.approx(stored.value)
    assert float(row["ci_low"]) == pytest.approx(stored.detail["ci"][0])
    assert row["reading"].startswith("The judge's score follows output length")
    assert by_name[(judge.label, "Calibration")]["value"] == ""
