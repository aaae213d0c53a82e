"""Study planning from a pilot (stats.planning): the fewest cases for a chosen power, checked
against the paired t-test's power in closed form, and for a chosen interval width for alpha,
checked by simulating the planned study; `plan_study` on the Van Dyke pilot."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from scipy import stats

from annotation.core.stats import planning
from annotation.core.stats.cli import agreement_report
from annotation.core.stats.data import Observation, ratings_from
from annotation.core.stats.estimate import THESE_RATERS
from annotation.core.stats.mrmc import RANDOM_BOTH, mrmc, mrmc_power
from annotation.core.stats.resampling import Bootstrap
from tests.test_stats_mrmc import VANDYKE, vandyke_rows


@pytest.fixture(scope="module")
def vandyke_pilot() -> planning.Pilot:
    rows, truth = vandyke_rows()
    result = mrmc(rows, figure="auc", truth=truth)
    return planning.Pilot.from_components(result.components, cases=result.n_cases)


def paired_t_power(*, difference: float, readers: int, variance: float, alpha: float) -> float:
    """Two-sided paired t-test over readers, each reader's difference of variance `variance`:
    the noncentral t, written independently of the F form mrmc_power uses."""
    df = readers - 1
    shift = difference / np.sqrt(variance / readers)
    critical = stats.t.isf(alpha / 2, df)
    # The lower tail is below 1e-8 wherever scipy returns nan for it (large shifts).
    lower = np.nan_to_num(stats.nct.cdf(-critical, df, shift), nan=0.0)
    return stats.nct.sf(critical, df, shift) + lower


def test_fewest_cases_is_where_the_paired_t_power_first_reaches_the_target():
    # No covariances and no reader x modality variance: each reader's difference has variance
    # 2 Var, Var = 0.1 / K (0.001 at the pilot's 100 cases), and the test is a paired t.
    pilot = planning.Pilot(cases=100, var=0.001, cov1=0.0, cov2=0.0, cov3=0.0, interaction=0.0)
    plan = planning.cases_for_power(pilot, difference=0.05, readers=range(3, 8), power=0.8)
    for row in plan.rows:
        cases = np.arange(1, 3000)
        powers = paired_t_power(
            difference=0.05, readers=row.readers, variance=0.2 / cases, alpha=0.05
        )
        first = cases[np.argmax(powers >= 0.8)]
        assert powers[-1] >= 0.8
        assert row.cases == first
        assert row.power == pytest.approx(powers[first - 1], abs=1e-9)
    assert plan.question == RANDOM_BOTH


def test_more_readers_never_need_more_cases(vandyke_pilot):
    # From four readers on: three cannot reach 0.8 for d = 0.05 at any number of cases.
    plan = planning.cases_for_power(vandyke_pilot, difference=0.05, readers=range(4, 21))
    cases = [row.cases for row in plan.rows]
    assert all(c is not None for c in cases)
    assert cases == sorted(cases, reverse=True)
    assert cases[0] > cases[-1]


@pytest.fixture(scope="module")
def three_reader_powers(vandyke_pilot) -> np.ndarray:
    """The power for d = 0.05 with three readers at 1 to 2999 cases, every number of cases."""
    return np.array(
        [
            planning.power_at(vandyke_pilot, difference=0.05, readers=3, cases=k, alpha=0.05)
            for k in range(1, 3000)
        ]
    )


def test_power_with_three_readers_peaks_then_falls(three_reader_powers):
    # Why the planner scans rather than assuming the power grows with cases: Hillis's ddf falls
    # towards J - 1 as the case variance shrinks, and with three readers that wins at the end.
    peak = int(np.argmax(three_reader_powers))
    assert 500 < peak < 2500
    assert three_reader_powers[-1] < three_reader_powers[peak]


@pytest.mark.parametrize("target", [0.3, 0.6, 0.64])
def test_fewest_cases_is_the_first_crossing_even_past_the_peak(
    vandyke_pilot, three_reader_powers, target
):
    plan = planning.cases_for_power(vandyke_pilot, difference=0.05, readers=[3], power=target)
    assert plan.rows[0].cases == 1 + int(np.argmax(three_reader_powers >= target))


def test_each_row_is_the_first_number_of_cases_reaching_the_power(vandyke_pilot):
    plan = planning.cases_for_power(vandyke_pilot, difference=0.05, readers=[4, 6], power=0.9)
    for row in plan.rows:
        at = dict(pilot=vandyke_pilot, difference=0.05, readers=row.readers, alpha=0.05)
        assert planning.power_at(**at, cases=row.cases) >= 0.9
        assert planning.power_at(**at, cases=row.cases - 1) < 0.9


def test_a_difference_below_the_readers_own_disagreement_is_out_of_reach(vandyke_pilot):
    # sigma2_TR does not shrink with cases: with three readers and d = 0.01 the power tends to
    # that of a t over readers alone, whose only variance is 2 sigma2_TR, far below 0.8.
    plan = planning.cases_for_power(vandyke_pilot, difference=0.01, readers=[3])
    (row,) = plan.rows
    assert row.cases is None
    limit = paired_t_power(
        difference=0.01, readers=3, variance=2 * vandyke_pilot.interaction, alpha=0.05
    )
    assert row.best == pytest.approx(limit, abs=1e-3)


def test_out_of_reach_reports_the_peak_power(vandyke_pilot, three_reader_powers):
    plan = planning.cases_for_power(vandyke_pilot, difference=0.05, readers=[3], power=0.65)
    assert plan.rows[0].cases is None
    assert plan.rows[0].best == pytest.approx(three_reader_powers.max(), abs=1e-4)


def test_plan_refuses_a_zero_difference(vandyke_pilot):
    with pytest.raises(ValueError, match="difference of 0"):
        planning.cases_for_power(vandyke_pilot, difference=0.0, readers=[5])


def simulated_observations(units: int, seed: int) -> list[Observation]:
    """Three raters grade each unit on 1-5 around the unit's latent value."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=units)
    return [
        Observation(
            f"u{u}", f"r{r}", int(np.clip(np.round(3 + latent[u] + rng.normal(0, 0.7)), 1, 5))
        )
        for u in range(units)
        for r in range(3)
    ]


def simulated_ratings(units: int, seed: int):
    observations = simulated_observations(units, seed)
    return ratings_from(observations, level="ordinal", categories=[1, 2, 3, 4, 5])


def test_alpha_width_plan_gives_about_the_width_on_a_simulated_study():
    bootstrap = Bootstrap(resamples=400, seed=1)
    plan = planning.alpha_width_plan(simulated_ratings(60, seed=2), width=0.08, bootstrap=bootstrap)
    low, high = plan.pilot_ci
    assert plan.cases == int(np.ceil(60 * ((high - low) / 0.08) ** 2))
    assert plan.cases > 60
    study = planning.alpha_width_plan(
        simulated_ratings(plan.cases, seed=3), width=0.08, bootstrap=bootstrap
    )
    study_low, study_high = study.pilot_ci
    assert study_high - study_low == pytest.approx(0.08, rel=0.2)
    assert plan.question == THESE_RATERS


# --- plan_study on the Van Dyke pilot ---------------------------------------------------------


def plan_study(*args: str) -> str:
    out = io.StringIO()
    call_command("plan_study", str(VANDYKE), "--fom", "auc", *args, stdout=out)
    return out.getvalue()


def vandyke_power(readers: int, cases: int, difference: float) -> float:
    """mrmc_power on the pilot's own components, from the MRMC analysis directly."""
    rows, truth = vandyke_rows()
    c = mrmc(rows, figure="auc", truth=truth).components
    return mrmc_power(
        difference=difference,
        readers=readers,
        cases=cases,
        var=c.var,
        cov1=c.cov1,
        cov2=c.cov2,
        cov3=c.cov3,
        interaction=c.ms_tr - c.var + c.cov1 + c.cov2 - c.cov3,
        pilot_cases=114,
    ).power


def test_the_table_gives_the_pilots_own_power_at_five_readers_and_114_cases():
    table = plan_study("--difference", "0.05", "--readers", "3-8")
    lines = table.splitlines()
    assert "readers like these, on cases like these" in table
    header = next(n for n, line in enumerate(lines) if line.split()[:1] == ["readers"])
    assert lines[header].split()[-3:] == ["with", "114", "cases"]
    by_readers = {line.split()[0]: line.split() for line in lines[header + 1 :] if line.strip()}
    assert by_readers["5"][-1] == f"{vandyke_power(5, 114, 0.05):.3f}"
    assert by_readers["3"][1] == "-"  # three readers cannot reach 0.8 for d = 0.05
    report = json.loads(plan_study("--difference", "0.05", "--readers", "5", "--json"))
    (row,) = report["rows"]
    assert row["power_with_pilot_cases"] == pytest.approx(vandyke_power(5, 114, 0.05), abs=1e-12)
    assert row["power"] == pytest.approx(vandyke_power(5, row["cases"], 0.05), abs=1e-12)
    assert vandyke_power(5, row["cases"] - 1, 0.05) < 0.8 <= row["power"]
    assert report["pilot_study"]["observed_difference"] == pytest.approx(0.8970 - 0.9408, abs=1e-4)


def test_plan_study_refuses_what_it_cannot_plan(tmp_path):
    with pytest.raises(CommandError, match="--readers"):
        plan_study("--difference", "0.05", "--readers", "1-4")
    bad = tmp_path / "bad.csv"
    bad.write_text("reader,case,modality,value\nr1,c1,A,1\n")
    with pytest.raises(CommandError, match="truth"):
        call_command("plan_study", str(bad), "--fom", "auc", "--difference", "0.05")


CLEAN_ENV = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}


def test_plan_study_runs_with_no_secret_and_matches_the_pure_command():
    args = [str(VANDYKE), "--fom", "auc", "--difference", "0.05", "--readers", "4-6", "--json"]
    outputs = []
    for argv in (["manage.py", "plan_study"], ["-m", "annotation.core.stats", "plan"]):
        done = subprocess.run(
            [sys.executable, *argv, *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=settings.BASE_DIR,
            env=CLEAN_ENV,
        )
        assert (done.returncode, done.stderr) == (0, "")
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1]
    assert [row["cases"] for row in outputs[0]["rows"]] == [361, 213, 170]


def test_plan_study_width_mode_scales_the_agreement_commands_alpha_interval(tmp_path):
    path = tmp_path / "pilot.csv"
    rows = "".join(f"{o.unit},{o.rater},{o.value}\n" for o in simulated_observations(60, seed=2))
    path.write_text("unit,rater,value\n" + rows)
    agreement = agreement_report(
        path, level="ordinal", categories="1,2,3,4,5", bootstrap=400, seed=0
    )
    # The planner scales the percentile interval over cases; the command's headline for alpha
    # is BCa, with the percentile interval beside it.
    (low, high), *_ = [
        other["ci"]
        for other in agreement["coefficients"]["krippendorff_alpha"]["other_intervals"]
        if other["interval_method"] == "percentile bootstrap over cases"
    ]
    out = io.StringIO()
    args = ["--width", "0.08", "--level", "ordinal", "--categories", "1,2,3,4,5"]
    call_command("plan_study", str(path), *args, "--bootstrap", "400", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["cases"] == int(np.ceil(60 * ((high - low) / 0.08) ** 2))
    assert (
        report["question"] == agreement["coefficients"]["krippendorff_alpha"]["interval_question"]
    )
    with pytest.raises(CommandError, match="--level"):
        call_command("plan_study", str(path), "--width", "0.08")


def test_width_plan_asks_for_no_extra_case_from_floating_point_noise():
    # 0.66 - 0.42 is 0.24000000000000005: halving it needs exactly 4 x 40 = 160 cases, not 161.
    assert planning.cases_for_width(pilot_cases=40, pilot_width=0.66 - 0.42, width=0.12) == 160
    assert planning.cases_for_width(pilot_cases=40, pilot_width=0.24, width=0.1199) == 161
