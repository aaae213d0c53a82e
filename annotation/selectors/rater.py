"""Reads of reader-study data. Rater-facing reads return view objects that hold no Source."""

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils.crypto import salted_hmac

from annotation.core import pace, rubric
from annotation.models import (
    Assignment,
    Attachment,
    Case,
    Generation,
    Item,
    ItemOutput,
    Judge,
    JudgeRating,
    JudgeVerdict,
    Membership,
    Output,
    Question,
    Rating,
    RatingRevision,
    Result,
    Source,
    Study,
    TaskRun,
)


@dataclass(frozen=True)
class RaterStudy:
    token: str
    title: str
    done: int
    total: int
    locked: bool = False  # read-only: answers can be read, no longer changed


@dataclass(frozen=True)
class ScalePoint:
    value: int | str
    label: str


@dataclass(frozen=True)
class RaterQuestion:
    key: str
    prompt: str
    help_text: str
    kind: str
    options: list[ScalePoint]  # scale points or choices; yes / no for yes_no
    allow_na: bool
    required: bool
    minimum: float | None
    maximum: float | None
    answer: object  # the rater's own answer, canonical, or None
    marked: list[dict] = field(default_factory=list)  # span marking: spans with their quotes
    about: str = ""  # side by side: the letter of the response a per-output question is about
    ranked: list[tuple[str, int | None]] = field(default_factory=list)  # ranking: (letter, rank)

    @property
    def form_id(self) -> str:
        """The question's element id on the page, unique per response it is about."""
        return f"{self.key}-{self.about}" if self.about else self.key

    @property
    def selected(self) -> list:
        """The chosen option values, for checking radios and boxes."""
        if self.answer is None:
            return []
        return self.answer if isinstance(self.answer, list) else [self.answer]

    @property
    def is_answered(self) -> bool:
        return not rubric.is_empty(self.answer)

    @property
    def none_label(self) -> str:
        """The "none" answer a span or criteria question offers, or "" where there is none."""
        return rubric.NONE_LABELS.get(self.kind, "")

    @property
    def is_none(self) -> bool:
        return bool(self.none_label) and self.answer == rubric.NONE

    @property
    def answer_json(self) -> str:
        return json.dumps(self.answer if isinstance(self.answer, list) else [])

    @property
    def severities(self) -> tuple:
        return rubric.SEVERITIES


@dataclass(frozen=True)
class RaterItem:
    """Everything the rater screen shows for one assignment, and nothing that names a source."""

    study_token: str
    study_title: str
    instructions: str
    token: str
    position: int
    total: int
    done: int
    number: int  # this item's place among the study's items, or among the training items
    training: int  # how many training items come first (0: none); see `is_training`
    is_training: bool
    case_input: str
    reference: str  # empty unless the study shows references to raters
    output_text: str  # the output, or for a pair or set the one shown as "A"
    output_b_text: str | None  # for a pair, the one shown as "B"; None for one output
    questions: list[RaterQuestion]  # about the whole item
    submitted: bool
    locked: bool
    previous_token: str | None
    next_token: str | None
    # Side by side and ranking: every output as shown, with the questions about each one.
    outputs: list["ShownOutput"] = field(default_factory=list)
    images: list["ShownImage"] = field(default_factory=list)  # the case's, in order

    @property
    def all_questions(self) -> list[RaterQuestion]:
        return self.questions + [q for shown in self.outputs for q in shown.questions]

    @property
    def offers_na(self) -> bool:
        """Whether any question here has "not applicable", for the keys' hint."""
        return any(q.allow_na for q in self.all_questions)

    @property
    def offers_none(self) -> bool:
        """Whether any question here has "no errors found" / "no criterion met"."""
        return any(q.none_label for q in self.all_questions)

    @property
    def is_first(self) -> bool:
        """The rater's first item in their order: the instructions start open there."""
        return self.previous_token is None


@dataclass(frozen=True)
class ShownImage:
    token: str
    number: int
    width: int
    height: int


@dataclass(frozen=True)
class ShownOutput:
    letter: str
    text: str
    questions: list[RaterQuestion]


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
        )
        .order_by("title")
    )


def rater_studies(*, user: AbstractBaseUser) -> list[RaterStudy]:
    return [
        RaterStudy(s.token, s.title, s.done, s.total, locked=s.status == Study.Status.LOCKED)
        for s in _rater_studies_qs(user)
    ]


def rater_study_summary(*, user: AbstractBaseUser, study: Study) -> RaterStudy:
    s = _rater_studies_qs(user).get(pk=study.pk)
    return RaterStudy(s.token, s.title, s.done, s.total, locked=s.status == Study.Status.LOCKED)


@dataclass(frozen=True)
class ReviewLine:
    """One of the rater's items in their review list: no more than the item page shows."""

    token: str
    number: int  # as the item page numbers it: among the study's items, or the training ones
    is_training: bool
    status: str  # "submitted", "started" (an answer saved) or "not started"


def rater_review_lines(*, user: AbstractBaseUser, study: Study) -> list[ReviewLine]:
    """Every item of this rater's in their order, with how far they got: one query."""
    answered = Rating.objects.filter(assignment=OuterRef("pk"))
    rows = (
        Assignment.objects.filter(study=study, rater=user)
        .annotate(answered=Exists(answered))
        .order_by("position")
        .values_list("token", "position", "kind", "submitted_at", "answered")
    )
    lines = []
    for token, position, kind, submitted_at, has_answers in rows:
        is_training = kind == Assignment.Kind.TRAINING
        status = "submitted" if submitted_at else "started" if has_answers else "not started"
        number = position if is_training else position - study.training_items
        lines.append(ReviewLine(token, number, is_training, status))
    return lines


def rater_study_get(*, user: AbstractBaseUser, token: str) -> Study:
    """The open (or locked: read-only) study with this token that has work for this rater."""
    study = Study.objects.filter(
        token=token,
        status__in=[Study.Status.OPEN, Study.Status.LOCKED],
        assignments__rater=user,
    ).first()
    if study is None:
        raise Http404("No such study.")
    return study


def rater_assignment_get(*, user: AbstractBaseUser, study_token: str, token: str) -> Assignment:
    """This rater's assignment in an open (or locked, read-only) study, with the study and the
    item's outputs, in one query; 404 for anyone else's or any other study's."""
    try:
        # A set's outputs come when first asked for (Assignment.shown_outputs): no query for
        # the one output of an absolute item or the two of a pair; whether the case has
        # images comes along too.
        images = Attachment.objects.filter(case_id=OuterRef("item__output__case_id"))
        return (
            Assignment.objects.select_related("study", "item__output__case", "item__output_b")
            .annotate(has_images=Exists(images))
            .get(
                token=token,
                rater=user,
                study__token=study_token,
                study__status__in=[Study.Status.OPEN, Study.Status.LOCKED],
            )
        )
    except Assignment.DoesNotExist:
        raise Http404("No such item.") from None


def assignment_next_for_rater(*, rater: AbstractBaseUser, study: Study) -> Assignment | None:
    """Where the rater resumes: the first unfinished item in their order."""
    return (
        Assignment.objects.filter(study=study, rater=rater, submitted_at__isnull=True)
        .order_by("position")
        .first()
    )


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
    study = assignment.study
    if assignment.kind == Assignment.Kind.TRAINING or not study.training_items:
        return None
    if study.status != Study.Status.OPEN:
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
                given=_label_of(question, given) if rating else "no answer",
                expected=" or ".join(_label_of(question, e) for e in shown),
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


def _label_of(question: Question, answer) -> str:
    """An answer as the rater reads it on the screen."""
    labels = {str(p["value"]): p["label"] for p in question.spec.points}
    label = labels.get(str(answer))
    if label is None:
        if answer == rubric.NONE and question.kind in rubric.NONE_KINDS:
            return rubric.NONE_LABELS[question.kind].lower()
        return "not applicable" if answer == rubric.NA else str(answer)
    return f"{answer} ({label})" if question.kind == Question.Kind.LIKERT else label


def rater_image_get(*, assignment: Assignment, token: str) -> Attachment:
    """An image of the case this assignment's item is about, or 404."""
    image = (
        Attachment.objects.filter(token=token, case_id=assignment.item.output.case_id)
        .only("data", "content_type", "position")
        .first()
    )
    if image is None:
        raise Http404("No such image.")
    return image


def _case_images(case_id: int) -> list[ShownImage]:
    rows = Attachment.objects.filter(case_id=case_id).values_list(
        "token", "position", "width", "height"
    )
    return [ShownImage(*row) for row in rows.order_by("position")]


def rater_question_view(
    *, assignment: Assignment, question: Question, answer: object, shown: int | None
) -> RaterQuestion:
    """One question as the rater sees it, about the response at place `shown` or the item."""
    outputs = assignment.shown_outputs()
    output = outputs[shown] if shown is not None else assignment.item.output
    return _rater_question(question, answer, output, len(outputs), shown)


def rater_item_view(*, assignment: Assignment) -> RaterItem:
    study = assignment.study
    # Progress (training apart) and the neighbours' tokens in one aggregate.
    position, not_training = assignment.position, ~Q(kind=Assignment.Kind.TRAINING)
    own = Assignment.objects.filter(study_id=study.pk, rater_id=assignment.rater_id).aggregate(
        total=Count("pk", filter=not_training),
        done=Count("pk", filter=not_training & Q(submitted_at__isnull=False)),
        previous_token=Max("token", filter=Q(position=position - 1)),
        next_token=Max("token", filter=Q(position=position + 1)),
    )
    answers = {
        (question_id, output_id): answer
        for question_id, output_id, answer in Rating.objects.filter(
            assignment=assignment
        ).values_list("question_id", "output_id", "answer")
    }
    output = assignment.item.output
    outputs = assignment.shown_outputs()
    n = len(outputs)
    is_training = assignment.kind == Assignment.Kind.TRAINING
    questions = list(study.questions.all())
    whole = [q for q in questions if not study.asks_per_output(q)]
    per_output = [q for q in questions if study.asks_per_output(q)]
    sets = []
    if study.shows_sets:
        sets = [
            ShownOutput(
                letter=rubric.shown_letter(place),
                text=o.text,
                questions=[
                    _rater_question(q, answers.get((q.pk, o.pk)), o, n, place) for q in per_output
                ],
            )
            for place, o in enumerate(outputs)
        ]
    return RaterItem(
        study_token=study.token,
        study_title=study.title,
        instructions=study.instructions,
        token=assignment.token,
        position=assignment.position,
        total=own["total"],
        done=own["done"],
        number=assignment.position - (0 if is_training else study.training_items),
        training=study.training_items,
        is_training=is_training,
        case_input=output.case.input_text,
        reference=output.case.reference if study.show_reference else "",
        output_text=outputs[0].text,
        output_b_text=outputs[1].text if n == 2 and not study.shows_sets else None,
        questions=[_rater_question(q, answers.get((q.pk, None)), output, n) for q in whole],
        outputs=sets,
        images=_case_images(output.case_id) if getattr(assignment, "has_images", True) else [],
        submitted=assignment.submitted_at is not None,
        locked=study.status != Study.Status.OPEN,
        previous_token=own["previous_token"],
        next_token=own["next_token"],
    )


def _rater_question(
    question: Question, answer: object, output: Output, n_outputs: int, shown: int | None = None
) -> RaterQuestion:
    spec = question.spec
    points = [ScalePoint(p["value"], p["label"]) for p in spec.points]
    if question.kind == Question.Kind.CRITERIA:
        criteria = output.case.criteria
        points = [ScalePoint(c["id"], f"{c['text']} ({c['points']:+d})") for c in criteria]
    marked = []
    if question.kind == Question.Kind.SPAN and isinstance(answer, list):
        labels = {p.value: p.label for p in points}
        marked = [
            {**s, "quote": output.text[s["start"] : s["end"]], "label": labels.get(s["category"])}
            for s in answer
        ]
    if question.kind == Question.Kind.PAIRWISE:
        points.reverse()  # "A better" on the left, under A
    ranked = []
    if question.kind == Question.Kind.RANKING:
        points = [ScalePoint(rank, _ordinal(rank)) for rank in range(1, n_outputs + 1)]
        ranks = answer if isinstance(answer, list) and len(answer) == n_outputs else []
        ranked = [
            (rubric.shown_letter(place), ranks[place] if ranks else None)
            for place in range(n_outputs)
        ]
    return RaterQuestion(
        key=question.key,
        prompt=question.prompt,
        help_text=question.help_text,
        kind=question.kind,
        options=points,
        allow_na=question.allow_na,
        required=question.required,
        minimum=question.minimum,
        maximum=question.maximum,
        answer=answer,
        marked=marked,
        about=rubric.shown_letter(shown) if shown is not None else "",
        ranked=ranked,
    )


def _ordinal(rank: int) -> str:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(rank if rank < 20 else rank % 10, "th")
    return f"{rank}{suffix}"


def rater_question_get(*, study: Study, key: str) -> Question:
    question = study.questions.filter(key=key).first()
    if question is None:
        raise Http404("No such question.")
    return question


@dataclass(frozen=True)
class RaterAnswer:
    """One stored answer as this rater's page posts it, for a tab to compare with its own."""

    form_id: str  # the question's form on the page: its key, and the letter it is about
    fields: dict[str, list[str]]  # form field name -> the values the form would post
    revision: str  # changes whenever the answer changes; opaque to the page


def rating_revision(rating: Rating) -> str:
    """What a page holds to tell whether an answer changed since it last saw it."""
    return rating.updated_at.isoformat()


def rater_answers(*, assignment: Assignment) -> dict[str, RaterAnswer]:
    """The rater's own answers to one item, by form, in the shape the page's forms post: no
    source, no output id, nothing another rater gave."""
    study = assignment.study
    places = {output.pk: place for place, output in enumerate(assignment.shown_outputs())}
    answers = {}
    ratings = Rating.objects.filter(assignment=assignment).select_related("question")
    for rating in ratings:
        question = rating.question
        shown = places.get(rating.output_id) if study.asks_per_output(question) else None
        about = rubric.shown_letter(shown) if shown is not None else ""
        form_id = f"{question.key}-{about}" if about else question.key
        answers[form_id] = RaterAnswer(
            form_id=form_id,
            fields=_posted_fields(question, rating.answer),
            revision=rating_revision(rating),
        )
    return answers


def rater_answers_changed_since(*, assignment: Assignment, seen: object) -> bool:
    """Whether the answers stored now differ from those a submitting page said it showed
    (`seen`: form id -> revision). A page without script sends none and is not checked."""
    if not isinstance(seen, dict):
        return False
    current = rater_answers(assignment=assignment)
    forms = set(seen) | set(current)
    return any(
        seen.get(form) != (current[form].revision if form in current else None) for form in forms
    )


# Salts the per-user value that names a rater's answers kept in the browser.
_BROWSER_SCOPE_SALT = "annotation.rater-browser-scope"


def rater_browser_scope(*, user: AbstractBaseUser) -> str:
    """The opaque name under which the browser keeps this user's unsaved answers, so that
    another user of the same browser never sees, replays or is pointed to them. Keyed by
    SECRET_KEY: neither the sequential id nor the user name, and not guessable from either."""
    return _browser_scope(user=user, secret=settings.SECRET_KEY)


def rater_browser_scopes_retired(*, user: AbstractBaseUser) -> list[str]:
    """The same name under the retired secrets (`SECRET_KEY_FALLBACKS`): answers kept before
    the secret was rotated are still this user's, and the page takes them over."""
    return [
        _browser_scope(user=user, secret=secret)
        for secret in getattr(settings, "SECRET_KEY_FALLBACKS", [])
    ]


def _browser_scope(*, user: AbstractBaseUser, secret: str) -> str:
    digest = salted_hmac(_BROWSER_SCOPE_SALT, str(user.pk), secret=secret, algorithm="sha256")
    return digest.hexdigest()[:24]


def _posted_fields(question: Question, answer: object) -> dict[str, list[str]]:
    if rubric.is_empty(answer):
        return {}
    if question.kind == Question.Kind.RANKING and isinstance(answer, list):
        return {f"rank-{rubric.shown_letter(i)}": [str(rank)] for i, rank in enumerate(answer)}
    if question.kind == Question.Kind.SPAN and isinstance(answer, list):
        return {"answer": [json.dumps(answer)]}
    if isinstance(answer, list):
        return {"answer": [str(value) for value in answer]}
    return {"answer": [str(answer)]}


# --- study admin reads -------------------------------------------------------------------------


def member_studies(*, user: AbstractBaseUser) -> list[tuple[Study, str]]:
    """The studies a user may know of, with their role: all they administer, and those they
    rate once open (a draft's title and design are the admins' business)."""
    memberships = (
        Membership.objects.filter(user=user)
        .filter(Q(role=Membership.Role.ADMIN) | Q(study__status=Study.Status.OPEN))
        .select_related("study")
        .order_by("study__title")
    )
    return [(m.study, m.role) for m in memberships]


def study_for_member(*, user: AbstractBaseUser, token: str) -> tuple[Study, str]:
    """A study and the user's role in it; 404 for anyone else, so existence is not disclosed."""
    membership = (
        Membership.objects.filter(user=user, study__token=token).select_related("study").first()
    )
    if membership is None:
        raise Http404("No such study.")
    return membership.study, membership.role


def admin_studies(*, user: AbstractBaseUser) -> QuerySet[Study]:
    return Study.objects.filter(
        memberships__user=user, memberships__role=Membership.Role.ADMIN
    ).distinct()


def admin_study_get(*, user: AbstractBaseUser, token: str) -> Study:
    study = admin_studies(user=user).filter(token=token).first()
    if study is None:
        raise Http404("No such study.")
    return study


@dataclass(frozen=True)
class RaterProgress:
    pseudonym: str
    username: str
    done: int  # the study's items (and hidden checks and repeats, which look the same)
    total: int
    training_done: int = 0
    training_total: int = 0
    training_correct: int = 0  # submitted training items answered as expected
    training_scored: int = 0  # submitted training items that have expected answers
    checks_passed: int = 0  # submitted attention checks answered as expected
    checks_done: int = 0
    checks_total: int = 0
    repeats_done: int = 0
    repeats_total: int = 0


def study_progress_by_rater(*, study: Study) -> list[RaterProgress]:
    """Each rater's progress, with their quality control: training done and answered as
    expected, attention checks passed, hidden repeats done."""
    memberships = study.memberships.filter(role=Membership.Role.RATER).select_related("user")
    counts: dict[tuple[int, str], dict] = {
        (row["rater_id"], row["kind"]): row
        for row in study.assignments.values("rater_id", "kind").annotate(
            total=Count("pk"), done=Count("pk", filter=Q(submitted_at__isnull=False))
        )
    }
    checks = _as_expected(study, Assignment.Kind.ATTENTION)
    training = _as_expected(study, Assignment.Kind.TRAINING)

    def count(user_id: int, kinds: list[str], what: str) -> int:
        return sum(counts.get((user_id, kind), {}).get(what, 0) for kind in kinds)

    hidden = [Assignment.Kind.STUDY, Assignment.Kind.ATTENTION, Assignment.Kind.REPEAT]
    return [
        RaterProgress(
            m.pseudonym,
            m.user.get_username(),
            done=count(m.user_id, hidden, "done"),
            total=count(m.user_id, hidden, "total"),
            training_done=count(m.user_id, [Assignment.Kind.TRAINING], "done"),
            training_total=count(m.user_id, [Assignment.Kind.TRAINING], "total"),
            training_correct=training.get(m.user_id, (0, 0))[0],
            training_scored=training.get(m.user_id, (0, 0))[1],
            checks_passed=checks.get(m.user_id, (0, 0))[0],
            checks_done=count(m.user_id, [Assignment.Kind.ATTENTION], "done"),
            checks_total=count(m.user_id, [Assignment.Kind.ATTENTION], "total"),
            repeats_done=count(m.user_id, [Assignment.Kind.REPEAT], "done"),
            repeats_total=count(m.user_id, [Assignment.Kind.REPEAT], "total"),
        )
        for m in sorted(memberships, key=lambda m: pseudonym_order(m.pseudonym))
    ]


def pseudonym_order(pseudonym: str) -> tuple:
    """R2 before R10, and imported names (reader2, reader10) in the same natural order."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", pseudonym))


def _as_expected(study: Study, kind: str) -> dict[int, tuple[int, int]]:
    """Per rater, of their submitted items of this kind (training, attention checks) whose case
    has expected answers: (how many have every expected answer, how many there are)."""
    submitted = study.assignments.filter(kind=kind, submitted_at__isnull=False).select_related(
        "item__output__case"
    )
    scored = [a for a in submitted if a.item.output.case.expected]
    if not scored:
        return {}
    questions = {q.key: q for q in study.questions.all()}
    ratings = Rating.objects.filter(assignment__in=submitted, output__isnull=True)
    answers = {(r.assignment_id, r.question_id): (r.answer, r.value) for r in ratings}

    def met(assignment: Assignment, key: str, accepted: list) -> bool:
        question = questions.get(key)
        given = answers.get((assignment.pk, question.pk)) if question else None
        return given is not None and rubric.matches_expected(question.spec, *given, accepted)

    counts: dict[int, tuple[int, int]] = {}
    for assignment in scored:
        expected = assignment.item.output.case.expected
        ok = all(met(assignment, key, accepted) for key, accepted in expected.items())
        right, total = counts.get(assignment.rater_id, (0, 0))
        counts[assignment.rater_id] = (right + ok, total + 1)
    return counts


def study_rater_candidates(*, study: Study, admin: AbstractBaseUser) -> QuerySet:
    """Who `admin` may add to the study directly: active people already in a study they
    administer (raters or admins), not yet in this one (its admins cannot also rate it). Anyone
    else is invited by e-mail, so the list never shows who else has an account here."""
    known = Membership.objects.filter(study__in=admin_studies(user=admin)).values("user_id")
    return (
        get_user_model()
        .objects.filter(is_active=True, pk__in=known)
        .exclude(pk__in=study.memberships.values("user_id"))
        .order_by("username")
    )


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


def study_agreement_tables(*, study: Study) -> list[AgreementTable]:
    from annotation.services.statistics import COEFFICIENTS  # services import selectors

    results = list(study.results.select_related("question").order_by("question__order"))
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
    return tables


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


def study_comparison_tables(*, study: Study) -> list[ComparisonTable]:
    # Services import selectors: import these here.
    from annotation.services.statistics import COMPARISONS
    from annotation.services.statistics.comparisons import TEST_NAMES

    results = list(
        study.results.filter(Q(statistic__in=COMPARISONS) | Q(statistic__startswith="correlation:"))
        .filter(judge="")
        .select_related("question")
        .order_by("question__order", "source")
    )
    tables = []
    for question in dict.fromkeys(r.question for r in results):
        mine = [r for r in results if r.question == question]
        tests: dict[str, dict[str, Result]] = {}
        for r in mine:
            if r.statistic in TEST_NAMES:
                tests.setdefault(r.source, {})[r.statistic] = r
        kinds = [key for key in TEST_NAMES if any(key in found for found in tests.values())]
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
                        for t in tests.values()
                        for r in t.values()
                        if "adjustment" in r.detail
                    }
                ),
            )
        )
    return tables


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


def study_task_runs(*, study: Study, limit: int = 5) -> list[TaskRun]:
    return list(study.task_runs.select_related("source", "judge")[:limit])


RATINGS_COLUMNS = [
    "item_token",
    "rater",
    "question",
    "answer",
    "value",
    "flipped",
    "shown_order",
    "output_slot",
    "kind",
    "first_saved_at",
    "last_saved_at",
    "revisions",
    "submitted",
]


def study_ratings_long(*, study: Study) -> list[dict]:
    """Every rating, one row each, in the long format agreement statistics start from."""
    return list(study_ratings_iter(study=study))


def study_ratings_query(*, study: Study) -> QuerySet[Rating]:
    """The study's ratings in the long format's order (item, question, rater)."""
    return Rating.objects.filter(assignment__study=study).order_by(*RATINGS_ORDER)


RATINGS_ORDER = ("assignment__item__token", "question__order", "assignment__rater_id", "pk")
EXPORT_CHUNK = 2000  # model objects an export holds at once


def study_ratings_iter(
    *, study: Study, ratings: QuerySet[Rating] | None = None, chunk_size: int = 5000
) -> Iterator[dict]:
    """`study_ratings_long` a row at a time, for exports of any size in constant memory: plain
    values read in chunks, no model objects. `ratings` narrows it (a filter, or one page)."""
    if ratings is None:
        ratings = Rating.objects.filter(assignment__study=study)
    pseudonyms = _rater_pseudonyms(study)
    slots = {
        (item, output): slot
        for item, output, slot in ItemOutput.objects.filter(item__study=study).values_list(
            "item_id", "output_id", "slot"
        )
    }
    # A count per row through the revisions' index: a join with GROUP BY over every column
    # (JSON ones included) made PostgreSQL sort the whole export, 70x the plain read.
    revisions = (
        RatingRevision.objects.filter(rating=OuterRef("pk"))
        .order_by()
        .values("rating")
        .annotate(n=Count("pk"))
        .values("n")
    )
    ratings = (
        ratings.annotate(revision_count=Coalesce(Subquery(revisions), 0))
        .order_by(*RATINGS_ORDER)
        .values_list(
            "assignment__item__token",
            "assignment__item_id",
            "assignment__rater_id",
            "question__key",
            "answer",
            "value",
            "assignment__flipped",
            "assignment__order",
            "output_id",
            "assignment__kind",
            "created_at",
            "updated_at",
            "revision_count",
            "assignment__submitted_at",
        )
    )
    for row in ratings.iterator(chunk_size=chunk_size):
        token, item, rater, key, answer, value, flipped, order, output, kind, *rest = row
        created, updated, revisions, submitted_at = rest
        yield {
            "item_token": token,
            "rater": pseudonyms.get(rater, ""),
            "question": key,
            "answer": _answer_text(answer),
            "value": value,
            "flipped": flipped,
            "shown_order": " ".join(map(str, order)),
            # Where the output a per-output answer is about sits in the item's canonical order.
            "output_slot": "" if output is None else slots[(item, output)],
            "kind": kind,
            "first_saved_at": created.isoformat(),
            "last_saved_at": updated.isoformat(),
            "revisions": revisions,
            "submitted": submitted_at is not None,
        }


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
    pseudonyms = _rater_pseudonyms(study)
    for revision in revisions:
        rating = revision.rating
        yield {
            "item_token": rating.assignment.item.token,
            "rater": pseudonyms.get(rating.assignment.rater_id, ""),
            "question": rating.question.key,
            "output_slot": _slot_of(rating),
            "saved_at": revision.saved_at.isoformat(),
            "old_answer": _answer_text("" if revision.old_answer is None else revision.old_answer),
            "new_answer": _answer_text(revision.answer),
        }


def study_rating_history(*, study: Study) -> Iterator[dict]:
    """The whole history, read in chunks."""
    revisions = study_rating_history_query(study=study).iterator(chunk_size=EXPORT_CHUNK)
    return rating_history_rows(study, revisions)


def _rater_pseudonyms(study: Study) -> dict[int, str]:
    raters = study.memberships.filter(role=Membership.Role.RATER)
    return dict(raters.values_list("user_id", "pseudonym"))


def _answer_text(answer: object) -> object:
    # Lists (multiple choice) as JSON, so a CSV cell holds them unambiguously.
    return json.dumps(answer) if isinstance(answer, list) else answer


UNBLINDING_COLUMNS = ["item_token", "case_id", "source", "source_kind", "source_b", "sources"]


def study_unblinding_key_query(*, study: Study) -> QuerySet[Item]:
    return (
        study.items.select_related("output__case", "output__source", "output_b__source")
        .prefetch_related("members__output__source")
        .order_by("token")
    )


def unblinding_key_rows(items: Iterable[Item]) -> Iterator[dict]:
    """Which source wrote each item. For a pair, `source` and `source_b` in canonical order
    (a positive pairwise value favours `source`); which side each rater saw is in the ratings
    export's `flipped` column. `sources` lists every source the item shows in canonical order,
    so slot i of a set (the ratings export's `shown_order` and `output_slot`) is `sources[i]`."""
    for item in items:
        labels = [o.source.label for o in item.canonical_outputs()]
        yield {
            "item_token": item.token,
            "case_id": item.output.case.external_id,
            "source": item.output.source.label,
            "source_kind": item.output.source.kind,
            "source_b": item.output_b.source.label if item.output_b_id else "",
            "sources": json.dumps(labels),
        }


def study_unblinding_key(*, study: Study) -> Iterator[dict]:
    """The whole key, read in chunks."""
    items = study_unblinding_key_query(study=study).iterator(chunk_size=EXPORT_CHUNK)
    return unblinding_key_rows(items)


def study_sources_overview(*, study: Study) -> list[Source]:
    """Each source with its outputs counted: on the study's cases (first samples, further
    samples), on quality-control cases, and the calls to its endpoint that failed; and how many
    units a fetch still has to do (`missing`)."""
    on_study = Q(outputs__case__role=Case.Role.STUDY)
    sources = study.sources.annotate(
        n_study_outputs=Count("outputs", filter=on_study & Q(outputs__sample=0), distinct=True),
        n_more_samples=Count("outputs", filter=on_study & Q(outputs__sample__gt=0), distinct=True),
        n_quality_outputs=Count("outputs", filter=~on_study, distinct=True),
        n_failed=Count("generations", filter=Q(generations__outcome="failed"), distinct=True),
    ).order_by("label")
    n_cases = study.cases.filter(role=Case.Role.STUDY).count()
    sources = list(sources)
    for source in sources:
        expected = n_cases * source.samples_per_case
        source.missing = expected - source.n_study_outputs - source.n_more_samples
        source.failed_units = _failed_units(source) if source.n_failed else []
    return sources


def _failed_units(source: Source) -> list[Generation]:
    """The latest failed call of each unit (case, sample) that still has no output: what a
    retry would do, with the reason each one failed."""
    stored = set(source.outputs.values_list("case_id", "sample"))
    latest: dict[tuple[int, int], Generation] = {}
    failed = source.generations.filter(outcome=Generation.Outcome.FAILED).select_related("case")
    for generation in failed.only(
        "case__external_id", "sample", "http_status", "error", "finished_at"
    ).order_by("pk"):
        unit = (generation.case_id, generation.sample)
        if unit not in stored:
            latest[unit] = generation
    return list(latest.values())


def judge_consistency(*, judge: Judge) -> list[dict]:
    """How consistent a judge was with itself, per question.

    Position: of the pairs judged in both orders (sample by sample), the share where it
    preferred the same source, or called both a tie, once the sides are put back in canonical
    order. Samples: with more than one sample, for each item, order and response, the share of
    samples giving the most common answer, averaged (1 = always the same answer)."""
    rows = JudgeRating.objects.filter(
        verdict__judge=judge, verdict__outcome=JudgeVerdict.Outcome.OK
    ).values_list(
        "question__key",
        "question__kind",
        "verdict__item_id",
        "verdict__variant",
        "verdict__sample",
        "output_id",
        "answer",
        "value",
    )
    by_order: dict = defaultdict(dict)  # (key, item, sample) -> variant -> canonical value
    by_sample: dict = defaultdict(list)  # (key, item, variant, output) -> answers
    kinds: dict[str, str] = {}
    for key, kind, item, variant, sample, output, answer, value in rows:
        kinds[key] = kind
        if kind == Question.Kind.PAIRWISE and value is not None:
            by_order[(key, item, sample)][variant] = value
        by_sample[(key, item, variant, output)].append(
            value if kind == Question.Kind.PAIRWISE else json.dumps(answer, sort_keys=True)
        )
    summary = []
    for key in sorted(kinds):
        pairs = [v for (k, _, _), v in by_order.items() if k == key and len(v) == 2]
        same = sum((v[0] > 0) - (v[0] < 0) == (v[1] > 0) - (v[1] < 0) for v in pairs)
        groups = [a for (k, *_), a in by_sample.items() if k == key and len(a) > 1]
        shares = [Counter(a).most_common(1)[0][1] / len(a) for a in groups]
        summary.append(
            {
                "question": key,
                "position_pairs": len(pairs),
                "position_consistency": same / len(pairs) if pairs else None,
                "sampled_units": len(groups),
                "sample_consistency": sum(shares) / len(shares) if shares else None,
            }
        )
    return summary


def study_judges_overview(*, study: Study) -> list[Judge]:
    """Each judge with its progress (`n_done` of `n_units`), units whose last try failed, and
    its consistency per question."""
    from annotation.services.judges import judge_units_missing

    judges = list(study.judges.all())
    for judge in judges:
        missing = judge_units_missing(judge) if study.status != Study.Status.DRAFT else []
        judge.n_done = judge.verdicts.filter(outcome=JudgeVerdict.Outcome.OK).count()
        judge.n_units = judge.n_done + len(missing)
        judge.n_remaining = len(missing)
        failed = set(
            judge.verdicts.filter(outcome=JudgeVerdict.Outcome.FAILED).values_list(
                "item_id", "variant", "sample"
            )
        )
        judge.n_failed = sum((u.item.pk, u.variant, u.sample) in failed for u in missing)
        judge.consistency = judge_consistency(judge=judge)
    return judges


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
            "judged_at": verdict.finished_at.isoformat(),
        }


def study_judge_ratings_long(*, study: Study) -> Iterator[dict]:
    """Every judge's answers, read in chunks."""
    ratings = study_judge_ratings_query(study=study).iterator(chunk_size=EXPORT_CHUNK)
    return judge_rating_rows(ratings)


@dataclass
class StudyPace:
    """Is the study on track: the work done, by day and by source, when it will be done, and
    who has stalled."""

    done: int
    total: int
    days: list[tuple[object, int]]  # (date, submits), the last two weeks
    max_per_day: int
    eta_days: float | None
    by_source: list[tuple[str, int, int]]  # (source or pair, done, total)
    short_of_k: int  # study items with fewer submitted ratings than planned
    stalled: list[str]  # pseudonyms


def study_pace(*, study: Study, now=None) -> StudyPace:
    from django.utils import timezone

    now = now or timezone.now()
    today = now.date()
    work = study.assignments.exclude(kind=Assignment.Kind.TRAINING)
    submitted = list(work.filter(submitted_at__isnull=False).values_list("submitted_at", flat=True))
    days = [moment.date() for moment in submitted]
    total = work.count()
    by_day = pace.per_day(days, today=today)
    return StudyPace(
        done=len(submitted),
        total=total,
        days=by_day,
        max_per_day=max((n for _, n in by_day), default=0),
        eta_days=pace.eta_days(total - len(submitted), days, today=today),
        by_source=_progress_by_source(study),
        short_of_k=_items_short_of_k(study),
        stalled=_stalled_raters(study, now),
    )


def _progress_by_source(study: Study) -> list[tuple[str, int, int]]:
    rows = (
        study.assignments.filter(kind=Assignment.Kind.STUDY)
        .annotate(is_set=Exists(ItemOutput.objects.filter(item=OuterRef("item"))))
        .values("item__output__source__label", "item__output_b__source__label", "is_set")
        .annotate(total=Count("pk"), done=Count("pk", filter=Q(submitted_at__isnull=False)))
    )
    found: dict[str, list[int]] = {}
    for row in rows:
        if row["is_set"]:
            label = "every source (shown together)"
        elif row["item__output_b__source__label"]:
            label = (
                f"{row['item__output__source__label']} vs {row['item__output_b__source__label']}"
            )
        else:
            label = row["item__output__source__label"]
        counts = found.setdefault(label, [0, 0])
        counts[0] += row["done"]
        counts[1] += row["total"]
    return [(label, done, total) for label, (done, total) in sorted(found.items())]


def _items_short_of_k(study: Study) -> int:
    done = Count(
        "assignments",
        filter=Q(assignments__submitted_at__isnull=False, assignments__kind=Assignment.Kind.STUDY),
    )
    studied = study.items.filter(output__case__role=Case.Role.STUDY)
    return studied.annotate(done=done).filter(done__lt=study.raters_per_item).count()


def _stalled_raters(study: Study, now) -> list[str]:
    """Raters with items left and no submit for STALL_DAYS (or none since the study opened
    that long ago)."""
    from datetime import timedelta

    if study.status != Study.Status.OPEN or study.opened_at is None:
        return []
    since = now - timedelta(days=pace.STALL_DAYS)
    rows = (
        study.assignments.exclude(kind=Assignment.Kind.TRAINING)
        .values("rater_id")
        .annotate(
            left=Count("pk", filter=Q(submitted_at__isnull=True)),
            last=Max("submitted_at"),
        )
    )
    names = dict(study.memberships.values_list("user_id", "pseudonym"))
    stalled = [
        names[row["rater_id"]]
        for row in rows
        if row["left"] and (row["last"] or study.opened_at) < since
    ]
    return sorted(stalled, key=pseudonym_order)


@dataclass
class RaterQuality:
    pseudonym: str
    items: int  # submitted items with a time on task
    median_seconds: float | None
    fast: int  # items faster than the study's threshold
    straight_lining: float | None  # share of the rater's modal scale answer


def study_data_quality(*, study: Study) -> tuple[float, list[RaterQuality]]:
    """Per rater: time per item, implausibly fast items (`pace.fast_threshold`), and
    straight-lining on scale questions; with the study's threshold in seconds."""
    timed = list(
        study.assignments.filter(
            kind=Assignment.Kind.STUDY, submitted_at__isnull=False, time_on_task_ms__gt=0
        ).values_list("rater_id", "time_on_task_ms")
    )
    threshold = pace.fast_threshold([ms / 1000 for _, ms in timed])
    seconds: dict[int, list[float]] = defaultdict(list)
    for rater, ms in timed:
        seconds[rater].append(ms / 1000)
    scale_answers: dict[int, list[float]] = defaultdict(list)
    for rater, value in Rating.objects.filter(
        assignment__study=study,
        assignment__kind=Assignment.Kind.STUDY,
        question__kind=Question.Kind.LIKERT,
        value__isnull=False,
    ).values_list("assignment__rater_id", "value"):
        scale_answers[rater].append(value)
    memberships = study.memberships.filter(role=Membership.Role.RATER)
    rows = [
        RaterQuality(
            pseudonym=m.pseudonym,
            items=len(seconds[m.user_id]),
            median_seconds=pace.median_or_none(seconds[m.user_id]),
            fast=sum(s < threshold for s in seconds[m.user_id]),
            straight_lining=pace.straight_lining(scale_answers[m.user_id]),
        )
        for m in memberships
    ]
    return threshold, sorted(rows, key=lambda row: pseudonym_order(row.pseudonym))


# --- raters' free-text comments, for the study's admins ----------------------------------------

# Source labels join the comments once rating is over: read while it runs, a source's comments
# would colour how its admins steer the study. (Admins can fetch the unblinding key before, for
# checks; this page does not put the sources in front of them.)
COMMENTS_UNBLINDED = (Study.Status.LOCKED, Study.Status.ARCHIVED)
COMMENTS_SHOWN = 20  # per question, newest first; the rest behind "show all"


@dataclass(frozen=True)
class Comment:
    case_id: str
    rater: str  # pseudonym
    text: str
    saved_at: datetime  # the last change
    submitted: bool
    kind: str  # the assignment's kind: study, training, attention, repeat
    # The sources of what was commented on, as "A: label" in the order the rater saw them
    # (just the label for one output); empty while the study is blinded.
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuestionComments:
    key: str
    prompt: str
    total: int  # every comment that matches, shown or not
    comments: list[Comment]


def study_comments_unblinded(*, study: Study) -> bool:
    return study.status in COMMENTS_UNBLINDED


def study_comment_sources(*, study: Study) -> list[str]:
    """The labels a comment list may be filtered by: none while the study is blinded."""
    if not study_comments_unblinded(study=study):
        return []
    return list(study.sources.order_by("label").values_list("label", flat=True))


def study_comments(
    *, study: Study, source: str = "", question: str = "", show_all: bool = False
) -> list[QuestionComments]:
    """Every free-text answer of the study, per text question in rubric order, newest first:
    the first COMMENTS_SHOWN of each, or all. `source` keeps the comments about that source's
    outputs, once the study is unblinded; `question` keeps one question."""
    if source and not study_comments_unblinded(study=study):
        raise PermissionDenied("Comments are shown by source once the study is locked.")
    questions = study.questions.filter(kind=Question.Kind.TEXT)
    if question:
        questions = questions.filter(key=question)
    unblinded = study_comments_unblinded(study=study)
    pseudonyms = _rater_pseudonyms(study)
    listed = []
    for q in questions:
        ratings = _comment_ratings(q, source)
        shown = ratings if show_all else ratings[:COMMENTS_SHOWN]
        comments = [_comment(rating, pseudonyms, unblinded=unblinded) for rating in shown]
        listed.append(QuestionComments(q.key, q.prompt, ratings.count(), comments))
    return listed


def _comment_ratings(question: Question, source: str) -> QuerySet[Rating]:
    ratings = Rating.objects.filter(question=question).exclude(answer="")
    if question.allow_na:
        ratings = ratings.exclude(answer=rubric.NA)
    if source:
        in_set = ItemOutput.objects.filter(
            item=OuterRef("assignment__item"), output__source__label=source
        )
        about_item = (
            Q(assignment__item__output__source__label=source)
            | Q(assignment__item__output_b__source__label=source)
            | Exists(in_set)
        )
        # A per-output answer (side by side) is about its own output only.
        ratings = ratings.filter(
            Q(output__source__label=source) | Q(output__isnull=True) & about_item
        )
    return (
        ratings.select_related(
            "output__source",
            "assignment__item__output__case",
            "assignment__item__output__source",
            "assignment__item__output_b__source",
        )
        .prefetch_related("assignment__item__members__output__source")
        .order_by("-updated_at", "-pk")
    )


def _comment(rating: Rating, pseudonyms: dict[int, str], *, unblinded: bool) -> Comment:
    assignment = rating.assignment
    sources: tuple[str, ...] = ()
    if unblinded and rating.output_id:
        sources = (rating.output.source.label,)
    elif unblinded:
        shown = assignment.shown_outputs()
        labels = [o.source.label for o in shown]
        lettered = [f"{chr(ord('A') + i)}: {label}" for i, label in enumerate(labels)]
        sources = tuple(lettered) if len(labels) > 1 else tuple(labels)
    return Comment(
        case_id=assignment.item.output.case.external_id,
        rater=pseudonyms.get(assignment.rater_id, ""),
        text=rating.answer,
        saved_at=rating.updated_at,
        submitted=assignment.submitted_at is not None,
        kind=assignment.kind,
        sources=sources,
    )
