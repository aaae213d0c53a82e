"""Agreement statistics computed for a study (the computation itself is in
`annotation.agreement`)."""

import hashlib
import json

from django.conf import settings
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotation import agreement, rubric
from annotation.models import (
    Assignment,
    Membership,
    Question,
    Rating,
    Result,
    Study,
    TaskRun,
)
from annotation.services.generation import task_run_finish, task_run_progress

# Part of every result's inputs hash: a change in how an interval is drawn changes the hash too.
STATS_METHOD_VERSION = "stats-2: bootstrap resamples every rated unit by patterns"


def agreement_compute(*, run: TaskRun) -> None:
    study = run.study
    # Free text and multiple choice have no numeric codes, so no agreement coefficient.
    questions = [q for q in study.questions.all() if q.has_statistics]
    repeated = study.assignments.filter(kind=Assignment.Kind.REPEAT).exists()
    if not repeated:  # none left (or never): no stale figure stays on the dashboard
        study.results.filter(statistic="test_retest_alpha").delete()
    task_run_progress(run=run, done=0, total=len(questions) * (2 if repeated else 1))
    messages = []
    done = 0
    for question in questions:
        result = _alpha_for_question(study, question)
        messages.append(f"{question.key}: {_describe(result)}")
        done += 1
        task_run_progress(run=run, done=done)
        if repeated:
            result = _test_retest(study, question)
            messages.append(f"{question.key} test-retest: {_describe(result)}")
            done += 1
            task_run_progress(run=run, done=done)
    task_run_finish(run=run, ok=True, message="; ".join(messages))


def _alpha_for_question(study: Study, question: Question) -> Result:
    pseudonyms = dict(
        study.memberships.filter(role=Membership.Role.RATER).values_list("user_id", "pseudonym")
    )
    if question.kind == Question.Kind.RANKING:
        rows = sorted(_ranks(study, question, pseudonyms))
    else:
        rows = sorted(_codes(study, question, pseudonyms))
    # One unit per output, or per pair in canonical order (values already canonical).
    observations = [
        agreement.Observation(f"{case_id}\x1f{source}\x1f{second}", rater, value)
        for case_id, source, second, rater, value in rows
    ]
    return _store_alpha(study, question, "krippendorff_alpha", rows, observations)


def _test_retest(study: Study, question: Question) -> Result:
    """Each rater against themselves: for every item a rater saw twice (the second a hidden
    repeat), one unit with the two answers, the occasions as the two "raters"."""
    pseudonyms = dict(
        study.memberships.filter(role=Membership.Role.RATER).values_list("user_id", "pseudonym")
    )
    kinds = [Assignment.Kind.STUDY, Assignment.Kind.REPEAT]
    if question.kind == Question.Kind.RANKING:
        coded = _ranks(study, question, pseudonyms, kinds=kinds, with_kind=True)
    else:
        coded = _codes(study, question, pseudonyms, kinds=kinds, with_kind=True)
    repeated = {(row[3], row[0], row[1], row[2]) for row in coded if row[5] == "repeat"}
    rows = sorted(row for row in coded if (row[3], row[0], row[1], row[2]) in repeated)
    observations = [
        agreement.Observation(f"{rater}\x1f{case_id}\x1f{source}\x1f{second}", kind, value)
        for case_id, source, second, rater, value, kind in rows
    ]
    return _store_alpha(study, question, "test_retest_alpha", rows, observations)


def _store_alpha(study: Study, question: Question, statistic: str, rows, observations) -> Result:
    # "Not applicable" has no code and is left out above, never coded as a value.
    domain = rubric.value_domain(question.spec)
    bootstrap = [settings.AGREEMENT_BOOTSTRAP_RESAMPLES, study.seed]
    alpha = agreement.krippendorff_alpha(
        observations,
        level=question.level,
        value_domain=domain,
        resamples=bootstrap[0],
        seed=bootstrap[1],
    )
    # Hashed in terms that mean the same in any copy of the study, so equal inputs match.
    inputs_hash = hashlib.sha256(
        json.dumps([rows, question.level, domain, bootstrap, STATS_METHOD_VERSION]).encode()
    )
    result, _ = Result.objects.update_or_create(
        study=study,
        question=question,
        statistic=statistic,
        defaults={
            "value": alpha.alpha,
            "n_units": alpha.n_units,
            "n_raters": alpha.n_raters,
            "n_ratings": alpha.n_ratings,
            "detail": {
                "level": alpha.level,
                "reason": alpha.reason,
                "ci": list(alpha.ci) if alpha.ci else None,
                "bootstrap": {
                    "method": "percentile, resampling units",
                    "resamples": alpha.resamples,
                    "resamples_used": alpha.resamples_used,
                    "seed": alpha.seed,
                },
            },
            "inputs_hash": inputs_hash.hexdigest(),
            "computed_at": timezone.now(),
        },
    )
    return result


Row = tuple[str, str, str, str, float]  # case id, source, pair's second source, rater, code


def _codes(
    study: Study, question: Question, pseudonyms: dict, *, kinds=None, with_kind=False
) -> list[Row]:
    """Every coded answer to the question in the study proper (or the assignment `kinds`
    given). Side by side, an answer is about the output it names; otherwise about the item's
    output, or its pair. `with_kind` adds each row's assignment kind."""
    ratings = Rating.objects.filter(
        question=question,
        assignment__study=study,
        assignment__kind__in=kinds or [Assignment.Kind.STUDY],
        value__isnull=False,
    ).values_list(
        "assignment__item__output__case__external_id",
        Coalesce("output__source__label", "assignment__item__output__source__label"),
        "assignment__item__output_b__source__label",
        "assignment__rater_id",
        "value",
        "assignment__kind",
    )
    return [
        (case_id, source, second or "", pseudonyms[rater_id], value, *([kind] * with_kind))
        for case_id, source, second, rater_id, value, kind in ratings
    ]


def _ranks(
    study: Study, question: Question, pseudonyms: dict, *, kinds=None, with_kind=False
) -> list[Row]:
    """A ranking as one rank per output (1 = best), each about the output's own source. Only
    complete rankings count; "not applicable" has no ranks."""
    ratings = (
        Rating.objects.filter(
            question=question,
            assignment__study=study,
            assignment__kind__in=kinds or [Assignment.Kind.STUDY],
        )
        .select_related("assignment__item__output__case")
        .prefetch_related("assignment__item__members__output__source")
    )
    rows = []
    for rating in ratings:
        if not isinstance(rating.answer, list) or not rubric.is_complete(rating.answer):
            continue
        case_id = rating.assignment.item.output.case.external_id
        rater = pseudonyms[rating.assignment.rater_id]
        extra = [rating.assignment.kind] * with_kind
        for place, output in enumerate(rating.assignment.shown_outputs()):
            rank = float(rating.answer[place])
            rows.append((case_id, output.source.label, "", rater, rank, *extra))
    return rows


def _describe(result: Result) -> str:
    if result.value is None:
        return f"alpha undefined ({result.detail.get('reason')})"
    ci = result.detail.get("ci")
    interval = f" (95% CI {ci[0]:.3f} to {ci[1]:.3f})" if ci else ""
    return f"alpha = {result.value:.3f}{interval} over {result.n_units} units"
