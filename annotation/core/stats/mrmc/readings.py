"""The readings of a fully crossed reader study as arrays, each reader's figure of merit under
each modality, and the covariances of those figures over cases.

A modality is whatever the readers read under (a source, an arm, with or without assistance).
The figures of merit:

- `auc`: the empirical area under the ROC curve of the rating against the case's binary truth,
  the Wilcoxon-Mann-Whitney statistic: the share of (diseased, non-diseased) case pairs in which
  the diseased case is rated higher, a tie counting one half.
- `mean`: the mean of the ratings over cases (a mean score).
- `proportion`: the same mean of a 0/1 value per case (accuracy, top-k accuracy, share preferred).

Covariances of the figures over cases come from the jackknife (leave one case out, recompute
every reader x modality figure; Obuchowski & Rockette 1995, Hillis 2007) or, as a labelled
alternative, a seeded bootstrap over cases (for `auc`, within the diseased and the non-diseased
cases separately, so every resample has both).
"""

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from annotation.core.stats.compare.common import _number
from annotation.core.stats.data import DataError, all_distinct, columns_of, first_seen

FIGURES = ("auc", "mean", "proportion")
JACKKNIFE = "jackknife over cases"


@dataclass(frozen=True)
class Readings:
    """Every reader's value on every case under every modality: values[modality, reader, case]."""

    modalities: tuple
    readers: tuple
    cases: tuple
    values: np.ndarray
    truth: np.ndarray | None = None  # per case, 1 = disease, for `auc`


@dataclass(frozen=True)
class Covariances:
    """The covariance matrix of the figures (modality-major, (T*R) x (T*R)) and its averages in
    Obuchowski-Rockette notation: var over each figure; cov1 same reader, different modalities;
    cov2 same modality, different readers; cov3 different reader and modality."""

    method: str
    matrix: np.ndarray
    var: float
    cov1: float
    cov2: float
    cov3: float


def readings_from(
    rows: Iterable[Sequence],
    *,
    figure: str,
    truth: Mapping[Hashable, int] | None = None,
) -> Readings:
    """Check (reader, case, modality, value) rows into a crossed array.

    Every reader must read every case under every modality exactly once: the Obuchowski-Rockette
    method is for that (factorial) design. `truth` (case -> 0 or 1) is required for `auc`,
    which then needs at least two cases of each kind; `proportion` takes values 0 and 1 only.
    """
    if figure not in FIGURES:
        raise DataError(f"unknown figure of merit {figure!r}: one of {', '.join(FIGURES)}")
    rows = rows if isinstance(rows, list) else list(rows)
    crossed = _crossed_columns(rows, figure)
    if crossed is not None:
        modalities, readers, cases, values = crossed
        return Readings(modalities, readers, cases, values, _truth(figure, truth, cases))
    cells: dict[tuple, float] = {}
    for n, row in enumerate(rows):
        row = tuple(row)
        if len(row) != 4:
            raise DataError(f"expected 4 fields in a row, got {len(row)}", n)
        if row[:3] in cells:
            raise DataError(f"reader {row[0]!r} read case {row[1]!r} twice in {row[2]!r}", n)
        value = _number(row[3], n)
        if figure == "proportion" and value not in (0.0, 1.0):
            raise DataError(f"a proportion needs 0 or 1 per case, got {value:g}", n)
        cells[row[:3]] = value
    readers, cases, modalities = (_ordered(key[k] for key in cells) for k in range(3))
    shape = (len(modalities), len(readers), len(cases))
    if not cells or len(cells) != np.prod(shape):
        missing = int(np.prod(shape)) - len(cells)
        first = next(
            (
                (reader, case, modality)
                for reader in readers
                for case in cases
                for modality in modalities
                if (reader, case, modality) not in cells
            ),
            None,
        )
        example = (
            f", for example reader {first[0]!r} has no reading of case {first[1]!r} under "
            f"{first[2]!r}"
            if first
            else ""
        )
        raise DataError(
            f"the design is not fully crossed: {missing} of {int(np.prod(shape))} "
            f"reader x case x modality readings are missing{example}"
        )
    if len(cases) < 2:
        raise DataError("the figures' variability over cases needs at least two cases")
    values = np.empty(shape)
    where = ({v: k for k, v in enumerate(axis)} for axis in (readers, cases, modalities))
    r_at, c_at, m_at = where
    for (reader, case, modality), value in cells.items():
        values[m_at[modality], r_at[reader], c_at[case]] = value
    return Readings(modalities, readers, cases, values, _truth(figure, truth, cases))


def _crossed_columns(rows: list, figure: str) -> tuple | None:
    """`readings_from`'s array, column by column, for rows of plain floats that cross every
    reader, case and modality once (and are 0 or 1 for a proportion); None for anything else,
    which the row by row check then names."""
    if not rows or any(len(row) != 4 for row in rows):
        return None
    readers, cases, modalities, values = columns_of(rows, 4)
    if set(map(type, values)) != {float}:
        return None
    numbers = np.array(values, dtype=float)
    if not np.isfinite(numbers).all():
        return None
    if figure == "proportion" and not np.isin(numbers, (0.0, 1.0)).all():
        return None
    axes, where = [], []
    for column in (readers, cases, modalities):
        labels, index = first_seen(column)
        axes.append(labels)
        where.append(index)
    shape = (len(axes[2]), len(axes[0]), len(axes[1]))
    cell = (where[2] * shape[1] + where[0]) * shape[2] + where[1]
    size = int(np.prod(shape))
    if len(rows) != size or not all_distinct(cell, size) or shape[2] < 2:
        return None
    grid = np.empty(shape)
    grid.reshape(-1)[cell] = numbers
    return axes[2], axes[0], axes[1], grid


def _ordered(keys: Iterable) -> tuple:
    """Distinct keys in the order first seen."""
    return tuple(dict.fromkeys(keys))


def _truth(figure: str, truth: Mapping | None, cases: tuple) -> np.ndarray | None:
    if figure != "auc":
        return None
    if truth is None:
        raise DataError("the AUC needs each case's truth (1 = disease, 0 = none)")
    missing = [case for case in cases if case not in truth]
    if missing:
        raise DataError(f"no truth for case {missing[0]!r}")
    labels = np.array([truth[case] for case in cases])
    if not np.isin(labels, (0, 1)).all():
        raise DataError("truth must be 0 or 1 for every case")
    if min((labels == 0).sum(), (labels == 1).sum()) < 2:
        raise DataError("the AUC needs at least two cases with and two without the disease")
    return labels.astype(bool)


# --- figures of merit and their jackknife -----------------------------------------------------


def figures_of_merit(readings: Readings) -> np.ndarray:
    """Each reader's figure under each modality (modalities x readers)."""
    if readings.truth is None:
        return readings.values.mean(axis=-1)
    return _auc_sums(readings)[0]


def _auc_sums(readings: Readings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The AUC (T x R) and, per case, its placement sum: for a non-diseased case the diseased
    cases rated above it (ties one half), for a diseased case the non-diseased rated below it."""
    truth = readings.truth
    diseased, healthy = readings.values[..., truth], readings.values[..., ~truth]
    placements = np.empty_like(readings.values)
    for t, r in np.ndindex(readings.values.shape[:2]):
        below = np.sort(healthy[t, r])
        above = np.sort(diseased[t, r])
        placements[t, r, truth] = _count_below(below, diseased[t, r])
        placements[t, r, ~truth] = len(above) - _count_below(above, healthy[t, r])
    auc = placements[..., truth].sum(axis=-1) / (truth.sum() * (~truth).sum())
    return auc, placements, truth


def _count_below(ordered: np.ndarray, values: np.ndarray) -> np.ndarray:
    """How many of `ordered` (sorted) lie below each value, a tie counting one half."""
    lower = np.searchsorted(ordered, values, side="left")
    higher = np.searchsorted(ordered, values, side="right")
    return (lower + higher) / 2


def leave_one_out(readings: Readings) -> np.ndarray:
    """The figures with each case left out in turn (cases x modalities x readers)."""
    values = readings.values
    n = values.shape[-1]
    if readings.truth is None:
        total = values.sum(axis=-1)
        return np.moveaxis((total[..., None] - values) / (n - 1), -1, 0)
    _, placements, truth = _auc_sums(readings)
    total = placements[..., truth].sum(axis=-1)[..., None]
    n1, n0 = truth.sum(), (~truth).sum()
    pairs = np.where(truth, (n1 - 1) * n0, n1 * (n0 - 1))
    return np.moveaxis((total - placements) / pairs, -1, 0)


# --- covariances ------------------------------------------------------------------------------


def jackknife_covariances(readings: Readings) -> Covariances:
    """The jackknife covariance of the figures over cases: (K-1)/K times the sum over the K
    leave-one-out figures of the products of their deviations from their mean (equivalently,
    the covariance of the pseudovalues divided by K)."""
    left_out = leave_one_out(readings)
    n = left_out.shape[0]
    deviations = (left_out - left_out.mean(axis=0)).reshape(n, -1)
    matrix = (n - 1) / n * deviations.T @ deviations
    return _averaged(JACKKNIFE, matrix, readings.values.shape[:2])


def bootstrap_covariances(readings: Readings, *, resamples: int, seed: int) -> Covariances:
    """The covariance of the figures over a seeded bootstrap of cases (divisor resamples - 1);
    for the AUC the diseased and non-diseased cases are resampled separately."""
    rng = np.random.default_rng(seed)
    n = readings.values.shape[-1]
    strata = [np.arange(n)] if readings.truth is None else _strata(readings.truth)
    weights = np.zeros((resamples, n))
    for stratum in strata:
        drawn = stratum[rng.integers(0, len(stratum), size=(resamples, len(stratum)))]
        resample = np.repeat(np.arange(resamples), len(stratum))
        np.add.at(weights, (resample, drawn.ravel()), 1)
    draws = _weighted_figures(readings, weights).reshape(resamples, -1)
    matrix = np.cov(draws, rowvar=False)
    method = f"bootstrap over cases, {resamples} resamples, seed {seed}"
    if readings.truth is not None:
        method += " (within diseased and non-diseased cases)"
    return _averaged(method, np.atleast_2d(matrix), readings.values.shape[:2])


def _strata(truth: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(truth), np.flatnonzero(~truth)]


def _weighted_figures(readings: Readings, weights: np.ndarray) -> np.ndarray:
    """The figures under case weights (resamples x cases -> resamples x T x R)."""
    values = readings.values
    if readings.truth is None:
        return np.einsum("bk,trk->btr", weights, values) / weights.sum(axis=1)[:, None, None]
    truth = readings.truth
    w1, w0 = weights[:, truth], weights[:, ~truth]
    out = np.empty((len(weights), *values.shape[:2]))
    for t, r in np.ndindex(values.shape[:2]):
        diseased, healthy = values[t, r, truth], values[t, r, ~truth]
        kernel = (diseased[None, :] > healthy[:, None]) + 0.5 * (
            diseased[None, :] == healthy[:, None]
        )
        out[:, t, r] = ((w0 @ kernel) * w1).sum(axis=1)
    return out / (w0.sum(axis=1) * w1.sum(axis=1))[:, None, None]


def _averaged(method: str, matrix: np.ndarray, shape: tuple[int, int]) -> Covariances:
    n_modalities, n_readers = shape
    blocks = matrix.reshape(n_modalities, n_readers, n_modalities, n_readers)
    same_modality = np.eye(n_modalities, dtype=bool)[:, None, :, None]
    same_reader = np.eye(n_readers, dtype=bool)[None, :, None, :]
    return Covariances(
        method,
        matrix,
        var=_mean(blocks, same_modality & same_reader),
        cov1=_mean(blocks, ~same_modality & same_reader),
        cov2=_mean(blocks, same_modality & ~same_reader),
        cov3=_mean(blocks, ~same_modality & ~same_reader),
    )


def _mean(blocks: np.ndarray, mask: np.ndarray) -> float:
    """The mean of the entries `mask` picks (0 when it picks none: one reader or one modality)."""
    picked = blocks[np.broadcast_to(mask, blocks.shape)]
    return float(picked.mean()) if picked.size else 0.0
