"""Pairwise preferences: win/tie/loss shares for two sources, Bradley-Terry strengths for three
or more."""

import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

import numpy as np

from annotation.core.stats.compare.common import Statistic, _estimate, _Result, _rows
from annotation.core.stats.data import DataError
from annotation.core.stats.resampling import Bootstrap

WIN_TIE_LOSS = (
    "share of ratings preferring the first source",
    "share of ratings calling a tie",
    "share of ratings preferring the second source",
)

PSEUDO_WINS = 0.5  # Bradley-Terry: per source, over each other source (one virtual tie a pair)
MM_TOLERANCE = 1e-10  # largest change of any log-strength at convergence
MM_MAX_ITERATIONS = 20_000


# --- pairwise preferences -------------------------------------------------------------------------


@dataclass(frozen=True)
class WinTieLoss(_Result):
    n_cases: int
    n_raters: int
    n_ratings: int
    wins: int
    ties: int
    losses: int
    win: Statistic
    tie: Statistic
    loss: Statistic
    reason: str = ""


def win_tie_loss(
    observations: Iterable[tuple[Hashable, Hashable, float]], *, bootstrap: Bootstrap
) -> WinTieLoss:
    """Shares of ratings preferring the first source (value > 0), calling a tie (0) and
    preferring the second (< 0), for one pair of sources; a case with three raters gives three
    ratings, and the intervals resample cases."""
    data = _rows(observations, numbers=1)
    column = 1 - np.sign(data.numbers[:, 0]).astype(np.int64)  # 0 win, 1 tie, 2 loss
    tallies = np.bincount(data.case * 3 + column, minlength=len(data.cases) * 3)
    by_case = tallies.reshape(-1, 3).astype(float)
    wins, ties, losses = (int(count) for count in by_case.sum(axis=0))
    sizes = (len(data.cases), data.n_raters, data.n, wins, ties, losses)
    if data.n == 0:
        empty = (Statistic(method, None, reason="no ratings") for method in WIN_TIE_LOSS)
        return WinTieLoss(*sizes, *empty, reason="no ratings")

    def statistic(weights: np.ndarray) -> np.ndarray:
        counted = weights @ by_case
        return counted / counted.sum(axis=1, keepdims=True)

    return WinTieLoss(*sizes, *_estimate(WIN_TIE_LOSS, statistic, len(data.cases), bootstrap))


# --- Bradley-Terry --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceStrength(_Result):
    source: Hashable
    comparisons: int
    wins: float  # a tie counts half
    log_strength: Statistic
    beats_average: Statistic


@dataclass(frozen=True)
class BradleyTerry(_Result):
    method: str
    n_cases: int
    n_comparisons: int
    pseudo_wins: float
    sources: tuple[SourceStrength, ...]
    reason: str = ""


BT_NAMES = (
    "Bradley-Terry log-strength, centred to mean 0 over sources",
    "probability of beating a source of average strength, 1 / (1 + exp(-log-strength))",
)


@dataclass(frozen=True)
class _Comparisons:
    sources: tuple
    cases: int
    credit: np.ndarray  # cases x (sources * sources): the first index's wins over the second

    @classmethod
    def of(cls, comparisons: Iterable[tuple[Hashable, Hashable, Hashable, int]]) -> "_Comparisons":
        rows = [tuple(row) for row in comparisons]
        for n, (_, first, second, outcome) in enumerate(rows):
            if first == second or isinstance(outcome, bool) or outcome not in (1, 0, -1):
                raise DataError("a comparison is of two sources, with outcome 1, 0 or -1", n)
        sources = tuple(sorted({row[k] for row in rows for k in (1, 2)}, key=str))
        at = {source: k for k, source in enumerate(sources)}
        case_ids: dict[Hashable, int] = {}
        s = len(sources)
        cell = np.array([case_ids.setdefault(row[0], len(case_ids)) for row in rows], dtype=int)
        cell = cell * s * s
        first = np.array([at[row[1]] for row in rows], dtype=np.int64)
        second = np.array([at[row[2]] for row in rows], dtype=np.int64)
        share = (np.array([row[3] for row in rows], dtype=float) + 1) / 2  # a tie: half each
        size = len(case_ids) * s * s
        credit = np.bincount(cell + first * s + second, weights=share, minlength=size)
        credit += np.bincount(cell + second * s + first, weights=1 - share, minlength=size)
        return cls(sources, len(case_ids), credit.reshape(len(case_ids), s * s))

    def observed(self) -> np.ndarray:
        """Sources x sources: how often the row's source beat the column's (a tie half)."""
        s = len(self.sources)
        return self.credit.sum(axis=0).reshape(s, s)

    def statistic(self, pseudo_wins: float) -> Callable[[np.ndarray], np.ndarray]:
        s = len(self.sources)
        prior = pseudo_wins * (1 - np.eye(s))

        def statistic(weights: np.ndarray) -> np.ndarray:
            wins = (weights @ self.credit).reshape(-1, s, s) + prior
            log_strength = _bradley_terry_fit(wins)
            return np.column_stack([log_strength, 1 / (1 + np.exp(-log_strength))])

        return statistic


def bradley_terry(
    comparisons: Iterable[tuple[Hashable, Hashable, Hashable, int]],
    *,
    bootstrap: Bootstrap,
    pseudo_wins: float = PSEUDO_WINS,
) -> BradleyTerry:
    """Bradley-Terry strengths of three or more sources from (case, first source, second
    source, outcome) comparisons: outcome 1 the first won, -1 the second, 0 a tie, which counts
    half a win to each side. Each source gets `pseudo_wins` over each other source (0.5: one
    virtual tie per pair), which keeps every strength finite when a source never wins or never
    loses, and matters little once each pair has been compared a few dozen times; with 0, the
    plain maximum-likelihood fit, such data have a reason instead. Log-strengths are centred to
    mean 0, so a source's probability of beating a source of average strength is
    1 / (1 + exp(-log-strength)). Intervals resample cases."""
    if pseudo_wins < 0:
        raise ValueError("pseudo_wins cannot be negative")
    table = _Comparisons.of(comparisons)
    observed, s = table.observed(), len(table.sources)
    reason = _bradley_terry_reason(table.sources, observed, pseudo_wins)
    methods = [name for name in BT_NAMES for _ in table.sources]
    if reason:
        results = [Statistic(name, None, reason=reason) for name in methods]
    else:
        statistic = table.statistic(pseudo_wins)
        results = _estimate(methods, statistic, table.cases, bootstrap, width=4 * s * s)
    played, won = observed + observed.T, observed.sum(axis=1)
    per_source = tuple(
        SourceStrength(source, round(played[k].sum()), float(won[k]), results[k], results[s + k])
        for k, source in enumerate(table.sources)
    )
    method = (
        "Bradley-Terry model, maximum likelihood by Hunter's (2004) MM algorithm, a tie half a "
        f"win to each side, {pseudo_wins:g} pseudo-wins for each source over each other source"
    )
    n = round(observed.sum())
    return BradleyTerry(method, table.cases, n, pseudo_wins, per_source, reason=reason)


def _bradley_terry_reason(sources: tuple, wins: np.ndarray, pseudo_wins: float) -> str:
    if len(sources) < 3:
        return "Bradley-Terry needs three or more sources; compare two with win_tie_loss"
    if pseudo_wins > 0 or _ford(wins[None])[0]:
        return ""
    never_won = [str(sources[k]) for k in np.flatnonzero(wins.sum(axis=1) == 0)]
    never_lost = [str(sources[k]) for k in np.flatnonzero(wins.sum(axis=0) == 0)]
    named = [f"{', '.join(never_won)} never won"] if never_won else []
    named += [f"{', '.join(never_lost)} never lost"] if never_lost else []
    detail = "; ".join(named) or "some group of sources never beat the rest"
    return f"the maximum-likelihood strengths are infinite ({detail}); use pseudo-wins"


def _ford(wins: np.ndarray) -> np.ndarray:
    """Ford's (1957) condition, per row of (rows x S x S) win credits: every source reaches
    every other by a chain of wins. Without it the MLE is infinite (Hunter 2004)."""
    s = wins.shape[-1]
    reach = ((wins > 0) | np.eye(s, dtype=bool)).astype(np.int64)
    for _ in range(math.ceil(math.log2(s))):  # paths up to 2**k long after k squarings
        reach = (reach @ reach > 0).astype(np.int64)
    return reach.all(axis=(1, 2))


def _bradley_terry_fit(wins: np.ndarray) -> np.ndarray:
    """Centred log-strengths (rows x S) maximising the Bradley-Terry likelihood of each row's
    wins, by Hunter's (2004) MM update p_i <- W_i / sum_j N_ij / (p_i + p_j), all rows at once;
    NaN where the MLE is infinite or the update has not settled."""
    finite = _ford(wins)
    s = wins.shape[-1]
    wins = np.where(finite[:, None, None], wins, 1 - np.eye(s))  # a stand-in, reported NaN
    games, log_won = wins + wins.swapaxes(1, 2), np.log(wins.sum(axis=2))
    log_strength = np.zeros(wins.shape[:2])
    for _ in range(MM_MAX_ITERATIONS):
        strength = np.exp(log_strength)
        rate = (games / (strength[:, :, None] + strength[:, None, :])).sum(axis=2)
        updated = log_won - np.log(rate)
        updated -= updated.mean(axis=1, keepdims=True)  # the likelihood ignores a common scale
        change = np.abs(updated - log_strength).max(axis=1)
        log_strength = updated
        if change.max() < MM_TOLERANCE:
            break
    log_strength[~finite | (change >= MM_TOLERANCE)] = np.nan
    return log_strength
