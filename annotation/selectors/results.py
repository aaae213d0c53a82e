"""A study's stored statistics shaped for its results page: agreement and comparison tables."""

from dataclasses import dataclass, field

from django.db.models import Q

from annotation.core.rubric import ANSWER
from annotation.core.stats.names import (
    COEFFICIENTS,
    COMPARISONS,
    MRMC_TESTS,
    OMISSION_FACT_AGREEMENT,
    OMISSION_RATE,
    RATERS_LIKE_THESE,
    TEST_NAMES,
    THESE_RATERS,
)
from annotation.models import (
    Question,
    Result,
    Study,
)
from annotation.selectors.washout import WashoutRetest, washout_retest_of


@dataclass
class AgreementTable:
    """One question's coefficients as the dashboard shows them: a row per coefficient, a column
    for the humans alone and one per judge added; the same per source below it."""

    question: Question
    headline: Result | None  # the humans' alpha over every source
    judges: list[str]
    rows: list[tuple[str, list[Result | None]]]
    sources: list[str]
    source_rows: list[tuple[str, list[Result | None]]]
    retest: Result | None
    computed_at: object
    # Per judge: (label, against the raters, the Alternative Annotator Test, consistency).
    judge_tests: list[tuple[str, Result | None, Result | None, Result | None]]
    # Why an interval cell is empty, numbered as the cells' footnote marks refer to them.
    notes: list[str] = field(default_factory=list)
    # Test-retest across a washout (re-reads in session 2), overall and per rater.
    washout: WashoutRetest | None = None


def study_agreement_tables(*, study: Study) -> list[AgreementTable]:
    # An answer question's results are the assisted-reading statistics (scored right or
    # wrong, not rated for agreement): the reading card shows them.
    results = list(
        study.results.exclude(question__kind=ANSWER)
        .select_related("question")
        .order_by("question__order")
    )
    for result in results:
        # Each result's interval for each question, for the table's two interval columns.
        result.these_raters, result.raters_like_these = intervals_by_question(result.detail)
    tables = []
    for question in dict.fromkeys(r.question for r in results):
        mine = {(r.statistic, r.source, r.judge): r for r in results if r.question == question}
        judges = sorted({judge for _, _, judge in mine if judge})
        sources = sorted({source for _, source, _ in mine if source})
        statistics = [s for s in COEFFICIENTS if any(key[0] == s for key in mine)]
        tables.append(
            AgreementTable(
                question=question,
                headline=mine.get(("krippendorff_alpha", "", "")),
                judges=judges,
                rows=_labelled([[mine.get((s, "", j)) for j in ["", *judges]] for s in statistics]),
                sources=sources,
                source_rows=_labelled(
                    [[mine.get((s, src, "")) for src in sources] for s in statistics]
                ),
                retest=mine.get(("test_retest_alpha", "", "")),
                washout=washout_retest_of(mine),
                computed_at=max(r.computed_at for r in mine.values()),
                judge_tests=[
                    (
                        judge,
                        mine.get(("judge_vs_humans", "", judge)),
                        mine.get(("alternative_annotator_test", "", judge)),
                        mine.get(("judge_consistency", "", judge)),
                    )
                    for judge in judges
                ],
            )
        )
        _number_notes(tables[-1])
    return tables


def _number_notes(table: AgreementTable) -> None:
    """Number the reasons of the table's empty interval cells, each distinct reason once."""
    cells = [cell for _, row in table.rows + table.source_rows for cell in row if cell]
    for interval in [i for cell in cells for i in (cell.these_raters, cell.raters_like_these)]:
        if interval["ci"] is None:
            if interval["reason"] not in table.notes:
                table.notes.append(interval["reason"])
            interval["note"] = table.notes.index(interval["reason"]) + 1


# Why a result has no interval for a question when nothing it holds says why.
NO_INTERVAL = {
    THESE_RATERS: "no interval over cases for these raters",
    RATERS_LIKE_THESE: "no interval for raters like these offered for this coefficient",
}
# ICC(3,1) and ICC(3,k), McGraw & Wong's consistency forms, are about these raters only.
CONSISTENCY_ONLY = (
    "ICC(3) measures consistency among these raters only; for raters like these, "
    "read ICC(2) (absolute agreement)"
)


def intervals_by_question(detail: dict) -> tuple[dict, dict]:
    """A stored estimate's interval for each question, (these raters, raters like these): the
    headline interval or one beside it whose `interval_question` is that question, the
    headline first. Each is {"ci", "interval_method", "ci_method", "interval_question"}, or
    {"ci": None, "reason": ...} saying why there is none."""
    found: dict[str, dict] = {}
    candidates = [detail, *detail.get("other_intervals", [])]
    for candidate in candidates:
        question = _question_of(candidate.get("interval_question", ""))
        if candidate.get("ci") and question and question not in found:
            found[question] = {
                "ci": candidate["ci"],
                "interval_method": candidate.get("interval_method", ""),
                "ci_method": candidate.get("ci_method", ""),
                "interval_question": candidate["interval_question"],
            }
    reasons = {
        _question_of(c.get("interval_question", "")): c["reason"]
        for c in candidates
        if c is not detail and not c.get("ci") and c.get("reason")
    }
    if detail.get("value") is None and detail.get("reason"):
        reasons = dict.fromkeys(NO_INTERVAL, f"undefined: {detail['reason']}")
    elif str(detail.get("method", "")).startswith("ICC(3"):
        reasons.setdefault(RATERS_LIKE_THESE, CONSISTENCY_ONLY)
    return tuple(  # type: ignore[return-value]
        found.get(q) or {"ci": None, "reason": reasons.get(q, NO_INTERVAL[q])}
        for q in (THESE_RATERS, RATERS_LIKE_THESE)
    )


def _question_of(interval_question: str) -> str:
    """Which of the two questions an interval answers: ICC(1)'s F interval answers for raters
    like these and says more ("... (one-way model: each case's raters a fresh draw)")."""
    for question in (THESE_RATERS, RATERS_LIKE_THESE):
        if interval_question.startswith(question):
            return question
    return ""


@dataclass
class ComparisonTable:
    """How the sources compare on one question, as the dashboard shows it."""

    question: Question
    summaries: list[Result]  # per source (or per pair's preference), mean and distribution
    test_names: list[tuple[str, str]]  # the kinds of paired test run: (key, short name)
    tests: list[tuple[str, list[Result | None]]]  # per pair, one result per kind of test
    preferences: list[Result]  # win / tie / loss per pair
    strengths: list[Result]  # Bradley-Terry, strongest first
    points: list[Result]  # HealthBench criteria points per source
    adjustments: list[str]  # how the tests' p-values were adjusted, once per kind of test
    correlations: list[Result]  # imported automatic metrics against the raters' scores
    # MRMC per pair and figure of merit, each with `lines`: one per question answered.
    mrmc: list[Result] = field(default_factory=list)
    # Omission questions: each source's weighted omission rate, and agreement on the facts.
    omission_rates: list[Result] = field(default_factory=list)
    fact_agreement: Result | None = None
    corrections: list[Result] = field(default_factory=list)  # corrected outputs per source


def study_comparison_tables(*, study: Study) -> list[ComparisonTable]:
    # Services import selectors: import these here.

    results = list(
        study.results.filter(
            Q(statistic__in=(*COMPARISONS, OMISSION_FACT_AGREEMENT))
            | Q(statistic__startswith="correlation:")
        )
        .filter(judge="")
        .select_related("question")
        .order_by("question__order", "source")
    )
    tables = []
    for question in dict.fromkeys(r.question for r in results):
        mine = [r for r in results if r.question == question]
        tests: dict[str, dict[str, Result]] = {}
        for r in mine:
            if r.statistic in TEST_NAMES and r.statistic not in MRMC_TESTS:
                tests.setdefault(r.source, {})[r.statistic] = r
        kinds = [key for key in TEST_NAMES if any(key in found for found in tests.values())]
        mrmc = sorted((r for r in mine if r.statistic in MRMC_TESTS), key=_pair_then_figure)
        tables.append(
            ComparisonTable(
                question=question,
                summaries=[_with_bars(r) for r in mine if r.statistic == "score_summary"],
                test_names=[(key, TEST_NAMES[key]) for key in kinds],
                tests=[
                    (pair, [found.get(key) for key in kinds])
                    for pair, found in sorted(tests.items())
                ],
                preferences=[r for r in mine if r.statistic == "win_tie_loss"],
                strengths=sorted(
                    (r for r in mine if r.statistic == "bradley_terry"),
                    key=lambda r: -(r.value or 0),
                ),
                points=[r for r in mine if r.statistic == "criteria_points"],
                correlations=[r for r in mine if r.statistic.startswith("correlation:")],
                adjustments=sorted(
                    {
                        r.detail["adjustment"]
                        for r in [*(r for t in tests.values() for r in t.values()), *mrmc]
                        if "adjustment" in r.detail
                    }
                ),
                mrmc=[_with_mrmc_lines(r) for r in mrmc],
                omission_rates=[r for r in mine if r.statistic == OMISSION_RATE],
                fact_agreement=next(
                    (r for r in mine if r.statistic == OMISSION_FACT_AGREEMENT), None
                ),
                corrections=[r for r in mine if r.statistic == "correction_summary"],
            )
        )
    return tables


def _pair_then_figure(result: Result) -> tuple[str, int]:
    return result.source, MRMC_TESTS.index(result.statistic)


# The MRMC analyses the dashboard shows, in order: the generalisable answer first.
MRMC_SHOWN = ("random_both", "fixed_readers")


def _with_mrmc_lines(result: Result) -> Result:
    """An MRMC result's difference per question answered (readers and cases random, then these
    readers): the question in words, the difference with its interval, its p and, for the
    study-wide test, the adjusted p."""
    result.lines = []
    if result.value is None and "random_both" not in result.detail:
        return result  # not computed: the template shows the reason
    for key in MRMC_SHOWN:
        found = result.detail.get(key) or {}
        headline = key == "random_both"
        result.lines.append(
            {
                "question": result.detail.get("questions", {}).get(key, key),
                "value": found.get("value"),
                "ci": found.get("ci"),
                "p": found.get("p"),
                "p_adjusted": result.detail.get("p_adjusted") if headline else None,
                "reason": found.get("reason", ""),
                "alone": found.get("alone", []),
            }
        )
    return result


def _with_bars(result: Result) -> Result:
    """Each category's share as a bar: label and percentage width for the distribution plot."""
    labels = result.detail.get("labels", {})
    result.bars = [
        {
            "label": labels.get(str(share["category"]), f"{share['category']:g}"),
            "percent": round(100 * (share["share"] or 0), 1),
            "count": share["count"],
        }
        for share in result.detail.get("distribution", [])
    ]
    return result


def _labelled(rows: list[list[Result | None]]) -> list[tuple[str, list[Result | None]]]:
    """Each row named by its coefficient's exact method, as its results state it."""
    named = []
    for cells in rows:
        found = [cell for cell in cells if cell]
        if found:
            named.append((found[0].detail.get("method", found[0].statistic), cells))
    return named
