"""Raters' answers: saving, submitting, time on task."""

import dataclasses

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext

from annotation.core import rubric
from annotation.core.sessions import SessionGate
from annotation.models import (
    Assignment,
    Output,
    Question,
    Rating,
    RatingRevision,
    Study,
)
from annotation.selectors.sessions import rater_session_gate, session_closed_message
from annotation.services.adaptive import adaptive_after_submit
from annotation.services.answer_errors import answer_error_text
from annotation.services.reading import (
    AnswerLocked,
    answer_score_update,
    check_answer_open,
    check_submit_open,
    reading_after_submit,
)
from annotation.services.task_runs import statistics_recompute_soon


def question_spec_for(
    *, question: Question, output: Output, n_outputs: int = 1
) -> rubric.QuestionSpec:
    """A question as asked about one output: per-case criteria and facts come from its case,
    spans must lie within its text, a correction edits it; a ranking ranks the `n_outputs`
    shown."""
    spec = question.spec
    if question.kind == Question.Kind.RANKING:
        return dataclasses.replace(spec, maximum=float(n_outputs))
    if question.kind == Question.Kind.CRITERIA:
        return dataclasses.replace(spec, scale=tuple(output.case.criteria))
    if question.kind == Question.Kind.OMISSION:
        return dataclasses.replace(spec, scale=tuple(output.case.facts))
    if question.kind == Question.Kind.SPAN:
        return dataclasses.replace(spec, maximum=float(len(output.text)))
    if question.kind == Question.Kind.CORRECTION:
        return dataclasses.replace(spec, original=output.text)
    return spec


class SessionNotOpen(ValidationError):
    """An item of a reading session that is not open to its rater yet (core.sessions)."""

    def __init__(self, gate: SessionGate) -> None:
        super().__init__(session_closed_message(gate))
        self.gate = gate


def session_check(*, gate: SessionGate) -> None:
    """Refuse an item whose reading session is not open yet: a later session opens once the
    rater finished the one before and the washout has passed since."""
    if not gate.is_open(timezone.now()):
        raise SessionNotOpen(gate)


def _assignment_locked(assignment: Assignment) -> Assignment:
    """The assignment's row, locked, with a fresh read of its study's status: refused if the
    study is no longer open, if the item has since moved to another rater, or if its reading
    session is not open yet."""
    locked = Assignment.objects.select_for_update(of=("self",)).select_related(
        "study", "item__output__case", "item__output_b"
    )
    current = locked.get(pk=assignment.pk)
    _check_open_for_rating(current.study)
    if current.rater_id != assignment.rater_id:
        raise ValidationError(gettext("This item has been given to another rater."))
    session_check(gate=rater_session_gate(assignment=current))
    return current


def _check_open_for_rating(study: Study) -> None:
    if study.status == Study.Status.LOCKED:
        raise ValidationError(gettext("This study is locked: answers can no longer change."))
    if study.status != Study.Status.OPEN:
        raise ValidationError(gettext("This study is not open for rating."))


@transaction.atomic
def rating_save(
    *, assignment: Assignment, question: Question, answer: object, shown: int | None = None
) -> Rating:
    """Save one answer. Saving the same answer again changes nothing; a change is appended.

    Side by side, a per-output question's answer is about the output at place `shown` in the
    order this rater sees them (0 for "A"); every other answer is about the whole item."""
    assignment = _assignment_locked(assignment)
    checked = _checked_answer(assignment, question, answer, shown)
    rating, changed = _rating_store(assignment, question, checked, elapsed_ms=0)
    if changed:
        answer_score_update(rating=rating, question=question, assignment=assignment)
    if changed and assignment.submitted_at:  # a revision after submit changes the statistics
        statistics_recompute_soon(study=assignment.study)
    return rating


@dataclasses.dataclass(frozen=True)
class SavedAnswer:
    """What became of an answer the item page posted: its rating, or why it was refused."""

    rating: Rating | None
    error: str = ""
    conflict: bool = False  # refused for the read's state (a locked answer): 409, not 200


def rater_answer_save(
    *,
    assignment: Assignment,
    question: Question,
    answer: object,
    shown: int | None,
    elapsed_ms: int,
    gate: SessionGate,
) -> SavedAnswer:
    """The item page's save, on an assignment its caller read and locked in this transaction
    (selectors.rater_save_target): the answer is checked before anything is written, and the
    time on task is kept even when the answer is refused. One statement writes the time, the
    answer and its revision on PostgreSQL; no savepoint. SessionNotOpen, with nothing written,
    when the `gate` the caller read says the item's session is not open yet."""
    study = assignment.study
    if study.status == Study.Status.OPEN:  # a locked study refuses every answer (below)
        session_check(gate=gate)
    elapsed = _time_reported(elapsed_ms) if study.status == Study.Status.OPEN else 0
    try:
        _check_open_for_rating(study)
        checked = _checked_answer(assignment, question, answer, shown)
    except ValidationError as exc:
        _time_add(assignment, elapsed)
        conflict = isinstance(exc, AnswerLocked)
        return SavedAnswer(rating=None, error=" ".join(exc.messages), conflict=conflict)
    rating, changed = _rating_store(assignment, question, checked, elapsed_ms=elapsed)
    if changed:
        answer_score_update(rating=rating, question=question, assignment=assignment)
    if changed and assignment.submitted_at:  # a revision after submit changes the statistics
        statistics_recompute_soon(study=study)
    return SavedAnswer(rating=rating)


@dataclasses.dataclass(frozen=True)
class _Checked:
    answer: object  # canonical
    value: float | None  # what statistics read, in the pair's canonical order
    output: Output | None  # side by side: the output a per-output answer is about


def _checked_answer(
    assignment: Assignment, question: Question, answer: object, shown: int | None
) -> _Checked:
    if question.study_id != assignment.study_id:
        raise ValidationError(gettext("The question belongs to another study."))
    check_answer_open(assignment)
    outputs = assignment.shown_outputs()
    rated = _rated_output(assignment.study, question, outputs, shown)
    spec = question_spec_for(
        question=question, output=rated or assignment.item.output, n_outputs=len(outputs)
    )
    try:
        answer = rubric.parse_answer(spec, answer)
    except rubric.AnswerError as exc:
        raise ValidationError(answer_error_text(exc)) from None
    value = rubric.numeric_code(spec, answer)
    if question.kind == Question.Kind.PAIRWISE and assignment.flipped and value is not None:
        # Stored as shown; analysed in the pair's canonical order ("first source better" > 0).
        value = -value
    return _Checked(answer=answer, value=value, output=rated)


def _rating_store(
    assignment: Assignment, question: Question, checked: _Checked, *, elapsed_ms: int
) -> tuple[Rating, bool]:
    """Store the answer, and a revision if it changed (True), with the time on task. The
    caller holds the assignment's row lock, so no other save of this item runs meanwhile."""
    if connection.vendor == "postgresql":
        return _rating_upsert(assignment, question, checked, elapsed_ms=elapsed_ms)
    _time_add(assignment, elapsed_ms)
    rating = Rating.objects.filter(
        assignment=assignment, question=question, output=checked.output
    ).first()
    if rating is not None and rating.answer == checked.answer:
        return rating, False
    if rating is None:
        rating = Rating.objects.create(
            assignment=assignment,
            question=question,
            output=checked.output,
            answer=checked.answer,
            value=checked.value,
            revision_count=1,
        )
    else:
        rating.answer, rating.value = checked.answer, checked.value
        rating.revision_count += 1  # the assignment's lock holds every other save back
        rating.save(update_fields=["answer", "value", "revision_count", "updated_at"])
    RatingRevision.objects.create(rating=rating, answer=checked.answer, value=checked.value)
    return rating, True


def _rating_upsert(
    assignment: Assignment, question: Question, checked: _Checked, *, elapsed_ms: int
) -> tuple[Rating, bool]:
    """PostgreSQL: one statement adds the time, inserts or changes the rating unless its answer
    is the same (jsonb equality, as Python's == on the decoded answer), and appends the
    revision of a change; it returns the rating as stored."""
    field = Rating._meta.get_field("answer")
    output_id = checked.output.pk if checked.output else None
    now = timezone.now()
    params: list = [elapsed_ms, assignment.pk] if elapsed_ms else []
    params += [
        assignment.pk,
        question.pk,
        output_id,
        field.get_db_prep_value(checked.answer, connection),
        checked.value,
        now,
        now,
    ]
    params += [assignment.pk, question.pk] + ([output_id] if output_id else [])
    sql = _upsert_sql(per_output=output_id is not None, with_time=bool(elapsed_ms))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk, answer, updated_at, changed = cursor.fetchone()
    rating = Rating(
        pk=pk,
        assignment=assignment,
        question=question,
        output=checked.output,
        answer=field.from_db_value(answer, None, connection),
        value=checked.value,
        updated_at=updated_at,
    )
    return rating, changed


def revision_counts_recount() -> int:
    """Set each rating's `revision_count` to its revisions where the two differ, and say how
    many changed: for after an upgrade past migration 0053, whose count ran before the new
    code did (answers the old code saved meanwhile were not counted). Safe to run any time."""
    ratings, revisions = Rating._meta.db_table, RatingRevision._meta.db_table
    counted = f"(SELECT count(*) FROM {revisions} v WHERE v.rating_id = {ratings}.id)"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ratings} SET revision_count = {counted} WHERE revision_count <> {counted}"
        )
        return cursor.rowcount


def _upsert_sql(*, per_output: bool, with_time: bool) -> str:
    """The statement of `_rating_upsert`; the conflict target names the partial unique index
    that holds for the answer (rating_unique or rating_unique_per_output)."""
    ratings, revisions = Rating._meta.db_table, RatingRevision._meta.db_table
    conflict, same = "(assignment_id, question_id) WHERE output_id IS NULL", "IS NULL"
    if per_output:
        conflict = "(assignment_id, question_id, output_id) WHERE output_id IS NOT NULL"
        same = "= %s"
    spent = (
        f"spent AS (UPDATE {Assignment._meta.db_table} "
        "SET time_on_task_ms = time_on_task_ms + %s WHERE id = %s), "
        if with_time
        else ""
    )
    return (
        f"WITH {spent}saved AS ("
        f"INSERT INTO {ratings} AS r "
        '(assignment_id, question_id, output_id, "answer", "value", created_at, updated_at, '
        "revision_count) VALUES (%s, %s, %s, %s, %s, %s, %s, 1) "
        f"ON CONFLICT {conflict} DO UPDATE "
        'SET "answer" = EXCLUDED."answer", "value" = EXCLUDED."value", '
        "updated_at = EXCLUDED.updated_at, revision_count = r.revision_count + 1 "
        'WHERE r."answer" IS DISTINCT FROM EXCLUDED."answer" '
        'RETURNING r.id, r."answer", r."value", r.updated_at), '
        f'revised AS (INSERT INTO {revisions} (rating_id, "answer", "value", saved_at) '
        'SELECT id, "answer", "value", updated_at FROM saved) '
        'SELECT id, "answer", updated_at, TRUE FROM saved '
        f'UNION ALL SELECT id, "answer", updated_at, FALSE FROM {ratings} '
        f"WHERE assignment_id = %s AND question_id = %s AND output_id {same} "
        "AND NOT EXISTS (SELECT FROM saved)"
    )


def _rated_output(
    study: Study, question: Question, outputs: list[Output], shown: int | None
) -> Output | None:
    if not study.asks_per_output(question):
        if shown is not None:
            message = gettext("This question is about the item as a whole, not one response.")
            raise ValidationError(message)
        return None
    if shown is None or not 0 <= shown < len(outputs):
        raise ValidationError(gettext("Say which response this answer is about."))
    return outputs[shown]


# The longest stretch one report of time on task may add: a tab left open overnight is not work.
TIME_ON_TASK_REPORT_MAX_MS = 10 * 60 * 1000


@transaction.atomic
def assignment_submit(*, assignment: Assignment) -> Assignment:
    """Mark an item done once every required question has an answer. Submitting again changes
    nothing; answers can still be revised (and are kept in history) until the study locks."""
    assignment = _assignment_locked(assignment)
    check_submit_open(assignment)
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
            about = {"question": question.prompt, "responses": ", ".join(letters)}
            missing.append(gettext("%(question)s (response %(responses)s)") % about)
    if missing:
        message = gettext("Still to answer: %(questions)s") % {"questions": "; ".join(missing)}
        raise ValidationError(message)
    # Conditional: of two submits racing, one sets the time and the other changes nothing.
    submitted = Assignment.objects.filter(pk=assignment.pk, submitted_at=None).update(
        submitted_at=timezone.now()
    )
    reading_after_submit(assignment=assignment)
    if submitted:
        adaptive_after_submit(assignment=assignment)
    assignment.refresh_from_db()
    statistics_recompute_soon(study=study)
    return assignment


def assignment_add_time(*, assignment: Assignment, elapsed_ms: int) -> None:
    """Add what the browser measured since its last report (capped, never negative), while the
    study is open."""
    elapsed = _time_reported(elapsed_ms)
    if elapsed:
        Assignment.objects.filter(pk=assignment.pk, study__status=Study.Status.OPEN).update(
            time_on_task_ms=models.F("time_on_task_ms") + elapsed
        )


def _time_reported(elapsed_ms: int) -> int:
    return max(0, min(int(elapsed_ms), TIME_ON_TASK_REPORT_MAX_MS))


def _time_add(assignment: Assignment, elapsed_ms: int) -> None:
    """Add time to an assignment its caller locked after reading its study open."""
    if elapsed_ms:
        Assignment.objects.filter(pk=assignment.pk).update(
            time_on_task_ms=models.F("time_on_task_ms") + elapsed_ms
        )


def assignment_mark_opened(*, assignment: Assignment) -> None:
    """Note when the rater first opened the item, while the study is open: reading a locked
    study's items afterwards is not work on them."""
    if assignment.first_opened_at is not None:
        return  # opened before: nothing to write
    Assignment.objects.filter(
        pk=assignment.pk, first_opened_at=None, study__status=Study.Status.OPEN
    ).update(first_opened_at=timezone.now())
