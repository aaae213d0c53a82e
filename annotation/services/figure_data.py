"""A study's figures from its stored statistics (never recomputed here): which figures there
are, and the plain data each is drawn from (`annotation.core.charts`), which
`annotation.core.figures` draws with matplotlib only when a figure itself is asked for."""

import hashlib
import json
from collections.abc import Callable
from importlib.metadata import version

from django.conf import settings

from annotation.core import charts
from annotation.core.stats.names import COEFFICIENTS, THESE_RATERS
from annotation.models import Question, Result, Study
from annotation.selectors.exports import split_pair
from annotation.selectors.results import intervals_by_question

MAX_CATEGORIES = 10  # a distribution of more values (a number question) is not drawn as bars


def study_figures(*, study: Study) -> list[tuple[str, Callable]]:
    """(file stem, a function drawing the figure) for each figure the study's results give."""
    results = list(
        study.results.filter(judge="")
        .select_related("question")
        .order_by("question__order", "question__key", "statistic", "source")
    )
    sources = set(study.sources.values_list("label", flat=True))
    found = []
    for question in dict.fromkeys(r.question for r in results):
        mine = [r for r in results if r.question == question]
        found += _question_figures(question, mine, sources)
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


def render(draw: Callable, fmt: str) -> bytes:
    """The figure `draw` (from `study_figures`) draws, as `fmt` (a key of `charts.FORMATS`)."""
    return _drawing().render(draw(), fmt)


def _drawing():
    """`annotation.core.figures`, imported here: matplotlib loads when a figure is drawn, in the
    worker's bundle or a request for the figure itself, not in every web process that lists the
    figures' names (issue 22)."""
    from annotation.core import figures

    return figures


def _question_figures(
    question: Question, results: list[Result], sources: set[str]
) -> list[tuple[str, Callable]]:
    by = lambda statistic: [r for r in results if r.statistic == statistic]  # noqa: E731
    key, prompt = question.key, question.prompt
    found = []

    agreement = [
        r for name in COEFFICIENTS for r in by(name) if not r.source and r.value is not None
    ]
    if agreement:
        found.append((f"{key}-agreement", lambda: _agreement(key, agreement, prompt)))
    summaries = [r for r in by("score_summary") if r.detail.get("distribution")]
    if any(r.value is not None for r in summaries):
        found.append((f"{key}-means", lambda: _means(key, summaries, prompt)))
    if summaries and len(_categories(summaries)) <= MAX_CATEGORIES:
        found.append((f"{key}-distribution", lambda: _distribution(key, summaries, prompt)))
    shares = by("win_tie_loss")
    if shares:
        found.append((f"{key}-preferences", lambda: _preferences(key, shares, prompt, sources)))
    strengths = sorted(
        by("bradley_terry"), key=lambda r: (r.value is None, -(r.value or 0), r.source)
    )
    if strengths:
        found.append((f"{key}-bradley-terry", lambda: _strengths(key, strengths, prompt)))
    return found


def _interval(label: charts.Label, result: Result) -> charts.Interval:
    ci = result.detail.get("ci") or [None, None]
    return charts.Interval(label, result.value, ci[0], ci[1])


def _ci_title(results: list[Result]) -> str:
    """ "95% CI" and the question the intervals answer (these raters, or raters like these),
    as stored beside each headline interval."""
    asked = {_asked(r.detail) for r in results if r.detail.get("ci")}
    if len(asked) == 1 and "" not in asked:
        return f"95% CI: {asked.pop()}"
    return "95% CI"


def _asked(detail: dict) -> str:
    """Which question a result's headline interval answers: its own `interval_question`, or
    that of the nested estimate the headline is (a summary's mean, a strength's log-strength)."""
    nested = [v for v in detail.values() if isinstance(v, dict)]
    for candidate in (detail, *nested):
        if candidate.get("interval_question") and candidate.get("ci") == detail["ci"]:
            return candidate["interval_question"]
    return ""


def _agreement(key: str, results: list[Result], prompt: str = ""):
    """Every coefficient with its interval for these raters (cases resampled), the one
    question each coefficient has an interval for; the table gives raters like these."""
    rows = []
    for r in results:
        these = intervals_by_question(r.detail)[0]
        low, high = these["ci"] or [None, None]
        rows.append(charts.Interval(r.detail.get("method", r.statistic), r.value, low, high))
    return _drawing().forest(
        rows,
        title=f"{key}: agreement (95% CI: {THESE_RATERS})",
        subtitle=prompt,
        xlabel="coefficient",
    )


def _means(key: str, results: list[Result], prompt: str = ""):
    rows = [_interval(r.source, r) for r in results]
    lower = " (rank: lower is better)" if results[0].detail.get("lower_is_better") else ""
    title = f"{key}: mean{lower} ({_ci_title(results)})"
    return _drawing().forest(rows, title=title, subtitle=prompt, xlabel="mean")


def _categories(results: list[Result]) -> list[float]:
    """Every category any source's distribution has: declared scales list them all, but an
    undeclared one (ranks, numbers) only what each source received."""
    return sorted({s["category"] for r in results for s in r.detail["distribution"]})


def _distribution(key: str, results: list[Result], prompt: str = ""):
    labels = results[0].detail.get("labels", {})
    categories = _categories(results)
    names = [labels.get(str(c), f"{c:g}") for c in categories]
    rows = []
    for r in results:
        counts = {s["category"]: s["count"] for s in r.detail["distribution"]}
        rows.append(charts.Stack(r.source, [counts.get(c, 0) for c in categories]))
    return _drawing().stacked(
        rows, categories=names, title=f"{key}: answers per source", subtitle=prompt
    )


def _preferences(key: str, results: list[Result], prompt: str, sources: set[str]):
    """Wins, ties and losses per pair, each pair drawn as its two sources (so that long names
    are abbreviated one by one: "A vs B")."""
    rows = [
        charts.Stack(
            _pair(r.source, sources), [r.detail["wins"], r.detail["ties"], r.detail["losses"]]
        )
        for r in results
    ]
    categories = ["first preferred", "tie", "second preferred"]
    return _drawing().stacked(
        rows, categories=categories, title=f"{key}: preferences per pair", subtitle=prompt
    )


def _pair(source: str, sources: set[str]) -> charts.Label:
    first, second = split_pair(source, sources)
    return (first, second) if second else source


def _strengths(key: str, results: list[Result], prompt: str = ""):
    rows = [_interval(r.source, r) for r in results]
    return _drawing().forest(
        rows,
        title=f"{key}: Bradley–Terry log-strength ({_ci_title(results)})",
        subtitle=prompt,
        xlabel="log-strength",
        reference=0,
    )
