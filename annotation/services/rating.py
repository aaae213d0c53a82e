"""Raters' answers: saving, submitting, time on task."""

import dataclasses

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from annotation.core import rubric
from annotation.models import (
    Assignment,
    Output,
    Question,
    Rating,
    RatingRevision,
    Study,
)
from annotation.services.task_runs import statistics_recompute_soon


def question_spec_for(
    *, question: Question, output: Output, n_outputs: int = 1
) -> rubric.QuestionSpec:
    """A question as asked about one output: per-case criteria come from its case, and spans
    must lie within its text; a ranking ranks the `n_outputs` shown."""
    spec = question.spec
    if question.kind == Question.Kind.RANKING:
        return dataclasses.replace(spec, maximum=float(n_outputs))
    if question.kind == Question.Kind.CRITERIA:
        return dataclasses.replace(spec, scale=tuple(output.case.criteria))
    if question.kind == Question.Kind.SPAN:
        return dataclasses.replace(spec, maximum=float(len(output.text)))
    return spec


def _assignment_locked(assignment: Assignment) -> Assignment:
    """The assignment's row, locked, with a fresh read of its study's status: refused if the
    study is no longer open, or if the item has since moved to another rater."""
    locked = Assignment.objects.select_for_update(of=("self",)).select_related(
        "study", "item__output__case", "item__output_b"
    )
    current = locked.get(pk=assignment.pk)
    _check_open_for_rating(current.study)
    if current.rater_id != assignment.rater_id:
        raise ValidationError("This item has been given to another rater.")
    return current


def _check_open_for_rating(study: Study) -> None:
    if study.status == Study.Status.LOCKED:
        raise ValidationError("This study is locked: answers can no longer change.")
    if study.status != Study.Status.OPEN:
        raise ValidationError("This study is not open for rating.")


@transaction.atomic
def rating_save(
    *, assignment: Assignment, question: Question, answer: object, shown: int | None = None
) -> Rating:
    """Save one answer. Saving the same answer again changes nothing; a change is appended.

    Side by side, a per-output question's answer is about the output at place `shown` in the
    order this rater sees them (0 for "A"); every other answer is about the whole item."""
    assignment = _assignment_locked(assignment)
    if question.study_id != assignment.study_id:
        raise ValidationError("The question belongs to another study.")
    outputs = assignment.shown_outputs()
    rated = _rated_output(assignment.study, question, outputs, shown)
    spec = question_spec_for(
        question=question, output=rated or assignment.item.output, n_outputs=len(outputs)
    )
    try:
        answer = rubric.parse_answer(spec, answer)
    except rubric.AnswerError as exc:
        raise ValidationError(str(exc)) from None
    value = rubric.numeric_code(spec, answer)
    if question.kind == Question.Kind.PAIRWISE and assignment.flipped and value is not None:
        # Stored as shown; analysed in the pair's canonical order ("first source better" > 0).
        value = -value
    rating, created = Rating.objects.select_for_update().get_or_create(
        assignment=assignment,
        question=question,
        output=rated,
        defaults={"answer": answer, "value": value},
    )
    if not created and rating.answer == answer:
        return rating
    if not created:
        rating.answer, rating.value = answer, value
        rating.save(update_fields=["answer", "value", "updated_at"])
    RatingRevision.objects.create(rating=rating, answer=answer, value=value)
    if assignment.submitted_at:  # a revision after submit changes what the statistics read
        statistics_recompute_soon(study=assignment.study)
    return rating


def _rated_output(
    study: Study, question: Question, outputs: list[Output], shown: int | None
) -> Output | None:
    if not study.asks_per_output(question):
        if shown is not None:
            raise ValidationError("This question is about the item as a whole, not one response.")
        return None
    if shown is None or not 0 <= shown < len(outputs):
        raise ValidationError("Say which response this answer is about.")
    return outputs[shown]


# The longest stretch one report of time on task may add: a tab left open overnight is not work.
TIME_ON_TASK_REPORT_MAX_MS = 10 * 60 * 1000


@transaction.atomic
def assignment_submit(*, assignment: Assignment) -> Assignment:
    """Mark an item done once every required question has an answer. Submitting again changes
    nothing; answers can still be revised (and are kept in history) until the study locks."""
    assignment = _assignment_locked(assignment)
    study = assignment.study
    answers = {(r.question_id, r.output_id): r.answer for r in assignment.ratings.all()}
    outputs = assignment.shown_outputs()
    missing = []
    for question in study.questions.filter(required=True):
        if not study.asks_per_output(question):
            if not rubric.is_complete(answers.get((question.pk, None))):
                missing.append(question.prompt)
            continue
        letters = [
            rubric.shown_letter(place)
            for place, output in enumerate(outputs)
            if not rubric.is_complete(answers.get((question.pk, output.pk)))
        ]
        if letters:
            missing.append(f"{question.prompt} (response {', '.join(letters)})")
    if missing:
        raise ValidationError(f"Still to answer: {'; '.join(missing)}")
    # Conditional: of two submits racing, one sets the time and the other changes nothing.
    Assignment.objects.filter(pk=assignment.pk, submitted_at=None).update(
        submitted_at=timezone.now()
    )
    assignment.refresh_from_db()
    statistics_recompute_soon(study=study)
    return assignment


def assignment_add_time(*, assignment: Assignment, elapsed_ms: int) -> None:
    """Add what the browser measured since its last report (capped, never negative), while the
    study is open."""
    elapsed = max(0, min(int(elapsed_ms), TIME_ON_TASK_REPORT_MAX_MS))
    if elapsed:
        Assignment.objects.filter(pk=assignment.pk, study__status=Study.Status.OPEN).update(
            time_on_task_ms=models.F("time_on_task_ms") + elapsed
        )


def assignment_mark_opened(*, assignment: Assignment) -> None:
    """Note when the rater first opened the item, while the study is open: reading a locked
    study's items afterwards is not work on them."""
    if assignment.first_opened_at is not None:
        return  # opened before: nothing to write
    Assignment.objects.filter(
        pk=assignment.pk, first_opened_at=None, study__status=Study.Status.OPEN
    ).update(first_opened_at=timezone.now())
