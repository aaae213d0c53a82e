"""Can a judge stand in for the raters, on one question: its agreement with each rater and the
raters' majority beside the raters' own leave-one-out ceiling, the Alternative Annotator Test
at the study's epsilon, and its consistency over repeated samples. The statistics themselves
are `annotation.core.stats.judges`."""

from annotation.core import rubric
from annotation.core.stats import judges as judge_stats
from annotation.core.stats.data import DataError, Observation
from annotation.core.stats.names import AAT, CONSISTENCY, JUDGE_STATISTICS, VERSUS_HUMANS
from annotation.models import Judge, Question, Result, Study
from annotation.services.statistics.rows import Row, judge_samples, unit_of
from annotation.services.statistics.store import Figure, Scope, bootstrap_for, store_family


def judge_statistics(
    study: Study, question: Question, humans: list[Row], judge: Judge, judged: list[Row]
) -> list[Result]:
    samples = judge_samples(judge, question)
    inputs = [
        sorted(humans),
        sorted(judged),
        sorted(samples.items()),
        question.level,
        rubric.value_domain(question.spec),
        study.judge_epsilon,
    ]
    scope = Scope(question, judge=judge.label)
    return store_family(
        study,
        scope,
        JUDGE_STATISTICS,
        inputs,
        lambda: _figures(study, question, humans, judged, samples),
    )


def _figures(study, question, humans, judged, samples) -> dict[str, Figure]:
    observations = [Observation(unit_of(row), row[3], row[4]) for row in humans]
    answers = {unit_of(row): row[4] for row in judged}
    figures = {}
    consistency = judge_stats.consistency(samples)
    if consistency.per_unit:  # only a judge that sampled more than once has one
        figures[CONSISTENCY] = Figure(
            consistency.mean, n_units=len(consistency.per_unit), detail=consistency.as_dict()
        )
    if not observations or not answers:
        return figures
    try:
        figures[VERSUS_HUMANS] = _versus(study, question, observations, answers)
    except DataError as exc:
        if exc.index is not None:
            raise
        return figures  # a scale the level cannot use: agreement already says why
    figures[AAT] = _alternative_annotator_test(study, question, observations, answers)
    return figures


def _versus(study, question, observations, answers) -> Figure:
    versus = judge_stats.judge_vs_humans(
        observations,
        answers,
        level=question.level,
        categories=rubric.value_domain(question.spec),
        bootstrap=bootstrap_for(study),
    )
    headline = versus.majority.alpha
    detail = {
        **versus.as_dict(),
        "method": "the judge against the raters' majority: " + headline.method,
        "ci": list(headline.ci) if headline.ci else None,
    }
    return Figure(
        headline.value, versus.majority.n_units, len(versus.per_human) + 1, 0, detail=detail
    )


def _alternative_annotator_test(study, question, observations, answers) -> Figure:
    # Scores are distances for numbers on an interval or ratio scale, exact matches otherwise:
    # an ordinal scale's codes are ranks, and a root mean square of ranks is not a distance.
    numeric = question.level in ("interval", "ratio")
    test = judge_stats.alternative_annotator_test(
        observations, answers, numeric=numeric, epsilon=study.judge_epsilon
    )
    return Figure(test.omega, n_raters=len(test.annotators), detail=test.as_dict())


def adjust_judges(study: Study) -> None:
    """For each judge, the Alternative Annotator Test once more with one Benjamini-Yekutieli
    correction over every question's rater tests (the paper corrects across domains too),
    stored beside each question's own result."""
    results = list(study.results.filter(statistic=AAT).select_related("question"))
    for judge in sorted({result.judge for result in results}):
        mine = [r for r in results if r.judge == judge]
        tests = {
            r.question.key: judge_stats.AlternativeAnnotatorTest(
                r.detail["epsilon"],
                r.detail["q"],
                r.detail["scoring"] == "negative RMSE",
                [judge_stats.AnnotatorTest.from_dict(row) for row in r.detail["annotators"]],
            )
            for r in mine
        }
        pooled = judge_stats.aat_across(tests).as_dict()
        summary = {key: pooled[key] for key in ("q", "n_questions", "n_tested", "omega", "passes")}
        summary["method"] = "Benjamini-Yekutieli across every question's rater tests"
        for result in mine:
            result.detail["across_questions"] = summary
        Result.objects.bulk_update(mine, ["detail"])
