"""The statistics of an assisted-reading study, over scored reads (right or wrong) as plain data.

- `accuracy_by_arm`: the share of reads right per arm (top-j with a rank per read).
- `mrmc_by_arm`: accuracy per arm and its differences with the Obuchowski-Rockette analysis
  (`annotation.core.stats.mrmc`, the figure of merit each reader's accuracy per arm), for
  readers and cases random, readers fixed, and cases fixed; it needs every reader to read every
  case in every compared arm (the crossover layout; in the sequential one, unassisted against
  one assisting arm when there is only one).
- `mcnemar`: McNemar's test on paired reads (the same reader on the same case, unassisted and
  assisted): the exact binomial version and the continuity-corrected chi-square. It treats the
  pairs as independent, as the published studies do (McDuff et al.); reads by one reader are
  not, which is what the MRMC analysis is for.
- `changes`: how often assistance helped (wrong to right) and harmed (right to wrong), with
  bootstrap intervals for two questions (below).
- `time_by_arm`: seconds per case per arm, median and interquartile range.
- `experience_interaction`: whether assistance helps one group of readers (by experience)
  more than another: Welch's t on the readers' own gains.

The intervals of helped and harmed come from a seeded percentile bootstrap over the reader x
case grid of pairs, and each names its question: cases resampled, readers kept (these readers,
on cases like these), or readers and cases both resampled, independently (readers like these,
on cases like these). Resampling both at once (the "pigeonhole" bootstrap) counts the reader x
case residual twice and errs wide (McCullagh 2000): a conservative interval for the
generalisable question. Their coverage, measured by simulation, is in docs/assisted-reading.md.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from annotation.core.reading.allocation import UNASSISTED
from annotation.core.stats.data import DataError
from annotation.core.stats.mrmc import Mrmc, mrmc
from annotation.core.stats.names import FIXED_READERS, RANDOM_BOTH

MCNEMAR_EXACT = "exact McNemar test: two-sided binomial test (p = 0.5) on the discordant pairs"
MCNEMAR_CHI2 = (
    "McNemar chi-square with continuity correction: (|b - c| - 1)^2 / (b + c), the correction "
    "capped so the statistic is never below 0, on 1 df"
)
ODDS_RATIO = (
    "exact conditional interval: Clopper-Pearson for helped / (helped + harmed), as odds "
    "(high None: unbounded, nothing harmed)"
)
# What McNemar's test and its odds ratio assume, and so the question their interval answers.
PAIRS = "these reader x case pairs as independent draws (readers and cases not modelled)"
PERCENTILE = "percentile bootstrap"
WELCH = (
    "Welch t interval of the difference between the groups' mean reader gains (Satterthwaite df)"
)
INTERVAL_QUESTIONS = {"cases": FIXED_READERS, "readers and cases": RANDOM_BOTH}


@dataclass(frozen=True)
class Interval:
    low: float | None
    high: float | None
    question: str
    method: str
    undefined: int = 0  # resamples in which the rate had no denominator, left out


@dataclass(frozen=True)
class Read:
    """One scored read. `rank`: for a ranked list, the rank of its first right entry (None:
    none), so that top-j accuracy can be taken for any j."""

    reader: str
    case: str
    arm: str
    right: bool
    seconds: float | None = None
    rank: int | None = None

    def __post_init__(self) -> None:
        if self.rank is not None and (self.rank < 1 or not self.right):
            raise DataError(f"a rank is a right list's first right entry, 1 or more: {self!r}")

    def right_at(self, top: int | None) -> bool:
        if top is None:
            return self.right
        if self.right and self.rank is None:
            raise DataError(f"top-{top} accuracy needs ranked answers: {self!r} has no rank")
        return self.rank is not None and self.rank <= top


@dataclass(frozen=True)
class ArmAccuracy:
    """Reads pooled over readers and cases; the interval is MRMC's (`mrmc_by_arm`)."""

    arm: str
    reads: int
    right: int
    accuracy: float


def accuracy_by_arm(reads: Iterable[Read], *, top: int | None = None) -> tuple[ArmAccuracy, ...]:
    """The share of reads right per arm, arms in the order first seen; with `top`, a read is
    right when its rank is `top` or better (top-j accuracy of ranked lists)."""
    counts: dict[str, list[int]] = {}
    for read in reads:
        count = counts.setdefault(read.arm, [0, 0])
        count[0] += 1
        count[1] += read.right_at(top)
    return tuple(ArmAccuracy(arm, n, k, k / n) for arm, (n, k) in counts.items())


def mrmc_by_arm(
    reads: Iterable[Read],
    *,
    arms: Sequence[str],
    top: int | None = None,
    level: float = 0.95,
) -> Mrmc:
    """The Obuchowski-Rockette analysis of accuracy in `arms` (differences first minus
    second, in the order given): readers and cases random, readers fixed, cases fixed."""
    wanted = list(arms)
    rows = [
        (read.reader, read.case, read.arm, float(read.right_at(top)))
        for read in reads
        if read.arm in wanted
    ]
    missing = set(wanted) - {row[2] for row in rows}
    if missing or len(set(wanted)) < 2:
        raise DataError(f"compare two or more arms that have reads (none in {sorted(missing)})")
    rows.sort(key=lambda row: wanted.index(row[2]))  # mrmc orders modalities as first seen
    return mrmc(rows, figure="proportion", level=level)


# --- paired reads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """The same reader on the same case in two arms: unassisted, then assisted."""

    reader: str
    case: str
    first: bool
    second: bool


def pairs(
    reads: Iterable[Read], *, second: str, first: str = UNASSISTED, top: int | None = None
) -> list[Pair]:
    """Every (reader, case) read in both arms, as a pair, in the order first seen."""
    if first == second:
        raise DataError("a pair compares two different arms")
    by_arm: dict[str, dict[tuple[str, str], bool]] = {first: {}, second: {}}
    for n, read in enumerate(reads):
        if read.arm not in by_arm:
            continue
        key = (read.reader, read.case)
        if key in by_arm[read.arm]:
            raise DataError(
                f"reader {read.reader!r} read case {read.case!r} twice in {read.arm!r}", n
            )
        by_arm[read.arm][key] = read.right_at(top)
    return [
        Pair(reader, case, right, by_arm[second][(reader, case)])
        for (reader, case), right in by_arm[first].items()
        if (reader, case) in by_arm[second]
    ]


@dataclass(frozen=True)
class McNemar:
    n_pairs: int
    both_right: int
    harmed: int  # b: right unassisted, wrong assisted
    helped: int  # c: wrong unassisted, right assisted
    both_wrong: int
    exact_p: float | None
    chi2: float | None
    chi2_p: float | None
    # helped / harmed, the matched-pairs odds ratio (> 1: assistance turned more answers right
    # than wrong); None when nothing was harmed. Its interval: `odds_ratio_ci`.
    odds_ratio: float | None = None
    odds_ratio_ci: Interval | None = None
    exact_method: str = MCNEMAR_EXACT
    chi2_method: str = MCNEMAR_CHI2
    reason: str = ""  # why the tests are missing


def mcnemar(paired: Sequence[Pair], *, level: float = 0.95) -> McNemar:
    """McNemar's test that assistance changes accuracy, on the discordant pairs, and the
    matched-pairs odds ratio with its exact interval."""
    b = sum(p.first and not p.second for p in paired)
    c = sum(p.second and not p.first for p in paired)
    both = sum(p.first and p.second for p in paired)
    counts = (len(paired), both, b, c, len(paired) - both - b - c)
    if b + c == 0:
        reason = "no discordant pairs" if paired else "no pairs"
        return McNemar(*counts, None, None, None, reason=reason)
    test = stats.binomtest(c, b + c, 0.5)
    chi2 = max(abs(b - c) - 1, 0) ** 2 / (b + c)
    odds = c / b if b else None
    return McNemar(
        *counts,
        float(test.pvalue),
        float(chi2),
        float(stats.chi2.sf(chi2, 1)),
        odds,
        _odds_ratio_interval(test, level),
    )


def _odds_ratio_interval(test, level: float) -> Interval:
    """The exact (Clopper-Pearson) interval of the share of discordant pairs that were
    helped, p, as the odds ratio p / (1 - p) (the conditional interval of Breslow and Day)."""
    share = test.proportion_ci(confidence_level=level, method="exact")
    low = share.low / (1 - share.low)
    high = share.high / (1 - share.high) if share.high < 1 else None
    return Interval(float(low), None if high is None else float(high), PAIRS, ODDS_RATIO)


# --- helped and harmed, with bootstrap intervals ----------------------------------------------


@dataclass(frozen=True)
class Rate:
    """count / of, and its intervals, one per question."""

    name: str
    count: int
    of: int
    value: float | None
    intervals: tuple[Interval, ...]


@dataclass(frozen=True)
class Changes:
    n_pairs: int
    rates: tuple[Rate, ...]

    def rate(self, name: str) -> Rate:
        return next(rate for rate in self.rates if rate.name == name)


@dataclass(frozen=True)
class Grid:
    """Pairs on a readers x cases grid: first and second right (0/1), and 1 where a pair is."""

    readers: tuple[str, ...]
    cases: tuple[str, ...]
    first: np.ndarray
    second: np.ndarray
    present: np.ndarray

    @classmethod
    def of(cls, paired: Sequence[Pair]) -> "Grid":
        readers = tuple(dict.fromkeys(p.reader for p in paired))
        cases = tuple(dict.fromkeys(p.case for p in paired))
        r_at = {r: i for i, r in enumerate(readers)}
        c_at = {c: j for j, c in enumerate(cases)}
        shape = (len(readers), len(cases))
        first, second, present = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        for p in paired:
            at = (r_at[p.reader], c_at[p.case])
            first[at], second[at], present[at] = p.first, p.second, 1.0
        return cls(readers, cases, first, second, present)


# Each rate as (numerator, denominator) cells of the grid.
RATES = {
    "helped": lambda g: ((1 - g.first) * g.second, g.present),
    "harmed": lambda g: (g.first * (1 - g.second), g.present),
    "helped_of_wrong": lambda g: ((1 - g.first) * g.second, (1 - g.first) * g.present),
    "harmed_of_right": lambda g: (g.first * (1 - g.second), g.first),
}
RATE_MEANINGS = {
    "helped": "pairs wrong unassisted and right assisted, of all pairs",
    "harmed": "pairs right unassisted and wrong assisted, of all pairs",
    "helped_of_wrong": "of the pairs wrong unassisted, the share assistance made right",
    "harmed_of_right": "of the pairs right unassisted, the share assistance made wrong",
}


def changes(
    paired: Sequence[Pair], *, resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> Changes:
    """Helped and harmed counts and rates (RATE_MEANINGS), each with a percentile bootstrap
    interval resampling cases (these readers) and one resampling readers and cases (readers
    like these)."""
    if not paired:
        raise DataError("no paired reads: nothing helped or harmed")
    grid = Grid.of(paired)
    draws = {
        question: _weights(
            grid, resample_readers=question == "readers and cases", resamples=resamples, seed=seed
        )
        for question in INTERVAL_QUESTIONS
    }
    rates = []
    for name, cells in RATES.items():
        numerator, denominator = cells(grid)
        count, of = int(numerator.sum()), int(denominator.sum())
        intervals = tuple(
            _interval(numerator, denominator, weights, INTERVAL_QUESTIONS[question], level)
            for question, weights in draws.items()
        )
        rates.append(Rate(name, count, of, count / of if of else None, intervals))
    return Changes(len(paired), tuple(rates))


def _weights(
    grid: Grid, *, resample_readers: bool, resamples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded bootstrap weights (resamples x readers, resamples x cases): how often each
    reader and case is drawn."""
    rng = np.random.default_rng(seed)
    n_r, n_c = grid.first.shape
    cases = rng.multinomial(n_c, np.full(n_c, 1 / n_c), size=resamples).astype(float)
    if not resample_readers:
        return np.ones((resamples, n_r)), cases
    readers = rng.multinomial(n_r, np.full(n_r, 1 / n_r), size=resamples).astype(float)
    return readers, cases


def _resampled_sum(cells: np.ndarray, weights: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    readers, cases = weights
    return np.einsum("br,rc,bc->b", readers, cells, cases)


def _interval(
    numerator: np.ndarray,
    denominator: np.ndarray,
    weights: tuple[np.ndarray, np.ndarray],
    question: str,
    level: float,
) -> Interval:
    top, bottom = _resampled_sum(numerator, weights), _resampled_sum(denominator, weights)
    defined = bottom > 0
    return _percentile(top[defined] / bottom[defined], question, level, int((~defined).sum()))


def _percentile(values: np.ndarray, question: str, level: float, undefined: int) -> Interval:
    method = f"{PERCENTILE}, {len(values) + undefined} resamples"
    if not len(values):
        return Interval(None, None, question, method, undefined)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(float(low), float(high), question, method, undefined)


# --- time per case ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmTime:
    """Seconds per read in one arm (reads without a time are counted, not used)."""

    arm: str
    reads: int
    timed: int
    median: float | None
    q1: float | None
    q3: float | None


def time_by_arm(reads: Iterable[Read]) -> tuple[ArmTime, ...]:
    """Median and quartiles (numpy's linear interpolation) of seconds per read, per arm."""
    seconds: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for read in reads:
        counts[read.arm] = counts.get(read.arm, 0) + 1
        timed = seconds.setdefault(read.arm, [])
        if read.seconds is not None:
            timed.append(read.seconds)
    result = []
    for arm, times in seconds.items():
        if not times:
            result.append(ArmTime(arm, counts[arm], 0, None, None, None))
            continue
        q1, median, q3 = np.percentile(times, [25, 50, 75])
        result.append(ArmTime(arm, counts[arm], len(times), float(median), float(q1), float(q3)))
    return tuple(result)


# --- arm x reader experience ------------------------------------------------------------------


@dataclass(frozen=True)
class GroupGain:
    """One group's readers' gains from assistance: each reader's assisted minus unassisted
    accuracy over their own pairs, averaged over the group's readers."""

    group: str
    readers: int
    pairs: int
    gain: float
    sd: float  # of the readers' gains


@dataclass(frozen=True)
class Interaction:
    """How much more assistance raised accuracy for `first` readers than for `second`:
    first's gain minus second's (negative: it helped the second group more)."""

    first: GroupGain
    second: GroupGain
    difference: float
    se: float
    df: float | None
    p: float | None
    interval: Interval
    reason: str = ""  # why p and the interval are missing


def experience_interaction(
    paired: Sequence[Pair],
    *,
    groups: Mapping[str, str],
    order: tuple[str, str],
    level: float = 0.95,
) -> Interaction:
    """The arm x experience interaction: the difference between two reader groups (`groups`:
    reader -> group; `order`: the two groups compared, first minus second) in the gain from
    assistance, by Welch's t-test on the readers' own gains.

    Experience varies between readers, so the interaction is tested against how readers'
    gains vary within a group, as in a split-plot analysis. Both groups read the same cases,
    so how much a case lends itself to assistance shifts both groups' gains alike and drops
    out of the difference. The interval answers: for readers like these in each group, on
    cases like these, how much more does assistance help the first group?"""
    if len(set(order)) != 2:
        raise DataError("compare two different groups")
    gains = _reader_gains(paired)
    missing = [reader for reader in gains if reader not in groups]
    if missing:
        raise DataError(f"reader {missing[0]!r} has no experience group")
    samples = []
    for group in order:
        members = [gains[reader] for reader in gains if groups[reader] == group]
        if len(members) < 2:
            raise DataError(f"group {group!r} needs at least two readers with paired reads")
        samples.append(members)
    first, second = (_group(group, members) for group, members in zip(order, samples, strict=True))
    return _welch(first, second, level)


def _reader_gains(paired: Sequence[Pair]) -> dict[str, tuple[float, int]]:
    """Each reader's assisted minus unassisted accuracy over their pairs, and how many."""
    totals: dict[str, list[int]] = {}
    for pair in paired:
        total = totals.setdefault(pair.reader, [0, 0])
        total[0] += int(pair.second) - int(pair.first)
        total[1] += 1
    return {reader: (change / n, n) for reader, (change, n) in totals.items()}


def _group(group: str, members: list[tuple[float, int]]) -> GroupGain:
    gains = np.array([gain for gain, _ in members])
    pairs = sum(n for _, n in members)
    return GroupGain(group, len(gains), pairs, float(gains.mean()), float(gains.std(ddof=1)))


def _welch(first: GroupGain, second: GroupGain, level: float) -> Interaction:
    difference = first.gain - second.gain
    parts = (first.sd**2 / first.readers, second.sd**2 / second.readers)
    se = math.sqrt(sum(parts))
    method = WELCH
    if se == 0:
        why = "every reader in both groups gained the same: no variability, no interval"
        interval = Interval(None, None, RANDOM_BOTH, method)
        return Interaction(first, second, difference, 0.0, None, None, interval, why)
    df = sum(parts) ** 2 / sum(
        part**2 / (group.readers - 1) for part, group in zip(parts, (first, second), strict=True)
    )
    half = float(stats.t.ppf((1 + level) / 2, df)) * se
    p = float(2 * stats.t.sf(abs(difference) / se, df))
    interval = Interval(difference - half, difference + half, RANDOM_BOTH, method)
    return Interaction(first, second, difference, se, float(df), p, interval)
