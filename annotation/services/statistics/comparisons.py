"""Comparing a study's sources on one question, from the raters' submitted answers: each
source's mean, median and distribution, paired tests on the cases two sources share, pairwise
preferences (win / tie / loss, Bradley-Terry), and criteria points. The tests' p-values are
adjusted across the whole study afterwards (`adjust_study`). The statistics themselves are
`annotation.core.stats.compare`."""

from itertools import combinations
from operator import itemgetter
from typing import TYPE_CHECKING

from annotation.core import rubric
from annotation.core.stats import compare
from annotation.core.stats.data import first_seen
from annotation.core.stats.names import (
    BRADLEY_TERRY,
    COMPARISONS,
    CORRECTION_SUMMARY,
    CORRELATION,
    CRITERIA_POINTS,
    MCNEMAR,
    MRMC_TESTS,
    OMISSION_RATE,
    PAIRED_TESTS,
    POSITIVE_FIRST,
    SCORES,
    SIGN_TEST,
    TEST_NAMES,
    WILCOXON,
    WIN_TIE_LOSS,
)
from annotation.models import Question, Result, Study
from annotation.services.statistics.mrmc import question_mrmc
from annotation.services.statistics.rows import (
    Ranked,
    Row,
    criteria_rows,
    rows_digest,
    sorted_rows,
)
from annotation.services.statistics.store import Figure, bootstrap_for, store_by_source

if TYPE_CHECKING:
    import numpy as np

# Computed together from the ratings; the MRMC results are a family of their own (`mrmc`),
# and so are the corrections' summaries (`corrections`). Omission rates are computed apart
# (`omissions.question_omissions`).
APART = (*MRMC_TESTS, OMISSION_RATE, CORRECTION_SUMMARY)
SCORE_COMPARISONS = tuple(s for s in COMPARISONS if s not in APART)


def pair_label(first: str, second: str) -> str:
    return f"{first} vs {second}"


def question_comparisons(
    study: Study,
    question: Question,
    humans: list[Row],
    metrics: dict,
    ranked: Ranked | None = None,
) -> list[Result]:
    """`metrics`: the study's imported metrics per output (`rows.output_metrics`); `ranked`,
    `Ranked.of(humans)` when the caller has it (the rows are then sorted from it)."""
    keep = None  # which of the ranked rows the scores are from, where read from the ranks
    if question.kind == Question.Kind.CRITERIA:
        rows = criteria_rows(study, question)
        digest = rows_digest(rows)
        compute = lambda: _criteria(study, rows)  # noqa: E731
    elif question.kind == Question.Kind.PAIRWISE:
        rows, digest = ranked.sorted() if ranked else sorted_rows(humans)
        compute = lambda: _preferences(study, question, rows)  # noqa: E731
    elif ranked is not None:
        # Per source: answers about one output only, not about a whole pair or set; from the
        # ranks, without a list of their rows unless a fallback or the metrics need one.
        keep = _one_output(ranked)
        digest = ranked.digest(keep)
        compute = lambda: _scores(study, question, None, _by_source_ranked(ranked, keep))  # noqa: E731
        rows = None
    else:
        rows, digest = _about_one_output(humans, ranked)
        compute = lambda: _scores(study, question, rows)  # noqa: E731
    inputs = [digest, question.kind, question.level, rubric.value_domain(question.spec)]
    results = store_by_source(study, question, SCORE_COMPARISONS, inputs, compute)
    if question.kind not in (Question.Kind.PAIRWISE, Question.Kind.CRITERIA):
        coded = (ranked, keep) if keep is not None else None
        results += question_mrmc(
            study, question, rows, pair_label=pair_label, digest=digest, ranked=coded
        )
        if ordered(question) and metrics:
            if rows is None:
                rows = ranked.sorted(keep)[0]
            results += _metric_correlations(study, question, rows, metrics)
    return results


def _one_output(ranked: Ranked) -> "np.ndarray":
    """Which of the ranked rows are about one output (`about_one_output`)."""
    return ~ranked.where(1, "") & ranked.where(2, "")


def _about_one_output(humans: list[Row], ranked: Ranked | None) -> tuple[list[Row], str]:
    """`sorted_rows` of the rows about one output (`about_one_output`, inline: a million rows,
    no call each), from the humans' ranks when given."""
    if ranked is None:
        return sorted_rows([row for row in humans if row[1] and not row[2]])
    return ranked.sorted(_one_output(ranked))


def ordered(question: Question) -> bool:
    """Whether the codes have an order: a mean, a rank test or a correlation means nothing on
    nominal categories (yes/no aside, whose two codes McNemar compares)."""
    return question.level != "nominal"


def _metric_correlations(
    study: Study, question: Question, rows: list[Row], metrics: dict
) -> list[Result]:
    """Each imported automatic metric against the raters' mean score of the same output."""
    names = sorted({name for values in metrics.values() for name in values})
    if not names:
        return []
    scores: dict[tuple[str, str], list[float]] = {}
    for case, source, _, _, value in rows:
        scores.setdefault((case, source), []).append(value)
    outputs = sorted((key, sum(v) / len(v), metrics.get(key, {})) for key, v in scores.items())
    statistics = tuple(f"{CORRELATION}:{name}" for name in names)

    def compute() -> dict:
        bootstrap = bootstrap_for(study)
        figures = {}
        for name, statistic in zip(names, statistics, strict=True):
            rows = [(key[0], found[name], score) for key, score, found in outputs if name in found]
            result = compare.correlation(rows, bootstrap=bootstrap)
            detail = {**result.as_dict(), "metric": name, "ci": _ci(result.spearman)}
            figures[(statistic, "")] = Figure(
                result.spearman.value, result.n_cases, n_ratings=result.n_outputs, detail=detail
            )
        return figures

    return store_by_source(study, question, statistics, [outputs, names], compute)


def _by_source(rows: list[Row]) -> dict[str, list | object]:
    """Each source's (case, rater, value) observations: as checked columns where they are
    plain floats rated once (`compare.rows_of_columns`, no tuple per rating), else as tuples,
    whose check names the row at fault."""
    import numpy as np  # the worker's: the web process that imports this module needs none

    if not rows:
        return {}
    cases, sources, raters, values = (list(map(itemgetter(k), rows)) for k in (0, 1, 3, 4))
    labels, source = first_seen(sources)
    del sources
    found: dict[str, list | object] = {}
    for k, label in enumerate(labels):
        at = np.flatnonzero(source == k).tolist()
        mine = [list(map(column.__getitem__, at)) for column in (cases, raters, values)]
        found[label] = compare.rows_of_columns(*mine[:2], mine[2:]) or list(zip(*mine, strict=True))
    return found


def _by_source_ranked(ranked: Ranked, keep: "np.ndarray") -> dict[str, list | object]:
    """`_by_source` of the ranked rows `keep` picks (sorted, as `Ranked.sorted` gives them),
    from their codes (`compare.rows_of_codes`): no column of a million names per source."""
    import numpy as np

    at = np.flatnonzero(keep)
    source = ranked.codes[1][at]
    found: dict[str, list | object] = {}
    for k in np.flatnonzero(np.bincount(source, minlength=len(ranked.labels[1]))).tolist():
        mine = at[source == k]
        case, rater, value = (ranked.codes[column][mine] for column in (0, 3, 4))
        labels = [ranked.labels[column] for column in (0, 3, 4)]
        checked = compare.rows_of_codes(*zip((case, rater, value), labels, strict=True))
        if checked is None:  # as tuples, whose check names the row at fault
            picked = [ranked.rows[i] for i in mine.tolist()]
            checked = [(row[0], row[3], row[4]) for row in picked]
        found[ranked.labels[1][k]] = checked
    return found


def _scores(
    study: Study, question: Question, rows: list[Row] | None, by_source: dict | None = None
) -> dict:
    """Per source its summary; per pair of sources (in label order, first minus second) the
    paired tests on the cases both have, each case its raters' mean. `by_source`, the rows'
    `_by_source` when the caller has it."""
    bootstrap = bootstrap_for(study)
    domain = rubric.value_domain(question.spec)
    if by_source is None:
        by_source = _by_source(rows)  # type: ignore[arg-type]
    figures = {}
    for source, observations in sorted(by_source.items()):
        summary = compare.score_summary(observations, bootstrap=bootstrap, categories=domain)
        figures[(SCORES, source)] = _summary_figure(question, summary)
    if not ordered(question) and question.kind != Question.Kind.YES_NO:
        return figures  # categories without order: their distributions, and no test
    for first, second in combinations(sorted(by_source), 2):
        pair = pair_label(first, second)
        means = [compare.case_means(by_source[s]) for s in (first, second)]
        if question.kind == Question.Kind.YES_NO:
            figures[(MCNEMAR, pair)] = _mcnemar(*means)
        else:
            differences = compare.paired(*means)
            figures.update(_paired_tests(pair, differences, "first minus second"))
    return figures


def _summary_figure(question: Question, summary, **extra) -> Figure:
    detail = {**summary.as_dict(), "labels": _labels(question), **extra}
    if question.kind == Question.Kind.RANKING:
        detail["lower_is_better"] = True  # rank 1 is the best
    value = summary.mean.value
    if question.kind == Question.Kind.YES_NO:
        # Yes is 1 and no 0: the mean is the share answering yes, a figure in its own right.
        detail["ci"] = _ci(summary.mean)
        detail["shown_as"] = "share answering yes"
    elif ordered(question):
        detail["ci"] = _ci(summary.mean)
        if question.kind == Question.Kind.OMISSION:  # the codes are each rating's rate
            detail["shown_as"] = "omission rate, mean over ratings"
    else:
        value = None  # a mean of category positions is no statistic: the distribution is
        detail["reason"] = "nominal categories: see the distribution"
    return Figure(value, summary.n_cases, summary.n_raters, summary.n_ratings, detail)


def _labels(question: Question) -> dict:
    """Each code's label where the question has a scale, for reading the distribution. Not
    for pairwise scales: their labels speak of A and B as shown, and these codes are in the
    pair's canonical order."""
    if question.kind == Question.Kind.PAIRWISE:
        return {}
    spec = question.spec
    labels = {}
    for point in spec.points:
        code = rubric.numeric_code(spec, rubric.parse_answer(spec, point["value"]))
        labels[str(code)] = str(point["label"])
    return labels


def _paired_tests(pair: str, differences: list[float], direction: str) -> dict:
    wilcoxon = compare.wilcoxon(differences)
    sign = compare.sign_test(differences)
    note = {"differences": direction}
    return {
        (WILCOXON, pair): Figure(
            wilcoxon.p_value, wilcoxon.n_pairs, detail={**wilcoxon.as_dict(), **note}
        ),
        (SIGN_TEST, pair): Figure(
            sign.p_value, len(differences), detail={**sign.as_dict(), **note}
        ),
    }


def _mcnemar(first: dict, second: dict) -> Figure:
    """Binary answers: each case's majority per source (a case whose raters split evenly has
    no majority and is left out, counted), then McNemar on the cases both sources have."""
    majority = [
        {case: round(mean) for case, mean in means.items() if mean != 0.5}
        for means in (first, second)
    ]
    split = sum(mean == 0.5 for means in (first, second) for mean in means.values())
    test = compare.mcnemar(compare.shared(*majority))
    detail = {**test.as_dict(), "cases_without_majority": split}
    return Figure(test.p_value, test.n_pairs, detail=detail)


def _preferences(study: Study, question: Question, rows: list[Row]) -> dict:
    """Per pair of sources (canonical order: positive prefers the first) the mean preference
    with its distribution, the shares of wins, ties and losses, and the paired tests of its
    cases' mean preference against none; over all sources, with three or more, Bradley-Terry
    strengths."""
    bootstrap = bootstrap_for(study)
    domain = rubric.value_domain(question.spec)
    by_pair: dict[tuple[str, str], list] = {}
    for case, first, second, rater, value in rows:
        by_pair.setdefault((first, second), []).append((case, rater, value))
    figures = {}
    for (first, second), observations in sorted(by_pair.items()):
        pair = pair_label(first, second)
        summary = compare.score_summary(observations, bootstrap=bootstrap, categories=domain)
        figures[(SCORES, pair)] = _summary_figure(question, summary, sign=POSITIVE_FIRST)
        shares = compare.win_tie_loss(observations, bootstrap=bootstrap)
        figures[(WIN_TIE_LOSS, pair)] = Figure(
            shares.win.value, shares.n_cases, shares.n_raters, shares.n_ratings, shares.as_dict()
        )
        means = compare.case_means(observations)
        figures.update(_paired_tests(pair, list(means.values()), "preference for the first"))
    sources = {source for pair in by_pair for source in pair}
    if len(sources) >= 3:
        figures.update(_bradley_terry(rows, bootstrap))
    return figures


def _bradley_terry(rows: list[Row], bootstrap) -> dict:
    comparisons = [
        (case, first, second, (value > 0) - (value < 0)) for case, first, second, _, value in rows
    ]
    fit = compare.bradley_terry(comparisons, bootstrap=bootstrap)
    shared = {k: v for k, v in fit.as_dict().items() if k != "sources"}
    return {
        (BRADLEY_TERRY, str(strength.source)): Figure(
            strength.log_strength.value,
            fit.n_cases,
            n_ratings=strength.comparisons,
            detail={**shared, **strength.as_dict(), "ci": _ci(strength.log_strength)},
        )
        for strength in fit.sources
    }


def _criteria(study: Study, rows) -> dict:
    bootstrap = bootstrap_for(study)
    by_source: dict[str, list] = {}
    for case, source, rater, earned, possible in rows:
        by_source.setdefault(source, []).append((case, rater, earned, possible))
    figures = {}
    for source, points in sorted(by_source.items()):
        result = compare.criteria_points(points, bootstrap=bootstrap)
        figures[(CRITERIA_POINTS, source)] = Figure(
            result.score.value,
            result.n_cases,
            result.n_raters,
            result.n_ratings,
            {**result.as_dict(), "ci": _ci(result.score)},
        )
    return figures


def _ci(statistic) -> list | None:
    """The headline's interval at the top of `detail`, where every result keeps its own."""
    return list(statistic.ci) if statistic.ci else None


def adjust_study(study: Study) -> None:
    """Adjust each kind of paired test's p-values across every question and pair of the study
    (the family a reader of the paper sees), by the study's chosen method, stated with them."""
    method = study.p_adjustment
    for statistic in PAIRED_TESTS:
        results = list(study.results.filter(statistic=statistic, judge="").order_by("pk"))
        adjusted = compare.adjust([r.value for r in results], method=method)
        tested = sum(r.value is not None for r in results)
        for result, p in zip(results, adjusted, strict=True):
            result.detail["p_adjusted"] = p
            result.detail["adjustment"] = (
                f"{compare.ADJUSTMENTS[method]} across the study's {tested} "
                f"{TEST_NAMES[statistic]} tests"
            )
        Result.objects.bulk_update(results, ["detail"])
