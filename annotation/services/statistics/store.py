"""Storing a study's statistics with the hash of their inputs. A family of statistics computed
together (say every agreement coefficient for one question and scope) is recomputed only when
its inputs change, so a recomputation after an unrelated change keeps figures and their time."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone

from annotation.core.stats.bootstrap import Bootstrap
from annotation.models import Question, Result, Study

if TYPE_CHECKING:  # the web reads STATS_METHOD_VERSION from here without loading numpy
    from annotation.core.stats.estimate import Estimate

# Part of every result's inputs hash: a change in how a statistic is computed changes the hash.
STATS_METHOD_VERSION = (
    "stats-9: the interval for these raters of Krippendorff's alpha and the kappa-type "
    "coefficients (Fleiss, Cohen, Gwet) is BCa over cases, which the coverage benchmark shows "
    "holds its 95% better at 30 cases; the percentile interval stays beside it. stats-10: "
    "ICC(A,1) and ICC(A,k) report the generalized confidence interval (Tian & Cappelleri 2004), "
    "which held 95% where the McGraw-Wong F interval fell to 0.86; the F interval stays beside it; "
    "a yes/no source summary gives the share answering yes; each coefficient counts its cases. "
    "stats-11: the washout test-retest over every rater resamples items as clusters (all "
    "raters' pairs of an item together), not (rater, item) pairs. stats-12: it resamples "
    "cases (every source's output of a case together), and a BCa interval keeps the percentile "
    "one beside it and falls back to it where BCa is undefined"
)


@dataclass(frozen=True)
class Scope:
    """Where a family of results belongs: one question, every source ("") or one (or a pair,
    "A vs B"), the raters alone ("") or with or against one judge."""

    question: Question
    source: str = ""
    judge: str = ""


@dataclass
class Figure:
    """One statistic as stored: its headline value, sizes, and everything else in `detail`."""

    value: float | None
    n_units: int = 0
    n_raters: int = 0
    n_ratings: int = 0
    detail: dict = field(default_factory=dict)

    @classmethod
    def of(cls, estimate: "Estimate", **extra) -> "Figure":
        detail = {**estimate.as_dict(), **extra}
        return cls(estimate.value, estimate.n_units, estimate.n_raters, estimate.n_ratings, detail)


def bootstrap_for(study: Study) -> Bootstrap:
    return Bootstrap(resamples=settings.AGREEMENT_BOOTSTRAP_RESAMPLES, seed=study.seed)


def inputs_hash(study: Study, inputs: list) -> str:
    # Hashed in terms that mean the same in any copy of the study, so equal inputs match.
    bootstrap = bootstrap_for(study)
    payload = [inputs, [bootstrap.resamples, bootstrap.seed], STATS_METHOD_VERSION]
    return hashlib.sha256(json.dumps(payload, default=str).encode()).hexdigest()


def store_family(
    study: Study,
    scope: Scope,
    statistics: tuple[str, ...],
    inputs: list,
    compute: Callable[[], dict[str, Figure]],
) -> list[Result]:
    """The family's stored results, computed by `compute` only when `inputs` changed since the
    last time; a statistic of the family that no longer applies is removed."""
    existing = study.results.filter(
        question=scope.question, source=scope.source, judge=scope.judge, statistic__in=statistics
    )
    return _refresh(study, existing, inputs, lambda: _keyed(compute(), scope))


def store_by_source(
    study: Study,
    question: Question,
    statistics: tuple[str, ...],
    inputs: list,
    compute: Callable[[], dict[tuple[str, str], Figure]],
) -> list[Result]:
    """As `store_family`, for statistics computed together across sources: `compute` returns
    figures keyed by (statistic, source), a source being a label, "A vs B" for a pair, or ""."""
    existing = study.results.filter(question=question, judge="", statistic__in=statistics)
    return _refresh(
        study,
        existing,
        inputs,
        lambda: {
            (statistic, Scope(question, source)): figure
            for (statistic, source), figure in compute().items()
        },
    )


def _keyed(figures: dict[str, Figure], scope: Scope) -> dict:
    return {(statistic, scope): figure for statistic, figure in figures.items()}


def _refresh(study: Study, existing, inputs: list, compute: Callable[[], dict]) -> list[Result]:
    digest = inputs_hash(study, inputs)
    existing = list(existing)
    if existing and all(result.inputs_hash == digest for result in existing):
        return existing  # nothing changed: keep the figures and when they were computed
    now = timezone.now()
    stored = [
        _save(study, scope, statistic, figure, digest, now)
        for (statistic, scope), figure in compute().items()
    ]
    # A statistic that no longer applies (a third rater joined: no Cohen's kappa) goes.
    Result.objects.filter(pk__in=[r.pk for r in existing]).exclude(
        pk__in=[r.pk for r in stored]
    ).delete()
    return stored


def _save(study, scope: Scope, statistic: str, figure: Figure, digest: str, now) -> Result:
    result, _ = Result.objects.update_or_create(
        study=study,
        question=scope.question,
        statistic=statistic,
        source=scope.source,
        judge=scope.judge,
        defaults={
            "value": figure.value,
            "n_units": figure.n_units,
            "n_raters": figure.n_raters,
            "n_ratings": figure.n_ratings,
            "detail": figure.detail,
            "inputs_hash": digest,
            "computed_at": now,
        },
    )
    return result
