"""Can a judge stand in for the raters, on one question: its agreement with each rater and the
raters' majority beside the raters' own leave-one-out ceiling, the Alternative Annotator Test
at the study's epsilon, its consistency over repeated samples, and its diagnostics (length bias,
self-preference, calibration). The statistics themselves are `annotation.core.stats.judges`."""

from annotation.core import rubric
from annotation.core.stats import judges as judge_stats
from annotation.core.stats.data import DataError, Observation
from annotation.core.stats.judges import diagnostics
from annotation.core.stats.judges.reference import judge_vs_reference
from annotation.core.stats.names import (
    AAT,
    CALIBRATION,
    CONSISTENCY,
    JUDGE_DIAGNOSTICS,
    JUDGE_STATISTICS,
    LENGTH_BIAS,
    SELF_PREFERENCE,
    VERSUS_HUMANS,
    VERSUS_REFERENCE,
)
from annotation.models import Case, Judge, Output, Question, Result, Source, Study
from annotation.selectors.adjudication import reference_units
from annotation.services.statistics.rows import (
    Ranked,
    Row,
    about_one_output,
    judge_codes,
    judge_samples,
    rows_digest,
    unit_of,
)
from annotation.services.statistics.store import Figure, Scope, bootstrap_for, store_family


def judge_statistics(
    study: Study,
    question: Question,
    humans: list[Row],
    judge: Judge,
    judged: list[Row],
    ranked: Ranked | None = None,
) -> list[Result]:
    """`ranked`, `Ranked.of(humans)` when the caller has it, for the humans' digest."""
    samples = judge_samples(judge, question)
    humans_digest = ranked.digest() if ranked else rows_digest(humans)
    inputs = [
        humans_digest,
        rows_digest(judged),
        sorted(samples.items()),
        question.level,
        rubric.value_domain(question.spec),
        study.judge_epsilon,
    ]
    scope = Scope(question, judge=judge.label)
    results = store_family(
        study,
        scope,
        JUDGE_STATISTICS,
        inputs,
        lambda: _figures(study, question, humans, judged, samples),
    )
    results += judge_versus_reference(study, question, judge, judged)
    return results + judge_diagnostics(study, question, humans, judge, judged, humans_digest)


def judges_versus_reference(study: Study) -> list[Result]:
    """Every judge against the adjudicated reference on every question, alone: what follows a
    reference recorded once the study's other figures are frozen. A figure whose question or
    judge is gone is removed, as a full recomputation would."""
    results = []
    for question in [q for q in study.questions.all() if q.has_statistics]:
        for judge in study.judges.all():
            results += judge_versus_reference(study, question, judge, judge_codes(judge, question))
    kept = [result.pk for result in results]
    study.results.filter(statistic=VERSUS_REFERENCE).exclude(pk__in=kept).delete()
    return results


def judge_versus_reference(
    study: Study, question: Question, judge: Judge, judged: list[Row]
) -> list[Result]:
    """The judge against the adjudicated reference (docs/adjudication.md), on the units with
    both, stored as its own family so that the raters' figures stay as they were."""
    reference = {
        unit_of(unit): code
        for unit, code in reference_units(study=study, question=question).items()
    }
    answers = {unit_of(row): row[4] for row in judged}
    cases = {unit_of(row): row[0] for row in judged}
    numeric = question.level in ("interval", "ratio")
    inputs = [sorted(reference.items()), rows_digest(judged), numeric]
    return store_family(
        study,
        Scope(question, judge=judge.label),
        (VERSUS_REFERENCE,),
        inputs,
        lambda: _reference_figure(study, reference, answers, cases, numeric),
    )


def _reference_figure(study, reference, answers, cases, numeric) -> dict[str, Figure]:
    if not any(unit in answers for unit in reference):
        return {}  # nothing adjudicated that the judge answered: no figure, no row
    versus = judge_vs_reference(
        answers, reference, cases, bootstrap=bootstrap_for(study), numeric=numeric
    )
    return {
        VERSUS_REFERENCE: Figure(
            versus.accuracy, n_units=versus.n_units, n_raters=1, detail=versus.as_dict()
        )
    }


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


# --- diagnostics: length, self-preference, calibration -----------------------------------------

LENGTH_UNIT = "characters"
NO_CONFIDENCE = (
    "not computed: the judge's reply (rationale and answers, by the JSON schema it is sent) "
    "states no confidence, and calibration needs one"
)


def judge_diagnostics(
    study: Study,
    question: Question,
    humans: list[Row],
    judge: Judge,
    judged: list[Row],
    humans_digest: str = "",
) -> list[Result]:
    """The judge's length bias and self-preference against the raters on one question, each
    stored as a result for the question and judge; calibration stored with why it is not
    computed. Lengths are the outputs' texts in characters; families come from the sources'
    and the judge's model names (`diagnostics.model_family`). `humans_digest`,
    `rows_digest(humans)` when the caller has it."""
    lengths, families = _output_facts(study)
    judge_family = diagnostics.model_family(judge.model_name or "")
    inputs = [
        humans_digest or rows_digest(humans),
        rows_digest(judged),
        question.kind,
        question.level,
        sorted(lengths.items()),
        sorted(families.items(), key=str),
        judge_family,
        LENGTH_UNIT,
    ]
    return store_family(
        study,
        Scope(question, judge=judge.label),
        JUDGE_DIAGNOSTICS,
        inputs,
        lambda: _diagnostic_figures(
            study, question, humans, judged, lengths, families, judge_family
        ),
    )


def _output_facts(study: Study) -> tuple[dict, dict]:
    """(case id, source) -> the length of the output the raters saw; source -> its family
    (None for a human reference or a model name no family prefix matches)."""
    outputs = Output.objects.filter(case__study=study, case__role=Case.Role.STUDY, sample=0)
    lengths = {
        (case, source): len(text)
        for case, source, text in outputs.values_list("case__external_id", "source__label", "text")
    }
    families = {
        source.label: (
            diagnostics.model_family(source.model_name)
            if source.kind == Source.Kind.MODEL and source.model_name
            else None
        )
        for source in study.sources.all()
    }
    return lengths, families


def _diagnostic_figures(study, question, humans, judged, lengths, families, judge_family):
    pairwise = question.kind == Question.Kind.PAIRWISE
    keep = _about_a_pair if pairwise else about_one_output
    humans = [row for row in humans if keep(row)]
    judged = [row for row in judged if keep(row)]
    figures = {
        CALIBRATION: Figure(None, detail={"statistic": CALIBRATION, "reason": NO_CONFIDENCE})
    }
    if not humans or not judged:
        return figures
    if not pairwise and (question.level == "nominal" or question.kind == Question.Kind.RANKING):
        reason = "not computed: the answers are not scores (a nominal scale or ranks)"
        for name in (LENGTH_BIAS, SELF_PREFERENCE):
            figures[name] = Figure(None, detail={"statistic": name, "reason": reason})
        return figures
    args = _Arguments(humans, judged, lengths, families, judge_family, bootstrap_for(study))
    figures[LENGTH_BIAS] = _figure(LENGTH_BIAS, args.pairs_length if pairwise else args.length)
    figures[SELF_PREFERENCE] = _figure(
        SELF_PREFERENCE, args.pairs_family if pairwise else args.family
    )
    return figures


def _about_a_pair(row) -> bool:
    return bool(row[1] and row[2])


def _figure(name: str, compute) -> Figure:
    try:
        result = compute()
    except DataError as exc:
        return Figure(None, detail={"statistic": name, "reason": f"not computed: {exc}"})
    detail = {**result.as_dict(), "statistic": name, "kind": result.statistic}
    if result.reason:
        detail.pop("method", None)  # no figure: nothing for the results files to list
    return Figure(result.value, n_units=result.n_units, detail=detail)


class _Arguments:
    """The judge's and the raters' answers keyed by unit, with each unit's case, length and
    family, for the diagnostics of `annotation.core.stats.judges.diagnostics`."""

    def __init__(self, humans, judged, lengths, families, judge_family, bootstrap) -> None:
        self.observations = [Observation(unit_of(row), row[3], row[4]) for row in humans]
        self.answers = {unit_of(row): row[4] for row in judged}
        rows = humans + judged
        self.cases = {unit_of(row): row[0] for row in rows}
        self.sources = {unit_of(row): (row[0], row[1], row[2]) for row in rows}
        self.lengths, self.families = lengths, families
        self.judge_family, self.bootstrap = judge_family, bootstrap

    def _options(self) -> dict:
        return {"cases": self.cases, "bootstrap": self.bootstrap}

    def length(self) -> diagnostics.Diagnostic:
        lengths = {
            unit: self.lengths[(case, source)]
            for unit, (case, source, _) in self.sources.items()
            if (case, source) in self.lengths
        }
        return diagnostics.length_bias(self.answers, self.observations, lengths, **self._options())

    def pairs_length(self) -> diagnostics.Diagnostic:
        lengths = {
            unit: (self.lengths[(case, first)], self.lengths[(case, second)])
            for unit, (case, first, second) in self.sources.items()
            if (case, first) in self.lengths and (case, second) in self.lengths
        }
        side = diagnostics.longer_side(lengths)
        return diagnostics.side_bias(self.answers, self.observations, side, **self._options())

    def family(self) -> diagnostics.Diagnostic:
        if self.judge_family is None:
            raise DataError("the judge's model name matches no known model family")
        families = {
            unit: self.families.get(source) for unit, (_, source, _) in self.sources.items()
        }
        return diagnostics.self_preference(
            self.answers, self.observations, families, self.judge_family, **self._options()
        )

    def pairs_family(self) -> diagnostics.Diagnostic:
        if self.judge_family is None:
            raise DataError("the judge's model name matches no known model family")
        families = {
            unit: (self.families.get(first), self.families.get(second))
            for unit, (_, first, second) in self.sources.items()
        }
        side = diagnostics.own_family_side(families, self.judge_family)
        if not any(side.values()):
            raise DataError(
                f"no pair with only one output of the judge's family ({self.judge_family})"
            )
        favoured = f"the output of the judge's own family ({self.judge_family})"
        return diagnostics.side_bias(
            self.answers, self.observations, side, favoured=favoured, **self._options()
        )
