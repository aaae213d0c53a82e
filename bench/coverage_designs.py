"""Coverage of the intervals of issue 23's designs, each against the question it answers:

- the omission rate per source (`compare.omissions.omission_rates`): case bootstrap;
- a source's correction word edit rate and share accepted unchanged
  (`corrections.correction_summary`): case bootstrap, and Wilson's interval beside the share;
- washout test-retest, over every rater together (`retest.retest_kappa`, `retest.retest_icc`):
  the bootstrap over cases (a case with all its raters' pairs of all its outputs, the
  headline) and, for contrast, the bootstrap over (rater, item) pairs that the pooled figure
  used at first and, where a case has several outputs, the bootstrap over outputs (items) that
  it used next.

Run from bench/coverage.py (`--part issue23` runs this part alone, a few minutes on 2 cores).

Every headline interval here answers "these raters, cases (items) like these": the panel is
fixed within a study (drawn anew for each study) and the cases are a sample. So each truth is
the panel's value over infinitely many cases, computed exactly (Gauss-Hermite quadrature over
the case effect, no simulation):

- Omissions. A case has 6 facts, each of importance 1, 2 or 3; its output omits each with
  probability logistic(-1 + u), u ~ N(0, 1) the case's difficulty. Rater j ticks an omitted fact
  with probability sens_j ~ U(0.7, 0.95) and a stated one with fp_j ~ U(0.02, 0.1). A mark's
  chance does not depend on the importance, so the importance-weighted rate's truth is
  mean_j E_u[q(u) sens_j + (1 - q(u)) fp_j].
- Corrections. Rater j accepts an output unchanged when u + e > t_j (e ~ N(0, 0.7), t_j ~
  N(0.3, 0.5), u the output's quality ~ N(0, 1)); otherwise they edit it at a word edit rate of
  g(u) x U(0.5, 1.5), g(u) = 0.05 + 0.3 logistic(-u). Truths: share unchanged mean_j E_u[1 -
  Phi((t_j - u) / 0.7)], edit rate mean_j E_u[Phi((t_j - u) / 0.7) g(u)]. Wilson's interval
  takes every rating as independent: with one rater per case that is so, with three it is not.
- Washout. Rater j's reading of item i on occasion o is z_i + b_j + d o + s_i e (z ~ N(0, 1),
  b_j ~ N(0, 0.4) the panel's biases, d = 0.15 a drift at the re-read, e ~ N(0, 1)), where
  s_i is 0.35 for most items and 1.1 for a quarter (ambiguous items, which every rater reads
  differently the second time: the pairs of an item are not independent). ICC(A,1) is computed
  on the readings, kappa (quadratic weights) on them cut at the bench's CUTS into 1-5. The
  truth of the pooled ICC(A,1) is the ANOVA estimator's limit, var_T / (var_T + E[s^2] +
  d^2 / 2), var_T = 1 + the panel's bias variance (divisor r); of kappa, kappa of the joint
  distribution of the two readings' categories over the panel, the items and their s. In the
  "washout, outputs" cells a case has OUTPUTS outputs (items), each with its own z ~ N(0, 1),
  and s belongs to the case: an ambiguous case is read differently the second time in every
  output by every rater. Each output's z and s are distributed as an item's above, so the
  truths are the same; only the dependence between a case's pairs is new.

Each study's bootstrap seed is drawn from the study's own generator (SEED, the cell and the
replicate), so a run with another SEED draws other resamples as well as other data.
"""

import math

import numpy as np
from scipy.special import expit
from scipy.stats import norm

from annotation.core.stats import corrections, retest
from annotation.core.stats.compare.omissions import omission_rates
from annotation.core.stats.resampling import Bootstrap

NODES, NODE_WEIGHTS = np.polynomial.hermite_e.hermegauss(80)
NODE_WEIGHTS = NODE_WEIGHTS / math.sqrt(2 * math.pi)
CUTS = np.array([-1.2, -0.4, 0.4, 1.2])
SCALE = [1.0, 2.0, 3.0, 4.0, 5.0]

FACTS, OMIT_LOGIT = 6, -1.0
EDIT_NOISE, THRESHOLD_MEAN, THRESHOLD_SD = 0.7, 0.3, 0.5
BIAS_SD, DRIFT, CLEAR_SD, AMBIGUOUS_SD, AMBIGUOUS_SHARE = 0.4, 0.15, 0.35, 1.1, 0.25
OUTPUTS = 3  # outputs per case in the "washout, outputs" cells

# (what, cases or items, raters): each row of the table is one of these and one interval.
CELLS = [
    ("omission rate", 30, 3),
    ("omission rate", 100, 3),
    ("correction", 30, 3),
    ("correction", 100, 3),
    ("correction", 100, 1),
    ("washout", 20, 4),
    ("washout", 60, 4),
    ("washout, outputs", 20, 4),
    ("washout, outputs", 60, 4),
]
PERCENTILE, WILSON = "percentile, cases", "Wilson, ratings independent"
BY_CASES, BY_PAIRS = "percentile, cases (the app's)", "percentile, (rater, item) pairs"
BY_OUTPUTS = "percentile, outputs (items)"


# --- omissions ---------------------------------------------------------------------------------


def omission_study(rng: np.random.Generator, n: int, r: int, resamples: int, seed: int) -> list:
    sens, fp = rng.uniform(0.7, 0.95, r), rng.uniform(0.02, 0.1, r)
    omitted = rng.random((n, FACTS)) < expit(OMIT_LOGIT + rng.standard_normal(n))[:, None]
    importance = rng.integers(1, 4, (n, FACTS)).astype(float)
    rows = []
    for j in range(r):
        chance = np.where(omitted, sens[j], fp[j])
        marked = rng.random((n, FACTS)) < chance
        shares = (marked * importance).sum(axis=1) / importance.sum(axis=1)
        rows += [(c, j, float(shares[c]), 0.0) for c in range(n)]
    found = omission_rates(rows, bootstrap=Bootstrap(resamples=resamples, seed=seed))
    q = NODE_WEIGHTS @ expit(OMIT_LOGIT + NODES)
    truth = float(np.mean(q * sens + (1 - q) * fp))
    ci = found.omission_rate.ci
    return [("omission rate", n, r, "omission rate", PERCENTILE, *ci, truth)] if ci else []


# --- corrections -------------------------------------------------------------------------------


def _edit_rate_mean(u: np.ndarray) -> np.ndarray:
    return 0.05 + 0.3 * expit(-u)


def correction_study(rng: np.random.Generator, n: int, r: int, resamples: int, seed: int) -> list:
    thresholds = rng.normal(THRESHOLD_MEAN, THRESHOLD_SD, r)
    quality = rng.standard_normal(n)
    rows = []
    for j in range(r):
        unchanged = quality + EDIT_NOISE * rng.standard_normal(n) > thresholds[j]
        rate = np.where(unchanged, 0.0, _edit_rate_mean(quality) * rng.uniform(0.5, 1.5, n))
        rows += [
            corrections.CorrectionRow(c, j, 0, 0, float(rate[c]), bool(unchanged[c]))
            for c in range(n)
        ]
    summary = corrections.correction_summary(
        rows, bootstrap=Bootstrap(resamples=resamples, seed=seed)
    )
    edits = norm.cdf((thresholds[:, None] - NODES[None, :]) / EDIT_NOISE)  # raters x nodes
    truths = {
        "share unchanged": float(np.mean((1 - edits) @ NODE_WEIGHTS)),
        "word edit rate": float(np.mean((edits * _edit_rate_mean(NODES)) @ NODE_WEIGHTS)),
    }
    share, rate = summary["share_unchanged"], summary["edit_rate"]
    intervals = [
        ("share unchanged", PERCENTILE, share["ci"]),
        ("share unchanged", WILSON, share["other_intervals"][0]["ci"]),
        ("word edit rate", PERCENTILE, rate["ci"]),
    ]
    return [
        ("correction", n, r, what, kind, *ci, truths[what])
        for what, kind, ci in intervals
        if ci is not None
    ]


# --- washout test-retest -----------------------------------------------------------------------


def _categories(mean: np.ndarray, sd: float) -> np.ndarray:
    """P(category | mean) of a reading N(mean, sd) cut at CUTS: len(mean) x 5."""
    edges = np.concatenate([[-np.inf], CUTS, [np.inf]])
    return np.diff(norm.cdf((edges[None, :] - mean[:, None]) / sd), axis=1)


def washout_truths(biases: np.ndarray) -> dict[str, float]:
    """The pooled ICC(A,1) and quadratic kappa for this panel over infinitely many items."""
    spreads = ((CLEAR_SD, 1 - AMBIGUOUS_SHARE), (AMBIGUOUS_SD, AMBIGUOUS_SHARE))
    joint = np.zeros((5, 5))
    for bias in biases:
        for sd, share in spreads:
            first = _categories(NODES + bias, sd)
            second = _categories(NODES + bias + DRIFT, sd)
            joint += share * np.einsum("n,na,nb->ab", NODE_WEIGHTS, first, second)
    joint /= len(biases)
    weights = 1 - (np.subtract.outer(range(5), range(5)) / 4.0) ** 2
    observed = (weights * joint).sum()
    expected = joint.sum(axis=1) @ weights @ joint.sum(axis=0)
    error = sum(share * sd**2 for sd, share in spreads)
    targets = 1 + biases.var()
    return {
        "kappa": float((observed - expected) / (1 - expected)),
        "ICC(A,1)": targets / (targets + error + DRIFT**2 / 2),
    }


def _code(reading: float) -> float:
    return float(np.digitize(reading, CUTS) + 1)


def washout_study(
    rng: np.random.Generator, n: int, r: int, resamples: int, seed: int, outputs: int = 1
) -> list:
    biases = rng.normal(0, BIAS_SD, r)
    items = rng.standard_normal((n, outputs))
    spread = np.where(rng.random(n) < AMBIGUOUS_SHARE, AMBIGUOUS_SD, CLEAR_SD)[:, None]
    noise = rng.standard_normal((2, r, n, outputs))
    first = items + biases[:, None, None] + spread * noise[0]
    second = items + biases[:, None, None] + DRIFT + spread * noise[1]
    cells = [(j, i, k) for j in range(r) for i in range(n) for k in range(outputs)]
    readings = [
        retest.RetestPair(f"R{j}", f"i{i}/{k}", first[j, i, k], second[j, i, k], case=f"i{i}")
        for j, i, k in cells
    ]
    codes = [
        retest.RetestPair(p.rater, p.unit, _code(p.first), _code(p.second), case=p.case)
        for p in readings
    ]
    boot = Bootstrap(resamples=resamples, seed=seed)
    truths = washout_truths(biases)
    what = "washout" if outputs == 1 else "washout, outputs"
    rows = []
    for kind, by_item, by_case in _washout_intervals(outputs):
        cut, read = (codes, readings) if by_case else (_no_case(codes), _no_case(readings))
        kappa = retest.retest_kappa(
            cut, level="ordinal", categories=SCALE, bootstrap=boot, by_item=by_item
        )
        icc = retest.retest_icc(read, level="interval", bootstrap=boot, by_item=by_item)
        for figure, estimate in (("kappa", kappa), ("ICC(A,1)", icc)):
            if estimate.ci is not None:
                rows.append((what, n, r, figure, kind, *estimate.ci, truths[figure]))
    return rows


def _washout_intervals(outputs: int) -> list[tuple[str, bool, bool]]:
    """(interval, over clusters, clusters are cases): with one output per case, the cases
    (the app's) against the (rater, item) pairs; with several, the cases against the outputs
    (each output its own cluster, as the app did before it knew the cases)."""
    if outputs == 1:
        return [(BY_CASES, True, True), (BY_PAIRS, False, True)]
    return [(BY_CASES, True, True), (BY_OUTPUTS, True, False)]


def _no_case(pairs: list) -> list:
    """The pairs with no case named: each output (item) its own cluster."""
    return [retest.RetestPair(p.rater, p.unit, p.first, p.second) for p in pairs]


def washout_outputs_study(
    rng: np.random.Generator, n: int, r: int, resamples: int, seed: int
) -> list:
    return washout_study(rng, n, r, resamples, seed, outputs=OUTPUTS)


STUDIES = {
    "omission rate": omission_study,
    "correction": correction_study,
    "washout": washout_study,
    "washout, outputs": washout_outputs_study,
}


def one_study(task: tuple) -> list[tuple]:
    """(what, n, r, replicate, resamples, seed) -> rows (what, n, r, figure, interval, low,
    high, truth)."""
    what, n, r, replicate, resamples, seed = task
    rng = np.random.default_rng([seed, 23, list(STUDIES).index(what), n, r, replicate])
    return STUDIES[what](rng, n, r, resamples, int(rng.integers(2**31)))


def tasks(reps: int, resamples: int, seed: int) -> list[tuple]:
    return [(*cell, i, resamples, seed) for cell in CELLS for i in range(reps)]


def summarise(rows: list[tuple], coverage) -> list[str]:
    lines = [
        "| design | n x r | figure | interval | studies | covers these raters' value "
        "| mean width |",
        "|---|---|---|---|---|---|---|",
    ]
    keys = list(dict.fromkeys(row[:5] for row in rows))
    order = {cell: k for k, cell in enumerate(CELLS)}
    for key in sorted(keys, key=lambda k: (order[k[:3]], k[3], k[4])):
        picked = np.array([row[5:] for row in rows if row[:5] == key], dtype=float)
        low, high, truth = picked.T
        what, n, r, figure, kind = key
        lines.append(
            f"| {what} | {n} x {r} | {figure} | {kind} | {len(picked)} | "
            f"{coverage((low <= truth) & (truth <= high))} | {(high - low).mean():.3f} |"
        )
    return lines
