"""Coverage of the agreement intervals, each against the question it claims to answer.

    make bench-coverage            (REPLICATES=... RESAMPLES=... SEED=... MRMC_REPLICATES=...)
    make bench-coverage-issue23    (the omission, correction and washout intervals alone)
    .venv/bin/python bench/coverage.py --help     (a few cells, fewer studies, while looking)

The intervals of issue 23's designs (omission rate, corrections, washout test-retest) are
simulated in bench/coverage_designs.py, whose docstring gives their model and truths; they run
last (`--part issue23` alone, a few minutes; `--part agreement` without them).

A benchmark, not a test: about 8 minutes on 2 cores (500 studies per cell, 200 bootstrap
resamples per interval rather than the app's 1,000, so that it fits in 10; 1,500 studies per
cell for the MRMC test, which is cheap, so that its size has a Monte Carlo SE near 0.006). It
prints a table: per scenario, design, coefficient and interval, the coverage of both true values
with its Monte Carlo SE, and the mean width; then the MRMC test's size and power.

The model. Each study has n cases and r readers. A reader's score on a case is, on a continuous
latent scale, case effect + reader effect (the reader's bias, or leniency) + residual, each
normal with mean 0 and sd SIGMA_CASE, SIGMA_READER and SIGMA_RESIDUAL. ICC(A,1) is computed on
the latent scores; the latent scores are cut at CUTS into five ordered categories 1-5 for
Krippendorff's alpha (ordinal and interval metrics), Fleiss' kappa and Gwet's AC1. Two
scenarios: readers interchangeable (no reader effect) and readers with biases.

The two truths, both exact (Gauss-Hermite quadrature over the case effect, no simulation):

- "these readers": the coefficient with this panel's biases held fixed, over infinitely many
  cases. Given the case effect the readers' ratings are independent, so every pair's joint
  distribution of categories, and from them each coefficient's large-sample value, is an
  integral over the case effect. For ICC(A,1) it is s2_case / (s2_case + s2_res + s_b^2), with
  s_b^2 the panel's bias variance (r - 1 divisor), the limit of the ANOVA estimator.
- "readers in general": the same with infinitely many readers, whose biases are integrated out:
  two ratings of a case by two readers drawn at random. For ICC(A,1) it is s2_case /
  (s2_case + s2_reader + s2_res).

The intervals and their questions:

- percentile over units (the project's default): these readers, cases random;
- McGraw & Wong (1996) F interval for ICC(A,1): readers and cases random;
- the generalized confidence interval (Tian & Cappelleri 2004) for ICC(A,1), the app's headline
  interval for it: readers and cases random;
- BCa over units (`Bootstrap(kind="bca")`): these readers, cases random;
- raters_random, with the jackknife or the split-half raters part: readers and cases random.

Each unit interval is also scored against the readers-in-general truth, to show what it misses
when read as an answer to that question.

MRMC (stats.mrmc): two modalities, each reader's mean score the figure of merit, with a reader x
modality and a case x modality effect; how often the readers-and-cases-random test rejects at
0.05 with no difference (size) and with the second modality MRMC_EFFECT higher (power).
"""

import argparse
import math
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import coverage_designs  # noqa: E402

from annotation.core.stats import coefficients  # noqa: E402
from annotation.core.stats.data import Ratings  # noqa: E402
from annotation.core.stats.icc import GCI_INTERVAL, MeanSquares  # noqa: E402
from annotation.core.stats.mrmc import mrmc  # noqa: E402
from annotation.core.stats.raters_random import (  # noqa: E402
    raters_and_cases_interval,
    raters_variance,
)
from annotation.core.stats.resampling import Bootstrap  # noqa: E402

REPLICATES = int(os.environ.get("REPLICATES", 500))
RESAMPLES = int(os.environ.get("RESAMPLES", 200))
SEED = int(os.environ.get("SEED", 20))
MRMC_REPLICATES = int(os.environ.get("MRMC_REPLICATES", 1500))
# Issue 23's intervals are cheap: more studies, and the app's own 1,000 resamples.
ISSUE23_REPLICATES = int(os.environ.get("ISSUE23_REPLICATES", 1000))
ISSUE23_RESAMPLES = int(os.environ.get("ISSUE23_RESAMPLES", 1000))
WORKERS = 2

SIGMA_CASE = 1.0
SIGMA_RESIDUAL = 0.6
SCENARIOS = {"interchangeable": 0.0, "reader biases": 0.5}  # SIGMA_READER
DESIGNS = [(30, 3), (30, 5), (100, 3), (100, 5)]
CUTS = np.array([-1.2, -0.4, 0.4, 1.2])
SCALE = np.arange(1, 6)
NODES, NODE_WEIGHTS = hermegauss(80)
NODE_WEIGHTS = NODE_WEIGHTS / math.sqrt(2 * math.pi)

MRMC_READER_MODALITY = 0.25
MRMC_CASE_MODALITY = 0.3
MRMC_EFFECT = 0.25

COEFFICIENTS = ("alpha ordinal", "alpha interval", "Fleiss' kappa", "AC1", "ICC(A,1)")
UNIT, BCA, F_MW = "percentile, units", "BCa, units", "McGraw-Wong F"
GCI = "generalized CI"
JACKKNIFE, SPLIT = "raters+cases, jackknife", "raters+cases, split-half"
KINDS = (UNIT, BCA, F_MW, GCI, JACKKNIFE, SPLIT)
ONLY = set(COEFFICIENTS)  # the coefficients this run simulates (--coefficients)


# --- the truths --------------------------------------------------------------------------------


def _category_probabilities(shift: np.ndarray, sd: float) -> np.ndarray:
    """P(category | case effect at each node), for a reader shifted by `shift`: nodes x 5."""
    edges = np.concatenate([[-np.inf], CUTS, [np.inf]])
    mean = SIGMA_CASE * NODES + shift
    cdf = norm.cdf((edges[None, :] - mean[:, None]) / sd)
    return np.diff(cdf, axis=1)


def _from_pairs(joint: np.ndarray, marginal: np.ndarray) -> dict[str, float]:
    """Large-sample coefficients from the joint distribution of two different readers' categories
    on one case (averaged over reader pairs) and the pooled marginal."""
    agree, chance = np.trace(joint), (marginal**2).sum()
    cumulative = np.cumsum(marginal)
    low, high = np.minimum.outer(range(5), range(5)), np.maximum.outer(range(5), range(5))
    spanned = cumulative[high] - np.where(low > 0, cumulative[low - 1], 0.0)
    ordinal = (spanned - (marginal[:, None] + marginal[None, :]) / 2) ** 2
    interval = (SCALE[:, None] - SCALE[None, :]) ** 2.0
    expected = np.outer(marginal, marginal)
    ac_chance = (marginal * (1 - marginal)).sum() / 4
    return {
        "alpha ordinal": 1 - (joint * ordinal).sum() / (expected * ordinal).sum(),
        "alpha interval": 1 - (joint * interval).sum() / (expected * interval).sum(),
        "Fleiss' kappa": (agree - chance) / (1 - chance),
        "AC1": (agree - ac_chance) / (1 - ac_chance),
    }


def truth_these(biases: np.ndarray) -> dict[str, float]:
    r = len(biases)
    per = np.stack([_category_probabilities(b, SIGMA_RESIDUAL) for b in biases])  # r x nodes x 5
    summed = per.sum(axis=0)
    all_pairs = np.einsum("n,nc,nk->ck", NODE_WEIGHTS, summed, summed)
    same = np.einsum("n,jnc,jnk->ck", NODE_WEIGHTS, per, per)
    joint = (all_pairs - same) / (r * (r - 1))
    values = _from_pairs(joint, NODE_WEIGHTS @ summed / r)
    spread = biases.var(ddof=1)
    values["ICC(A,1)"] = SIGMA_CASE**2 / (SIGMA_CASE**2 + SIGMA_RESIDUAL**2 + spread)
    return values


def truth_general(sigma_reader: float) -> dict[str, float]:
    p = _category_probabilities(0.0, math.hypot(sigma_reader, SIGMA_RESIDUAL))
    joint = np.einsum("n,nc,nk->ck", NODE_WEIGHTS, p, p)
    values = _from_pairs(joint, NODE_WEIGHTS @ p)
    values["ICC(A,1)"] = SIGMA_CASE**2 / (SIGMA_CASE**2 + sigma_reader**2 + SIGMA_RESIDUAL**2)
    return values


# --- one simulated study -----------------------------------------------------------------------


def _ratings(grid: np.ndarray, level: str, values: np.ndarray) -> Ratings:
    """Ratings from a readers x cases grid of category positions into `values`."""
    r, n = grid.shape
    raters, units = np.nonzero(np.ones_like(grid, dtype=bool))
    return Ratings(
        units=tuple(f"u{i}" for i in range(n)),
        raters=tuple(f"r{j}" for j in range(r)),
        categories=tuple(float(v) for v in values),
        numbers=values.astype(float),
        level=level,
        unit_index=units,
        rater_index=raters,
        position=grid[raters, units],
    )


def _calls(cut: Ratings, latent: Ratings) -> dict:
    return {
        "alpha ordinal": (
            cut,
            lambda d, b: coefficients.krippendorff_alpha(d, level="ordinal", bootstrap=b),
        ),
        "alpha interval": (
            cut,
            lambda d, b: coefficients.krippendorff_alpha(d, level="interval", bootstrap=b),
        ),
        "Fleiss' kappa": (cut, lambda d, b: coefficients.fleiss_kappa(d, bootstrap=b)),
        "AC1": (cut, lambda d, b: coefficients.gwet_ac(d, bootstrap=b)),
        "ICC(A,1)": (latent, lambda d, b: coefficients.icc(d, bootstrap=b)["ICC2"]),
    }


def _icc_agreement(ratings: Ratings) -> float:
    """ICC(A,1) alone, without its intervals: the raters part refits it r to 4r times."""
    return MeanSquares.of(ratings.values_matrix().T).icc_agreement()


def _intervals(estimate) -> dict:
    """The estimate's intervals by kind: the unit bootstrap's (headline, or beside ICC's), and
    for ICC(A,1) its generalized confidence interval (headline) and McGraw-Wong F (beside)."""
    if estimate.interval_method != GCI_INTERVAL:
        return {UNIT: estimate.ci}
    found = {GCI: estimate.ci, UNIT: None, F_MW: None}
    for other in estimate.other_intervals:
        kind = F_MW if other["interval_method"] == coefficients.F_INTERVAL else UNIT
        found[kind] = tuple(other["ci"]) if other["ci"] else None
    return found


def one_study(task: tuple) -> list[tuple]:
    """(scenario, n, r, replicate) -> one row per coefficient and interval kind:
    (scenario, n, r, coefficient, kind, low, high, truth these, truth general)."""
    scenario, n, r, replicate = task
    rng = np.random.default_rng([SEED, list(SCENARIOS).index(scenario), n, r, replicate])
    biases = rng.normal(0, SCENARIOS[scenario], r)
    latent = (
        SIGMA_CASE * rng.standard_normal(n)[None, :]
        + biases[:, None]
        + SIGMA_RESIDUAL * rng.standard_normal((r, n))
    )
    cut = _ratings(np.digitize(latent, CUTS), "interval", SCALE)
    order = np.argsort(latent, axis=None)
    positions = np.empty(latent.size, dtype=np.int64)
    positions[order] = np.arange(latent.size)
    continuous = _ratings(positions.reshape(latent.shape), "interval", latent.ravel()[order])
    these, general = truth_these(biases), truth_general(SCENARIOS[scenario])
    rows = []
    for name, (data, call) in _calls(cut, continuous).items():
        if name not in ONLY:
            continue
        estimate = call(data, Bootstrap(resamples=RESAMPLES, seed=replicate))
        kinds = _intervals(estimate)
        unit_ci = kinds[UNIT]
        if estimate.value is None or unit_ci is None:
            continue
        kinds[BCA] = _intervals(call(data, Bootstrap(RESAMPLES, replicate, kind="bca")))[UNIT]
        value = _icc_agreement if name == "ICC(A,1)" else (lambda d, call=call: call(d, None).value)
        for kind, part in ((JACKKNIFE, "jackknife"), (SPLIT, "split-half")):
            variance, reason = raters_variance(data, value, part=part, seed=replicate)
            kinds[kind] = raters_and_cases_interval(
                estimate=estimate.value,
                unit_ci=unit_ci,
                raters_variance=variance,
                n_units=n,
                n_raters=r,
                raters_part=part,
                reason=reason,
            ).ci
        for kind, ci in kinds.items():
            if ci is not None:
                rows.append((scenario, n, r, name, kind, *ci, these[name], general[name]))
    return rows


# --- MRMC: the random-readers, random-cases test's size and power ------------------------------


def _mrmc_p(rng: np.random.Generator, n: int, r: int, sigma_reader: float, effect: float) -> float:
    """p of the Obuchowski-Rockette test (readers and cases random) that two modalities have the
    same mean score, on one simulated study where the second modality scores `effect` higher."""
    interaction = MRMC_READER_MODALITY if sigma_reader > 0 else 0.0
    scores = (
        SIGMA_CASE * rng.standard_normal(n)[None, None, :]
        + sigma_reader * rng.standard_normal(r)[None, :, None]
        + interaction * rng.standard_normal((2, r))[:, :, None]
        + MRMC_CASE_MODALITY * rng.standard_normal((2, n))[:, None, :]
        + SIGMA_RESIDUAL * rng.standard_normal((2, r, n))
    )
    scores[1] += effect
    rows = [
        (f"r{j}", f"c{i}", f"m{m}", float(scores[m, j, i]))
        for m in range(2)
        for j in range(r)
        for i in range(n)
    ]
    result = mrmc(rows, figure="mean")
    both = next(a for a in result.analyses if a.readers == "random" and a.cases == "random")
    return both.test.p if both.test else math.nan


def one_mrmc(task: tuple) -> tuple:
    scenario, n, r, replicate = task
    rng = np.random.default_rng([SEED, 99, list(SCENARIOS).index(scenario), n, r, replicate])
    sigma = SCENARIOS[scenario]
    return (
        scenario,
        n,
        r,
        _mrmc_p(rng, n, r, sigma, 0.0) < 0.05,
        _mrmc_p(rng, n, r, sigma, MRMC_EFFECT) < 0.05,
    )


def summarise_mrmc(rows: list[tuple]) -> list[str]:
    lines = [
        "| readers | n x r | studies | size (rejects at 0.05, no difference) "
        f"| power (difference {MRMC_EFFECT}) |",
        "|---|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        for n, r in DESIGNS:
            picked = [row for row in rows if row[:3] == (scenario, n, r)]
            if not picked:
                continue
            size = np.array([row[3] for row in picked], dtype=float)
            power = np.array([row[4] for row in picked], dtype=float)
            lines.append(
                f"| {scenario} | {n} x {r} | {len(picked)} | {coverage(size)} | {coverage(power)} |"
            )
    return lines


# --- the table ---------------------------------------------------------------------------------


def coverage(hits: np.ndarray) -> str:
    p = hits.mean()
    return f"{p:.3f} ± {math.sqrt(p * (1 - p) / len(hits)):.3f}"


def summarise(rows: list[tuple]) -> list[str]:
    table = np.array(rows, dtype=object)
    lines = [
        "| readers | n x r | coefficient | interval | studies | covers these readers' value "
        "| covers readers-in-general value | mean width |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        for n, r in DESIGNS:
            for name in COEFFICIENTS:
                for kind in KINDS:
                    pick = (
                        (table[:, 0] == scenario)
                        & (table[:, 1] == n)
                        & (table[:, 2] == r)
                        & (table[:, 3] == name)
                        & (table[:, 4] == kind)
                    )
                    if not pick.any():
                        continue
                    low, high, these, general = (table[pick, i].astype(float) for i in (5, 6, 7, 8))
                    these_cell = coverage((low <= these) & (these <= high))
                    general_cell = coverage((low <= general) & (general <= high))
                    if scenario == "interchangeable":
                        these_cell = f"{these_cell} (same value)"
                    lines.append(
                        f"| {scenario} | {n} x {r} | {name} | {kind} | {pick.sum()} | "
                        f"{these_cell} | {general_cell} | {(high - low).mean():.3f} |"
                    )
    return lines


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=REPLICATES, help="studies per cell")
    parser.add_argument("--mrmc-reps", type=int, default=MRMC_REPLICATES)
    parser.add_argument("--resamples", type=int, default=RESAMPLES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--coefficients", nargs="+", choices=COEFFICIENTS, default=COEFFICIENTS)
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument(
        "--designs", nargs="+", default=[f"{n}x{r}" for n, r in DESIGNS], help="e.g. 100x3"
    )
    parser.add_argument("--no-intervals", action="store_true", help="the MRMC part only")
    parser.add_argument("--no-mrmc", action="store_true")
    parser.add_argument(
        "--part",
        choices=("all", "agreement", "issue23"),
        default="all",
        help="agreement: the agreement intervals and MRMC; issue23: the omission, correction "
        "and washout intervals (bench/coverage_designs.py)",
    )
    parser.add_argument("--issue23-reps", type=int, default=ISSUE23_REPLICATES)
    parser.add_argument("--issue23-resamples", type=int, default=ISSUE23_RESAMPLES)
    return parser.parse_args()


def _describe(options: argparse.Namespace) -> None:
    print(
        f"coverage benchmark: {options.reps} studies per cell ({options.mrmc_reps} for MRMC), "
        f"{RESAMPLES} bootstrap resamples, seed {SEED}, {WORKERS} processes"
    )
    print(
        f"model: case sd {SIGMA_CASE}, residual sd {SIGMA_RESIDUAL}, reader sd "
        f"{SCENARIOS['reader biases']} (biases) or 0, cuts {CUTS.tolist()} into 1-5"
    )
    for scenario, sigma in SCENARIOS.items():
        general = truth_general(sigma)
        print(
            f"readers-in-general truth, {scenario}: "
            + ", ".join(f"{k} {v:.4f}" for k, v in general.items())
        )


def main() -> None:
    global RESAMPLES, SEED, ONLY, DESIGNS
    options = _options()
    RESAMPLES, SEED, ONLY = options.resamples, options.seed, set(options.coefficients)
    DESIGNS = [tuple(int(v) for v in d.split("x")) for d in options.designs]
    if options.part != "issue23":
        _describe(options)
    cells = [(s, n, r) for s in options.scenarios for n, r in DESIGNS]
    start = time.perf_counter()
    agreement = options.part in ("all", "agreement")
    # Forked workers see the options set above.
    with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
        if agreement and not options.no_intervals:
            tasks = [(*cell, i) for cell in cells for i in range(options.reps)]
            rows = [row for result in pool.imap_unordered(one_study, tasks, 8) for row in result]
            print("\n".join(summarise(rows)))
            print(f"{len(tasks)} studies in {time.perf_counter() - start:.0f} s")
        if agreement and not options.no_mrmc:
            tasks = [(*cell, i) for cell in cells for i in range(options.mrmc_reps)]
            mrmc_rows = list(pool.imap_unordered(one_mrmc, tasks, chunksize=16))
            print(
                f"\nMRMC (stats.mrmc, Obuchowski-Rockette with Hillis df, jackknife covariances): "
                f"mean score, two modalities; reader x modality sd {MRMC_READER_MODALITY} (0 when "
                f"readers are interchangeable), case x modality sd {MRMC_CASE_MODALITY}"
            )
            print("\n".join(summarise_mrmc(mrmc_rows)))
        if options.part in ("all", "issue23"):
            issue23(pool, options)
    print(f"done in {time.perf_counter() - start:.0f} s")


def issue23(pool, options: argparse.Namespace) -> None:
    """The omission, correction and washout intervals (bench/coverage_designs.py)."""
    begun = time.perf_counter()
    tasks = coverage_designs.tasks(options.issue23_reps, options.issue23_resamples, SEED)
    rows = [r for found in pool.imap_unordered(coverage_designs.one_study, tasks, 8) for r in found]
    print(
        f"\nIssue 23's intervals: {options.issue23_reps} studies per cell, "
        f"{options.issue23_resamples} bootstrap resamples, seed {SEED}"
    )
    print("\n".join(coverage_designs.summarise(rows, coverage)))
    print(f"{len(tasks)} studies in {time.perf_counter() - begun:.0f} s")


if __name__ == "__main__":
    main()
