"""The multi-reader multi-case (MRMC) comparison of each pair of a study's sources on one
question: the Obuchowski-Rockette analysis with Hillis's degrees of freedom, jackknife
covariances over cases, on the part of the ratings that is crossed (every reader read every
case under both sources). Stored beside the paired tests, one result per pair and figure of
merit: the mean score (a proportion for yes/no: the share answering yes) and, where the study's
cases carry expected answers for the question, the accuracy against them.

The analysis itself is the pure `annotation.core.stats.mrmc`."""

from collections import defaultdict
from collections.abc import Callable
from itertools import combinations

from annotation.core import rubric
from annotation.core.stats.data import DataError
from annotation.core.stats.mrmc import FIXED_CASES, FIXED_READERS, RANDOM_BOTH, Mrmc, mrmc
from annotation.core.stats.mrmc.analysis import plain
from annotation.core.stats.names import MRMC, MRMC_ACCURACY, MRMC_TESTS
from annotation.models import Case, Question, Result, Study
from annotation.services.statistics.rows import Row
from annotation.services.statistics.store import Figure, store_by_source

METHOD = (
    "Obuchowski-Rockette MRMC with Hillis (2007) degrees of freedom, jackknife covariances "
    "over cases; readers and cases random"
)
# Which question each analysis answers, by the key the dashboard and the bundle read it under.
QUESTIONS = {"random_both": RANDOM_BOTH, "fixed_readers": FIXED_READERS, "fixed_cases": FIXED_CASES}
NOT_CROSSED = (
    "MRMC needs every reader to read the same cases under each source, and needs at least two "
    "such readers and two such cases"
)

Reading = tuple[str, str, str, float]  # reader, case, source, value


def compares_scores(question: Question) -> bool:
    """Whether the question scores each output on an ordered scale (or yes/no), which MRMC
    compares between sources: Likert, number, single choice with an order, yes/no."""
    if question.kind == Question.Kind.YES_NO:
        return True
    ordered = question.level not in ("", "nominal")
    scored = (Question.Kind.LIKERT, Question.Kind.NUMBER, Question.Kind.SINGLE_CHOICE)
    return ordered and question.kind in scored


def question_mrmc(
    study: Study, question: Question, rows: list[Row], *, pair_label: Callable[[str, str], str]
) -> list[Result]:
    """Per pair of sources (labels in order, first minus second), the MRMC results stored under
    `pair_label(first, second)` as the paired tests are; `rows` are the first-pass answers
    about one output each (`rows.about_one_output`)."""
    if not compares_scores(question):
        return []
    expected = expected_answers(study, question)
    inputs = [rows, question.kind, question.level, sorted(expected.items()), METHOD]
    return store_by_source(
        study, question, MRMC_TESTS, inputs, lambda: _figures(question, rows, expected, pair_label)
    )


def expected_answers(study: Study, question: Question) -> dict[str, list]:
    """The expected answers to the question of the study's own cases that carry one (the
    importer gives them to training and attention cases only today)."""
    cases = Case.objects.filter(study=study, role=Case.Role.STUDY).exclude(expected={})
    found = {}
    for case_id, expected in cases.values_list("external_id", "expected"):
        if expected.get(question.key):
            found[case_id] = list(expected[question.key])
    return found


def _figures(question: Question, rows: list[Row], expected: dict[str, list], pair_label) -> dict:
    yes_no = question.kind == Question.Kind.YES_NO
    scores = [(rater, case, source, value) for case, source, _, rater, value in rows]
    figures = {}
    sources = sorted({reading[2] for reading in scores})
    for first, second in combinations(sources, 2):
        pair = pair_label(first, second)
        label = "share answering yes" if yes_no else "mean score"
        figure = "proportion" if yes_no else "mean"
        figures[(MRMC, pair)] = pair_figure(scores, first, second, figure=figure, label=label)
        if expected:
            correct = _accuracy_readings(question, scores, expected)
            figures[(MRMC_ACCURACY, pair)] = pair_figure(
                correct, first, second, figure="proportion", label="accuracy"
            )
    return figures


def _accuracy_readings(
    question: Question, scores: list[Reading], expected: dict[str, list]
) -> list[Reading]:
    """Each answer about a case with an expected answer as 1 when it is one of them, else 0."""
    spec = question.spec
    answers = {}  # code -> the answer it codes, for `rubric.matches_expected`
    for point in spec.points:
        answer = rubric.parse_answer(spec, point["value"])
        answers[rubric.numeric_code(spec, answer)] = answer
    return [
        (
            rater,
            case,
            source,
            float(rubric.matches_expected(spec, answers.get(v, v), v, expected[case])),
        )
        for rater, case, source, v in scores
        if case in expected
    ]


def crossed(readings: list[Reading], first: str, second: str) -> tuple[list[str], list[str]]:
    """The crossed part of a pair's readings: the readers who read under both sources, and the
    cases every one of them read under both."""
    read: dict[str, dict[str, set]] = defaultdict(lambda: {first: set(), second: set()})
    for rater, case, source, _ in readings:
        if source in (first, second):
            read[rater][source].add(case)
    both = {rater: cases[first] & cases[second] for rater, cases in read.items()}
    readers = sorted(rater for rater, cases in both.items() if cases)
    cases = set.intersection(*(both[r] for r in readers)) if readers else set()
    return readers, sorted(cases)


def pair_figure(
    readings: list[Reading], first: str, second: str, *, figure: str, label: str
) -> Figure:
    """The MRMC result of one pair, first minus second, on its crossed part; a reader's
    repeated readings of one output are averaged first."""
    pair = [r for r in readings if r[2] in (first, second)]
    readers, cases = crossed(pair, first, second)
    sizes = {
        "readers_used": len(readers),
        "readers_total": len({r[0] for r in pair}),
        "cases_used": len(cases),
        "cases_total": len({r[1] for r in pair}),
    }
    detail = {"method": METHOD, "figure_of_merit": label, "differences": "first minus second"}
    detail.update(sizes, questions=QUESTIONS, crossed=_crossed_note(sizes))
    if len(readers) < 2 or len(cases) < 2:
        detail["reason"] = _not_crossed(sizes)
        return Figure(None, len(cases), len(readers), detail=detail)
    cells = _averaged(pair, set(readers), set(cases))
    if figure == "proportion" and any(value not in (0.0, 1.0) for *_, value in cells):
        figure = "mean"  # repeated readings averaged: the mean of their shares is the share
    try:
        result = mrmc(cells, figure=figure)
    except DataError as exc:
        detail["reason"] = str(exc)
        return Figure(None, len(cases), len(readers), detail=detail)
    return _figure(result, detail, len(cells))


def _averaged(readings: list[Reading], readers: set, cases: set) -> list[Reading]:
    values: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for rater, case, source, value in readings:
        if rater in readers and case in cases:
            values[(rater, case, source)].append(value)
    return [(*key, sum(found) / len(found)) for key, found in sorted(values.items())]


def _figure(result: Mrmc, detail: dict, n_ratings: int) -> Figure:
    detail = {**result.as_dict(), **detail}
    # Read by the study planner to size a next study: keep these two keys as they are.
    detail["components"] = plain(result.components)
    detail["n_cases"] = result.n_cases
    by_key = dict(zip(QUESTIONS, result.analyses, strict=True))
    for key, analysis in by_key.items():
        detail[key] = _difference(analysis, detail["figure_of_merit"])
    test = by_key["random_both"].test
    if test is None:
        detail["reason"] = by_key["random_both"].reason
    value = None if test is None else test.p
    return Figure(value, result.n_cases, len(result.readers), n_ratings, detail)


def _difference(analysis, label: str) -> dict:
    """The pair's difference for one analysis, with its interval and p, as an estimate the
    bundle lists (`method`, `value`, `ci`) and the question its interval answers."""
    found = {
        "interval_question": analysis.question,
        "method": f"difference in {label} (first minus second), {analysis.question}",
    }
    if not analysis.differences:
        return {**found, "value": None, "ci": None, "p": None, "reason": analysis.reason}
    difference = analysis.differences[0]
    return {
        **found,
        "value": difference.estimate,
        "ci": list(difference.ci) if difference.ci else None,
        "p": difference.p,
        "se": difference.se,
        "df": difference.df,
    }


def _crossed_note(sizes: dict) -> str:
    if sizes["readers_used"] == sizes["readers_total"] and (
        sizes["cases_used"] == sizes["cases_total"]
    ):
        return "every reader read every case under both sources"
    return (
        f"the crossed part only: {sizes['readers_used']} of {sizes['readers_total']} readers, "
        f"{sizes['cases_used']} of {sizes['cases_total']} cases"
    )


def _not_crossed(sizes: dict) -> str:
    readers, cases = sizes["readers_used"], sizes["cases_used"]
    if readers == 0:
        what = "no reader read any case under both sources"
    elif cases == 0:
        what = f"no case was read by every one of the {readers} readers under both sources"
    else:
        what = f"{readers} reader(s) read the same {cases} case(s) under both sources"
    return f"not a crossed design: {what}; {NOT_CROSSED}"
