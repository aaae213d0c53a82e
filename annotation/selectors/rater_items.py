"""One item as a rater is shown it (outputs, images, questions) and the answers they gave, with the
opaque value that names the answers their browser keeps."""

import json
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, Q
from django.http import Http404
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext, pgettext

from annotation.core import rubric
from annotation.core.omission import marked_facts, omission_fields
from annotation.core.reading import allocation
from annotation.models import (
    NEUTRAL_LABEL,
    Arm,
    Assignment,
    Attachment,
    Output,
    Question,
    Rating,
    Study,
)


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
    facts: list[dict] = field(default_factory=list)  # omission: the case's facts, as marked
    original: str = ""  # a correction: the output's text, which the rater edits

    @property
    def corrected_text(self) -> str:
        """What a correction's box holds: the rater's text, else the output's to edit."""
        return self.answer["text"] if isinstance(self.answer, dict) else self.original

    @property
    def is_unchanged(self) -> bool:
        """A correction the rater accepted as it was."""
        found = rubric.correction_distance(self.answer)
        return found is not None and found.unchanged

    answer_kind: str = ""  # answer questions (assisted reading): choice, number, text, ranked
    k: int | None = None  # ranked answers: the most entries

    @property
    def entry_rows(self) -> list[str]:
        """A ranked answer's k rows, the entries given first and blanks after."""
        given = self.answer if isinstance(self.answer, list) else []
        return [*given, *[""] * ((self.k or 0) - len(given))]

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
        label = rubric.NONE_LABELS.get(self.kind, "")
        return gettext(label) if label else ""

    @property
    def is_none(self) -> bool:
        return bool(self.none_label) and self.answer == rubric.NONE

    @property
    def answer_json(self) -> str:
        return json.dumps(self.answer if isinstance(self.answer, list) else [])

    @property
    def severities(self) -> tuple:
        return tuple((value, gettext(label)) for value, label in rubric.SEVERITIES)


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
    reading: "ShownRead | None" = None  # assisted reading: what this read shows; None elsewhere
    # The language of the study's own content (instructions, case, outputs, questions): the
    # `lang` of the elements that show it, whatever the interface language.
    study_lang: str = "en"

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
    def read_only(self) -> bool:
        """Nothing here can change: the study is locked, the read's answer is locked, or the
        assisted read waits for the unassisted answer's lock."""
        reading = self.reading
        return self.locked or bool(reading and (reading.answer_locked or reading.waiting_for_lock))

    @property
    def ranked_answer(self) -> bool:
        """An assisted read asking for a ranked list: its rows take Tab and Alt+arrows, not
        the digits other questions answer to."""
        return any(q.answer_kind == "ranked" for q in self.questions)

    @property
    def is_first(self) -> bool:
        """The rater's first item in their order: the instructions start open there."""
        return self.previous_token is None


@dataclass(frozen=True)
class ShownRead:
    """An assisted-reading read as its reader sees it: the assistance's label (neutral unless
    the arm is named, or a tool's description), nothing of an arm's key or source."""

    assisted: bool  # phase 2 of the sequential layout (or an assisting arm's read)
    label: str  # above the assistance; "" for an unassisted read
    shows_output: bool  # the item's output is on the page (a source arm, once unlocked)
    answer_locked: bool  # the unassisted answer is locked: read-only
    waiting_for_lock: bool  # assisted, but the unassisted answer is not locked yet
    earlier_answer: object  # assisted: the locked unassisted answer, canonical
    locks: bool = False  # submitting locks the answer: sequential unassisted, or crossover
    crossover: bool = False  # one arm per session: a locked answer has no assisted read after it
    # Which read this is, as the page heads it: "Read 1 of 2: on your own", "Read 2 of 2: with
    # assistance" (sequential), or "Session 2" (crossover); nothing of an arm's key or source.
    stage: str = ""
    unassisted_token: str = ""  # waiting for the lock: the unassisted read to lock first

    @property
    def earlier_answer_text(self) -> str:
        """The locked answer as one line: a ranked list numbered, a number without a
        trailing .0."""
        answer = self.earlier_answer
        if isinstance(answer, list):
            return "; ".join(f"{n}. {entry}" for n, entry in enumerate(answer, start=1))
        if isinstance(answer, float):
            return f"{answer:g}"
        return str(answer)


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
    return _rater_item(assignment, _rating_rows(assignment), list(study.questions.all()))


def rater_item_page(*, assignment: Assignment) -> tuple[RaterItem, dict[str, str]]:
    """The item as `rater_item_view` builds it, and the revision of each answer it shows by
    form id (as `rater_answers` names them), from one read of the ratings."""
    study = assignment.study
    rows, questions = _rating_rows(assignment), list(study.questions.all())
    places = {o.pk: place for place, o in enumerate(assignment.shown_outputs())}
    by_id = {q.pk: q for q in questions}
    revisions = {}
    for question_id, output_id, _, updated_at in rows:
        question = by_id[question_id]
        shown = places.get(output_id) if study.asks_per_output(question) else None
        about = rubric.shown_letter(shown) if shown is not None else ""
        revisions[f"{question.key}-{about}" if about else question.key] = _revision(updated_at)
    return _rater_item(assignment, rows, questions), revisions


def _rating_rows(assignment: Assignment) -> list[tuple]:
    """The rater's answers to this item: question id, output id, answer, when it changed."""
    return list(
        Rating.objects.filter(assignment=assignment).values_list(
            "question_id", "output_id", "answer", "updated_at"
        )
    )


def _rater_item(assignment: Assignment, rows: list[tuple], questions: list[Question]) -> RaterItem:
    study = assignment.study
    # Progress (training apart) and the neighbours' tokens in one aggregate.
    position, not_training = assignment.position, ~Q(kind=Assignment.Kind.TRAINING)
    own = Assignment.objects.filter(study_id=study.pk, rater_id=assignment.rater_id).aggregate(
        total=Count("pk", filter=not_training),
        done=Count("pk", filter=not_training & Q(submitted_at__isnull=False)),
        previous_token=Max("token", filter=Q(position=position - 1)),
        next_token=Max("token", filter=Q(position=position + 1)),
    )
    answers = {(question_id, output_id): answer for question_id, output_id, answer, _ in rows}
    output = assignment.item.output
    outputs = assignment.shown_outputs()
    n = len(outputs)
    is_training = assignment.kind == Assignment.Kind.TRAINING
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
    reading = _shown_read(assignment, questions) if assignment.arm_id else None
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
        # An unassisted or tool read's item is an output of its case never shown.
        output_text=outputs[0].text if reading is None or reading.shows_output else "",
        output_b_text=outputs[1].text if n == 2 and not study.shows_sets else None,
        questions=[_rater_question(q, answers.get((q.pk, None)), output, n) for q in whole],
        outputs=sets,
        images=_case_images(output.case_id) if getattr(assignment, "has_images", True) else [],
        submitted=assignment.submitted_at is not None,
        locked=study.status != Study.Status.OPEN,
        study_lang=study.language,
        previous_token=own["previous_token"],
        next_token=own["next_token"],
        reading=reading,
    )


def _shown_read(assignment: Assignment, questions: list[Question]) -> ShownRead:
    """What a read shows, decided here so that no page or API field can show more: the
    unassisted read nothing of any model; the assisted read its label and (for a source arm)
    the output, only once the unassisted answer is locked."""
    arm = assignment.arm
    if assignment.phase == allocation.UNASSISTED_PHASE:
        unassisted = arm.kind == Arm.Kind.UNASSISTED
        crossover = assignment.study.reading_layout == Study.ReadingLayout.CROSSOVER
        return ShownRead(
            assisted=not unassisted,
            label="" if unassisted else _shown_label(arm),
            shows_output=arm.shows_output,
            answer_locked=assignment.locked_at is not None,
            waiting_for_lock=False,
            earlier_answer=None,
            locks=crossover or unassisted,
            crossover=crossover,
            stage=reading_stage(crossover=crossover, assisted=False, session=assignment.session),
        )
    earlier = Assignment.objects.filter(
        study_id=assignment.study_id,
        rater_id=assignment.rater_id,
        position=assignment.position - 1,
        phase=allocation.UNASSISTED_PHASE,
    ).first()
    unlocked = earlier is None or earlier.locked_at is None
    answer = None
    if earlier is not None and not unlocked:
        keys = [q.pk for q in questions if q.kind == Question.Kind.ANSWER]
        found = Rating.objects.filter(assignment=earlier, question_id__in=keys).first()
        answer = found.answer if found else None
    return ShownRead(
        assisted=True,
        label="" if unlocked else _shown_label(arm),
        shows_output=arm.shows_output and not unlocked,
        answer_locked=False,
        waiting_for_lock=unlocked,
        earlier_answer=answer,
        stage=reading_stage(crossover=False, assisted=True, session=assignment.session),
        unassisted_token=earlier.token if unlocked and earlier is not None else "",
    )


def _shown_label(arm: Arm) -> str:
    """The label above the assistance; the neutral one in the rater's language (a tool's
    description and a named source's label are the admin's words, shown as written)."""
    label = arm.shown_label()
    return gettext(NEUTRAL_LABEL) if label == NEUTRAL_LABEL and not arm.named else label


def reading_stage(*, crossover: bool, assisted: bool, session: int) -> str:
    """How a read is headed for its reader: in a crossover its session only (each session
    shows its own arm); in the sequential layout which of the case's two reads it is."""
    if crossover:
        return gettext("Session %(session)s") % {"session": session}
    if assisted:
        return gettext("Read 2 of 2: with assistance")
    return gettext("Read 1 of 2: on your own")


def _rater_question(
    question: Question, answer: object, output: Output, n_outputs: int, shown: int | None = None
) -> RaterQuestion:
    spec = question.spec
    points = [ScalePoint(p["value"], p["label"]) for p in spec.points]
    if question.kind == Question.Kind.YES_NO:
        # Built-in labels (core marks them for translation); a study's own labels stay as written.
        points = [ScalePoint(p.value, gettext(p.label)) for p in points]
    if question.kind == Question.Kind.CRITERIA:
        criteria = output.case.criteria
        points = [ScalePoint(c["id"], f"{c['text']} ({c['points']:+d})") for c in criteria]
    marked = []
    if question.kind == Question.Kind.SPAN and isinstance(answer, list):
        labels = {p.value: p.label for p in points}
        severities = {value: gettext(label) for value, label in rubric.SEVERITIES}
        marked = [
            {
                **s,
                "quote": output.text[s["start"] : s["end"]],
                "label": labels.get(s["category"]),
                "severity_label": severities.get(s["severity"], s["severity"]),
            }
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
        facts=marked_facts(output.case.facts, answer) if question.kind == rubric.OMISSION else [],
        original=output.text if question.kind == Question.Kind.CORRECTION else "",
        answer_kind=question.answer_kind,
        k=question.k,
    )


def _ordinal(rank: int) -> str:
    """A rank as a column of the ranking heads it: 1st, 2nd... (1., 2. in German)."""
    # Translators: a rank in a ranking of responses, as a column heading, e.g. 1st, 2nd, 3rd.
    # Give the form your language writes (German "1.", Spanish "1.º").
    if rank % 10 == 1 and rank % 100 != 11:
        return pgettext("ordinal", "%(rank)sst") % {"rank": rank}
    if rank % 10 == 2 and rank % 100 != 12:
        return pgettext("ordinal", "%(rank)snd") % {"rank": rank}
    if rank % 10 == 3 and rank % 100 != 13:
        return pgettext("ordinal", "%(rank)srd") % {"rank": rank}
    return pgettext("ordinal", "%(rank)sth") % {"rank": rank}


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
    return _revision(rating.updated_at)


def _revision(updated_at: datetime) -> str:
    return updated_at.isoformat()


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
    if question.kind == Question.Kind.OMISSION:
        return omission_fields(answer)
    if question.kind == Question.Kind.RANKING and isinstance(answer, list):
        return {f"rank-{rubric.shown_letter(i)}": [str(rank)] for i, rank in enumerate(answer)}
    if question.kind == Question.Kind.SPAN and isinstance(answer, list):
        return {"answer": [json.dumps(answer)]}
    if question.kind == Question.Kind.CORRECTION and isinstance(answer, dict):
        found = rubric.correction_distance(answer)
        accepted = {"accepted": ["1"]} if found and found.unchanged else {}
        return {"answer": [answer["text"]], **accepted}
    if question.kind == Question.Kind.ANSWER and isinstance(answer, list):  # a ranked list
        return {f"entry-{n}": [entry] for n, entry in enumerate(answer, start=1)}
    if isinstance(answer, list):
        return {"answer": [str(value) for value in answer]}
    return {"answer": [str(answer)]}
