"""Diagnostics of an LLM judge that a reviewer asks for beside the alt-test: does it follow output
length more than the clinicians do (`length_bias`, `side_bias` with the longer side), does it
favour its own model family (`self_preference`, `side_bias` with its family's side), and is its
stated confidence calibrated against the clinicians' majority (`calibration`).

Each result is the judge's figure, the clinicians' figure on the same units, and their difference
(judge minus clinicians), with a seeded percentile bootstrap interval over cases: a drawn case
brings all its units (a case's outputs, or its pairs), since a case's outputs are not
independent. The interval answers for this judge against these clinicians, on new cases like
these; it does not carry the clinicians' own sampling as raters.
"""

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from annotation.core.stats.data import DataError, Observation, category_label
from annotation.core.stats.judges.common import (
    JudgeAnswers,
    answers_by_unit,
    majority,
    normalised_value,
)
from annotation.core.stats.resampling import Bootstrap, case_weights

INTERVAL_METHOD = "percentile bootstrap over cases"
INTERVAL_QUESTION = "this judge against these clinicians, cases like these"
ECE_BINS = 10

# Lower-case name prefixes of the families a judge could share with a rated model; the longest
# matching prefix wins. A caller with its own names passes its own map to `model_family`.
FAMILY_PREFIXES = {
    "gpt": "OpenAI",
    "o1": "OpenAI",
    "o3": "OpenAI",
    "o4": "OpenAI",
    "chatgpt": "OpenAI",
    "claude": "Anthropic",
    "gemini": "Google",
    "gemma": "Google",
    "medgemma": "Google",
    "palm": "Google",
    "med-palm": "Google",
    "llama": "Meta",
    "meta-llama": "Meta",
    "mistral": "Mistral",
    "mixtral": "Mistral",
    "qwen": "Qwen",
    "deepseek": "DeepSeek",
    "phi": "Microsoft",
    "command": "Cohere",
}


def model_family(name: str, prefixes: Mapping[str, str] = FAMILY_PREFIXES) -> str | None:
    """The family of a model name by its longest matching prefix (case-insensitive, after any
    "provider/" part), or None when none matches."""
    model = name.strip().lower().rsplit("/", 1)[-1]
    matches = [prefix for prefix in prefixes if model.startswith(prefix.lower())]
    return prefixes[max(matches, key=len)] if matches else None


@dataclass
class Diagnostic:
    """The judge's figure, the clinicians' on the same units, and `value` = judge - clinicians
    (for `self_preference`, that gap on the judge's family less the gap on the others)."""

    statistic: str
    method: str
    value: float | None
    judge: float | None
    clinicians: float | None
    n_units: int
    n_cases: int
    ci: tuple[float, float] | None = None
    ci_method: str = ""
    resamples_used: int = 0
    reason: str = ""
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = {
            "statistic": self.statistic,
            "value": self.value,
            "judge": self.judge,
            "clinicians": self.clinicians,
            "ci": list(self.ci) if self.ci else None,
            "method": self.method,
            "ci_method": self.ci_method if self.ci else "",
            "interval_method": INTERVAL_METHOD if self.ci else "",
            "interval_question": INTERVAL_QUESTION if self.ci else "",
            "n_units": self.n_units,
            "n_cases": self.n_cases,
        }
        if self.ci:
            data["resamples_used"] = self.resamples_used
        if self.reason:
            data["reason"] = self.reason
        data.update(self.extra)
        return data


# --- what the diagnostics share -------------------------------------------------------------


@dataclass(frozen=True)
class _Units:
    """The units a diagnostic uses, in order, and the case each belongs to (as 0..n_cases-1)."""

    units: list[str]
    case: np.ndarray
    n_cases: int

    @classmethod
    def of(cls, units: Sequence[str], cases: Mapping[str, Hashable] | None) -> "_Units":
        labels = [unit if cases is None else cases.get(unit, ("unit", unit)) for unit in units]
        index: dict[Hashable, int] = {}
        case = np.array([index.setdefault(label, len(index)) for label in labels], dtype=int)
        return cls(list(units), case, len(index))


def _clinician_values(clinicians: Iterable[Observation]) -> dict[str, list[float]]:
    """unit -> the clinicians' numbers; one rater rating a unit twice is a DataError."""
    found: dict[str, dict[str, float]] = {}
    for n, obs in enumerate(clinicians):
        rated = found.setdefault(obs.unit, {})
        if obs.rater in rated:
            raise DataError(f"rater {obs.rater!r} rated unit {obs.unit!r} twice", n)
        rated[obs.rater] = float(normalised_value(obs.value, numeric=True))
    return {unit: list(rated.values()) for unit, rated in found.items()}


def _judge_numbers(judge: JudgeAnswers) -> dict[str, float]:
    return {u: float(normalised_value(v, numeric=True)) for u, v in answers_by_unit(judge).items()}


Columns = Callable[[np.ndarray], np.ndarray]  # unit weights (rows x units) -> rows x columns


def _diagnose(
    statistic: str,
    method: str,
    columns: Columns,
    contrast: np.ndarray,
    used: _Units,
    bootstrap: Bootstrap | None,
) -> Diagnostic:
    """Evaluate `columns` (judge, clinicians, ... figures) at the observed units and over the
    case bootstrap; `value` is columns @ contrast. Columns 0 and 1 are reported as the judge's
    and the clinicians' figures."""
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = columns(np.ones((1, len(used.units))))[0]
    value = float(observed @ contrast)
    result = Diagnostic(
        statistic,
        method,
        value if math.isfinite(value) else None,
        _finite(observed[0]),
        _finite(observed[1]),
        len(used.units),
        used.n_cases,
    )
    if result.value is None:
        result.reason = "not defined by these data (too few units, or no variation)"
    elif bootstrap is not None and bootstrap.resamples > 0 and used.n_cases >= 2:
        _interval(result, columns, contrast, used, bootstrap)
    return result


def _interval(
    result: Diagnostic, columns: Columns, contrast: np.ndarray, used: _Units, bootstrap: Bootstrap
) -> None:
    chunks = case_weights(used.n_cases, bootstrap, width=len(used.units))
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = np.concatenate([columns(w[:, used.case]) @ contrast for w in chunks])
    finite = draws[np.isfinite(draws)]
    if len(finite):
        tail = (1 - bootstrap.level) / 2 * 100
        low, high = np.percentile(finite, [tail, 100 - tail])
        result.ci, result.resamples_used = (float(low), float(high)), len(finite)
        result.ci_method = (
            f"{bootstrap.level * 100:g}% percentile bootstrap resampling cases (each drawn case "
            f"with all its units), {bootstrap.resamples} resamples, seed {bootstrap.seed}"
        )


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _weighted_mean(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return (w @ x) / w.sum(axis=1)


def weighted_spearman(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spearman's rho of x and y in each row of weights w (rows x units), a unit of weight 2
    counting as two units: midranks within the weighted sample, then their weighted Pearson
    correlation. NaN where x or y does not vary."""
    return _weighted_pearson(_midranks(x, w), _midranks(y, w), w)


def _midranks(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Each unit's midrank of x in each row's weighted sample (rows x units)."""
    values, inverse = np.unique(x, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(len(values)))
    counts = np.add.reduceat(w[:, order], starts, axis=1)  # weight at each distinct value
    below = np.cumsum(counts, axis=1) - counts
    return (below + (counts + 1) / 2)[:, inverse]


def _weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    total = w.sum(axis=1, keepdims=True)
    dx = x - (w * x).sum(axis=1, keepdims=True) / total
    dy = y - (w * y).sum(axis=1, keepdims=True) / total
    cov = (w * dx * dy).sum(axis=1)
    return cov / np.sqrt((w * dx * dx).sum(axis=1) * (w * dy * dy).sum(axis=1))


# --- (a) length, scores -----------------------------------------------------------------------


def length_bias(
    judge: JudgeAnswers,
    clinicians: Iterable[Observation],
    lengths: Mapping[str, float],
    *,
    cases: Mapping[str, Hashable] | None = None,
    bootstrap: Bootstrap | None = None,
) -> Diagnostic:
    """Does the judge's score follow output length more than the clinicians' does? Over the
    outputs (units) the judge, a clinician and `lengths` all cover: Spearman's rho of the
    judge's score with length, minus that of the clinicians' mean score with length."""
    scores, rated = _judge_numbers(judge), _clinician_values(clinicians)
    units = [u for u in scores if u in rated and u in lengths]
    used = _Units.of(units, cases)
    length = np.array([float(lengths[u]) for u in units])
    own = np.array([scores[u] for u in units])
    mean = np.array([np.mean(rated[u]) for u in units])

    def columns(w: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [weighted_spearman(own, length, w), weighted_spearman(mean, length, w)]
        )

    method = (
        "Spearman's rho of score with output length: the judge's score, minus the clinicians' "
        "mean score per output, on the same outputs"
    )
    return _diagnose("length_bias", method, columns, np.array([1.0, -1.0]), used, bootstrap)


# --- (a, b) a side of a pair: the longer output, or the judge's own family --------------------


def side_bias(
    judge: JudgeAnswers,
    clinicians: Iterable[Observation],
    side: Mapping[str, int],
    *,
    favoured: str = "the longer output",
    cases: Mapping[str, Hashable] | None = None,
    bootstrap: Bootstrap | None = None,
) -> Diagnostic:
    """Pairwise questions: how often the judge prefers a marked side of each pair (`side`: +1
    the first output, -1 the second, 0 neither: left out), against the clinicians. Answers are
    numbers in canonical order, positive for the first output, negative for the second, 0 a
    tie; a tie counts as half a preference for each side. The clinicians' share is taken per
    pair (their mean) and averaged over pairs, as the judge's is."""
    answers, rated = _judge_numbers(judge), _clinician_values(clinicians)
    units = [u for u in answers if u in rated and side.get(u, 0) != 0]
    used = _Units.of(units, cases)
    marked = np.array([np.sign(side[u]) for u in units], dtype=float)
    own = np.array([_toward(answers[u], s) for u, s in zip(units, marked, strict=True)])
    them = np.array(
        [np.mean([_toward(v, s) for v in rated[u]]) for u, s in zip(units, marked, strict=True)]
    )

    def columns(w: np.ndarray) -> np.ndarray:
        return np.column_stack([_weighted_mean(w, own), _weighted_mean(w, them)])

    method = (
        f"share of preferences for {favoured} (a tie half), the judge's minus the clinicians' "
        "(their share per pair, averaged over pairs), on pairs with a marked side"
    )
    return _diagnose("side_bias", method, columns, np.array([1.0, -1.0]), used, bootstrap)


def longer_side(lengths: Mapping[str, tuple[float, float]]) -> dict[str, int]:
    """unit -> +1 when the pair's first output is the longer, -1 the second, 0 equal."""
    return {unit: int(np.sign(first - second)) for unit, (first, second) in lengths.items()}


def own_family_side(
    families: Mapping[str, tuple[str | None, str | None]], judge_family: str
) -> dict[str, int]:
    """unit -> +1 when only the pair's first output is of the judge's family, -1 only the
    second, 0 both or neither."""
    return {
        unit: int(first == judge_family) - int(second == judge_family)
        for unit, (first, second) in families.items()
    }


def _toward(answer: float, side: float) -> float:
    """1 when the answer prefers the marked side, 0 the other side, 0.5 a tie."""
    return 0.5 if answer == 0 else float(np.sign(answer) == side)


# --- (b) self-preference, scores ----------------------------------------------------------------


def self_preference(
    judge: JudgeAnswers,
    clinicians: Iterable[Observation],
    families: Mapping[str, str | None],
    judge_family: str,
    *,
    cases: Mapping[str, Hashable] | None = None,
    bootstrap: Bootstrap | None = None,
) -> Diagnostic:
    """Does the judge score its own family's outputs above the clinicians more than it does
    other outputs? `families`: each output's (unit's) model family (from `model_family`, say;
    None for a human-written or unknown source). `value` is the judge's mean score minus the
    clinicians' mean score on its family's outputs, less the same gap on the other outputs,
    so that a judge lenient or harsh everywhere is not taken for self-preference. With no
    other outputs it is the gap on the judge's family alone (`extra` says so)."""
    scores, rated = _judge_numbers(judge), _clinician_values(clinicians)
    units = [u for u in scores if u in rated and u in families]
    own_family = np.array([families[u] == judge_family for u in units], dtype=bool)
    used = _Units.of(units, cases)
    own = np.array([scores[u] for u in units])
    mean = np.array([np.mean(rated[u]) for u in units])
    groups = [own_family.astype(float)]
    if not own_family.all():
        groups.append((~own_family).astype(float))  # the gap elsewhere, to subtract

    def columns(w: np.ndarray) -> np.ndarray:
        figures = [_weighted_mean(w * g, x) for g in groups for x in (own, mean)]
        return np.column_stack(figures)

    method = (
        f"mean score on {judge_family} outputs, the judge's minus the clinicians' mean per "
        "output, "
        + (
            "less the same gap on the other outputs"
            if len(groups) == 2
            else "with no other outputs"
        )
    )
    if not own_family.any():
        reason = f"no output of the judge's family ({judge_family})"
        return Diagnostic(
            "self_preference", method, None, None, None, len(units), used.n_cases, reason=reason
        )
    contrast = np.array([1.0, -1.0, -1.0, 1.0][: 2 * len(groups)])
    result = _diagnose("self_preference", method, columns, contrast, used, bootstrap)
    result.extra = {
        "judge_family": judge_family,
        "n_own_family": int(own_family.sum()),
        "n_other": int((~own_family).sum()),
    }
    return result


# --- (c) calibration ------------------------------------------------------------------------


def calibration(
    judge: JudgeAnswers,
    confidences: Mapping[str, float],
    clinicians: Iterable[Observation],
    *,
    level: str,
    categories: Sequence,
    bins: int = ECE_BINS,
    cases: Mapping[str, Hashable] | None = None,
    bootstrap: Bootstrap | None = None,
) -> Diagnostic:
    """Expected calibration error of the judge's stated confidence (0 to 1) that its answer is
    right, taking the clinicians' majority (`common.MAJORITY_RULE`) as right: confidences in
    `bins` equal-width bins [0, 1/bins), ..., [1 - 1/bins, 1]; ECE = sum over bins of the
    bin's share of units times |accuracy - mean confidence| in it. `judge` is the judge's mean
    confidence, `clinicians` its accuracy against the majority. Units without a majority are
    left out and counted."""
    answers, by_unit = answers_by_unit(judge), {}
    for obs in clinicians:
        by_unit.setdefault(obs.unit, []).append(obs.value)
    units, right, without = [], [], 0
    for unit, answer in answers.items():
        if unit not in by_unit or unit not in confidences:
            continue
        agreed = majority(by_unit[unit], level=level, categories=categories)
        if agreed is None:
            without += 1
            continue
        units.append(unit)
        right.append(category_label(answer) == category_label(agreed))
    confidence = np.array([_confidence(confidences[u], u) for u in units])
    correct = np.array(right, dtype=float)
    binned = np.minimum((confidence * bins).astype(int), bins - 1)
    onehot = (binned[:, None] == np.arange(bins)[None, :]).astype(float)
    used = _Units.of(units, cases)

    def columns(w: np.ndarray) -> np.ndarray:
        n = w @ onehot
        gap = np.abs(w @ (onehot * correct[:, None]) - w @ (onehot * confidence[:, None]))
        ece = gap.sum(axis=1) / n.sum(axis=1)  # sum_b (n_b / N) |acc_b - conf_b|
        return np.column_stack([_weighted_mean(w, confidence), _weighted_mean(w, correct), ece])

    method = (
        f"expected calibration error of the judge's confidence against the clinicians' "
        f"majority, {bins} equal-width bins on [0, 1]"
    )
    result = _diagnose("calibration", method, columns, np.array([0.0, 0.0, 1.0]), used, bootstrap)
    # Not a judge-minus-clinicians figure: the two sides of the ECE are named for what they are.
    result.extra = {
        "mean_confidence": result.judge,
        "accuracy_against_majority": result.clinicians,
        "bins": bins,
        "n_without_majority": without,
    }
    result.judge = result.clinicians = None
    return result


def _confidence(value: object, unit: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataError(f"unit {unit!r}: confidence {value!r} is not a number") from None
    if not 0 <= number <= 1:
        raise DataError(f"unit {unit!r}: confidence {value!r} is not between 0 and 1")
    return number
