"""Test-retest across a washout (annotation.core.stats.retest and its service), checked against
independent computations: scikit-learn's Cohen's kappa, and ICC(A,1) from the two-way ANOVA
written out here with numpy."""

import datetime

import numpy as np
import pytest
from django.urls import reverse
from sklearn.metrics import cohen_kappa_score

from annotation import selectors, services
from annotation.core.stats import retest
from annotation.core.stats.bootstrap import Bootstrap
from annotation.models import Assignment, Rating, Result, TaskRun
from annotation.selectors.exports import AGREEMENT, study_result_rows
from tests.factories import submit_rated
from tests.test_washout_sessions import washout_study

SCALE = [1.0, 2.0, 3.0, 4.0, 5.0]
BOOT = Bootstrap(resamples=400, seed=7)


def _pairs(seed: int = 3, raters: int = 3, items: int = 25) -> list[retest.RetestPair]:
    rng = np.random.default_rng(seed)
    pairs = []
    for r in range(raters):
        for i in range(items):
            first = float(rng.integers(1, 6))
            drift = rng.choice([-1, 0, 0, 0, 1, 2])  # mostly the same, sometimes not
            second = float(min(5, max(1, first + drift)))
            pairs.append(retest.RetestPair(f"R{r + 1}", f"item{i}", first, second))
    return pairs


def icc_a1(first, second) -> float:
    """McGraw & Wong's ICC(A,1) from the two-way ANOVA of an n x 2 table, by hand."""
    table = np.column_stack([first, second]).astype(float)
    n, k = table.shape
    grand = table.mean()
    ms_rows = k * ((table.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    ms_cols = n * ((table.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    residual = table - table.mean(axis=1, keepdims=True) - table.mean(axis=0) + grand
    ms_error = (residual**2).sum() / ((n - 1) * (k - 1))
    return (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error + k * (ms_cols - ms_error) / n)


def test_weighted_kappa_matches_scikit_learn_overall_and_per_rater():
    pairs = _pairs()
    found = retest.washout_retest(pairs, level="ordinal", categories=SCALE, bootstrap=BOOT)
    overall, by_rater = found["kappa"]
    expected = cohen_kappa_score(
        [p.first for p in pairs], [p.second for p in pairs], labels=SCALE, weights="quadratic"
    )
    assert overall.value == pytest.approx(expected)
    assert "quadratic" in overall.method
    assert sorted(by_rater) == ["R1", "R2", "R3"]
    for rater, estimate in by_rater.items():
        mine = [p for p in pairs if p.rater == rater]
        assert estimate.value == pytest.approx(
            cohen_kappa_score(
                [p.first for p in mine],
                [p.second for p in mine],
                labels=SCALE,
                weights="quadratic",
            )
        )
        assert estimate.n_units == 25


def test_a_nominal_question_gets_unweighted_kappa_and_no_icc():
    pairs = _pairs(seed=9)
    found = retest.washout_retest(pairs, level="nominal", categories=SCALE, bootstrap=BOOT)
    assert set(found) == {"kappa"}
    overall, _ = found["kappa"]
    expected = cohen_kappa_score([p.first for p in pairs], [p.second for p in pairs], labels=SCALE)
    assert overall.value == pytest.approx(expected)
    assert overall.method == "Cohen's kappa"


def test_icc_a1_matches_the_anova_written_out():
    pairs = _pairs(seed=5)
    overall, by_rater = retest.washout_retest(
        pairs, level="interval", categories=SCALE, bootstrap=BOOT
    )["icc"]
    assert overall.value == pytest.approx(
        icc_a1([p.first for p in pairs], [p.second for p in pairs])
    )
    mine = [p for p in pairs if p.rater == "R2"]
    assert by_rater["R2"].value == pytest.approx(
        icc_a1([p.first for p in mine], [p.second for p in mine])
    )
    assert "absolute agreement" in overall.method


def test_a_rater_who_scores_higher_the_second_time_loses_icc_but_not_consistency():
    first = [1.0, 2.0, 3.0, 4.0, 5.0, 2.0, 3.0, 4.0]
    shifted = [retest.RetestPair("R1", f"i{n}", v, v + 1) for n, v in enumerate(first)]
    estimate = retest.retest_icc(shifted, level="interval", bootstrap=None)
    assert estimate.value == pytest.approx(icc_a1(first, [v + 1 for v in first]))
    assert estimate.value < 0.9  # a perfect correlation, but not absolute agreement


def test_each_interval_is_a_seeded_bootstrap_over_items_for_these_raters_and_occasions():
    pairs = _pairs(seed=11)
    again = retest.washout_retest(pairs, level="ordinal", categories=SCALE, bootstrap=BOOT)
    found = retest.washout_retest(pairs, level="ordinal", categories=SCALE, bootstrap=BOOT)
    for key in ("kappa", "icc"):
        overall, _ = found[key]
        assert overall.ci == again[key][0].ci
        low, high = overall.ci
        assert low <= overall.value <= high
        assert overall.interval_question == retest.THESE_OCCASIONS
        assert "bootstrap" in overall.ci_method
        assert overall.seed == 7
    icc_beside = found["icc"][0].other_intervals[0]
    assert icc_beside["interval_question"].startswith("raters like these")


def _rate(assignment: Assignment, value: int) -> None:
    question = assignment.study.questions.get()
    Rating.objects.update_or_create(
        assignment=assignment,
        question=question,
        output=None,
        defaults={"answer": value, "value": float(value)},
    )


@pytest.mark.django_db
def test_the_study_stores_test_retest_across_the_washout_apart_from_hidden_repeats(
    client, study_admin, raters
):
    study = washout_study(study_admin, raters, retests=3)
    firsts, seconds, by_rater = [], [], {}
    for assignment in study.assignments.filter(kind=Assignment.Kind.STUDY):
        _rate(
            assignment, int(assignment.item.output.case.external_id[1:]) % 5 + 1 + assignment.pk % 2
        )
    submit_rated(study)
    Assignment.objects.filter(study=study, session=1).update(
        submitted_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    )
    rereads = study.assignments.filter(kind=Assignment.Kind.RETEST).order_by("rater", "position")
    for n, reread in enumerate(rereads.select_related("repeat_of", "rater")):
        before = int(reread.repeat_of.ratings.get().value)
        again = before if n % 2 else min(5, before + 1)
        _rate(reread, again)
        firsts.append(before)
        seconds.append(again)
        by_rater.setdefault(reread.rater, []).append((before, again))
    submit_rated(study)
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    kappa = Result.objects.get(study=study, statistic="washout_retest_kappa")
    icc = Result.objects.get(study=study, statistic="washout_retest_icc")
    assert kappa.n_units == len(firsts) == 9
    assert kappa.value == pytest.approx(
        cohen_kappa_score(firsts, seconds, labels=SCALE, weights="quadratic")
    )
    assert icc.value == pytest.approx(icc_a1(firsts, seconds))
    assert kappa.detail["interval_question"] == retest.THESE_OCCASIONS
    pseudonyms = dict(study.memberships.values_list("user", "pseudonym"))
    for user, answers in by_rater.items():
        mine = kappa.detail[f"rater {pseudonyms[user.pk]}"]
        assert mine["n_units"] == 3
        a, b = zip(*answers, strict=True)
        if len(set(a) | set(b)) > 1:
            expected = cohen_kappa_score(a, b, labels=SCALE, weights="quadratic")
            assert mine["value"] == pytest.approx(expected)
    # No hidden repeats: no within-sitting test-retest, and the across-washout figures apart.
    assert not Result.objects.filter(study=study, statistic="test_retest_alpha").exists()
    alpha = Result.objects.get(study=study, statistic="krippendorff_alpha", source="", judge="")
    assert alpha.n_ratings == study.assignments.filter(kind=Assignment.Kind.STUDY).count()
    # The dashboard shows them, overall and per rater; agreement.csv has a row for each.
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[study.token])).content.decode()
    text = " ".join(page.split())
    assert "Test-retest across the washout" in text
    assert f"<td>All raters</td> <td>{kappa.value:.3f}" in text
    assert retest.THESE_OCCASIONS in text
    rows = list(study_result_rows(study=study, family=AGREEMENT))
    names = {row["statistic"] for row in rows}
    assert {"washout_retest_kappa", "washout_retest_icc"} <= names
    assert {f"washout_retest_kappa:rater R{n}" for n in (1, 2, 3)} <= names
    per_rater = next(r for r in rows if r["statistic"] == "washout_retest_icc:rater R1")
    assert per_rater["interval_question"] == retest.THESE_OCCASIONS
    # The methods text (and so the checklists' evidence) says what was done and what came out.
    facts = selectors.study_reporting_facts(study=study)
    design_text = " ".join(facts["design"])
    assert "3 of their own study items re-read in a second session" in design_text
    assert "14 days had passed since their last submit in it (the washout)" in design_text
    assert "the first readings of the re-read items closed" in design_text
    agreement = " ".join(facts["agreement"])
    assert 'Question "overall": test-retest across the washout' in agreement
    assert f"Cohen's kappa, quadratic weights = {kappa.value:.3f}" in agreement
    assert "9 items re-read by 3 raters" in agreement
    assert retest.THESE_OCCASIONS in agreement


def test_the_stat_files_keep_a_reread_on_its_own_row_with_its_session(tmp_path):
    import json

    import pyreadstat

    from annotation.core import rubric, stat_files

    scale = [{"answer": v, "value": v, "label": f"point {v}"} for v in (1, 2, 3)]
    question = {"question": "overall", "prompt": "Good?", "kind": rubric.LIKERT, "minimum": 1}
    question |= {"na_offered": False, "scale_json": json.dumps(scale)}
    variables = stat_files.question_variables([question])
    base = {"item_token": "i1", "rater": "R1", "question": "overall", "output_slot": ""}
    base |= {"flipped": False, "shown_order": "", "submitted": True, "time_on_task_seconds": 2.0}
    ratings = [
        base | {"kind": "study", "answer": 2, "value": 2.0, "session": 1},
        base | {"kind": "retest", "answer": 3, "value": 3.0, "session": 2},
    ]
    frame = stat_files.ratings_frame(ratings, variables)
    path = tmp_path / stat_files.SAV
    path.write_bytes(stat_files.sav_bytes(frame, variables, file_label="Test"))
    read, meta = pyreadstat.read_sav(str(path))
    rows = sorted(zip(read["kind"], read["session"], read["overall"], strict=True))
    assert rows == [("retest", 2.0, 3.0), ("study", 1.0, 2.0)]
    assert "reading session" in meta.column_names_to_labels["session"]


@pytest.mark.parametrize(("level", "figures"), [("interval", ["icc"]), ("ratio", ["icc"])])
def test_a_question_of_quantities_gets_icc_alone(level, figures):
    found = retest.washout_retest(_pairs(seed=5), level=level, categories=SCALE, bootstrap=None)
    assert sorted(found) == figures
