"""A study's statistics as the service stores them: every coefficient per question, over all
sources and per source, for the raters alone and with each LLM judge added; canonical pairwise
orientation; only submitted items; unchanged inputs keep their results."""

import random

import krippendorff
import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone
from scipy import stats as scipy_stats

from annotation import services
from annotation.core.stats import coefficients
from annotation.core.stats.data import Observation, ratings_from
from annotation.core.stats.names import AAT, VERSUS_HUMANS
from annotation.core.stats.resampling import (
    Bootstrap,
    Patterns,
    bca_interval,
    percentile_interval,
)
from annotation.models import Assignment, Item, Judge, JudgeRating, JudgeVerdict, Result, TaskRun
from tests.conftest import STUDY_ROWS
from tests.factories import alpha_of, submit_rated
from tests.test_pairwise import make_pairwise_study

pytestmark = pytest.mark.django_db

MODEL, HUMAN = "MedSumm-7B", "Expert-written summary"


def compute(study) -> TaskRun:
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    run.refresh_from_db()
    return run


def rate_absolute(study, seed: int = 5) -> list[tuple[str, str, str, int]]:
    """Every assignment answered 1-5 at random (seeded) and submitted; returns what was rated
    as (case, source, rater pseudonym, value)."""
    rng = random.Random(seed)
    question = study.questions.get()
    pseudonyms = dict(study.memberships.values_list("user_id", "pseudonym"))
    rated = []
    for assignment in study.assignments.select_related(
        "item__output__case", "item__output__source"
    ):
        value = rng.randint(1, 5)
        services.rating_save(assignment=assignment, question=question, answer=value)
        output = assignment.item.output
        rated.append(
            (output.case.external_id, output.source.label, pseudonyms[assignment.rater_id], value)
        )
    submit_rated(study)
    return rated


# The coefficients whose interval for these raters is BCa over cases in a study (the coverage
# benchmark shows it helps them); percent agreement keeps the percentile interval.
BCA = {
    "krippendorff_alpha",
    "fleiss_kappa",
    "gwet_ac1",
    "gwet_ac2_linear",
    "gwet_ac2_quadratic",
    "cohen_kappa",
    "cohen_kappa_linear",
    "cohen_kappa_quadratic",
}


def ratings_of(rated):
    observations = [Observation(f"{case}/{source}", rater, v) for case, source, rater, v in rated]
    return ratings_from(observations, level="ordinal", categories=[1, 2, 3, 4, 5])


def expected_coefficients(rated, study) -> dict:
    bootstrap = Bootstrap(1000, study.seed)
    return coefficients.all_coefficients(ratings_of(rated), bootstrap=bootstrap, bca=BCA)


def stored(study, **scope) -> dict[str, Result]:
    return {r.statistic: r for r in Result.objects.filter(study=study, **scope)}


def test_every_coefficient_is_stored_over_all_sources_and_per_source(open_study):
    rated = rate_absolute(open_study)
    compute(open_study)
    overall = stored(open_study, source="", judge="")
    expected = expected_coefficients(rated, open_study)
    assert set(overall) == set(expected) | {"krippendorff_alpha"}
    for key, estimate in expected.items():
        assert overall[key].value == pytest.approx(estimate.value), key
        assert overall[key].detail["ci"] == pytest.approx(list(estimate.ci)), key
        assert overall[key].detail["method"] == estimate.method
    # Alpha, independently: the krippendorff package on the raters x units matrix.
    units = sorted({(case, source) for case, source, _, _ in rated})
    raters = sorted({rater for _, _, rater, _ in rated})
    matrix = np.full((len(raters), len(units)), np.nan)
    for case, source, rater, value in rated:
        matrix[raters.index(rater), units.index((case, source))] = value
    package = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal")
    assert overall["krippendorff_alpha"].value == pytest.approx(package)
    for source in (MODEL, HUMAN):
        mine = [row for row in rated if row[1] == source]
        alone = stored(open_study, source=source, judge="")
        want = expected_coefficients(mine, open_study)
        assert alone["krippendorff_alpha"].value == pytest.approx(want["krippendorff_alpha"].value)
        assert alone["percent_agreement"].n_units == 3


def test_stored_fleiss_interval_is_bca_over_cases_on_the_same_ratings(open_study):
    rated = rate_absolute(open_study)
    compute(open_study)
    fleiss = stored(open_study, source="", judge="")["fleiss_kappa"].detail
    # Fleiss' kappa written here from its formula, over the units' category counts.
    patterns = Patterns.of(ratings_of(rated).counts)
    rows = patterns.rows.astype(float)
    m = rows.sum(axis=1)

    def kappa(weights):
        agreeing = (weights @ ((rows * (rows - 1)).sum(axis=1) / (m * (m - 1)))) / weights.sum(1)
        shares = (weights @ rows) / (weights @ rows).sum(axis=1, keepdims=True)
        chance = (shares**2).sum(axis=1)
        return (agreeing - chance) / (1 - chance)

    bootstrap = Bootstrap(1000, open_study.seed, kind="bca")
    ci, used, note = bca_interval(kappa, patterns, bootstrap)
    assert note == ""
    assert fleiss["ci"] == pytest.approx(list(ci), abs=1e-12)
    assert fleiss["resamples_used"] == used
    assert fleiss["interval_method"] == "BCa bootstrap over cases"
    assert fleiss["interval_question"] == "these raters, cases like these"
    assert fleiss["ci_method"].startswith("BCa bootstrap (Efron 1987) resampling units, 1000")
    percentile = percentile_interval(kappa, patterns, Bootstrap(1000, open_study.seed))[0]
    beside = [i for i in fleiss["other_intervals"] if i["interval_method"].startswith("perc")]
    assert beside[0]["ci"] == pytest.approx(list(percentile), abs=1e-12)
    assert fleiss["ci"] != pytest.approx(beside[0]["ci"])  # BCa moved the ends


def test_percent_agreement_keeps_the_percentile_interval(open_study):
    rate_absolute(open_study)
    compute(open_study)
    detail = stored(open_study, source="", judge="")["percent_agreement"].detail
    assert detail["interval_method"] == "percentile bootstrap over cases"
    assert [i["interval_method"] for i in detail["other_intervals"]] == [
        "bootstrap over cases + jackknife over raters"
    ]


def test_only_submitted_items_count(open_study):
    question = open_study.questions.get()
    first, second = open_study.assignments.filter(item=open_study.items.first())
    services.rating_save(assignment=first, question=question, answer=4)
    services.rating_save(assignment=second, question=question, answer=4)
    services.assignment_submit(assignment=first)
    compute(open_study)
    assert alpha_of(open_study).n_ratings == 0  # the second is still a draft
    services.assignment_submit(assignment=second)
    compute(open_study)
    assert alpha_of(open_study).n_ratings == 2


def add_judge(study, label: str, answers: dict, *, sample: int = 0) -> Judge:
    """A judge's answers as a judge run stores them, for items keyed by (case, source)."""
    judge, _ = Judge.objects.get_or_create(
        study=study, label=label, defaults={"base_url": "http://127.0.0.1:9", "model_name": "j"}
    )
    question = study.questions.get()
    now = timezone.now()
    for item in Item.objects.filter(study=study).select_related("output__case", "output__source"):
        key = (item.output.case.external_id, item.output.source.label)
        verdict = JudgeVerdict.objects.create(
            judge=judge, item=item, order=[0], sample=sample, outcome="ok",
            started_at=now, finished_at=now,
        )  # fmt: skip
        JudgeRating.objects.create(
            verdict=verdict, question=question, answer=answers[key], value=float(answers[key])
        )
    return judge


def test_each_judge_is_added_to_the_raters_as_one_more(open_study):
    rated = rate_absolute(open_study)
    answers = {(case, source): (3 if source == MODEL else 2) for case, source, _, _ in rated}
    judge = add_judge(open_study, "GPT-judge", answers)
    # Its later samples measure its consistency; they are not more raters.
    add_judge(open_study, "GPT-judge", {key: 5 for key in answers}, sample=1)
    compute(open_study)
    with_judge = stored(open_study, source="", judge=judge.label)
    joined = rated + [(case, source, "judge", v) for (case, source), v in answers.items()]
    expected = expected_coefficients(joined, open_study)
    assert with_judge["krippendorff_alpha"].value == pytest.approx(
        expected["krippendorff_alpha"].value
    )
    assert with_judge["krippendorff_alpha"].n_raters == 4
    assert with_judge["fleiss_kappa"].value == pytest.approx(expected["fleiss_kappa"].value)
    assert "cohen_kappa" not in with_judge  # more than two raters
    # Per source too, and the raters-only figures do not move.
    assert stored(open_study, source=MODEL, judge=judge.label)["krippendorff_alpha"].n_raters == 4
    assert alpha_of(open_study).n_raters == 3
    # A judge removed takes its results with it at the next computation.
    judge.delete()
    compute(open_study)
    assert not Result.objects.filter(study=open_study).exclude(judge="").exists()


def test_unchanged_inputs_keep_their_results_and_time(open_study):
    rate_absolute(open_study)
    compute(open_study)
    first = alpha_of(open_study)
    compute(open_study)
    again = alpha_of(open_study)
    assert (again.pk, again.computed_at, again.value) == (first.pk, first.computed_at, first.value)
    # One changed answer recomputes.
    assignment = open_study.assignments.first()
    value = assignment.ratings.get().value
    services.rating_save(
        assignment=assignment, question=open_study.questions.get(), answer=int(value) % 5 + 1
    )
    compute(open_study)
    assert alpha_of(open_study).computed_at > first.computed_at


def test_flipping_sides_for_half_the_raters_changes_no_statistic(study_admin, raters):
    plain = make_pairwise_study(study_admin, raters)
    flipped = make_pairwise_study(study_admin, raters)
    Assignment.objects.filter(study=plain).update(flipped=False)
    half = [user.pk for user in raters[: len(raters) // 2 + 1]]
    Assignment.objects.filter(study=flipped).update(flipped=False)
    Assignment.objects.filter(study=flipped, rater_id__in=half).update(flipped=True)
    rng = random.Random(11)
    preference = {}  # (item position, rater) -> canonical answer, the same in both studies
    for study in (plain, flipped):
        question = study.questions.get()
        items = list(Item.objects.filter(study=study).order_by("pk"))
        for assignment in Assignment.objects.filter(study=study).select_related("item"):
            key = (items.index(assignment.item), assignment.rater_id)
            canonical = preference.setdefault(key, rng.choice([-2, -1, 0, 1, 2]))
            shown = -canonical if assignment.flipped else canonical
            services.rating_save(assignment=assignment, question=question, answer=shown)
        submit_rated(study)
        compute(study)
    assert Assignment.objects.filter(study=flipped, flipped=True).count() > 0

    def table(study):
        return {
            (r.question.key, r.statistic, r.source, r.judge): (r.value, r.detail.get("ci"))
            for r in Result.objects.filter(study=study)
        }

    assert table(plain) == table(flipped)
    assert table(plain)[("preference", "krippendorff_alpha", "", "")][0] is not None


def judge_from(study, label: str, answer_of) -> Judge:
    """A judge whose canonical-order answer on every item and question is `answer_of(rating
    values of that item and question by rater)`, stored as a judge run stores it."""
    judge = Judge.objects.create(study=study, label=label, base_url="http://127.0.0.1:9")
    now = timezone.now()
    questions = list(study.questions.all())
    for item in Item.objects.filter(study=study):
        verdict = JudgeVerdict.objects.create(
            judge=judge, item=item, order=[0, 1], outcome="ok", started_at=now, finished_at=now
        )
        for question in questions:
            by_rater = dict(
                item.assignments.filter(ratings__question=question).values_list(
                    "rater_id", "ratings__value"
                )
            )
            value = answer_of(by_rater)
            JudgeRating.objects.create(
                verdict=verdict, question=question, answer=int(value), value=value
            )
    return judge


def test_a_judge_that_copies_one_reader_passes_the_alternative_annotator_test(
    imported, client, study_admin
):
    """Van Veen's five readers on 100 questions: a judge answering as reader one does stands in
    for the readers; one answering at random does not."""
    membership = imported.memberships.filter(role="rater").order_by("pseudonym").first()
    first, copied = membership.user_id, membership.pseudonym
    rng = random.Random(3)
    judge_from(imported, "Copycat", lambda by_rater: by_rater.get(first, 0.0))
    judge_from(imported, "Coin", lambda by_rater: float(rng.choice([-2, -1, 0, 1, 2])))
    compute(imported)
    for question in ("completeness", "correctness", "conciseness"):
        copycat = Result.objects.get(
            study=imported, question__key=question, judge="Copycat", statistic=AAT
        )
        coin = Result.objects.get(
            study=imported, question__key=question, judge="Coin", statistic=AAT
        )
        assert copycat.detail["passes"], (question, copycat.detail)
        assert copycat.value >= 0.5
        assert not coin.detail["passes"], (question, coin.detail)
        assert coin.value < 0.5
        assert copycat.detail["epsilon"] == 0.2  # the study's, for clinician raters
        across = copycat.detail["across_questions"]  # one correction over all three questions
        assert (across["n_questions"], across["n_tested"], across["passes"]) == (3, 15, True)
        assert copycat.n_raters == 5  # every reader rated all 100 questions: all tested
        versus = Result.objects.get(
            study=imported, question__key=question, judge="Copycat", statistic=VERSUS_HUMANS
        )
        ceiling = versus.detail["ceiling"]["mean"]["krippendorff_alpha"]
        # Copying one reader, the judge is as close to the others as that reader is.
        reader = versus.detail["ceiling"]["per_human"][copied]
        assert reader["judge"]["krippendorff_alpha"]["value"] == pytest.approx(
            reader["human"]["krippendorff_alpha"]["value"]
        )
        assert ceiling["judge"] is not None
        assert ceiling["human"] is not None
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[imported.token])).content.decode()
    tests = page.split('data-testid="judge-tests"')[1].split("</table>")[0]
    assert tests.count("passes") == 1  # Copycat, once per question shown
    assert "Coin" in tests


RATERS_LIKE_THESE = "raters like these, cases like these"


def two_rater_study(study_admin, raters):
    study = services.study_create(
        creator=study_admin,
        title="Two readers",
        raters_per_item=2,
        question_prompt="How well does the summary capture the question?",
        seed=99,
    )
    services.study_import_file(study=study, filename="study.csv", content=STUDY_ROWS)
    services.study_add_raters(study=study, users=raters[:2])
    services.study_open(study=study)
    study.refresh_from_db()
    return study


def test_beside_the_interval_for_these_raters_is_one_for_raters_like_these(open_study):
    """Alpha's raters-and-cases interval written out from its definition: the variance over
    cases read from the stored percentile unit-bootstrap interval (beside the BCa headline),
    the jackknife over raters with alpha from the krippendorff package on the matrix with each
    rater's row removed, a t quantile on Welch-Satterthwaite's df (Gwet 2008's sum;
    docs/statistics.md)."""
    rated = rate_absolute(open_study)
    compute(open_study)
    alpha = stored(open_study, source="", judge="")["krippendorff_alpha"]
    assert alpha.detail["interval_question"] == "these raters, cases like these"
    (like,) = [
        other
        for other in alpha.detail["other_intervals"]
        if other["interval_question"] == RATERS_LIKE_THESE
    ]
    units = sorted({(case, source) for case, source, _, _ in rated})
    raters = sorted({rater for _, _, rater, _ in rated})
    matrix = np.full((len(raters), len(units)), np.nan)
    for case, source, rater, value in rated:
        matrix[raters.index(rater), units.index((case, source))] = value
    leave_outs = np.array(
        [
            krippendorff.alpha(
                reliability_data=np.delete(matrix, j, axis=0),
                level_of_measurement="ordinal",
                value_domain=[1, 2, 3, 4, 5],
            )
            for j in range(len(raters))
        ]
    )
    g = len(raters)
    v_raters = (g - 1) / g * ((leave_outs - leave_outs.mean()) ** 2).sum()
    (percentile,) = [
        other["ci"]
        for other in alpha.detail["other_intervals"]
        if other["interval_method"] == "percentile bootstrap over cases"
    ]
    low, high = percentile
    v_units = ((high - low) / (2 * scipy_stats.norm.ppf(0.975))) ** 2
    df = (v_units + v_raters) ** 2 / (v_units**2 / (alpha.n_units - 1) + v_raters**2 / (g - 1))
    half = scipy_stats.t.ppf(0.975, df) * np.sqrt(v_units + v_raters)
    # Cut back to what alpha can be (-1 to 1) where the t interval reaches past it.
    expected = [max(alpha.value - half, -1.0), min(alpha.value + half, 1.0)]
    assert like["ci"] == pytest.approx(expected, abs=1e-9)
    assert like["df"] == pytest.approx(df)
    assert like["ci_method"].startswith("raters and cases random")
    # Every coefficient but ICC and Cohen's kappa has one; with a judge added, none, saying why.
    for key in ("percent_agreement", "fleiss_kappa", "gwet_ac1", "gwet_ac2_quadratic"):
        result = stored(open_study, source="", judge="")[key]
        questions = [o["interval_question"] for o in result.detail["other_intervals"] if o["ci"]]
        assert questions.count(RATERS_LIKE_THESE) == 1, key
    per_source = stored(open_study, source=MODEL, judge="")["krippendorff_alpha"]
    assert [o["interval_question"] for o in per_source.detail["other_intervals"]] == [
        "these raters, cases like these",  # the percentile interval beside the BCa one
        RATERS_LIKE_THESE,
    ]


def test_a_judge_added_as_a_rater_has_no_interval_for_raters_like_these(open_study):
    rated = rate_absolute(open_study)
    add_judge(open_study, "GPT-judge", {(case, source): 3 for case, source, _, _ in rated})
    compute(open_study)
    alpha = stored(open_study, source="", judge="GPT-judge")["krippendorff_alpha"]
    (like,) = [
        other
        for other in alpha.detail["other_intervals"]
        if other["interval_question"] == RATERS_LIKE_THESE
    ]
    assert like["ci"] is None
    assert like["interval_question"] == RATERS_LIKE_THESE
    assert "LLM judge is one fixed rater" in like["reason"]


def test_two_raters_have_no_interval_for_raters_like_these_and_say_why(study_admin, raters):
    study = two_rater_study(study_admin, raters)
    rate_absolute(study)
    compute(study)
    overall = stored(study, source="", judge="")
    assert "cohen_kappa" in overall
    for key in ("krippendorff_alpha", "cohen_kappa", "fleiss_kappa"):
        detail = overall[key].detail
        assert detail["ci"], key  # these raters: the unit bootstrap
        (like,) = [
            o for o in detail["other_intervals"] if o["interval_question"] == RATERS_LIKE_THESE
        ]
        assert like["ci"] is None
        assert like["reason"].startswith("needs three or more raters"), key
