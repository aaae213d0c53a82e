"""The LLM judge against the clinician scorer (annotation.core.reading.scorers): the table, the
agreement, and Cohen's kappa against scikit-learn, sensitivity and specificity by hand."""

import pytest
from sklearn.metrics import cohen_kappa_score

from annotation.core.reading.scorers import scorer_agreement
from annotation.core.stats.bootstrap import Bootstrap
from annotation.core.stats.data import DataError
from annotation.core.stats.names import THESE_RATERS

# Answers a1..a12: the clinician's and the judge's decisions (True: right).
CLINICIAN = {f"a{n}": value for n, value in enumerate([1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1])}
JUDGE = {f"a{n}": value for n, value in enumerate([1, 1, 1, 0, 1, 0, 0, 1, 0, 1, 0])}
JUDGE["extra"] = 1  # scored by the judge alone


def test_table_agreement_and_rates_by_hand():
    result = scorer_agreement(CLINICIAN, JUDGE)
    # Shared: a0..a10. Clinician right on a0-a4, a9 (judge wrong on a3); wrong on a5-a8, a10
    # (judge right on a7).
    counts = (result.both_right, result.clinician_only_right, result.judge_only_right)
    assert counts == (5, 1, 1)
    assert result.both_wrong == 4
    assert result.only_one_scored == 2  # a11 (clinician only) and "extra" (judge only)
    assert result.n == 11
    assert result.agreement == pytest.approx(9 / 11)
    assert result.sensitivity == pytest.approx(5 / 6)
    assert result.specificity == pytest.approx(4 / 5)


def test_kappa_matches_scikit_learn_and_says_what_its_interval_answers():
    result = scorer_agreement(CLINICIAN, JUDGE, bootstrap=Bootstrap(resamples=300, seed=2))
    shared = [key for key in CLINICIAN if key in JUDGE]
    expected = cohen_kappa_score([CLINICIAN[k] for k in shared], [JUDGE[k] for k in shared])
    assert result.kappa.value == pytest.approx(expected)
    assert result.kappa.interval_question == THESE_RATERS
    low, high = result.kappa.ci
    assert low < result.kappa.value < high


def test_nothing_scored_by_both_is_refused():
    with pytest.raises(DataError, match="scored by both"):
        scorer_agreement({"a": True}, {"b": False})
