"""The MRMC comparison of a study's sources (Obuchowski-Rockette, Hillis degrees of freedom):
computed on the crossed part of the ratings, stored beside the paired tests, shown on the
dashboard and in the bundle, never to a rater."""

import csv
import io
import random
import zipfile

import pytest
from django.urls import reverse

from annotation import services
from annotation.core import rubric
from annotation.core.stats.mrmc import FIXED_CASES, FIXED_READERS, RANDOM_BOTH, mrmc
from annotation.core.stats.mrmc.analysis import plain
from annotation.models import Case, Result, TaskRun
from annotation.services.bundle import bundle_path, methods_text
from annotation.services.statistics.rows import about_one_output, human_rows
from tests.factories import UserFactory, submit_rated
from tests.support.browser import BROWSER_MARKS, browser_page, log_in

pytestmark = pytest.mark.django_db

MODEL, HUMAN = "MedSumm-7B", "Expert-written summary"
PAIR = f"{HUMAN} vs {MODEL}"  # labels in order: expert minus model
N_CASES = 6


def compute(study) -> None:
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))


def study_rows(n_cases: int) -> bytes:
    lines = ["case_id,input,source,output,source_kind"]
    for n in range(1, n_cases + 1):
        lines.append(f"c{n},Question {n},{HUMAN},Expert summary {n},human_reference")
        lines.append(f"c{n},Question {n},{MODEL},Model summary {n},model")
    return ("\n".join(lines) + "\n").encode()


def make_study(study_admin, raters, *, raters_per_item: int):
    study = services.study_create(
        creator=study_admin,
        title="Crossed reader study",
        raters_per_item=raters_per_item,
        question_prompt="How good is the summary?",
        seed=77,
    )
    services.study_import_file(study=study, filename="s.csv", content=study_rows(N_CASES))
    services.question_add(
        study=study,
        draft=rubric.QuestionDraft(key="safe", prompt="Safe?", kind="yes_no", level="nominal"),
    )
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    study.refresh_from_db()
    return study


def rate_everything(study, seed: int = 3) -> None:
    """Every assignment answered: the expert scored higher, each rater with a bias of their own,
    yes more often for the expert; then submitted."""
    rng = random.Random(seed)
    overall, safe = study.questions.get(key="overall"), study.questions.get(key="safe")
    bias = {}
    for assignment in study.assignments.select_related("item__output__source").order_by("pk"):
        expert = assignment.item.output.source.label == HUMAN
        lean = bias.setdefault(assignment.rater_id, rng.choice([-1, 0, 1]))
        better = expert and rng.random() < 0.5
        score = min(5, max(1, 3 + better + lean + rng.choice([-1, 0, 0, 1])))
        services.rating_save(assignment=assignment, question=overall, answer=score)
        yes = rng.random() < (0.8 if expert else 0.4)
        services.rating_save(assignment=assignment, question=safe, answer="yes" if yes else "no")
    submit_rated(study)


@pytest.fixture
def crossed_study(study_admin, raters):
    readers = [*raters, UserFactory(username="rater4")]
    study = make_study(study_admin, readers, raters_per_item=len(readers))
    rate_everything(study)
    compute(study)
    return study


def stored(study, question="overall", statistic="mrmc") -> Result:
    return Result.objects.get(
        study=study, question__key=question, statistic=statistic, source=PAIR, judge=""
    )


def direct(study, question: str, figure: str):
    """`mrmc()` on the same submitted ratings, read straight from the database."""
    rows = human_rows(study, study.questions.get(key=question))
    readings = [(rater, case, source, value) for case, source, _, rater, value in rows]
    assert all(about_one_output(row) for row in rows)
    # Sources in label order, so that differences are the expert minus the model.
    readings.sort(key=lambda reading: reading[2] != HUMAN)
    return mrmc(readings, figure=figure)


def assert_close(found, expected) -> None:
    """Equal structure and strings, numbers equal to rounding (cells are summed in another
    order)."""
    if isinstance(expected, dict):
        assert sorted(found) == sorted(expected)
        for key in expected:
            assert_close(found[key], expected[key])
    elif isinstance(expected, list):
        assert len(found) == len(expected)
        for a, b in zip(found, expected, strict=True):
            assert_close(a, b)
    elif isinstance(expected, float):
        assert found == pytest.approx(expected, rel=1e-9, abs=1e-12)
    else:
        assert found == expected


def test_a_crossed_study_stores_the_mrmc_analysis_of_each_question(crossed_study):
    for question, figure in (("overall", "mean"), ("safe", "proportion")):
        result = stored(crossed_study, question)
        expected = direct(crossed_study, question, figure)
        random_both, fixed_readers, _ = expected.analyses
        assert random_both.question == RANDOM_BOTH
        assert result.value == pytest.approx(random_both.test.p)
        assert (result.n_units, result.n_raters) == (N_CASES, 4)
        detail = result.detail
        assert_close(detail["analyses"], expected.as_dict()["analyses"])
        assert_close(detail["figures"], expected.as_dict()["figures"])
        # What the study planner reads to size a next study.
        assert_close(detail["components"], plain(expected.components))
        assert detail["n_cases"] == N_CASES
        assert detail["questions"]["random_both"] == RANDOM_BOTH
        assert detail["questions"]["fixed_readers"] == FIXED_READERS
        for key, analysis in (("random_both", random_both), ("fixed_readers", fixed_readers)):
            difference = analysis.differences[0]
            assert (difference.first, difference.second) == (HUMAN, MODEL)
            assert detail[key]["value"] == pytest.approx(difference.estimate)
            assert detail[key]["ci"] == pytest.approx(list(difference.ci))
            assert detail[key]["interval_question"] == analysis.question
        assert detail["cases_used"] == detail["cases_total"] == N_CASES
        assert detail["readers_used"] == detail["readers_total"] == 4
        # Adjusted across the study's MRMC tests (one per question here, each its own family).
        assert detail["p_adjusted"] is not None
        assert "Obuchowski-Rockette MRMC" in detail["adjustment"]


def test_mean_score_difference_is_the_expert_minus_the_model(crossed_study):
    rows = human_rows(crossed_study, crossed_study.questions.get(key="overall"))
    means = {
        source: sum(v for _, s, _, _, v in rows if s == source) / (4 * N_CASES)
        for source in (HUMAN, MODEL)
    }
    result = stored(crossed_study)
    assert result.detail["random_both"]["value"] == pytest.approx(means[HUMAN] - means[MODEL])


def test_recomputing_unchanged_ratings_keeps_the_result(crossed_study):
    before = stored(crossed_study)
    compute(crossed_study)
    after = stored(crossed_study)
    assert after.computed_at == before.computed_at
    assert after.pk == before.pk


def test_a_study_that_is_not_crossed_says_why(study_admin, raters):
    # Two raters of three per output: no case was read by every reader under both sources.
    study = make_study(study_admin, raters, raters_per_item=2)
    rate_everything(study)
    compute(study)
    result = stored(study)
    assert result.value is None
    reason = result.detail["reason"]
    assert reason.startswith("not a crossed design:")
    assert "every reader to read the same cases under each source" in reason
    assert result.detail["cases_total"] == N_CASES
    assert result.detail["cases_used"] < 2 or result.detail["readers_used"] < 2
    # The paired tests are there all the same.
    assert Result.objects.filter(study=study, statistic="wilcoxon", source=PAIR).exists()


def test_accuracy_is_compared_where_the_cases_carry_expected_answers(study_admin, raters):
    readers = [*raters, UserFactory(username="rater4")]
    study = make_study(study_admin, readers, raters_per_item=len(readers))
    # The importer gives expected answers to training and attention cases only; set here.
    Case.objects.filter(study=study).update(expected={"safe": ["yes"]})
    rate_everything(study)
    compute(study)
    result = stored(study, "safe", "mrmc_accuracy")
    expected = direct(study, "safe", "proportion")  # expected "yes": accuracy = share of yes
    assert result.value == pytest.approx(expected.analyses[0].test.p)
    assert result.detail["figure_of_merit"] == "accuracy"
    overall = Result.objects.filter(study=study, question__key="overall")
    assert not overall.filter(statistic="mrmc_accuracy").exists()  # no expected answers there


def p_text(p: float) -> str:
    return "&lt; 0.0001" if p < 0.0001 else f"{p:.4f}"


def test_the_dashboard_shows_both_questions_beside_the_paired_tests(
    crossed_study, client, study_admin
):
    result = stored(crossed_study)
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[crossed_study.token])).content.decode()
    shown = page.split('id="comparisons"')[1]
    assert "Wilcoxon signed-rank p" in shown
    mrmc_part = shown.split('data-testid="mrmc-overall"')[1].split("</table>")[0]
    # Each line names the question its interval answers, then the difference and its CI.
    assert f"{PAIR}: mean score" in mrmc_part
    assert "4 readers × 6 cases" in mrmc_part
    lines = [row for row in mrmc_part.split("<tr>") if "<td>" in row]
    assert len(lines) == 2  # the mean score's two questions (no expected answers: no accuracy)
    for line, key in zip(lines, ("random_both", "fixed_readers"), strict=False):
        question = RANDOM_BOTH if key == "random_both" else FIXED_READERS
        assert question[0].upper() + question[1:] in line
        low, high = result.detail[key]["ci"]
        value = result.detail[key]["value"]
        assert f'{value:.3f} <span class="muted">({low:.3f} to {high:.3f})' in line
        assert p_text(result.detail[key]["p"]) in line
    assert f"({p_text(result.detail['p_adjusted'])})" in lines[0]


def test_the_dashboard_says_why_there_is_no_mrmc(study_admin, raters, client):
    study = make_study(study_admin, raters, raters_per_item=2)
    rate_everything(study)
    compute(study)
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[study.token])).content.decode()
    assert "not a crossed design" in page.split('data-testid="mrmc-overall"')[1]


def test_the_bundle_lists_the_mrmc_rows_and_names_the_method(crossed_study):
    run = TaskRun.objects.create(study=crossed_study, kind=TaskRun.Kind.EXPORT_BUNDLE)
    services.bundle_build(run=services.task_run_claim(run_id=run.pk))
    run.refresh_from_db()
    assert run.status == "succeeded", run.message
    with zipfile.ZipFile(bundle_path(run)) as archive:
        names = archive.namelist()
        comparison = next(n for n in names if n.endswith("comparison.csv"))
        rows = list(csv.DictReader(io.StringIO(archive.read(comparison).decode())))
    result = stored(crossed_study)
    mine = {r["statistic"]: r for r in rows if r["question"] == "overall" and r["source"] == PAIR}
    assert float(mine["mrmc"]["value"]) == pytest.approx(result.value)
    assert "Hillis (2007)" in mine["mrmc"]["method"]
    questions = (
        ("random_both", RANDOM_BOTH),
        ("fixed_readers", FIXED_READERS),
        ("fixed_cases", FIXED_CASES),
    )
    for key, question in questions:
        row = mine[f"mrmc:{key}"]
        assert float(row["value"]) == pytest.approx(result.detail[key]["value"])
        assert float(row["ci_low"]) == pytest.approx(result.detail[key]["ci"][0])
        assert row["interval_question"] == question
    methods = methods_text(crossed_study)
    assert (
        "Obuchowski-Rockette with Hillis (2007) degrees of freedom, jackknife covariances over "
        "cases; readers and cases random"
    ) in methods
    assert "### Multi-reader multi-case comparisons" in methods
    assert f"{result.detail['random_both']['value']:+.3f} (95% CI" in methods


def test_a_rater_sees_no_mrmc(crossed_study, client, raters):
    result = stored(crossed_study)
    client.force_login(raters[0])
    dashboard = client.get(reverse("study_dashboard", args=[crossed_study.token]))
    assert dashboard.status_code in (403, 404)
    home = client.get(reverse("rater_home")).content.decode()
    for text in ("MRMC", "Obuchowski", f"{result.value:.4f}", MODEL, HUMAN):
        assert text not in home


browser, transaction, needs_chromium = BROWSER_MARKS


@browser
@transaction
@needs_chromium
def test_the_mrmc_table_fits_a_phone(live_server, study_admin, raters):
    readers = [*raters, UserFactory(username="rater4")]
    study = make_study(study_admin, readers, raters_per_item=len(readers))
    rate_everything(study)
    compute(study)
    with browser_page(live_server.url, viewport={"width": 390, "height": 844}) as page:
        log_in(page, study_admin.username)
        page.goto(f"/studies/{study.token}/")
        table = page.locator('[data-testid="mrmc-overall"]')
        assert "readers and cases random" in table.inner_text()
        # The card scrolls the wide table inside it; the page itself never scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
