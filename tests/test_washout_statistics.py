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
from annotation.services.statistics.washout import washout_pairs
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
        assert overall.interval_question == retest.THESE_OCCASIONS_CASES
        assert "bootstrap" in overall.ci_method
        assert overall.seed == 7
    _, by_rater = found["kappa"]
    assert by_rater["R1"].interval_question == retest.THESE_OCCASIONS
    assert by_rater["R1"].interval_method == "percentile bootstrap over cases"


def test_each_interval_says_which_of_the_raters_and_occasions_it_holds_fixed():
    found = retest.washout_retest(
        _pairs(seed=11), level="ordinal", categories=SCALE, bootstrap=BOOT
    )
    (kappa, kappa_by_rater), (icc, icc_by_rater) = found["kappa"], found["icc"]
    fixed = f"these raters on these two occasions; {retest.PAIRS_INDEPENDENT}"
    random = f"the two occasions taken as random, {retest.PAIRS_INDEPENDENT}"
    # Pooled: the headline over cases; beside it, kappa's asymptotic interval holds these raters
    # and occasions, ICC's GCI and F take the occasions (ICC's "raters") as random, all three
    # taking the pairs as independent.
    for pooled in (kappa, icc):
        assert pooled.interval_question == retest.THESE_OCCASIONS_CASES
    assert [o["interval_question"] for o in kappa.other_intervals] == [fixed]
    assert [(o["interval_method"], o["interval_question"]) for o in icc.other_intervals] == [
        ("generalized confidence interval", random),
        ("McGraw-Wong F", random),
    ]
    # Per rater: the unit bootstrap and kappa's asymptotic interval hold these raters and
    # occasions; ICC's GCI and F interval take the two occasions as random.
    mine = kappa_by_rater["R1"]
    assert mine.interval_question == retest.THESE_OCCASIONS
    assert [o["interval_question"] for o in mine.other_intervals] == [retest.THESE_OCCASIONS]
    mine = icc_by_rater["R1"]
    assert mine.interval_question == retest.THESE_OCCASIONS
    assert [(o["interval_method"], o["interval_question"]) for o in mine.other_intervals] == [
        ("generalized confidence interval", retest.OCCASIONS_RANDOM),
        ("McGraw-Wong F", retest.OCCASIONS_RANDOM),
    ]
    labels = str([e.as_dict() for e in (kappa, icc, *kappa_by_rater.values())])
    labels += str([e.as_dict() for e in icc_by_rater.values()])
    assert "raters like these" not in labels


def _items_that_raters_change_alike(seed: int = 1, items: int = 20, raters: int = 6):
    """Every rater reads most items the same twice, but every fourth item is one that every
    rater answers differently the second time: disagreement is a property of the item."""
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(items):
        for r in range(raters):
            first = float(rng.integers(1, 6))
            second = first
            if i % 4 == 0:
                second = float(min(5, max(1, first + rng.choice([-2, -1, 1, 2]))))
            pairs.append(retest.RetestPair(f"R{r + 1}", f"item{i}", first, second))
    return pairs


def _items_resampled_by_hand(pairs, statistic, bootstrap):
    """The cluster bootstrap written out: per resample, draw as many items as there are (the
    same seeded draws, one resample at a time), take every pair of each drawn item, compute."""
    items = list(dict.fromkeys(p.unit for p in pairs))
    of_item = {item: [p for p in pairs if p.unit == item] for item in items}
    rng = np.random.default_rng(bootstrap.seed)
    values = []
    for _ in range(bootstrap.resamples):
        drawn = [p for n in rng.integers(0, len(items), len(items)) for p in of_item[items[n]]]
        values.append(statistic([p.first for p in drawn], [p.second for p in drawn]))
    return np.percentile(values, [2.5, 97.5])


def test_the_pooled_interval_resamples_items_whole_as_written_out_by_hand():
    pairs = _items_that_raters_change_alike()
    found = retest.washout_retest(pairs, level="ordinal", categories=SCALE, bootstrap=BOOT)
    kappa, icc = found["kappa"][0], found["icc"][0]

    def weighted_kappa(first, second):
        return cohen_kappa_score(first, second, labels=SCALE, weights="quadratic")

    assert kappa.ci == pytest.approx(_items_resampled_by_hand(pairs, weighted_kappa, BOOT))
    assert icc.ci == pytest.approx(_items_resampled_by_hand(pairs, icc_a1, BOOT))
    for estimate in (kappa, icc):
        assert estimate.interval_question == retest.THESE_OCCASIONS_CASES
        assert estimate.interval_method == retest.OVER_CASES["percentile"]
        assert "resampling the 20 re-read cases" in estimate.ci_method
        assert estimate.n_units == 120
        assert estimate.extra["n_items"] == estimate.extra["n_cases"] == 20
    # Kappa's asymptotic interval takes the 120 pairs as independent, and says so.
    assert kappa.other_intervals[0]["interval_question"] == (
        f"these raters on these two occasions; {retest.PAIRS_INDEPENDENT}"
    )


def test_a_bca_pooled_interval_takes_its_acceleration_from_leaving_out_whole_items():
    from scipy.stats import norm

    pairs = _items_that_raters_change_alike()
    boot = Bootstrap(resamples=400, seed=7, kind="bca")
    found = retest.retest_kappa(
        pairs, level="ordinal", categories=SCALE, bootstrap=boot, by_item=True
    )

    def kappa(some):
        return cohen_kappa_score(
            [p.first for p in some], [p.second for p in some], labels=SCALE, weights="quadratic"
        )

    # Efron's BCa written out: the same seeded item draws, z0 from them, and the acceleration
    # from the kappa with each item's pairs left out in turn.
    items = list(dict.fromkeys(p.unit for p in pairs))
    of_item = [[p for p in pairs if p.unit == item] for item in items]
    rng = np.random.default_rng(7)
    values = []
    for _ in range(400):
        drawn = rng.integers(0, len(items), len(items))
        values.append(kappa([p for n in drawn for p in of_item[n]]))
    values = np.array(values)
    z0 = norm.ppf((np.sum(values < found.value) + np.sum(values <= found.value)) / 800)
    left_out = np.array([kappa([p for p in pairs if p.unit != item]) for item in items])
    d = left_out.mean() - left_out
    a = (d**3).sum() / (6 * ((d**2).sum()) ** 1.5)
    z = norm.ppf([0.025, 0.975])
    levels = norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
    assert found.ci == pytest.approx(np.percentile(values, levels * 100))
    assert found.interval_method == retest.OVER_CASES["bca"]
    assert found.ci_method.startswith("BCa bootstrap (Efron 1987) resampling the 20 re-read cases")
    # The percentile interval from the same resamples is kept beside it.
    beside = found.other_intervals[-1]
    assert beside["ci"] == pytest.approx(np.percentile(values, [2.5, 97.5]))
    assert beside["interval_method"] == retest.OVER_CASES["percentile"]
    assert beside["interval_question"] == retest.THESE_OCCASIONS_CASES


def test_items_whose_raters_change_alike_widen_the_pooled_interval_beyond_the_pair_bootstrap():
    pairs = _items_that_raters_change_alike()
    boot = Bootstrap(resamples=1000, seed=3)
    for level in ("kappa", "icc"):
        if level == "kappa":
            by_items = retest.retest_kappa(
                pairs, level="ordinal", categories=SCALE, bootstrap=boot, by_item=True
            )
            by_pairs = retest.retest_kappa(pairs, level="ordinal", categories=SCALE, bootstrap=boot)
        else:
            by_items = retest.retest_icc(pairs, level="ordinal", bootstrap=boot, by_item=True)
            by_pairs = retest.retest_icc(pairs, level="ordinal", bootstrap=boot)
        assert by_items.value == pytest.approx(by_pairs.value)
        width = by_items.ci[1] - by_items.ci[0]
        assert width > 1.4 * (by_pairs.ci[1] - by_pairs.ci[0])
    # With the same changes of answer spread over the pairs at random, not by item, the two
    # intervals are about as wide.
    changes = np.random.default_rng(4).permutation([p.second - p.first for p in pairs])
    scattered = [
        retest.RetestPair(p.rater, p.unit, p.first, float(min(5, max(1, p.first + change))))
        for p, change in zip(pairs, changes, strict=True)
    ]
    by_items = retest.retest_kappa(
        scattered, level="ordinal", categories=SCALE, bootstrap=boot, by_item=True
    )
    by_pairs = retest.retest_kappa(scattered, level="ordinal", categories=SCALE, bootstrap=boot)
    ratio = (by_items.ci[1] - by_items.ci[0]) / (by_pairs.ci[1] - by_pairs.ci[0])
    assert 0.75 < ratio < 1.33


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
    assert kappa.detail["interval_question"] == retest.THESE_OCCASIONS_CASES
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
    assert retest.THESE_OCCASIONS_CASES in text
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
    reread_items = len({reread.item_id for reread in rereads})
    reread_cases = len({reread.item.output.case_id for reread in rereads})
    cases = f"{reread_cases} case{'' if reread_cases == 1 else 's'}"
    assert f"9 re-reads of {reread_items} items of {cases} by 3 raters" in agreement
    assert kappa.detail["n_items"] == reread_items
    assert kappa.detail["n_cases"] == reread_cases
    # Each pair names its case (the pooled interval's cluster): the re-read item's case.
    pairs = washout_pairs(study, study.questions.get())
    case_of = {reread.item.output.case.external_id for reread in rereads}
    assert {p.case for p in pairs} == case_of
    assert all(p.unit.startswith(f"{p.case}\x1f") for p in pairs)
    assert retest.THESE_OCCASIONS_CASES in agreement


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
