"""Rows for the exports: ratings (long, from `ratings_rows`), rating history, unblinding key,
judge ratings, every model call's provenance; streamed in chunks."""

import hashlib
import json
from collections.abc import Iterable, Iterator

from django.db.models import F, OuterRef, Q, QuerySet, Subquery

from annotation.core import columns, rubric, tables
from annotation.core.stats.names import (
    BRADLEY_TERRY,
    COMPARISONS,
    CORRELATION,
    MCNEMAR,
    MRMC_TESTS,
    PAIRED_TESTS,
    RATERS_LIKE_THESE,
    SCORES,
    SIGN_TEST,
    THESE_RATERS,
    WILCOXON,
    WIN_TIE_LOSS,
)
from annotation.models import (
    Arm,
    Generation,
    Item,
    ItemOutput,
    JudgeRating,
    JudgeScore,
    JudgeVerdict,
    Question,
    Rating,
    RatingRevision,
    Result,
    Study,
)
from annotation.selectors.ratings_rows import (  # the ratings (long), offered here too
    RATINGS_COLUMNS as RATINGS_COLUMNS,
)
from annotation.selectors.ratings_rows import RATINGS_ORDER as RATINGS_ORDER
from annotation.selectors.ratings_rows import _answer_text
from annotation.selectors.ratings_rows import (
    study_ratings_columns as study_ratings_columns,
)
from annotation.selectors.ratings_rows import study_ratings_export as study_ratings_export
from annotation.selectors.ratings_rows import study_ratings_iter as study_ratings_iter
from annotation.selectors.ratings_rows import study_ratings_long as study_ratings_long
from annotation.selectors.ratings_rows import study_ratings_query as study_ratings_query
from annotation.selectors.ratings_rows import study_ratings_rows as study_ratings_rows
from annotation.selectors.results import intervals_by_question
from annotation.selectors.studies import study_rater_pseudonyms

EXPORT_CHUNK = 2000  # model objects an export holds at once


def _slot_of(rating: Rating) -> int | str:
    """Where the output a per-output answer is about sits in the item's canonical order."""
    if rating.output_id is None:
        return ""
    slots = {m.output_id: m.slot for m in rating.assignment.item.members.all()}
    return slots[rating.output_id]


HISTORY_COLUMNS = [
    "item_token",
    "rater",
    "question",
    "output_slot",
    "saved_at",
    "old_answer",
    "new_answer",
]


def study_rating_history_query(*, study: Study) -> QuerySet[RatingRevision]:
    """Every change any rater made, oldest first per answer, each with the answer it replaced
    (`old_answer`, looked up by the database, so that any slice of it, a page, is complete)."""
    # The revision just before, by one index lookup per row: a window over the whole history
    # would be computed again for every page.
    earlier = Q(saved_at__lt=OuterRef("saved_at")) | Q(
        saved_at=OuterRef("saved_at"), pk__lt=OuterRef("pk")
    )
    replaced = Subquery(
        RatingRevision.objects.filter(earlier, rating=OuterRef("rating"))
        .order_by("-saved_at", "-pk")
        .values("answer")[:1]
    )
    return (
        RatingRevision.objects.filter(rating__assignment__study=study)
        .annotate(old_answer=replaced)
        .select_related("rating__question", "rating__assignment__item")
        .prefetch_related("rating__assignment__item__members")
        .order_by(
            "rating__assignment__item__token",
            "rating__question__order",
            "rating_id",
            "saved_at",
            "pk",
        )
    )


def rating_history_rows(study: Study, revisions: Iterable[RatingRevision]) -> Iterator[dict]:
    """Rows of the history from `study_rating_history_query` (or a page of it): who, when,
    old and new answer."""
    pseudonyms = study_rater_pseudonyms(study=study)
    for revision in revisions:
        rating = revision.rating
        yield {
            "item_token": rating.assignment.item.token,
            "rater": pseudonyms.get(rating.assignment.rater_id, ""),
            "question": rating.question.key,
            "output_slot": _slot_of(rating),
            "saved_at": tables.timestamp(revision.saved_at),
            "old_answer": _answer_text("" if revision.old_answer is None else revision.old_answer),
            "new_answer": _answer_text(revision.answer),
        }


def study_rating_history(*, study: Study) -> Iterator[dict]:
    """The whole history, read in chunks."""
    revisions = study_rating_history_query(study=study).iterator(chunk_size=EXPORT_CHUNK)
    return rating_history_rows(study, revisions)


UNBLINDING_COLUMNS = columns.UNBLINDING.names


def study_unblinding_columns(*, study: Study) -> list[str]:
    """The key's columns for this study: `arm` and `arm_kind` added in an assisted-reading one."""
    return columns.unblinding_table(reading=study.is_reading).names


def study_unblinding_key_query(*, study: Study) -> QuerySet[Item]:
    """The items in token order; in an assisted-reading study each item once per arm it was
    read in (annotated `arm_key` and `arm_kind`), as its reads share items across arms."""
    items = (
        study.items.select_related("output__case", "output__source", "output_b__source")
        .prefetch_related("members__output__source")
        .order_by("token")
    )
    if not study.is_reading:
        return items
    return (
        items.filter(assignments__arm__isnull=False)
        .annotate(arm_key=F("assignments__arm__key"), arm_kind=F("assignments__arm__kind"))
        .distinct()
        .order_by("token", "arm_key")
    )


def unblinding_key_rows(items: Iterable[Item]) -> Iterator[dict]:
    """Which source wrote each item. For a pair, `source` and `source_b` in canonical order
    (a positive pairwise value favours `source`); which side each rater saw is in the ratings
    export's `flipped` column. `sources` lists every source the item shows in canonical order,
    so slot i of a set (the ratings export's `shown_order` and `output_slot`) is `sources[i]`.
    An assisted read (an item annotated with its arm) names a source only where its arm showed
    the item's output: an unassisted or tool read showed none."""
    for item in items:
        if hasattr(item, "arm_key"):
            yield _read_key_row(item)
            continue
        labels = [o.source.label for o in item.canonical_outputs()]
        yield {
            "item_token": item.token,
            "case_id": item.output.case.external_id,
            "source": item.output.source.label,
            "source_kind": item.output.source.kind,
            "source_b": item.output_b.source.label if item.output_b_id else "",
            "sources": json.dumps(labels),
        }


def _read_key_row(item: Item) -> dict:
    shown = item.arm_kind == Arm.Kind.SOURCE
    return {
        "item_token": item.token,
        "case_id": item.output.case.external_id,
        "source": item.output.source.label if shown else "",
        "source_kind": item.output.source.kind if shown else "",
        "source_b": "",
        "sources": json.dumps([item.output.source.label] if shown else []),
        "arm": item.arm_key,
        "arm_kind": item.arm_kind,
    }


def study_unblinding_key(*, study: Study) -> Iterator[dict]:
    """The whole key, `unblinding_key_rows`' rows read as plain values in chunks: each set's
    labels by slot from one query, no model objects (50,000 items in a second, not ten). An
    assisted-reading study's (readers x cases x arms reads, a few items each) as model rows."""
    if study.is_reading:
        yield from unblinding_key_rows(
            study_unblinding_key_query(study=study).iterator(chunk_size=EXPORT_CHUNK)
        )
        return
    members: dict[int, list[tuple[int, str]]] = {}
    for item, slot, label in ItemOutput.objects.filter(item__study=study).values_list(
        "item_id", "slot", "output__source__label"
    ):
        members.setdefault(item, []).append((slot, label))
    items = study.items.order_by("token").values_list(
        "pk",
        "token",
        "output__case__external_id",
        "output__source__label",
        "output__source__kind",
        "output_b_id",
        "output_b__source__label",
    )
    for pk, token, case, label, kind, pair, label_b in items.iterator(chunk_size=EXPORT_CHUNK):
        if pair is not None:
            labels = [label, label_b]
        else:  # a set's outputs by slot, else the item's one output
            labels = [found for _, found in sorted(members.get(pk, []))] or [label]
        yield {
            "item_token": token,
            "case_id": case,
            "source": label,
            "source_kind": kind,
            "source_b": label_b if pair is not None else "",
            "sources": json.dumps(labels),
        }


JUDGE_RATINGS_COLUMNS = [
    "item_token",
    "rater",
    "rater_kind",
    "model_version",
    "question",
    "answer",
    "value",
    "shown_order",
    "output_slot",
    "sample",
    "judged_at",
]


def study_judge_ratings_query(*, study: Study) -> QuerySet[JudgeRating]:
    return (
        JudgeRating.objects.filter(verdict__judge__study=study)
        .select_related("question", "verdict__judge", "verdict__item")
        .prefetch_related("verdict__item__members")
        .order_by(
            "verdict__item__token",
            "question__order",
            "verdict__judge__label",
            "verdict__variant",
            "verdict__sample",
            "output_id",
            "pk",
        )
    )


def judge_rating_rows(ratings: Iterable[JudgeRating]) -> Iterator[dict]:
    """Every judge's answers in the raters' long format: the judge's label as the rater, rater
    kind "llm", one row per answer, per order shown and per sample; `value` in canonical
    order, as for raters. Failed units have no rows (their records say why)."""
    for r in ratings:
        verdict = r.verdict
        slots = {m.output_id: m.slot for m in verdict.item.members.all()}
        yield {
            "item_token": verdict.item.token,
            "rater": verdict.judge.label,
            "rater_kind": "llm",
            "model_version": verdict.model_version,
            "question": r.question.key,
            "answer": _answer_text(r.answer),
            "value": r.value,
            "shown_order": " ".join(map(str, verdict.order)),
            "output_slot": "" if r.output_id is None else slots[r.output_id],
            "sample": verdict.sample,
            "judged_at": tables.timestamp(verdict.finished_at),
        }


def study_judge_ratings_long(*, study: Study) -> Iterator[dict]:
    """Every judge's answers, read in chunks."""
    ratings = study_judge_ratings_query(study=study).iterator(chunk_size=EXPORT_CHUNK)
    return judge_rating_rows(ratings)


QUESTIONS_COLUMNS = columns.QUESTIONS.names
SCALE_KINDS = (rubric.LIKERT, rubric.PAIRWISE, rubric.SINGLE_CHOICE, rubric.YES_NO)


def study_question_rows(*, study: Study) -> Iterator[dict]:
    """One row per question: what it asked, its kind and level, the answers offered with their
    labels and the value each gives in the ratings, and whether "not applicable" was offered."""
    for question in study.questions.order_by("order", "key"):
        scale = _scale(question)
        yield {
            "question": question.key,
            "order": question.order,
            "prompt": question.prompt,
            "kind": question.kind,
            "level": question.level,
            "scale": "|".join(f"{p['answer']}={p['label']}" for p in scale),
            "scale_values": "|".join(_code_text(p["value"]) for p in scale),
            "scale_json": json.dumps(scale, ensure_ascii=False),
            "na_offered": question.allow_na,
            "required": question.required,
            "minimum": question.minimum,
            "maximum": question.maximum,
        }


def _scale(question: Question) -> list[dict]:
    """Each answer offered, lowest or first first: the answer as ratings.csv writes it, the
    value it gives there, and its label."""
    spec = question.spec
    if question.kind not in SCALE_KINDS:
        return []
    scale = []
    for point in spec.points:
        answer = rubric.parse_answer(spec, point["value"])
        value = rubric.numeric_code(spec, answer)
        scale.append({"answer": answer, "value": value, "label": str(point["label"])})
    return scale


def _code_text(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


AGREEMENT_COLUMNS = columns.AGREEMENT.names
COMPARISON_COLUMNS = columns.COMPARISON.names
AGREEMENT, COMPARISON = "agreement", "comparison"
PAIR_SEPARATOR = " vs "  # how the statistics name a pair of sources: "first vs second"
# The words of the `effect` column: a paired test's other figures.
EFFECT_WORDS = {
    "median_difference": "median difference",
    "rank_biserial": "matched-pairs rank-biserial",
    "n_positive": "positive differences",
    "n_negative": "negative differences",
    "b": "discordant, first only",
    "c": "discordant, second only",
    "differences": "differences are",
}
MRMC_DIFFERENCES = {
    "mean score": columns.MEAN_DIFFERENCE,
    "share answering yes": columns.PROPORTION_DIFFERENCE,
    "accuracy": columns.ACCURACY_DIFFERENCE,
}


def study_result_rows(*, study: Study, family: str) -> Iterator[dict]:
    """The rows of agreement.csv (`family` AGREEMENT) or comparison.csv (COMPARISON): one per
    estimate, a result's own and one per estimate nested in it (a summary's mean and median, a
    preference's win, tie and loss shares...), each with its interval and method; in
    comparison.csv a pair's two sources apart, with its effect size."""
    labels = set(study.sources.values_list("label", flat=True))
    results = study.results.select_related("question").order_by(
        "question__order", "question__key", "statistic", "source", "judge"
    )
    for result in results:
        comparison = result.statistic in COMPARISONS or result.statistic.startswith(CORRELATION)
        if comparison != (family == COMPARISON):
            continue
        base = _result_base(result)
        if comparison:
            base.pop("source")
            base["source_a"], base["source_b"] = split_pair(result.source, labels)
        for key, value, detail in _estimates(result):
            name = result.statistic if key is None else f"{result.statistic}:{key}"
            row = {**base, **_estimate_columns(name, value, detail)}
            if key is not None:
                # The adjustment is the result's own test's: not a nested estimate's.
                row.update(p_adjusted="", adjustment="")
            if comparison:
                row["p"] = _p_value(result, key, value, detail)
            if comparison and base["source_b"]:
                size, kind = _effect_size(result, key, value)
                row.update(effect_size=size, effect_kind=kind if size is not None else "")
            yield row


def _p_value(result: Result, key: str | None, value, detail: dict):
    """A comparison row's own p: a paired test's (its value), or a nested estimate's own where
    it has one (an MRMC difference's, per question it answers); else empty."""
    if key is None:
        return value if result.statistic in PAIRED_TESTS else ""
    found = detail.get("p")
    return "" if found is None else found


def _result_base(result: Result) -> dict:
    return {
        "question": result.question.key,
        "source": result.source,
        "judge": result.judge,
        "n_units": result.n_units,
        "n_raters": result.n_raters,
        "n_ratings": result.n_ratings,
        "p_adjusted": result.detail.get("p_adjusted", ""),
        "adjustment": result.detail.get("adjustment", ""),
        "effect": _effect_words(result.detail),
        "inputs_hash": result.inputs_hash,
    }


def split_pair(source: str, labels: set[str]) -> tuple[str, str]:
    """A result's source as (first, second) for a pair "first vs second", else (source, "").
    A label may hold " vs " itself: the split is where both halves are the study's labels."""
    parts = source.split(PAIR_SEPARATOR)
    for k in range(1, len(parts)):
        first, second = PAIR_SEPARATOR.join(parts[:k]), PAIR_SEPARATOR.join(parts[k:])
        if first in labels and second in labels:
            return first, second
    if source in labels or len(parts) == 1:
        return source, ""
    return parts[0], PAIR_SEPARATOR.join(parts[1:])  # a source renamed since: first split


def _estimates(result: Result) -> Iterator[tuple[str | None, object, dict]]:
    """(nested key or None, value, its detail) for each estimate of a result. A Bradley-Terry
    result's own value is its source's log-strength, which `bradley_terry:log_strength` holds
    already with the same interval: not written twice."""
    detail = result.detail
    if "method" in detail and result.statistic != BRADLEY_TERRY:
        yield None, result.value, detail
    for key, nested in detail.items():
        if isinstance(nested, dict) and "method" in nested and "value" in nested:
            yield key, nested["value"], nested


def _estimate_columns(statistic: str, value, detail: dict) -> dict:
    ci = detail.get("ci") or [None, None]
    return {
        "statistic": statistic,
        "value": value,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "method": detail.get("method", ""),
        "ci_method": detail.get("ci_method", ""),
        "interval_method": detail.get("interval_method", ""),
        "interval_question": detail.get("interval_question", ""),
        **_other_interval(detail),
        "resamples": detail.get("resamples", ""),
        "seed": detail.get("seed", ""),
    }


def _other_interval(detail: dict) -> dict:
    """The columns of the interval answering the question the headline interval does not; for
    an agreement coefficient without one (two raters, a consistency ICC), the reason why."""
    if detail.get("interval_question") not in (THESE_RATERS, RATERS_LIKE_THESE):
        return {}
    if "other_intervals" not in detail:
        return {}  # a comparison's figure: the MRMC rows answer for raters like these
    these, like = intervals_by_question(detail)
    headline_these = detail["interval_question"] == THESE_RATERS
    other = like if headline_these else these
    low, high = other["ci"] or [None, None]
    return {
        "other_ci_low": low,
        "other_ci_high": high,
        "other_interval_method": other.get("interval_method", ""),
        "other_interval_question": RATERS_LIKE_THESE if headline_these else THESE_RATERS,
        "other_ci_method": other.get("ci_method", ""),
        "other_ci_note": other.get("reason", ""),
    }


def _effect_words(detail: dict) -> str:
    """A paired test's other figures beside its p-value, in words."""
    found = [f"{label}: {detail[key]}" for key, label in EFFECT_WORDS.items() if key in detail]
    return "; ".join(found)


def _effect_size(result: Result, key: str | None, value) -> tuple[float | None, str]:
    """The size and direction of a pair's difference, first source against second, that a
    row of comparison.csv is about (`columns.EFFECT_KINDS`), from what its result holds."""
    statistic, detail = result.statistic, result.detail
    if statistic in MRMC_TESTS and key and key.startswith("alone"):
        return None, ""  # one source's own figure, not a difference
    if statistic in MRMC_TESTS:
        difference = value if key else (detail.get("random_both") or {}).get("value")
        return difference, MRMC_DIFFERENCES.get(detail.get("figure_of_merit"), "")
    if key is None and statistic == WILCOXON:
        return detail.get("median_difference"), columns.MEDIAN_DIFFERENCE
    if key is None and statistic == SIGN_TEST:
        positive, negative = detail.get("n_positive", 0), detail.get("n_negative", 0)
        share = positive / (positive + negative) if positive + negative else None
        return share, columns.POSITIVE_SHARE
    if key is None and statistic == MCNEMAR:
        b, c = detail.get("b"), detail.get("c")
        return (b / c if b is not None and c else None), columns.ODDS_RATIO
    found = {
        (SCORES, "mean"): columns.MEAN_PREFERENCE,
        (SCORES, "median"): columns.MEDIAN_PREFERENCE,
        (WIN_TIE_LOSS, "win"): columns.WIN_SHARE,
    }.get((statistic, key))
    return (value, found) if found else (None, "")


def study_time_on_task(*, study: Study) -> tuple[dict[str, list[float]], int]:
    """Seconds on task of each rater's submitted study items where their browser recorded it,
    by pseudonym (R1, R2...); and how many submitted study items have none recorded (answered
    through the API, or imported)."""
    pseudonyms = study_rater_pseudonyms(study=study)
    submitted = study.assignments.filter(kind="study", submitted_at__isnull=False)
    times: dict[str, list[float]] = {}
    unrecorded = 0
    recorded = submitted.values_list("rater_id", "time_on_task_ms").order_by("pk")
    for rater, ms in recorded.iterator(chunk_size=EXPORT_CHUNK):  # 1M pairs: not all at once
        if not ms:
            unrecorded += 1
            continue
        times.setdefault(pseudonyms.get(rater, ""), []).append(ms / 1000)
    return dict(sorted(times.items(), key=lambda kv: _pseudonym_order(kv[0]))), unrecorded


def _pseudonym_order(pseudonym: str) -> tuple[int, str]:
    digits = pseudonym.removeprefix("R")
    return (int(digits), "") if digits.isdigit() else (10**9, pseudonym)


GENERATIONS_COLUMNS = columns.GENERATIONS.names


def study_generations_query(*, study: Study) -> QuerySet[Generation]:
    """Every call made to fetch the study's outputs, failed ones included, by case, source,
    sample and time."""
    return (
        Generation.objects.filter(case__study=study)
        .select_related("case", "source")
        .order_by("case__external_id", "source__label", "sample", "started_at", "pk")
    )


def generation_rows(generations: Iterable[Generation]) -> Iterator[dict]:
    """generations.csv's rows (`columns.GENERATIONS`): which output each call was for, and
    what it asked, what came back and what it cost."""
    for generation in generations:
        yield {
            "case_id": generation.case.external_id,
            "source": generation.source.label,
            "sample": generation.sample,
            "endpoint": generation.endpoint,
            **call_row(generation, generation.retries),
        }


def study_generations(*, study: Study) -> Iterator[dict]:
    """Every generation's row, read in chunks."""
    return generation_rows(study_generations_query(study=study).iterator(chunk_size=EXPORT_CHUNK))


def call_row(call: Generation | JudgeVerdict | JudgeScore, retries: list) -> dict:
    """The columns every stored call shares (`columns.calls._call_columns`)."""
    return {
        "outcome": call.outcome,
        "error": call.error,
        "model_requested": call.model_requested,
        "model_version": call.model_version,
        "served_headers": json.dumps(call.served_headers or {}, sort_keys=True),
        "response_id": call.response_id,
        "system_fingerprint": call.system_fingerprint,
        "http_status": call.http_status,
        "retries": len(retries),
        "retry_details": json.dumps(retries),
        "rate_limit_wait_seconds": call.rate_limit_wait_ms / 1000,
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
        "cost": call.cost,
        "latency_seconds": None if call.latency_ms is None else call.latency_ms / 1000,
        "prompt_sha256": prompt_sha256(call.request),
        "started_at": tables.timestamp(call.started_at),
        "finished_at": tables.timestamp(call.finished_at),
    }


def prompt_sha256(request: dict) -> str:
    """The rendered prompt's hash, as `columns.PROMPT_HASH` says: "" when nothing was sent."""
    messages = (request or {}).get("messages")
    if not messages:
        return ""
    canonical = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
