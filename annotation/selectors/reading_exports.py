"""An assisted-reading study's files in the paper bundle, for its admins: reads.csv (one row per
read, from `study_reads`) and assisted_reading.csv (the stored statistics, never recomputed
here: annotation.services.statistics.reading stores them)."""

from collections.abc import Iterator

from annotation.core.reading import allocation
from annotation.core.stats.names import RANDOM_BOTH
from annotation.models import Question, Result, Study
from annotation.selectors.ratings_rows import _answer_text
from annotation.selectors.reading import (
    ACCURACY,
    CHANGES,
    MCNEMAR,
    MRMC,
    TIME,
    read_rows,
    study_reads,
)

MRMC_METHOD = (
    "Obuchowski-Rockette analysis of each reader's accuracy per arm, Hillis (2007) degrees of "
    "freedom, jackknife covariances over cases"
)
ACCURACY_METHOD = "reads right over reads scored right or wrong, pooled over readers and cases"
READS_PAGE = 2000
SECONDS_METHOD = "seconds on screen per read; quartiles by linear interpolation"


def study_read_rows(*, study: Study) -> Iterator[dict]:
    """reads.csv: every read, in readers' order, with what its arm showed and how it scored
    (a page of reads at a time, so a large study is never held whole)."""
    reads = study_reads(study=study)
    for start in range(0, reads.count(), READS_PAGE):
        for read in read_rows(study=study, reads=reads[start : start + READS_PAGE]):
            yield _file_row(read)


def _file_row(read: dict) -> dict:
    return {
        **read,
        "answer": "" if read["answer"] is None else _answer_text(read["answer"]),
        "outcome": read["outcome"],
        "seconds": read["seconds"] or None,  # 0: none recorded
        "submitted": read["submitted_at"] is not None,
        "locked": read["locked_at"] is not None,
    }


def study_assisted_reading_rows(*, study: Study) -> list[dict]:
    """assisted_reading.csv: the stored reading statistics, one row per estimate."""
    question = study.questions.filter(kind=Question.Kind.ANSWER).first()
    if question is None:
        return []
    results = {
        (r.statistic, r.source): r
        for r in Result.objects.filter(study=study, question=question, judge="")
    }
    mrmc = next((r for (statistic, _), r in results.items() if statistic == MRMC), None)
    alone = _mrmc_alone(mrmc)
    rows: list[dict] = []
    for (statistic, arm), result in sorted(results.items()):
        if statistic == ACCURACY:
            rows.append(_accuracy(question.key, arm, result, alone.get(arm)))
    if mrmc is not None:
        rows += _mrmc_differences(question.key, mrmc)
    for (statistic, arm), result in sorted(results.items()):
        if statistic == MCNEMAR:
            rows += _mcnemar(question.key, arm, result)
        elif statistic == CHANGES:
            rows += _changes(question.key, arm, result)
    for (statistic, arm), result in sorted(results.items()):
        if statistic == TIME:
            rows += _seconds(question.key, arm, result)
    return rows


def _row(question: str, statistic: str, arm: str, result: Result, **cells) -> dict:
    return {
        "question": question,
        "statistic": statistic,
        "arm": arm,
        "n_readers": result.n_raters or None,
        "n_cases": result.n_units or None,
        "n_reads": result.n_ratings,
        **cells,
    }


def _mrmc_alone(result: Result | None) -> dict[str, dict]:
    """Each arm's accuracy alone in the MRMC analysis for readers and cases random."""
    if result is None:
        return {}
    for analysis in result.detail.get("analyses", []):
        if analysis["question"] == RANDOM_BOTH:
            return {alone["modality"]: alone for alone in analysis["modalities"]}
    return {}


def _accuracy(question: str, arm: str, result: Result, alone: dict | None) -> dict:
    cells = {
        "value": result.value,
        "count": result.detail.get("right"),
        "of": result.n_ratings,
        "pending": result.detail.get("pending", 0),
        "method": ACCURACY_METHOD,
    }
    if alone and alone.get("ci"):
        cells.update(
            ci_low=alone["ci"][0],
            ci_high=alone["ci"][1],
            interval_question=RANDOM_BOTH,
            interval_method=f"{MRMC_METHOD}: the arm alone",
            df=alone.get("df"),
        )
    elif alone:
        cells["note"] = alone.get("reason") or "no interval"
    else:
        cells["note"] = (
            "no interval: the MRMC analysis, which gives it, needs one assisting arm and every "
            "reader reading every case in both arms"
        )
    return _row(question, "accuracy", arm, result, **cells)


def _mrmc_differences(question: str, result: Result) -> list[dict]:
    """Each question's difference of accuracy, assisted minus unassisted (stored the other way
    round: unassisted first)."""
    rows = []
    for analysis in result.detail.get("analyses", []):
        cells = {"interval_question": analysis["question"], "method": MRMC_METHOD}
        if not analysis["differences"]:
            cells["note"] = analysis.get("reason") or "no difference"
            rows.append(_mrmc_row(question, result, cells))
            continue
        found = analysis["differences"][0]
        cells.update(
            value=-found["estimate"],
            ci_low=-found["ci"][1] if found["ci"] else None,
            ci_high=-found["ci"][0] if found["ci"] else None,
            interval_method=MRMC_METHOD,
            p=found["p"],
            df=found["df"],
        )
        rows.append(_mrmc_row(question, result, cells))
    return rows


def _mrmc_row(question: str, result: Result, cells: dict) -> dict:
    assisting = result.source.split(" vs ", 1)[-1]
    return _row(
        question,
        "mrmc_difference",
        assisting,
        result,
        compared_with=allocation.UNASSISTED,
        **cells,
    )


def _mcnemar(question: str, arm: str, result: Result) -> list[dict]:
    detail = result.detail
    discordant = {"count": detail["helped"], "of": detail["helped"] + detail["harmed"]}
    pair = {"compared_with": allocation.UNASSISTED, **discordant}
    note = detail.get("reason", "")
    rows = [
        _row(
            question,
            "mcnemar_exact",
            arm,
            result,
            value=detail["exact_p"],
            p=detail["exact_p"],
            method=detail["exact_method"],
            note=note,
            **pair,
        ),
        _row(
            question,
            "mcnemar_chi2",
            arm,
            result,
            value=detail["chi2_p"],
            p=detail["chi2_p"],
            method=f"{detail['chi2_method']}; chi-square = {_number(detail['chi2'])}",
            note=note,
            **pair,
        ),
    ]
    ci = detail.get("odds_ratio_ci") or {}
    rows.append(
        _row(
            question,
            "odds_ratio",
            arm,
            result,
            value=detail.get("odds_ratio"),
            ci_low=ci.get("low"),
            ci_high=ci.get("high"),
            interval_question=ci.get("question", ""),
            interval_method=ci.get("method", ""),
            method="matched-pairs odds ratio: pairs helped over pairs harmed",
            note=note or ("" if detail["harmed"] else "undefined: no pair harmed"),
            **pair,
        )
    )
    return rows


def _number(value: float | None) -> str:
    return "none" if value is None else f"{value:.4g}"


def _changes(question: str, arm: str, result: Result) -> list[dict]:
    """Each rate once per interval: cases resampled, then readers and cases resampled."""
    rows = []
    for rate in result.detail["rates"]:
        for interval in rate["intervals"]:
            rows.append(
                _row(
                    question,
                    rate["name"],
                    arm,
                    result,
                    compared_with=allocation.UNASSISTED,
                    value=rate["value"],
                    count=rate["count"],
                    of=rate["of"],
                    ci_low=interval["low"],
                    ci_high=interval["high"],
                    interval_question=interval["question"],
                    interval_method=interval["method"],
                    method=f"{rate['count']} of {rate['of']} pairs",
                    note="" if rate["value"] is not None else "undefined: no such pairs",
                )
            )
    return rows


def _seconds(question: str, arm: str, result: Result) -> list[dict]:
    detail = result.detail
    counts = {"count": detail.get("timed"), "of": detail.get("reads")}
    note = "" if detail.get("timed") else "no read of this arm has a time recorded"
    return [
        _row(
            question,
            f"seconds_{name}",
            arm,
            result,
            value=detail.get(name),
            method=SECONDS_METHOD,
            note=note,
            **counts,
        )
        for name in ("median", "q1", "q3")
    ]
