"""The methods text names each agreement interval exactly: which question it answers (these
raters, cases random; raters like these, raters and cases random), how it was made, with its
reference in plain words, or why there is none."""

import numpy as np
import pytest

from annotation.core.stats.data import Observation, ratings_from
from annotation.core.stats.reported import reported_coefficients
from annotation.core.stats.resampling import Bootstrap
from annotation.models import Result
from annotation.selectors.facts import _brief, study_reporting_facts
from annotation.services.statistics.store import Figure
from tests.test_study_statistics import compute, rate_absolute, two_rater_study

THESE = "for these raters (cases random)"
LIKE = "for raters like these (raters and cases random)"
BCA = "bias-corrected and accelerated (BCa) bootstrap over cases, Efron 1987"
RATERS_AND_CASES = (
    "raters-and-cases interval: the variance over cases plus the variance over raters by "
    "leaving out one rater at a time, added as Gwet 2008 does, with a t quantile on "
    "Satterthwaite's degrees of freedom"
)


def _cell(ci) -> str:
    return f"{ci[0]:.3f} to {ci[1]:.3f}"


def _beside(detail: dict, method: str) -> list[float]:
    (found,) = [o["ci"] for o in detail["other_intervals"] if o["interval_method"] == method]
    return found


@pytest.mark.django_db
def test_alphas_sentence_names_both_intervals_and_their_methods(open_study):
    rate_absolute(open_study)
    compute(open_study)
    facts = study_reporting_facts(study=open_study)["agreement"]
    alpha = Result.objects.get(
        study=open_study, statistic="krippendorff_alpha", source="", judge=""
    )
    detail = alpha.detail
    like = _beside(detail, "bootstrap over cases + jackknife over raters")
    used = detail["resamples_used"]
    assert facts[0] == (
        f'Question "overall": Krippendorff\'s alpha, ordinal metric = {alpha.value:.3f}; '
        f"95% CI {THESE} {_cell(detail['ci'])} ({BCA}: 1000 resamples"
        + (f" of which {used} defined it" if used != 1000 else "")
        + f", seed {open_study.seed}); {LIKE} {_cell(like)} ({RATERS_AND_CASES}); "
        f"{alpha.n_units} units, {alpha.n_raters} raters, {alpha.n_ratings} ratings."
    )
    # The other coefficients: Fleiss' kappa BCa, percent agreement percentile, both with the
    # raters-and-cases interval.
    fleiss = Result.objects.get(study=open_study, statistic="fleiss_kappa", source="", judge="")
    percent = Result.objects.get(
        study=open_study, statistic="percent_agreement", source="", judge=""
    )
    others = facts[1]
    assert (
        f"Fleiss' kappa (Fleiss 1971) = {fleiss.value:.3f} (95% CI {THESE} "
        f"{_cell(fleiss.detail['ci'])} ({BCA}); {LIKE} "
        f"{_cell(_beside(fleiss.detail, 'bootstrap over cases + jackknife over raters'))}"
    ) in others
    assert (
        f"= {percent.value:.3f} (95% CI {THESE} {_cell(percent.detail['ci'])} "
        "(percentile bootstrap over cases); " in others
    )


@pytest.mark.django_db
def test_two_raters_say_why_there_is_no_interval_for_raters_like_these(study_admin, raters):
    study = two_rater_study(study_admin, raters)
    rate_absolute(study)
    compute(study)
    facts = study_reporting_facts(study=study)["agreement"]
    assert f"; {LIKE}: none (needs three or more raters" in facts[0]
    kappa = Result.objects.get(study=study, statistic="cohen_kappa", source="", judge="")
    assert (
        f"Cohen's kappa = {kappa.value:.3f} (95% CI {THESE} {_cell(kappa.detail['ci'])} "
        f"({BCA}); {LIKE}: none (needs three or more raters"
    ) in facts[1]


def _icc_results() -> dict[str, Result]:
    """Stored-shape results for the six ICC forms on numbers from three raters."""
    rng = np.random.default_rng(4)
    observations = [
        Observation(f"case{u}", f"rater{r}", float(round(5 + c + r * 0.5 + rng.normal(), 1)))
        for u, c in enumerate(rng.normal(size=20) * 2)
        for r in range(3)
    ]
    ratings = ratings_from(observations, level="interval", categories=None)
    forms = reported_coefficients(ratings, bootstrap=Bootstrap(200, 1))["icc"]
    results = {}
    for form, estimate in forms.items():
        figure = Figure.of(estimate, level="interval")
        results[form] = Result(
            statistic=f"icc_{form}",
            value=figure.value,
            n_units=figure.n_units,
            n_raters=figure.n_raters,
            n_ratings=figure.n_ratings,
            detail=figure.detail,
        )
    return results


def test_icc_names_mcgraw_and_wongs_f_interval_and_its_model():
    """ICC(3) is about these raters, its F interval under that question; ICC(1)'s F interval
    (one-way model) answers for raters like these, its bootstrap for these raters."""
    results = _icc_results()
    consistency = _brief(results["ICC3"])
    assert consistency.startswith("ICC(3,1): two-way mixed effects, consistency, single rater")
    assert (
        f"(95% CI {THESE} {_cell(results['ICC3'].detail['ci'])} (F-based interval of McGraw & "
        "Wong 1996, two-way mixed effects); "
        f"{LIKE}: none (ICC(3) measures consistency among these raters only"
    ) in consistency
    one_way = _brief(results["ICC1"])
    assert (
        f"{LIKE} {_cell(results['ICC1'].detail['ci'])} (F-based interval of McGraw & Wong 1996, "
        "one-way random effects))"
    ) in one_way
    # ICC(1)'s interval for these raters is its bootstrap over cases, percentile.
    assert f"{THESE} " in one_way
    assert "(percentile bootstrap over cases)" in one_way
    two_way = _brief(results["ICC2"])
    assert f"{LIKE} {_cell(results['ICC2'].detail['ci'])} (" in two_way
    # ICC(A,1)'s headline is the generalized interval, named with its reference.
    assert results["ICC2"].detail["interval_method"] == "generalized confidence interval"
    assert (
        f"{LIKE} {_cell(results['ICC2'].detail['ci'])} (generalized confidence interval of Tian "
        "& Cappelleri 2004, two-way random effects)"
    ) in two_way
