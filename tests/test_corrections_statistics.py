"""A correction study's statistics, stored and shown: per source the word edit rate, the edit
distances and the share accepted unchanged, checked against distances computed here with the
textbook table; the edit rate as the question's code feeds the score summaries too."""

import random

import pytest
from django.urls import reverse
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from annotation import services
from annotation.core import rubric
from annotation.models import Result, TaskRun
from annotation.selectors.exports import COMPARISON, study_result_rows
from annotation.services.bundle import methods_text
from tests.factories import submit_rated

pytestmark = pytest.mark.django_db

EDITS = ["", " Take it with food.", " See a doctor if it persists.", "!"]


def _table(a, b) -> int:
    """Wagner-Fischer, row by row: independent of the bit-parallel algorithm."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


@pytest.fixture
def corrected(draft_study, raters):
    draft = rubric.QuestionDraft(
        key="corrected", prompt="Correct it", kind="correction", level="ratio", required=False
    )
    services.question_add(study=draft_study, draft=draft)
    services.study_open(study=draft_study)
    draft_study.refresh_from_db()
    question = draft_study.questions.get(key="corrected")
    rng = random.Random(4)
    expected: dict[str, list[tuple[str, int, int, float]]] = {}
    for assignment in draft_study.assignments.select_related("item__output__source"):
        original = assignment.item.output.text
        text = original + rng.choice(EDITS)
        services.rating_save(assignment=assignment, question=question, answer=text)
        words = _table(original.split(), text.split())
        rate = words / len(original.split())
        found = (assignment.item.output.case.external_id, _table(original, text), words, rate)
        expected.setdefault(assignment.item.output.source.label, []).append(found)
    submit_rated(draft_study)
    run = TaskRun.objects.create(study=draft_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    return draft_study, question, expected


def test_each_source_s_corrections_are_summarised_as_computed_by_hand(corrected):
    study, question, expected = corrected
    stored = Result.objects.filter(study=study, question=question, statistic="correction_summary")
    assert sorted(r.source for r in stored) == sorted(expected)
    for result in stored:
        mine = expected[result.source]
        rates = [rate for _, _, _, rate in mine]
        unchanged = sum(chars == 0 for _, chars, _, _ in mine)
        assert result.value == pytest.approx(sum(rates) / len(rates))
        detail = result.detail
        assert detail["mean_chars"]["value"] == pytest.approx(
            sum(c for _, c, _, _ in mine) / len(mine)
        )
        assert detail["mean_words"]["value"] == pytest.approx(
            sum(w for _, _, w, _ in mine) / len(mine)
        )
        assert detail["share_unchanged"]["value"] == pytest.approx(unchanged / len(mine))
        low, high = detail["edit_rate"]["ci"]
        assert low <= result.value <= high
        assert detail["edit_rate"]["interval_question"] == "these raters, cases like these"
        wilson = detail["share_unchanged"]["other_intervals"][0]["ci"]
        assert wilson == pytest.approx(proportion_confint(unchanged, len(mine), method="wilson"))
        # The edit rate is the question's code: the score summary's mean is the same figure.
        summary = Result.objects.get(
            study=study, question=question, statistic="score_summary", source=result.source
        )
        assert summary.value == pytest.approx(result.value)


def test_the_comparison_file_has_a_row_per_measure_and_the_dashboard_a_table(corrected, client):
    study, question, expected = corrected
    rows = [
        r
        for r in study_result_rows(study=study, family=COMPARISON)
        if r["statistic"].startswith("correction_summary")
    ]
    assert sorted({r["statistic"] for r in rows}) == [
        "correction_summary:edit_rate",
        "correction_summary:mean_chars",
        "correction_summary:mean_words",
        "correction_summary:share_unchanged",
    ]
    assert {r["source_a"] for r in rows} == set(expected)
    assert all(r["interval_question"] == "these raters, cases like these" for r in rows)
    client.force_login(study.memberships.get(role="admin").user)
    page = client.get(reverse("study_dashboard", args=[study.token])).text
    assert "Corrections per source" in page
    assert "Word edit rate" in page


def test_the_methods_text_states_the_correction_design_and_its_figures(corrected):
    study, question, expected = corrected
    facts = methods_text(study)
    assert (
        "Corrected output (the rater edits it) (the rater edited the output's text into what "
        "they would sign off, or accepted it unchanged; scored as word edits per word of the "
        "original)" in facts
    )
    for source, mine in expected.items():
        rates = [rate for _, _, _, rate in mine]
        assert (
            f'Question "corrected", {source}: word edit rate {sum(rates) / len(rates):.3f} (95% CI'
            in facts
        )
        unchanged = sum(chars == 0 for _, chars, _, _ in mine)
        assert (
            f"{unchanged / len(mine):.0%} of {len(mine)} corrections accepted the output unchanged"
            in facts
        )
    assert "percentile bootstrap over cases; these raters, cases like these" in facts
    # Not also as a "mean rating": the edit rate is said once, with its meaning.
    assert 'Question "corrected", MedSumm-7B: mean rating' not in facts


def test_the_sources_are_compared_case_by_case_on_the_edit_rate(corrected):
    study, question, expected = corrected
    means = {}
    for source, mine in expected.items():
        by_case: dict[str, list[float]] = {}
        for case, _, _, rate in mine:
            by_case.setdefault(case, []).append(rate)
        means[source] = {case: sum(r) / len(r) for case, r in by_case.items()}
    first, second = sorted(expected)
    differences = [means[first][c] - means[second][c] for c in means[first] if c in means[second]]
    sign = Result.objects.get(
        study=study, question=question, statistic="sign_test", source=f"{first} vs {second}"
    )
    assert sign.n_units == len(differences)
    positive, negative = sum(d > 0 for d in differences), sum(d < 0 for d in differences)
    assert (sign.detail["n_positive"], sign.detail["n_negative"]) == (positive, negative)
    assert positive + negative > 0  # the seeded edits differ between the sources
    assert sign.value == pytest.approx(binomtest(positive, positive + negative, 0.5).pvalue)
