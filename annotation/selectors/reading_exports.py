"""An assisted-reading study's files in the paper bundle, for its admins: reads.csv (one row per
read, from `study_reads`) and assisted_reading.csv (the stored statistics, never recomputed
here: annotation.services.statistics.reading stores them)."""

from collections.abc import Iterator

from annotation.core.reading import allocation
from annotation.core.stats.names import RANDOM_BOTH
from annotation.models import AnswerScore, JudgeScore, Membership, Question, Result, Study
from annotation.selectors.ratings_rows import _answer_text
from annotation.selectors.reading import (
    ACCURACY,
    CHANGES,
    JUDGE_MATCH,
    JUDGE_SCORER,
    MCNEMAR,
    MRMC,
    TIME,
    TOP_J,
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
TOP_J_METHOD = (
    "reads with a right entry among the first `top` over reads decided at `top`, pooled over "
    "readers and cases; a list exact match found right below `top` is pending there"
)
# The judge's reference in assisted_reading.csv's `compared_with`.
JUDGE_REFERENCE = {JUDGE_SCORER: "scorer", JUDGE_MATCH: "match"}
JUDGE_METHODS = {
    "judge_agreement": "answers judge and reference agree on over answers both decided",
    "judge_sensitivity": "of the answers the reference scored right, the share the judge did",
    "judge_specificity": "of the answers the reference scored wrong, the share the judge did",
}
PENDING_NOTE = (
    "no interval yet: {pending} submitted answer{s} still undecided (pending); the MRMC "
    "analysis, which gives it, needs every reader's read of every case scored in both arms"
)
NO_MRMC_NOTE = (
    "no interval: the MRMC analysis, which gives it, needs one assisting arm and every "
    "reader reading every case in both arms"
)


def beyond_note(low: float, high: float, bounds: tuple[float, float], readers: int | None) -> str:
    """The note for an MRMC interval reaching past what its estimate can be (a share's 0 to 1,
    a difference's -1 to 1), as a normal-theory interval with few readers can; "" if within.
    The interval is kept as the analysis gave it (not clipped), so it matches the analysis."""
    if bounds[0] <= low and high <= bounds[1]:
        return ""
    few = f" with {readers} readers" if readers else ""
    return (
        f"the interval extends beyond {bounds[0]:g} to {bounds[1]:g}: the MRMC analysis's "
        f"normal-theory interval{few} (too few readers for it to stay within); given as the "
        "analysis computed it, not clipped"
    )


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
    pending = sum(
        r.detail.get("pending", 0) for (statistic, _), r in results.items() if statistic == ACCURACY
    )
    rows: list[dict] = []
    for (statistic, arm), result in sorted(results.items()):
        if statistic == ACCURACY:
            rows.append(_accuracy(question.key, arm, result, alone.get(arm), pending))
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
    for (statistic, arm), result in sorted(results.items()):
        if statistic == TOP_J:
            rows += _tops(question.key, arm, result)
    judged = Result.objects.filter(
        study=study, question=question, statistic__in=(JUDGE_SCORER, JUDGE_MATCH)
    ).order_by("judge", "-statistic")
    for result in judged:
        rows += _judge(question.key, result)
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


def _accuracy(question: str, arm: str, result: Result, alone: dict | None, pending: int) -> dict:
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
            note=beyond_note(*alone["ci"], (0, 1), result.n_raters),
        )
    elif alone:
        cells["note"] = alone.get("reason") or "no interval"
    elif pending:
        cells["note"] = PENDING_NOTE.format(pending=pending, s="" if pending == 1 else "s")
    else:
        cells["note"] = NO_MRMC_NOTE
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
        if found["ci"]:
            cells["note"] = beyond_note(cells["ci_low"], cells["ci_high"], (-1, 1), result.n_raters)
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


def _tops(question: str, arm: str, result: Result) -> list[dict]:
    """Top-j accuracy of ranked answers, one row per j."""
    rows = []
    for top in result.detail.get("tops", []):
        pending = top["pending"]
        rows.append(
            {
                **_row(
                    question,
                    "top_j",
                    arm,
                    result,
                    top=top["top"],
                    value=top["accuracy"],
                    count=top["right"],
                    of=top["reads"],
                    pending=pending,
                    method=TOP_J_METHOD,
                    note="" if top["reads"] else "no read decided at this j yet",
                ),
                "n_reads": top["reads"],
            }
        )
    return rows


def _judge(question: str, result: Result) -> list[dict]:
    """A judge against a reference: kappa once per interval, the agreement, sensitivity and
    specificity, each with the 2 x 2 table."""
    d = result.detail
    table = {
        name: d[name]
        for name in (
            "both_right",
            "reference_only_right",
            "judge_only_right",
            "both_wrong",
            "only_one_scored",
        )
    }
    n = d["both_right"] + d["reference_only_right"] + d["judge_only_right"] + d["both_wrong"]
    agreed = d["both_right"] + d["both_wrong"]
    common = {
        "judge": result.judge,
        "compared_with": JUDGE_REFERENCE[result.statistic],
        "n_readers": None,
        "n_cases": None,
        "n_reads": n,
        **table,
    }
    kappa = d["kappa"]
    intervals = [
        {
            "ci": kappa.get("ci"),
            "interval_question": kappa.get("interval_question", ""),
            "interval_method": kappa.get("interval_method", ""),
            "ci_method": kappa.get("ci_method", ""),
        },
        *kappa.get("other_intervals", []),
    ]
    rows = []
    for interval in intervals:
        ci = interval.get("ci")
        rows.append(
            {
                "question": question,
                "statistic": "judge_kappa",
                "arm": "",
                **common,
                "value": kappa.get("value"),
                "count": agreed,
                "of": n,
                "ci_low": ci[0] if ci else None,
                "ci_high": ci[1] if ci else None,
                "interval_question": interval.get("interval_question", "") if ci else "",
                "interval_method": (
                    "; ".join(
                        part
                        for part in (interval.get("interval_method"), interval.get("ci_method"))
                        if part
                    )
                    if ci
                    else ""
                ),
                "method": kappa.get("method", "Cohen's kappa"),
                "note": "" if ci else (kappa.get("reason") or "no interval"),
            }
        )
    for statistic, value, count, of in (
        ("judge_agreement", d["agreement"], agreed, n),
        (
            "judge_sensitivity",
            d["sensitivity"],
            d["both_right"],
            d["both_right"] + d["reference_only_right"],
        ),
        (
            "judge_specificity",
            d["specificity"],
            d["both_wrong"],
            d["both_wrong"] + d["judge_only_right"],
        ),
    ):
        rows.append(
            {
                "question": question,
                "statistic": statistic,
                "arm": "",
                **common,
                "value": value,
                "count": count,
                "of": of,
                "method": JUDGE_METHODS[statistic],
                "note": "" if value is not None else "undefined: none to count",
            }
        )
    return rows


def study_judge_score_rows(*, study: Study) -> Iterator[dict]:
    """judge_scores.csv: every decision an LLM judge made on an answer of the study, failed
    calls too, with the read it is about and the answer's outcome now."""
    pseudonyms = dict(
        Membership.objects.filter(study=study, role=Membership.Role.RATER).values_list(
            "user_id", "pseudonym"
        )
    )
    decisions = (
        JudgeScore.objects.filter(judge__study=study)
        .select_related(
            "judge",
            "score__rating__assignment__arm",
            "score__rating__assignment__item__output__case",
        )
        .order_by(
            "judge__label",
            "score__rating__assignment__rater_id",
            "score__rating__assignment__position",
            "pk",
        )
    )
    for decision in decisions.iterator(chunk_size=2000):
        score = decision.score
        read = score.rating.assignment
        undecided = score.outcome == AnswerScore.Outcome.UNDECIDED
        ok = decision.outcome == JudgeScore.Outcome.OK
        yield {
            "judge": decision.judge.label,
            "rater": pseudonyms.get(read.rater_id, ""),
            "case_id": read.item.output.case.external_id,
            "arm": read.arm.key if read.arm else "",
            "session": read.session,
            "phase": read.phase,
            "position": read.position,
            "answer": _answer_text(decision.answer),
            "current": decision.answer == score.rating.answer,
            "why": "sampled" if decision.sampled else "undecided",
            "outcome": decision.outcome,
            "judge_right": decision.right if ok else None,
            "judge_rank": decision.rank if ok else None,
            "clinician_outcome": score.outcome,
            "decided_by": "" if undecided else score.by,
            "model_version": decision.model_version,
            "prompt_tokens": decision.prompt_tokens,
            "completion_tokens": decision.completion_tokens,
            "latency_ms": decision.latency_ms,
            "finished_at": decision.finished_at,
        }
