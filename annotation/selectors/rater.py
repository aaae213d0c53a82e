"""What a rater sees of their studies: the list, the study and assignment they may open (their
own only: a 404 for anyone else's), where to resume, the review of their items, progress,
training feedback."""

import weakref
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import (
    Count,
    Exists,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    prefetch_related_objects,
)
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext, pgettext

from annotation.core import rubric
from annotation.core.reading import allocation
from annotation.core.sessions import SessionGate, gate_of
from annotation.models import (
    Assignment,
    Attachment,
    Case,
    Item,
    ItemOutput,
    Output,
    Question,
    Rating,
    Study,
)
from annotation.selectors.consent import rater_onboarding_check
from annotation.selectors.sessions import (
    SessionWait,
    closes_on_finish,
    rater_session_counts,
    rater_session_wait,
)


@dataclass(frozen=True)
class RaterStudy:
    token: str
    title: str
    done: int
    total: int
    locked: bool = False  # read-only: answers can be read, no longer changed
    # The rater's first reading session that is not open yet, if any (selectors.sessions).
    waiting: SessionWait | None = None
    # The study asks for consent or about its raters: the rater's "My consent" page applies.
    asks_consent: bool = False
    language: str = "en"  # the study's own language: its title is marked with it


TRAINING_Q = Q(assignments__kind=Assignment.Kind.TRAINING)


# The studies a rater sees: open ones, and locked ones to read their answers. An archived
# study is put away for the record, out of everyone's way, raters' included.
RATER_VISIBLE = (Study.Status.OPEN, Study.Status.LOCKED)


def _rater_studies_qs(user: AbstractBaseUser) -> QuerySet[Study]:
    return (
        Study.objects.filter(status__in=RATER_VISIBLE, assignments__rater=user)
        .annotate(
            # Training is counted apart: progress is the study's items (checks look like them).
            total=Count("assignments", filter=Q(assignments__rater=user) & ~TRAINING_Q),
            done=Count(
                "assignments",
                filter=Q(assignments__rater=user, assignments__submitted_at__isnull=False)
                & ~TRAINING_Q,
            ),
            sessions=Max("assignments__session", filter=Q(assignments__rater=user)),
        )
        .order_by("title")
    )


def rater_studies_preparing(*, user: AbstractBaseUser, token: str | None = None) -> list[Study]:
    """Open studies (or the one with `token`) whose assignments for this rater an opening
    left to its worker to write (services.rater_assignments_write writes only short lists):
    listed as being prepared, with no work to show yet."""
    studies = Study.objects.filter(status=Study.Status.OPEN, pending_assignments__rater=user).only(
        "token", "title", "language"
    )
    if token is not None:
        studies = studies.filter(token=token)
    return list(studies.order_by("title"))


def rater_studies(*, user: AbstractBaseUser) -> list[RaterStudy]:
    return [_rater_study(user, s) for s in _rater_studies_qs(user)]


def rater_study_summary(*, user: AbstractBaseUser, study: Study) -> RaterStudy:
    return _rater_study(user, _rater_studies_qs(user).get(pk=study.pk))


def _rater_study(user: AbstractBaseUser, s: Study) -> RaterStudy:
    locked = s.status == Study.Status.LOCKED
    # A query more only for a study that has later sessions, and while it is open.
    waiting = rater_session_wait(user=user, study=s) if s.sessions > 1 and not locked else None
    asks = bool(s.consent_version or s.asks_raters)
    return RaterStudy(
        s.token,
        s.title,
        s.done,
        s.total,
        locked=locked,
        waiting=waiting,
        asks_consent=asks,
        language=s.language,
    )


@dataclass(frozen=True)
class ReviewLine:
    """One of the rater's items in their review list: no more than the item page shows."""

    token: str
    number: int  # as the item page numbers it: among the study's items, or the training ones
    is_training: bool
    status: str  # "submitted", "started" (an answer saved) or "not started"
    session: int = 1  # the rater's reading session the item is in
    # Why the item is closed (core.sessions), as the list says it; "" while it is open.
    closed: str = ""
    locked: bool = False  # a locked answer (assisted reading): to look at, not to change
    # Sequential assisted reading: "Case 3 – on your own" or "Case 3 – with assistance" (no
    # arm's key or source); "" otherwise.
    read: str = ""
    # An assisted read whose unassisted read is not locked yet: it cannot be started.
    waits_for_lock: bool = False

    @property
    def status_label(self) -> str:
        """The status as the list shows it, in the rater's language (`status` stays the key)."""
        return {
            "submitted": pgettext("item status", "submitted"),
            "started": pgettext("item status", "started"),
            "not started": pgettext("item status", "not started"),
        }[self.status]


def rater_review_lines(*, user: AbstractBaseUser, study: Study) -> list[ReviewLine]:
    """Every item of this rater's in their order, with how far they got: one query, and one
    more for their sessions in a crossover or when an item is read again in a later one."""
    answered = Rating.objects.filter(assignment=OuterRef("pk"))
    reread = Assignment.objects.filter(repeat_of=OuterRef("pk"), kind=Assignment.Kind.RETEST)
    rows = (
        Assignment.objects.filter(study=study, rater=user)
        .annotate(answered=Exists(answered), reread=Exists(reread))
        .order_by("position")
        .values_list(
            "token",
            "position",
            "kind",
            "submitted_at",
            "answered",
            "session",
            "locked_at",
            "reread",
            "phase",
            "arm_id",
        )
    )
    sequential = study.reading_layout == Study.ReadingLayout.SEQUENTIAL
    crossover = closes_on_finish(study)
    closes = crossover or any(row[7] for row in rows)  # a re-read in a later session
    shut = _sessions_shut(user, study, crossover=crossover) if closes else {}
    lines, case, unassisted_locked = [], 0, False
    for row in rows:
        token, position, kind, submitted_at, has_answers, session, locked_at, has_reread = row[:8]
        phase, arm_id = row[8:]
        is_training = kind == Assignment.Kind.TRAINING
        status = "submitted" if submitted_at else "started" if has_answers else "not started"
        number = position if is_training else position - study.training_items
        closed = shut.get(session, "") if crossover or has_reread else ""
        locked = locked_at is not None
        read, waits = "", False
        if sequential and arm_id is not None and not is_training:
            if phase == allocation.UNASSISTED_PHASE:
                case, unassisted_locked = case + 1, locked
                read = gettext("Case %(case)s – on your own") % {"case": case}
            else:
                read = gettext("Case %(case)s – with assistance") % {"case": case}
                waits = not unassisted_locked
        lines.append(
            ReviewLine(token, number, is_training, status, session, closed, locked, read, waits)
        )
    return lines


def _sessions_shut(user: AbstractBaseUser, study: Study, *, crossover: bool) -> dict[int, str]:
    """The rater's sessions whose items are closed now, while the study is open (a locked
    study's items are read only), each with why: in a crossover every finished session, else
    every session whose next one has begun (for the items read again in it)."""
    if study.status != Study.Status.OPEN:
        return {}
    counts = rater_session_counts(rater_id=user.pk, study_id=study.pk)
    if crossover:
        finished = gettext("session %(session)s is finished")
        return {c.session: finished % {"session": c.session} for c in counts if c.done == c.total}
    now, washout = timezone.now(), study.washout_days
    later = (c.session for c in counts if c.session > 1)
    begun = (s for s in later if gate_of(counts, s, washout_days=washout).is_open(now))
    return {s - 1: gettext("session %(session)s has begun") % {"session": s} for s in begun}


def rater_study_get(*, user: AbstractBaseUser, token: str) -> Study:
    """The open (or locked: read-only) study with this token that has work for this rater."""
    study = Study.objects.filter(
        token=token,
        status__in=[Study.Status.OPEN, Study.Status.LOCKED],
        assignments__rater=user,
    ).first()
    if study is None:
        raise Http404("No such study.")
    rater_onboarding_check(user=user, study=study)
    return study


def _rater_own(user: AbstractBaseUser, study_token: str, token: str) -> Q:
    """This rater's assignment `token` in the open (or locked) study `study_token`."""
    return Q(
        token=token,
        rater=user,
        study__token=study_token,
        study__status__in=[Study.Status.OPEN, Study.Status.LOCKED],
    )


def rater_assignment_get(*, user: AbstractBaseUser, study_token: str, token: str) -> Assignment:
    """This rater's assignment in an open (or locked, read-only) study, with the study and the
    item's outputs, in one query; 404 for anyone else's or any other study's."""
    try:
        # A set's outputs come when first asked for (Assignment.shown_outputs): no query for
        # the one output of an absolute item or the two of a pair; whether the case has
        # images comes along too.
        images = Attachment.objects.filter(case_id=OuterRef("item__output__case_id"))
        assignment = (
            Assignment.objects.select_related("study", "item__output__case", "item__output_b")
            .annotate(has_images=Exists(images))
            .get(_rater_own(user, study_token, token))
        )
    except Assignment.DoesNotExist:
        raise Http404("No such item.") from None
    # Consent and background come before any item, and withdrawal ends the work.
    rater_onboarding_check(user=user, study=assignment.study)
    return assignment


@dataclass(frozen=True)
class RaterSaveTarget:
    """What the item page's save reads, in one statement that locks the assignment's row: the
    assignment with its study and outputs, the posted question (None if the study has no such
    key) and the first training item still to do (its token). Not the progress bar: a save
    submits nothing, so the bar's counts cannot change (a scan of the rater's assignments,
    tens of thousands in a large study, for every answer)."""

    assignment: Assignment
    question: Question | None
    training_pending: str | None
    gate: SessionGate  # whether the assignment's reading session is open


# A case's columns the save never reads: left in the database, not decoded for every answer.
_CASE_UNREAD = ("input_text", "reference", "metadata", "expected", "feedback")


def rater_save_target(
    *, user: AbstractBaseUser, study_token: str, token: str, question_key: str
) -> RaterSaveTarget:
    """This rater's assignment in an open (or locked) study, locked FOR UPDATE until the
    caller's transaction ends, with all a save needs in the same statement; 404 for anyone
    else's. The question is read here rather than cached: a questions' cache key would need a
    read of its own to be safe, and the join costs nothing.

    The statement is written once per connection (`_save_read`) rather than built by the ORM for
    every answer: building and compiling it was two thirds of a save's time in Python."""
    read = _save_read()
    with connection.cursor() as cursor:
        cursor.execute(read.sql, [question_key, token, user.pk, study_token])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such item.")
    assignment = read.assignment(row)
    rater_onboarding_check(user=user, study=assignment.study)
    if assignment.order:  # a set's outputs, read once for every shown_outputs() of this save
        members = ItemOutput.objects.select_related("output__case")
        prefetch_related_objects([assignment.item], Prefetch("members", queryset=members))
    question = read.question(row, study_id=assignment.study_id)
    pending = row[-1]
    gate = SessionGate(
        session=assignment.session,
        washout_days=assignment.study.washout_days,
        previous_done_at=read.previous_done_at(row),
        done_at=read.done_at(row),
        closes_on_finish=closes_on_finish(assignment.study),
    )
    return RaterSaveTarget(
        assignment=assignment,
        question=question,
        training_pending=pending if _training_comes_first(assignment) else None,
        gate=gate,
    )


@dataclass(frozen=True)
class _Table:
    """One model's columns in the save's statement: which, under what alias, and how each
    value comes out of the database (the converters the ORM would apply)."""

    model: type
    alias: str
    fields: tuple
    converters: tuple

    @classmethod
    def of(cls, model: type, alias: str, leave_out: tuple[str, ...] = ()) -> "_Table":
        fields = tuple(f for f in model._meta.concrete_fields if f.name not in leave_out)
        converters = []
        for field in fields:
            col = field.get_col(alias)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            converters.append((col, tuple(found)))
        return cls(model, alias, fields, tuple(converters))

    def select(self) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(f.column)}" for f in self.fields)

    def values(self, row: tuple, start: int) -> list:
        values = list(row[start : start + len(self.fields)])
        for i, (col, converters) in enumerate(self.converters):
            for convert in converters:
                values[i] = convert(values[i], col, connection)
        return values

    def instance(self, row: tuple, start: int):
        if row[start] is None:  # an outer join that found nothing (no second output)
            return None
        names = [f.attname for f in self.fields]
        return self.model.from_db(connection.alias, names, self.values(row, start))


@dataclass(frozen=True)
class _SaveRead:
    sql: str
    tables: tuple[_Table, ...]  # assignment, study, item, output, case, output_b, question

    def _starts(self) -> list[int]:
        starts, at = [], 0
        for table in self.tables:
            starts.append(at)
            at += len(table.fields)
        return starts

    def assignment(self, row: tuple) -> Assignment:
        a, study, item, output, case, output_b = (
            table.instance(row, start)
            for table, start in zip(self.tables[:6], self._starts()[:6], strict=True)
        )
        Output.case.field.set_cached_value(output, case)
        Item.output.field.set_cached_value(item, output)
        Item.output_b.field.set_cached_value(item, output_b)
        Assignment.item.field.set_cached_value(a, item)
        Assignment.study.field.set_cached_value(a, study)
        return a

    def previous_done_at(self, row: tuple):
        """The rater's last submit in the session before this assignment's, once all of it is
        submitted (the column before the last)."""
        return self._submit_time(row[-2])

    def done_at(self, row: tuple):
        """For a submitted item that can close (a crossover read, or an item read again in the
        next session): the rater's last submit in its session, once all of it is submitted (two
        columns before the last)."""
        return self._submit_time(row[-3])

    def _submit_time(self, value):
        """A submit time the statement computed, converted as the submitted_at column is."""
        table = self.tables[0]
        (index,) = (i for i, f in enumerate(table.fields) if f.name == "submitted_at")
        col, converters = table.converters[index]
        for convert in converters:
            value = convert(value, col, connection)
        return value

    def question(self, row: tuple, *, study_id: int) -> Question | None:
        table, start = self.tables[6], self._starts()[6]
        if row[start] is None:  # the study has no question with the posted key
            return None
        fields = dict(zip((f.attname for f in table.fields), table.values(row, start), strict=True))
        fields.pop("study_id")
        return Question(study_id=study_id, **fields)


# Per database connection (one per thread): the converters are its own.
_SAVE_READS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _save_read() -> _SaveRead:
    wrapper = connections[DEFAULT_DB_ALIAS]  # this thread's own, not the proxy
    if (read := _SAVE_READS.get(wrapper)) is None:
        read = _SAVE_READS[wrapper] = _save_read_made()
    return read


def _save_read_made() -> _SaveRead:
    """The save's one statement for this database, and how to read its row."""
    tables = (
        _Table.of(Assignment, "a"),
        _Table.of(Study, "s", leave_out=("instructions",)),
        _Table.of(Item, "i"),
        _Table.of(Output, "o", leave_out=("sample", "metrics")),
        _Table.of(Case, "c", leave_out=_CASE_UNREAD),
        _Table.of(Output, "ob", leave_out=("text", "sample", "metrics")),
        _Table.of(Question, "q"),
    )
    models = (Assignment, Study, Item, Output, Case, Question)
    name = {model: connection.ops.quote_name(model._meta.db_table) for model in models}
    pending = (
        f"SELECT t.token FROM {name[Assignment]} t WHERE t.study_id = a.study_id"
        f" AND t.rater_id = a.rater_id AND t.kind = '{Assignment.Kind.TRAINING.value}'"
        " AND t.submitted_at IS NULL ORDER BY t.position LIMIT 1"
    )
    # A later session's gate (core.sessions): the last submit in the session before, if all
    # of it is submitted. Read only for a later session: a first session's save scans nothing.
    previous = (
        f"CASE WHEN a.session > 1 THEN (SELECT CASE WHEN COUNT(*) = COUNT(p.submitted_at)"
        f" THEN MAX(p.submitted_at) END FROM {name[Assignment]} p"
        " WHERE p.study_id = a.study_id AND p.rater_id = a.rater_id"
        " AND p.session = a.session - 1) END"
    )
    # A submitted item closes (rater_session_gate's rule): in a crossover once its session is
    # finished, otherwise if it is read again in the next session, once that session opens.
    # Either way from the rater's last submit in this session, if all of it is submitted. An
    # unsubmitted item cannot be closed, so the first answers scan nothing.
    retest = Assignment.Kind.RETEST.value
    crossover = Study.ReadingLayout.CROSSOVER.value
    done = (
        f"CASE WHEN a.submitted_at IS NOT NULL AND (s.reading_layout = '{crossover}' OR EXISTS"
        f" (SELECT 1 FROM {name[Assignment]} r"
        f" WHERE r.repeat_of_id = a.id AND r.kind = '{retest}')) THEN (SELECT CASE WHEN"
        f" COUNT(*) = COUNT(d.submitted_at) THEN MAX(d.submitted_at) END FROM {name[Assignment]} d"
        " WHERE d.study_id = a.study_id AND d.rater_id = a.rater_id AND d.session = a.session) END"
    )
    statuses = ", ".join(f"'{s.value}'" for s in (Study.Status.OPEN, Study.Status.LOCKED))
    sql = (
        f"SELECT {', '.join(t.select() for t in tables)}, ({done}), ({previous}), ({pending})"
        f" FROM {name[Assignment]} a"
        f" JOIN {name[Study]} s ON s.id = a.study_id"
        f" JOIN {name[Item]} i ON i.id = a.item_id"
        f" JOIN {name[Output]} o ON o.id = i.output_id"
        f" JOIN {name[Case]} c ON c.id = o.case_id"
        f" LEFT JOIN {name[Output]} ob ON ob.id = i.output_b_id"
        f" LEFT JOIN {name[Question]} q ON q.study_id = a.study_id AND q.key = %s"
        f" WHERE a.token = %s AND a.rater_id = %s AND s.token = %s AND s.status IN ({statuses})"
    )
    if connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF a"
    return _SaveRead(sql=sql, tables=tables)


def _training_comes_first(assignment: Assignment) -> bool:
    """Whether this item waits for the rater's training (rater_training_pending's rule)."""
    study = assignment.study
    return (
        assignment.kind != Assignment.Kind.TRAINING
        and bool(study.training_items)
        and study.status == Study.Status.OPEN
    )


def assignment_next_for_rater(*, rater: AbstractBaseUser, study: Study) -> Assignment | None:
    """Where the rater resumes: the first unfinished item in their order, an earlier session's
    first (the design puts later sessions last; this holds however positions were changed)."""
    found = (
        Assignment.objects.filter(study=study, rater=rater, submitted_at__isnull=True)
        .order_by("session", "position")
        .first()
    )
    if found is not None:
        found.study = study  # its session gate reads the washout: no second read of the study
    return found


def rater_next_position(*, assignment: Assignment) -> Assignment | None:
    """The rater's next item in their order after this one."""
    return (
        Assignment.objects.filter(
            study_id=assignment.study_id,
            rater_id=assignment.rater_id,
            position__gt=assignment.position,
        )
        .order_by("position")
        .first()
    )


@dataclass(frozen=True)
class RaterProgressCount:
    done: int
    total: int


def rater_progress(*, assignment: Assignment) -> RaterProgressCount:
    """How many of this rater's items in the study are submitted: one query."""
    counts = (
        Assignment.objects.filter(study_id=assignment.study_id, rater_id=assignment.rater_id)
        .exclude(kind=Assignment.Kind.TRAINING)
        .aggregate(total=Count("pk"), done=Count("pk", filter=Q(submitted_at__isnull=False)))
    )
    return RaterProgressCount(done=counts["done"], total=counts["total"])


def rater_training_pending(*, assignment: Assignment) -> Assignment | None:
    """The rater's first training item not yet submitted, if this is a study item of an open
    study with training; None otherwise."""
    if not _training_comes_first(assignment):
        return None  # locked: everything is read-only, and readable
    return (
        Assignment.objects.filter(
            study_id=assignment.study_id,
            rater_id=assignment.rater_id,
            kind=Assignment.Kind.TRAINING,
            submitted_at__isnull=True,
        )
        .order_by("position")
        .first()
    )


@dataclass(frozen=True)
class FeedbackLine:
    prompt: str
    given: str
    expected: str
    correct: bool


@dataclass(frozen=True)
class TrainingFeedback:
    study_token: str
    token: str
    number: int
    training: int
    feedback: str
    lines: list[FeedbackLine]
    next_token: str | None


def rater_training_feedback(*, assignment: Assignment) -> TrainingFeedback:
    """What a rater reads after a training item: each checked answer beside the expected one,
    and the case's feedback."""
    case = assignment.item.output.case
    study = assignment.study
    ratings = {
        r.question_id: r
        for r in Rating.objects.filter(assignment=assignment, output__isnull=True).select_related(
            "question"
        )
    }
    lines = []
    for question in study.questions.filter(key__in=list(case.expected)):
        rating = ratings.get(question.pk)
        expected = case.expected[question.key]
        given = rating.answer if rating else None
        value = rating.value if rating else None
        # Expected pairwise answers are canonical: shown with this rater's own sides.
        flip = question.kind == Question.Kind.PAIRWISE and assignment.flipped
        shown = [-e if flip else e for e in expected]
        lines.append(
            FeedbackLine(
                prompt=question.prompt,
                given=_label_of(question, given) if rating else gettext("no answer"),
                expected=_either(_label_of(question, e) for e in shown),
                correct=rating is not None
                and rubric.matches_expected(question.spec, given, value, expected),
            )
        )
    following = rater_next_position(assignment=assignment)
    return TrainingFeedback(
        study_token=study.token,
        token=assignment.token,
        number=assignment.position,
        training=study.training_items,
        feedback=case.feedback,
        lines=lines,
        next_token=following.token if following else None,
    )


def _either(labels) -> str:
    """Expected answers as one line: "a or b or c", in the rater's language."""
    return gettext(" or ").join(labels)


def _label_of(question: Question, answer) -> str:
    """An answer as the rater reads it on the screen."""
    if isinstance(answer, dict) and "text" in answer:
        return answer["text"]  # a correction: the corrected text
    labels = {str(p["value"]): p["label"] for p in question.spec.points}
    label = labels.get(str(answer))
    if label is not None and question.kind == Question.Kind.YES_NO:
        label = gettext(label)  # built in, unlike a study's own labels
    if label is None:
        if answer == rubric.NONE and question.kind in rubric.NONE_KINDS:
            return gettext(rubric.NONE_LABELS[question.kind])
        return gettext("not applicable") if answer == rubric.NA else str(answer)
    return f"{answer} ({label})" if question.kind == Question.Kind.LIKERT else label
