"""LLM judges against clinicians (annotation.core.stats.judges): the alt-test worked by hand and
by an independent loop, its pass and fail cases, Benjamini-Yekutieli against statsmodels, the
majority tie rules, the leave-one-rater-out ceiling, and the judge's consistency."""

import json
import math
import os
import statistics

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests

from annotation.core.stats import coefficients
from annotation.core.stats.data import DataError, Observation, ratings_from
from annotation.core.stats.judges import (
    EPSILON_EXPERTS,
    aat_across,
    alternative_annotator_test,
    consistency,
    judge_vs_humans,
    majority,
)
from annotation.core.stats.judges.diagnostics import (
    calibration,
    length_bias,
    longer_side,
    model_family,
    own_family_side,
    self_preference,
    side_bias,
    weighted_spearman,
)
from annotation.core.stats.resampling import Bootstrap

# Derandomized so CI never meets a new example by chance; HYPOTHESIS_EXAMPLES=2000 explores.
HYPOTHESIS = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    derandomize=not os.environ.get("HYPOTHESIS_EXAMPLES"),
    suppress_health_check=[HealthCheck.too_slow],
)

SEVERITY = ["none", "mild", "moderate", "severe"]


def observations(humans: dict[str, dict[str, object]]) -> list[Observation]:
    """rater -> unit -> value as long data."""
    return [
        Observation(unit, rater, value)
        for rater, answers in humans.items()
        for unit, value in answers.items()
    ]


def naive_alt_test(humans, judge, *, numeric, epsilon, min_instances):
    """The alt-test for each clinician written out loop by loop from the paper: W, rho, and the
    one-sided t statistic and p from its formula and the t distribution."""
    found = {}
    for h, answers in humans.items():
        w_f, w_h = [], []
        for unit, value in answers.items():
            others = [humans[o][unit] for o in humans if o != h and unit in humans[o]]
            if not others or unit not in judge:
                continue
            if numeric:
                s_f = -math.sqrt(sum((judge[unit] - o) ** 2 for o in others) / len(others))
                s_h = -math.sqrt(sum((value - o) ** 2 for o in others) / len(others))
            else:
                s_f = sum(judge[unit] == o for o in others) / len(others)
                s_h = sum(value == o for o in others) / len(others)
            w_f.append(int(s_f >= s_h))
            w_h.append(int(s_h >= s_f))
        n = len(w_f)
        if n < min_instances:
            continue
        d = [b - a for a, b in zip(w_f, w_h, strict=True)]
        row = {"n": n, "rho_f": sum(w_f) / n, "rho_h": sum(w_h) / n, "t": None, "p": None}
        if len(set(d)) > 1:
            t = (statistics.mean(d) - epsilon) / (statistics.stdev(d) / math.sqrt(n))
            row.update(t=t, p=stats.t.cdf(t, n - 1))
        elif d[0] < epsilon:  # no d = 1 on n instances: at most (1 - epsilon)^n under H0
            row.update(p=stats.binom.pmf(0, n, epsilon))
        found[h] = row
    return found


# --- the alternative annotator test ---------------------------------------------------------------

# Three clinicians A, B, C and the judge on six units (C did not rate u5).
HAND_HUMANS = {
    "A": {"u1": 1, "u2": 1, "u3": 2, "u4": 2, "u5": 1, "u6": 2},
    "B": {"u1": 1, "u2": 2, "u3": 2, "u4": 2, "u5": 1, "u6": 1},
    "C": {"u1": 1, "u2": 2, "u3": 1, "u4": 2, "u6": 1},
}
HAND_JUDGE = {"u1": 1, "u2": 2, "u3": 1, "u4": 1, "u5": 2, "u6": 2}


def test_alt_test_worked_by_hand_for_one_clinician():
    result = alternative_annotator_test(
        observations(HAND_HUMANS), HAND_JUDGE, numeric=False, epsilon=0.2, min_instances=3
    )
    row = next(row for row in result.annotators if row.human == "A")
    # Against B and C (B alone on u5), share of matches for judge | A:
    # u1 1|1 tie, u2 1|0 judge, u3 .5|.5 tie, u4 0|1 A, u5 0|1 A, u6 0|0 tie.
    w_f = [1, 1, 1, 0, 0, 1]
    w_h = [1, 0, 1, 1, 1, 1]
    d = [0, -1, 0, 1, 1, 0]
    assert (row.n_instances, row.rho_f, row.rho_h) == (6, 4 / 6, 5 / 6)
    assert [h - f for f, h in zip(w_f, w_h, strict=True)] == d
    # mean(d) = 1/6, sample variance = (1+49+1+25+25+1)/36/5 = 102/180.
    t = (1 / 6 - 0.2) / (math.sqrt(102 / 180) / math.sqrt(6))
    assert row.t == pytest.approx(t, abs=1e-12)
    assert t == pytest.approx(-0.10847, abs=1e-5)
    assert row.p == pytest.approx(stats.t.cdf(t, 5), abs=1e-12)
    assert row.as_dict()["df"] == 5
    assert not row.rejected


def test_alt_test_matches_an_independent_loop_on_every_clinician():
    result = alternative_annotator_test(
        observations(HAND_HUMANS), HAND_JUDGE, numeric=False, epsilon=0.2, min_instances=3
    )
    expected = naive_alt_test(HAND_HUMANS, HAND_JUDGE, numeric=False, epsilon=0.2, min_instances=3)
    assert [row.human for row in result.annotators] == ["A", "B", "C"]
    for row in result.annotators:
        want = expected[row.human]
        assert (row.n_instances, row.rho_f, row.rho_h) == (want["n"], want["rho_f"], want["rho_h"])
        assert row.t == pytest.approx(want["t"], abs=1e-12)
        assert row.p == pytest.approx(want["p"], abs=1e-12)
    # Nothing is rejected with six instances: omega 0, and the judge fails.
    assert (result.omega, result.passes) == (0.0, False)
    assert result.rho == pytest.approx(np.mean([r["rho_f"] for r in expected.values()]))


def test_alt_test_numeric_scores_by_negative_rmse():
    humans = {
        "A": {"u1": 1.0, "u2": 4.0, "u3": 2.0},
        "B": {"u1": 2.0, "u2": 4.0, "u3": 5.0},
        "C": {"u1": 3.0, "u2": 3.0, "u3": 5.0},
    }
    judge = {"u1": 2.0, "u2": 3.0, "u3": 4.0}
    result = alternative_annotator_test(
        observations(humans), judge, numeric=True, epsilon=0.1, min_instances=2
    )
    rows = {row.human: row for row in result.annotators}
    # A against B, C: u1 judge RMSE sqrt(.5) beats A's sqrt(2.5); u2 judge sqrt(.5) = A's
    # sqrt(.5), a tie; u3 judge 1 beats A's 3. So W_f = 1, 1, 1 and W_h = 0, 1, 0.
    assert (rows["A"].rho_f, rows["A"].rho_h) == (1.0, 1 / 3)
    expected = naive_alt_test(humans, judge, numeric=True, epsilon=0.1, min_instances=2)
    for human, row in rows.items():
        assert (row.rho_f, row.rho_h) == (expected[human]["rho_f"], expected[human]["rho_h"])
        assert row.t == pytest.approx(expected[human]["t"], abs=1e-12)
    assert result.as_dict()["scoring"] == "negative RMSE"


def simulated_clinicians(rng, *, n_units=200, n_humans=5, k=4, accuracy=0.85):
    """Clinicians who give the true label with probability `accuracy`, else another label."""
    truth = rng.integers(0, k, n_units)
    humans = {}
    for h in range(n_humans):
        wrong = (truth + rng.integers(1, k, n_units)) % k
        right = rng.random(n_units) < accuracy
        humans[f"h{h}"] = {f"u{i}": int(v) for i, v in enumerate(np.where(right, truth, wrong))}
    return humans


def test_a_judge_that_copies_one_clinician_passes():
    humans = simulated_clinicians(np.random.default_rng(7))
    result = alternative_annotator_test(observations(humans), humans["h0"], numeric=False)
    rows = {row.human: row for row in result.annotators}
    # Against the copied clinician every instance is a tie: d = 0 < epsilon throughout, no
    # t-test, and p is the exact bound 0.8^200.
    assert rows["h0"].reason.startswith("every instance has d = 0, below epsilon")
    assert (rows["h0"].t, rows["h0"].p, rows["h0"].rejected) == (None, 0.8**200, True)
    # Against the others the copy agrees with one of "the others" for certain, where a
    # clinician does so only by agreeing with h0: it wins all four.
    assert all(rows[h].rejected for h in ("h1", "h2", "h3", "h4"))
    assert (result.omega, result.passes, result.epsilon) == (1.0, True, EPSILON_EXPERTS)


def test_a_judge_answering_at_random_fails():
    rng = np.random.default_rng(11)
    humans = simulated_clinicians(rng)
    judge = {f"u{i}": int(v) for i, v in enumerate(rng.integers(0, 4, 200))}
    result = alternative_annotator_test(observations(humans), judge, numeric=False)
    assert len(result.annotators) == 5
    assert not any(row.rejected for row in result.annotators)
    assert (result.omega, result.passes) == (0.0, False)
    assert result.rho < 0.5
    assert all(row.rho_h > 0.85 for row in result.annotators)


def constant(answer: str, n: int) -> dict[str, str]:
    return {f"u{i}": answer for i in range(n)}


def test_d_of_minus_one_everywhere_is_rejected_with_the_exact_bound():
    # The judge beats A on every instance (d = -1 throughout): scipy alone would divide by a
    # zero standard deviation. Below epsilon, p = (1 - epsilon)^n, as the reference code
    # rejects. B and C tie the judge everywhere (each matches the other, as the judge does):
    # d = 0 < 0.2, the same bound.
    humans = {"A": constant("no", 30), "B": constant("yes", 30), "C": constant("yes", 30)}
    result = alternative_annotator_test(observations(humans), constant("yes", 30), numeric=False)
    rows = {row.human: row for row in result.annotators}
    assert (rows["A"].rho_f, rows["A"].rho_h, rows["A"].t) == (1.0, 0.0, None)
    assert (rows["B"].rho_f, rows["B"].rho_h) == (1.0, 1.0)
    assert rows["A"].p == pytest.approx(0.0012379400392853823, rel=1e-12)  # 0.8^30 by hand
    # Under H0's boundary case, P(d = 1) = epsilon and otherwise d = 0 (mean exactly
    # epsilon), no d = 1 in 30 has exactly that probability: the bound is attained.
    assert stats.binom.pmf(0, 30, 0.2) == pytest.approx(rows["A"].p, rel=1e-12)
    assert rows["A"].reason.startswith("every instance has d = -1, below epsilon")
    # Benjamini-Yekutieli over three equal p: each adjusted to p * (1 + 1/2 + 1/3).
    _, adjusted, _, _ = multipletests([rows[h].p for h in "ABC"], method="fdr_by")
    assert [rows[h].p_adjusted for h in "ABC"] == pytest.approx(list(adjusted))
    assert rows["A"].p_adjusted == pytest.approx(0.8**30 * 11 / 6)
    assert all(rows[h].rejected for h in "ABC")
    assert result.omega == 1.0
    data = rows["A"].as_dict()
    assert (data["t"], data["df"], data["rejected"]) == (None, None, True)


def test_d_of_zero_everywhere_is_rejected_only_when_epsilon_is_above_zero():
    humans = {"A": constant("no", 5), "B": constant("no", 5), "C": constant("no", 5)}
    judge = constant("no", 5)
    for epsilon, p in ((0.1, 0.9**5), (0.0, None)):
        result = alternative_annotator_test(
            observations(humans), judge, numeric=False, epsilon=epsilon, min_instances=5
        )
        row = result.annotators[0]
        assert (row.rho_f, row.rho_h, row.t) == (1.0, 1.0, None)
        assert row.p == (None if p is None else pytest.approx(p, rel=1e-12))
    # epsilon 0: mean d = 0 is not below epsilon, H0 stands.
    assert row.reason == "every instance has d = 0, not below epsilon: no t-test, H0 stands"
    assert (row.p_adjusted, row.rejected) == (None, False)


def test_d_of_plus_one_everywhere_is_not_rejected_and_gives_no_p():
    # Every clinician beats the judge on every instance.
    humans = {"A": constant("yes", 30), "B": constant("yes", 30), "C": constant("yes", 30)}
    result = alternative_annotator_test(observations(humans), constant("no", 30), numeric=False)
    for row in result.annotators:
        assert (row.rho_f, row.rho_h) == (0.0, 1.0)
        assert (row.t, row.p, row.p_adjusted, row.rejected) == (None, None, None, False)
        assert row.reason == "every instance has d = 1, not below epsilon: no t-test, H0 stands"
    assert (result.omega, result.passes) == (0.0, False)


def test_clinicians_with_too_few_instances_are_skipped_with_a_note():
    humans = simulated_clinicians(np.random.default_rng(3), n_units=40, n_humans=3)
    # h2 rated 29 units only.
    humans["h2"] = {unit: v for unit, v in humans["h2"].items() if int(unit[1:]) < 29}
    result = alternative_annotator_test(observations(humans), humans["h0"], numeric=False)
    assert [row.human for row in result.annotators] == ["h0", "h1"]
    [skipped] = result.skipped
    assert (skipped.human, skipped.n_instances, skipped.rho_f) == ("h2", 29, None)
    assert "fewer than 30" in skipped.reason
    assert "at least 3" in result.as_dict()["notes"][0]


def test_no_clinician_tested_gives_none_not_nan():
    humans = {"A": {"u1": 1}, "B": {"u1": 1}}
    result = alternative_annotator_test(observations(humans), {"u1": 1}, numeric=True)
    data = result.as_dict()
    assert (data["omega"], data["passes"], data["rho_f_mean"]) == (None, None, None)
    assert data["notes"] == ["no clinician had enough instances to be tested"]
    json.dumps(data, allow_nan=False)


def test_benjamini_yekutieli_matches_statsmodels_within_and_across_questions():
    rng = np.random.default_rng(5)
    results = {}
    for question, accuracy in (("q1", 0.7), ("q2", 0.8), ("q3", 0.9)):
        humans = simulated_clinicians(rng, n_units=60, n_humans=6, accuracy=accuracy)
        judge = simulated_clinicians(rng, n_units=60, n_humans=1, accuracy=accuracy + 0.05)["h0"]
        results[question] = alternative_annotator_test(
            observations(humans), judge, numeric=False, epsilon=0.15
        )
    for result in results.values():
        p = [row.p for row in result.annotators]
        reject, adjusted, _, _ = multipletests(p, alpha=0.05, method="fdr_by")
        assert [row.p_adjusted for row in result.annotators] == pytest.approx(list(adjusted))
        assert [row.rejected for row in result.annotators] == list(reject)
    across = aat_across(results, q=0.1)
    pooled = [row for result in results.values() for row in result.annotators]
    reject, adjusted, _, _ = multipletests([r.p for r in pooled], alpha=0.1, method="fdr_by")
    rows = [row for result in across.results.values() for row in result.annotators]
    assert [row.p for row in rows] == [row.p for row in pooled]  # raw p values kept
    assert [row.p_adjusted for row in rows] == pytest.approx(list(adjusted))
    assert [row.rejected for row in rows] == list(reject)
    assert across.omega == pytest.approx(reject.mean())
    assert across.as_dict()["questions"]["q1"]["q"] == 0.1
    assert "18 annotator tests over 3 questions" in across.as_dict()["questions"]["q2"]["method"]


def test_rows_without_p_count_in_the_correction_as_p_one():
    # epsilon 0: the copied clinician's d = 0 throughout is not below epsilon, so no p.
    humans = simulated_clinicians(np.random.default_rng(7))
    result = alternative_annotator_test(
        observations(humans), humans["h0"], numeric=False, epsilon=0.0
    )
    assert [row.p is None for row in result.annotators] == [True, False, False, False, False]
    p = [1.0 if row.p is None else row.p for row in result.annotators]
    _, adjusted, _, _ = multipletests(p, method="fdr_by")
    got = [1.0 if row.p_adjusted is None else row.p_adjusted for row in result.annotators]
    assert got == pytest.approx(list(adjusted))


@st.composite
def alt_test_data(draw):
    n_units = draw(st.integers(2, 25))
    n_humans = draw(st.integers(2, 5))
    value = st.one_of(st.none(), st.integers(0, 2))
    humans = {}
    for h in range(n_humans):
        answers = draw(st.lists(value, min_size=n_units, max_size=n_units))
        humans[f"h{h}"] = {f"u{i}": v for i, v in enumerate(answers) if v is not None}
    judge = draw(st.lists(value, min_size=n_units, max_size=n_units))
    return humans, {f"u{i}": v for i, v in enumerate(judge) if v is not None}


@HYPOTHESIS
@given(data=alt_test_data(), numeric=st.booleans())
def test_alt_test_rates_are_probabilities_and_ties_count_for_both(data, numeric):
    humans, judge = data
    result = alternative_annotator_test(
        observations(humans), judge, numeric=numeric, epsilon=0.2, min_instances=2
    )
    expected = naive_alt_test(humans, judge, numeric=numeric, epsilon=0.2, min_instances=2)
    assert {row.human for row in result.annotators} == set(expected)
    for row in result.annotators:
        assert 0 <= row.rho_f <= 1
        assert 0 <= row.rho_h <= 1
        assert row.rho_f + row.rho_h >= 1  # a tie is a win for both
        assert (row.rho_f, row.rho_h) == (
            expected[row.human]["rho_f"],
            expected[row.human]["rho_h"],
        )
        want = expected[row.human]["p"]
        assert row.p == (None if want is None else pytest.approx(want, abs=1e-12))
        if row.p is not None:
            assert 0 <= row.p <= row.p_adjusted <= 1
    assert result.omega is None or 0 <= result.omega <= 1
    json.dumps(result.as_dict(), allow_nan=False)


# --- majority tie rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "level", "categories", "expected"),
    [
        (["a", "a", "b"], "nominal", ["a", "b", "c"], "a"),
        (["a", "b"], "nominal", ["a", "b", "c"], None),  # tied mode
        (["a", "b", "b", "a", "c"], "nominal", ["a", "b", "c"], None),
        (["none", "mild", "severe"], "ordinal", SEVERITY, "mild"),
        (["none", "moderate"], "ordinal", SEVERITY, "mild"),  # median position 1
        (["mild", "moderate"], "ordinal", SEVERITY, None),  # halfway between two
        (["none", "severe"], "ordinal", SEVERITY, None),  # position 1.5
        (["none", "none", "mild", "severe"], "ordinal", SEVERITY, None),
        ([0, 5], "interval", [0, 1, 5], 1),  # median 2.5: nearest declared value is 1
        ([1, 5], "interval", [0, 1, 5], None),  # median 3: 2 from 1 and from 5
        ([0, 1], "ratio", [0, 1, 5], None),
        ([0.1, 0.2], "interval", [0.1, 0.15, 0.2], 0.15),
        ([0.1, 0.2], "interval", [0.1, 0.2], None),  # halfway, up to rounding
        ([2, 3, 5], "interval", [1, 2, 3, 4, 5], 3),
    ],
)
def test_majority_tie_rules(values, level, categories, expected):
    assert majority(values, level=level, categories=categories) == expected


@HYPOTHESIS
@given(
    values=st.lists(st.sampled_from(SEVERITY), min_size=1, max_size=7),
    level=st.sampled_from(["nominal", "ordinal"]),
)
def test_a_majority_is_the_strict_mode_or_lies_between_the_answers(values, level):
    found = majority(values, level=level, categories=SEVERITY)
    if found is None:
        return
    if level == "nominal":
        counts = sorted((values.count(c) for c in set(values)), reverse=True)
        assert values.count(found) == counts[0]
        assert len(counts) == 1 or counts[1] < counts[0]
    else:
        positions = [SEVERITY.index(v) for v in values]
        assert min(positions) <= SEVERITY.index(found) <= max(positions)


# --- the judge against the clinicians -------------------------------------------------------------


def test_judge_against_each_clinician_and_their_majority():
    humans = {
        "A": {"u1": "none", "u2": "mild", "u3": "severe", "u4": "mild"},
        "B": {"u1": "none", "u2": "moderate", "u3": "severe", "u4": "none"},
        "C": {"u1": "mild", "u2": "moderate", "u3": "moderate"},
    }
    judge = {"u1": "none", "u2": "moderate", "u3": "severe", "u4": "moderate", "u5": "none"}
    result = judge_vs_humans(observations(humans), judge, level="ordinal", categories=SEVERITY)
    a = result.per_human["A"]
    assert (a.n_units, a.percent_agreement.value) == (4, 0.5)
    direct = ratings_from(
        [Observation(u, "judge", v) for u, v in judge.items() if u in humans["A"]]
        + [Observation(u, "A", v) for u, v in humans["A"].items()],
        level="ordinal",
        categories=SEVERITY,
    )
    assert a.alpha.value == pytest.approx(coefficients.krippendorff_alpha(direct).value, abs=1e-12)
    assert a.alpha.method == "Krippendorff's alpha, ordinal metric"
    # Majorities: u1 none, u2 moderate, u3 severe (median of 3, 3, 2); u4 none/mild halfway.
    assert (result.majority.n_units, result.n_without_majority) == (3, 1)
    assert result.majority.percent_agreement.value == 1.0
    json.dumps(result.as_dict(), allow_nan=False)


def test_ceiling_leaves_each_clinician_out_and_a_copied_clinician_inflates_it():
    a = {"u1": "y", "u2": "y", "u3": "n", "u4": "n", "u5": "y"}
    humans = {"A": a, "B": dict(a), "C": {"u1": "y", "u2": "n", "u3": "n", "u4": "y", "u5": "y"}}
    judge = {"u1": "y", "u2": "n", "u3": "y", "u4": "n", "u5": "n"}
    result = judge_vs_humans(observations(humans), judge, level="nominal", categories=["y", "n"])
    ceiling = result.ceiling
    # Leaving A out, the others are B (= A) and C: a majority only where C agrees with A
    # (u1, u3, u5), and there A matches it by construction.
    assert (ceiling["A"].n_units, ceiling["A"].n_without_majority) == (3, 2)
    assert ceiling["A"].human.percent_agreement.value == 1.0
    assert ceiling["A"].human.alpha.value == pytest.approx(1.0)
    assert ceiling["A"].judge.percent_agreement.value == pytest.approx(1 / 3)
    assert ceiling["B"].as_dict() == ceiling["A"].as_dict()
    # Leaving C out, A and B always agree: five units, C matches on u1, u3, u5.
    assert (ceiling["C"].n_units, ceiling["C"].n_without_majority) == (5, 0)
    assert ceiling["C"].human.percent_agreement.value == pytest.approx(3 / 5)
    assert ceiling["C"].judge.percent_agreement.value == pytest.approx(2 / 5)
    mean = result.ceiling_mean()["percent_agreement"]
    assert mean["human"] == pytest.approx((1 + 1 + 0.6) / 3)
    assert mean["judge"] == pytest.approx((1 / 3 + 1 / 3 + 0.4) / 3)
    assert mean["n_humans"] == 3


def test_ceiling_means_cover_the_same_clinicians_and_say_when_undefined():
    humans = {"A": {"u1": 1, "u2": 2}, "B": {"u1": 1, "u2": 2}}
    result = judge_vs_humans(
        observations(humans), {"u1": 1, "u2": 2}, level="ordinal", categories=[1, 2, 3]
    )
    # Two clinicians leave one other: no unit has two others, so no ceiling at all.
    assert all(row.n_units == 0 for row in result.ceiling.values())
    mean = result.ceiling_mean()["krippendorff_alpha"]
    assert (mean["human"], mean["judge"], mean["n_humans"]) == (None, None, 0)
    assert mean["reason"]
    assert result.per_human["A"].alpha.value == pytest.approx(1.0)
    json.dumps(result.as_dict(), allow_nan=False)


def test_judge_vs_humans_with_a_bootstrap_is_reproducible():
    humans = simulated_clinicians(np.random.default_rng(2), n_units=30, n_humans=3)
    judge = humans["h0"]
    args = {"level": "nominal", "categories": [0, 1, 2, 3]}
    first = judge_vs_humans(
        observations(humans), judge, **args, bootstrap=Bootstrap(resamples=200, seed=1)
    )
    again = judge_vs_humans(
        observations(humans), judge, **args, bootstrap=Bootstrap(resamples=200, seed=1)
    )
    assert first.as_dict() == again.as_dict()
    assert first.majority.alpha.ci is not None


def test_bad_judge_answers_are_data_errors():
    humans = observations({"A": {"u1": 1}, "B": {"u1": 2}})
    with pytest.raises(DataError, match="not one of the categories"):
        judge_vs_humans(humans, {"u1": 7}, level="ordinal", categories=[1, 2, 3])
    with pytest.raises(DataError, match="answered unit 'u1' twice"):
        judge_vs_humans(humans, [("u1", 1), ("u1", 2)], level="ordinal", categories=[1, 2, 3])
    with pytest.raises(DataError, match="is not a number"):
        alternative_annotator_test(humans, {"u1": "high"}, numeric=True)


# --- consistency ----------------------------------------------------------------------------------


def test_consistency_worked_by_hand():
    result = consistency(
        {
            "u1": ["a", "a", "b"],
            "u2": ["a", "a", "a", "a"],
            "u3": ["a", "b"],  # a tied mode: half the runs either way
            "u4": ["a"],  # one run says nothing about consistency
            "u5": [1, "1", 1.0],  # one label however it is written
        }
    )
    assert result.per_unit == {"u1": 2 / 3, "u2": 1.0, "u3": 0.5, "u5": 1.0}
    data = result.as_dict()
    assert data["mean"] == pytest.approx((2 / 3 + 1 + 0.5 + 1) / 4)
    assert (data["n_units"], data["n_units_skipped"]) == (4, 1)
    assert data["distribution"] == [
        {"share": 0.5, "n_units": 1},
        {"share": 2 / 3, "n_units": 1},
        {"share": 1.0, "n_units": 2},
    ]


def test_consistency_without_repeated_runs_is_none_with_a_reason():
    data = consistency({"u1": ["a"]}).as_dict()
    assert (data["mean"], data["n_units"], data["n_units_skipped"]) == (None, 0, 1)
    assert data["reason"] == "no unit has two or more runs"


def test_with_two_clinicians_tested_the_judge_neither_passes_nor_fails():
    two = {rater: HAND_HUMANS[rater] for rater in ("A", "B")}
    result = alternative_annotator_test(
        observations(two), HAND_JUDGE, numeric=False, epsilon=0.2, min_instances=3
    )
    assert len(result.annotators) == 2
    assert result.omega is not None
    assert result.passes is None
    assert any("at least 3" in note for note in result.notes())


def test_a_stored_annotator_test_reads_back_as_it_was():
    from annotation.core.stats.judges import AnnotatorTest

    result = alternative_annotator_test(
        observations(HAND_HUMANS), HAND_JUDGE, numeric=False, epsilon=0.2, min_instances=3
    )
    for row in result.annotators:
        assert AnnotatorTest.from_dict(json.loads(json.dumps(row.as_dict()))) == row


# --- judge diagnostics: length, self-preference, calibration ------------------------------------


def test_length_bias_worked_by_hand():
    lengths = {f"o{i}": 10 * i for i in range(1, 6)}
    judge = {f"o{i}": i for i in range(1, 6)}  # follows length exactly: rho 1
    # The clinicians' means 3, 1, 4, 2, 5: rank differences 2, -1, 1, -2, 0, so
    # rho = 1 - 6 * 10 / (5 * 24) = 0.5.
    humans = {
        "A": {"o1": 2, "o2": 1, "o3": 4, "o4": 2, "o5": 5},
        "B": {"o1": 4, "o2": 1, "o3": 4, "o4": 2, "o5": 5},
    }
    result = length_bias(judge, observations(humans), lengths)
    assert (result.judge, result.clinicians, result.value) == pytest.approx((1.0, 0.5, 0.5))
    assert result.clinicians == pytest.approx(stats.spearmanr([3, 1, 4, 2, 5], [1, 2, 3, 4, 5])[0])
    assert (result.n_units, result.n_cases, result.ci) == (5, 5, None)


def test_weighted_spearman_is_spearman_on_the_repeated_sample():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 5, 30).astype(float)  # ties on purpose
    y = rng.normal(size=30).round(1)
    w = rng.integers(0, 4, (6, 30)).astype(float)
    got = weighted_spearman(x, y, w)
    for row, value in zip(w, got, strict=True):
        counts = row.astype(int)
        expected = stats.spearmanr(np.repeat(x, counts), np.repeat(y, counts))[0]
        assert value == pytest.approx(expected, abs=1e-12)


def length_study(rng, n_cases=80):
    """Two outputs per case; the judge's score follows length, the clinicians' much less."""
    units = [f"c{c}-{s}" for c in range(n_cases) for s in "ab"]
    cases = {unit: unit.split("-")[0] for unit in units}
    length = dict(zip(units, rng.integers(50, 500, len(units)), strict=True))
    judge = {u: float(np.clip(round(length[u] / 100 + rng.normal()), 1, 5)) for u in units}
    humans = {
        f"h{h}": {u: float(np.clip(round(3 + length[u] / 400 + rng.normal()), 1, 5)) for u in units}
        for h in range(3)
    }
    return judge, humans, length, cases


def test_length_bias_interval_resamples_cases_as_an_independent_loop_does():
    judge, humans, length, cases = length_study(np.random.default_rng(8))
    result = length_bias(
        judge, observations(humans), length, cases=cases, bootstrap=Bootstrap(1000, seed=1)
    )
    assert (result.n_units, result.n_cases) == (160, 80)
    # An independent case bootstrap with scipy and another seed: endpoints agree to Monte Carlo
    # error.
    rng = np.random.default_rng(99)
    units = list(judge)
    score = np.array([judge[u] for u in units])
    mean = np.array([np.mean([humans[h][u] for h in humans]) for u in units])
    size = np.array([length[u] for u in units], dtype=float)
    by_case = np.arange(160).reshape(80, 2)
    draws = []
    for _ in range(1000):
        rows = by_case[rng.integers(0, 80, 80)].ravel()
        draws.append(
            stats.spearmanr(score[rows], size[rows])[0] - stats.spearmanr(mean[rows], size[rows])[0]
        )
    low, high = np.percentile(draws, [2.5, 97.5])
    assert result.ci == pytest.approx((low, high), abs=0.05)
    assert result.value == pytest.approx(
        stats.spearmanr(score, size)[0] - stats.spearmanr(mean, size)[0], abs=1e-12
    )
    assert result.ci[0] > 0  # this judge follows length more than these clinicians
    data = result.as_dict()
    assert data["interval_question"] == "this judge against these clinicians, cases like these"
    assert "1000 resamples, seed 1" in data["ci_method"]
    json.dumps(data, allow_nan=False)
    again = length_bias(
        judge, observations(humans), length, cases=cases, bootstrap=Bootstrap(1000, seed=1)
    )
    assert again.as_dict() == data


def test_preference_for_the_longer_output_worked_by_hand():
    side = longer_side({"p1": (300, 100), "p2": (50, 80), "p3": (9, 2), "p4": (1, 7), "p5": (4, 4)})
    assert side == {"p1": 1, "p2": -1, "p3": 1, "p4": -1, "p5": 0}
    judge = {"p1": 2, "p2": -1, "p3": 0, "p4": 1, "p5": 2}
    humans = {
        "A": {"p1": 1, "p2": -2, "p3": 0, "p4": 1, "p5": 1},
        "B": {"p1": -1, "p2": -2, "p3": -1, "p4": 1},
    }
    result = side_bias(judge, observations(humans), side)
    # Toward the longer side (a tie half): judge 1, 1, .5, 0; clinicians per pair .5, 1, .25, 0.
    assert (result.judge, result.clinicians) == (0.625, 0.4375)
    assert result.value == 0.1875
    assert result.n_units == 4  # p5's outputs are as long as each other
    assert "the longer output" in result.method


def test_model_families_from_names():
    assert model_family("openai/gpt-4o-mini") == "OpenAI"
    assert model_family("o3-mini") == "OpenAI"
    assert model_family("Claude-3.5-Sonnet") == "Anthropic"
    assert model_family("meta-llama/Llama-3.1-70B-Instruct") == "Meta"
    assert model_family("google/medgemma-27b") == "Google"
    assert model_family("Expert summary") is None
    assert model_family("acme-7b", {"acme": "Acme", "acme-7": "Acme small"}) == "Acme small"
    pairs = {"p1": ("OpenAI", "Meta"), "p2": (None, "OpenAI"), "p3": ("OpenAI", "OpenAI")}
    assert own_family_side(pairs, "OpenAI") == {"p1": 1, "p2": -1, "p3": 0}


def test_self_preference_worked_by_hand():
    families = {name: model_family(name) for name in ("gpt-4o", "gpt-4.1", "claude-3", "Expert")}
    source = {"o1": "gpt-4o", "o2": "gpt-4.1", "o3": "claude-3", "o4": "Expert"}
    judge = {"o1": 5, "o2": 4, "o3": 3, "o4": 2}
    humans = {
        "A": {"o1": 4, "o2": 3, "o3": 2, "o4": 3},
        "B": {"o1": 4, "o2": 3, "o3": 4, "o4": 3},
    }
    unit_family = {unit: families[name] for unit, name in source.items()}
    result = self_preference(judge, observations(humans), unit_family, model_family("gpt-5"))
    # Own family: judge (5 + 4) / 2 = 4.5, clinicians 3.5, a gap of 1; other outputs: judge
    # 2.5, clinicians 3, a gap of -0.5. Self-preference 1 - (-0.5) = 1.5.
    assert (result.judge, result.clinicians, result.value) == (4.5, 3.5, 1.5)
    assert result.extra == {"judge_family": "OpenAI", "n_own_family": 2, "n_other": 2}
    lenient = {unit: score + 1 for unit, score in judge.items()}  # one point kinder everywhere
    assert self_preference(lenient, observations(humans), unit_family, "OpenAI").value == 1.5
    alone = self_preference(judge, observations(humans), {"o1": "OpenAI", "o2": "OpenAI"}, "OpenAI")
    assert (alone.value, alone.extra["n_other"]) == (1.0, 0)  # the own-family gap alone
    assert alone.method.endswith("with no other outputs")
    none = self_preference(judge, observations(humans), unit_family, "Google")
    assert (none.value, none.reason) == (None, "no output of the judge's family (Google)")


def test_calibration_worked_by_hand_and_against_scikit_learn():
    from sklearn.calibration import calibration_curve

    humans = {
        "A": {"u1": "yes", "u2": "yes", "u3": "no", "u4": "yes", "u5": "no", "u6": "yes"},
        "B": {"u1": "yes", "u2": "yes", "u3": "no", "u4": "yes", "u5": "no", "u6": "no"},
        "C": {"u1": "no", "u2": "yes", "u3": "no", "u4": "no", "u5": "no"},
    }
    judge = {"u1": "yes", "u2": "no", "u3": "no", "u4": "yes", "u5": "yes", "u6": "yes"}
    confidence = {"u1": 0.95, "u2": 0.92, "u3": 0.65, "u4": 0.61, "u5": 0.15, "u6": 0.3}
    result = calibration(
        judge, confidence, observations(humans), level="nominal", categories=["yes", "no"]
    )
    # u6 has no majority (one yes, one no). Bins: [0.9, 1] u1 right, u2 wrong: accuracy 0.5,
    # confidence 0.935; [0.6, 0.7) u3, u4 right: 1 against 0.63; [0.1, 0.2) u5 wrong: 0 against
    # 0.15. ECE = (2 * 0.435 + 2 * 0.37 + 0.15) / 5 = 0.352.
    assert result.value == pytest.approx(0.352, abs=1e-12)
    assert result.extra["n_without_majority"] == 1
    assert result.extra["accuracy_against_majority"] == pytest.approx(3 / 5)
    assert result.extra["mean_confidence"] == pytest.approx((0.95 + 0.92 + 0.65 + 0.61 + 0.15) / 5)
    y = np.array([1, 0, 1, 1, 0])
    p = np.array([0.95, 0.92, 0.65, 0.61, 0.15])
    accuracy, mean_confidence = calibration_curve(y, p, n_bins=10, strategy="uniform")
    counts = np.histogram(p, bins=10, range=(0, 1))[0]
    counts = counts[counts > 0]
    ece = np.sum(counts / counts.sum() * np.abs(accuracy - mean_confidence))
    assert result.value == pytest.approx(ece, abs=1e-12)
    with pytest.raises(DataError, match="not between 0 and 1"):
        calibration(
            judge, {"u1": 1.2}, observations(humans), level="nominal", categories=["yes", "no"]
        )


def loop_ece(correct: np.ndarray, confidence: np.ndarray) -> float:
    """ECE written out bin by bin with np.histogram's equal-width bins on [0, 1]."""
    counts, edges = np.histogram(confidence, bins=10, range=(0, 1))
    ece = 0.0
    for k, n in enumerate(counts):
        inside = (confidence >= edges[k]) & (
            (confidence < edges[k + 1]) if k < 9 else (confidence <= 1)
        )
        if n:
            ece += n / len(confidence) * abs(correct[inside].mean() - confidence[inside].mean())
    return ece


def test_calibration_interval_matches_an_independent_case_bootstrap():
    # Two clinicians' answers per case (units c-a and c-b share case c), so cases are drawn whole.
    rng = np.random.default_rng(12)
    humans = simulated_clinicians(rng, n_units=160, n_humans=3, k=2)
    units = list(humans["h0"])
    cases = {u: int(u[1:]) // 2 for u in units}
    truth = {
        u: majority([humans[h][u] for h in humans], level="nominal", categories=[0, 1])
        for u in units
    }
    confidence = {u: float(rng.uniform(0.5, 1)) for u in units}
    judge = {u: (v if rng.random() < confidence[u] else 1 - v) for u, v in truth.items()}
    bootstrap = Bootstrap(1000, seed=5)
    args = {"level": "nominal", "categories": [0, 1], "cases": cases, "bootstrap": bootstrap}
    result = calibration(judge, confidence, observations(humans), **args)
    correct = np.array([judge[u] == truth[u] for u in units], dtype=float)
    conf = np.array([confidence[u] for u in units])
    assert result.value == pytest.approx(loop_ece(correct, conf), abs=1e-12)
    assert result.n_cases == 80
    loop = np.random.default_rng(77)
    by_case = np.arange(160).reshape(80, 2)
    draws = []
    for _ in range(1000):
        rows = by_case[loop.integers(0, 80, 80)].ravel()
        draws.append(loop_ece(correct[rows], conf[rows]))
    assert result.ci == pytest.approx(tuple(np.percentile(draws, [2.5, 97.5])), abs=0.03)
    again = calibration(judge, confidence, observations(humans), **args)
    assert result.as_dict() == again.as_dict()
    json.dumps(result.as_dict(), allow_nan=False)
