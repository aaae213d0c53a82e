"""A study's figures from its stored statistics (never recomputed here): which figures there
are, and the plain data each is drawn from (`annotation.core.figures` draws them)."""

import hashlib
import json
from collections.abc import Callable
from importlib.metadata import version

from django.conf import settings

from annotation.core import figures
from annotation.core.stats.names import COEFFICIENTS
from annotation.models import Result, Study

MAX_CATEGORIES = 10  # a distribution of more values (a number question) is not drawn as bars


def study_figures(*, study: Study) -> list[tuple[str, Callable]]:
    """(file stem, a function drawing the figure) for each figure the study's results give."""
    results = list(
        study.results.filter(judge="")
        .select_related("question")
        .order_by("question__order", "question__key", "statistic", "source")
    )
    found = []
    for question in dict.fromkeys(r.question for r in results):
        mine = [r for r in results if r.question == question]
        found += _question_figures(question.key, mine)
    return found


def study_figures_digest(*, study: Study) -> str:
    """A digest of everything the study's figures are drawn from: the same digest, the same
    figures, so a browser holding one need not have it drawn again."""
    rows = study.results.filter(judge="").order_by("pk")
    fields = ("pk", "question__key", "statistic", "source", "value", "detail", "inputs_hash")
    payload = [
        list(rows.values_list(*fields)),
        settings.EVALAPP_VERSION,
        version("matplotlib"),
    ]
    return hashlib.sha256(json.dumps(payload, default=str).encode()).hexdigest()


def _question_figures(key: str, results: list[Result]) -> list[tuple[str, Callable]]:
    by = lambda statistic: [r for r in results if r.statistic == statistic]  # noqa: E731
    found = []

    agreement = [
        r for name in COEFFICIENTS for r in by(name) if not r.source and r.value is not None
    ]
    if agreement:
        found.append((f"{key}-agreement", lambda: _agreement(key, agreement)))
    summaries = [r for r in by("score_summary") if r.detail.get("distribution")]
    if any(r.value is not None for r in summaries):
        found.append((f"{key}-means", lambda: _means(key, summaries)))
    if summaries and len(_categories(summaries)) <= MAX_CATEGORIES:
        found.append((f"{key}-distribution", lambda: _distribution(key, summaries)))
    shares = by("win_tie_loss")
    if shares:
        found.append((f"{key}-preferences", lambda: _preferences(key, shares)))
    strengths = sorted(
        by("bradley_terry"), key=lambda r: (r.value is None, -(r.value or 0), r.source)
    )
    if strengths:
        found.append((f"{key}-bradley-terry", lambda: _strengths(key, strengths)))
    return found


def _interval(label: str, result: Result) -> figures.Interval:
    ci = result.detail.get("ci") or [None, None]
    return figures.Interval(label, result.value, ci[0], ci[1])


def _agreement(key: str, results: list[Result]):
    rows = [_interval(r.detail.get("method", r.statistic), r) for r in results]
    return figures.forest(rows, title=f"“{key}”: agreement (95% CI)", xlabel="coefficient")


def _means(key: str, results: list[Result]):
    rows = [_interval(r.source, r) for r in results]
    lower = " (rank: lower is better)" if results[0].detail.get("lower_is_better") else ""
    return figures.forest(rows, title=f"“{key}”: mean{lower} (95% CI)", xlabel="mean")


def _categories(results: list[Result]) -> list[float]:
    """Every category any source's distribution has: declared scales list them all, but an
    undeclared one (ranks, numbers) only what each source received."""
    return sorted({s["category"] for r in results for s in r.detail["distribution"]})


def _distribution(key: str, results: list[Result]):
    labels = results[0].detail.get("labels", {})
    categories = _categories(results)
    names = [labels.get(str(c), f"{c:g}") for c in categories]
    rows = []
    for r in results:
        counts = {s["category"]: s["count"] for s in r.detail["distribution"]}
        rows.append(figures.Stack(r.source, [counts.get(c, 0) for c in categories]))
    return figures.stacked(rows, categories=names, title=f"“{key}”: answers per source")


def _preferences(key: str, results: list[Result]):
    rows = [
        figures.Stack(r.source, [r.detail["wins"], r.detail["ties"], r.detail["losses"]])
        for r in results
    ]
    categories = ["first preferred", "tie", "second preferred"]
    return figures.stacked(rows, categories=categories, title=f"“{key}”: preferences per pair")


def _strengths(key: str, results: list[Result]):
    rows = [_interval(r.source, r) for r in results]
    return figures.forest(
        rows,
        title=f"“{key}”: Bradley–Terry log-strength (95% CI)",
        xlabel="log-strength",
        reference=0,
    )
