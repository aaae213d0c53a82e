"""Adjudication as its readers read it: which items are decided (every rater submitted), the
raters' answers to the questions a reference is recorded for, the adjudicator's queue and item
(readers under "Reader n" labels only), and the dashboard's counts."""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext

from annotation.core import adjudication as core
from annotation.core import disagreement, rubric
from annotation.core.stats.names import VERSUS_REFERENCE
from annotation.models import (
    Adjudication,
    AdjudicationSelection,
    Adjudicator,
    Assignment,
    Item,
    Question,
    Rating,
    Study,
)
from annotation.selectors.adaptive import extras_pending, items_awaiting_adaptive

# The kinds a reference answer is recorded for: those with a numeric code or a choice.
REFERENCE_KINDS = (
    Question.Kind.LIKERT,
    Question.Kind.SINGLE_CHOICE,
    Question.Kind.MULTIPLE_CHOICE,
    Question.Kind.YES_NO,
    Question.Kind.NUMBER,
    Question.Kind.PAIRWISE,
)
# The assignments whose answers an adjudicator reads and the majority counts: the study proper
# and adaptive extras (training, checks, repeats and re-reads are not the item's ratings).
RATED_KINDS = (Assignment.Kind.STUDY, Assignment.Kind.EXTRA)
# The statuses in which references are recorded and revised (archived freezes them).
ADJUDICATED = (Study.Status.OPEN, Study.Status.LOCKED)


def reference_questions(*, study: Study) -> list[Question]:
    """The questions about the whole item that have a numeric code or a choice: side by side,
    a question asked once per output has no one answer for the item."""
    questions = study.questions.filter(kind__in=REFERENCE_KINDS)
    return [q for q in questions if not study.asks_per_output(q)]


def decided_items(*, study: Study) -> QuerySet[Item]:
    """Items with at least one rater and every rater's assignment submitted (the study proper:
    no training, check or repeat): an item still being rated is not decided yet. In an
    adaptive study, neither is an item whose adaptive decision is still to be taken, nor one
    with an extra rating still to come (docs/adjudication.md)."""
    proper = Assignment.objects.filter(item=OuterRef("pk"), kind=Assignment.Kind.STUDY)
    return (
        Item.objects.filter(study=study)
        .filter(Exists(proper))
        .exclude(Exists(proper.filter(submitted_at__isnull=True)))
        .exclude(Exists(extras_pending(study=study).filter(item=OuterRef("pk"))))
        .exclude(pk__in=items_awaiting_adaptive(study=study).values("pk"))
    )


def held_for_extras(*, study: Study) -> QuerySet[Adjudication]:
    """Chosen items with an extra rating still to come: off the adjudicators' queues until it
    is in (or its rater stops), so that the reference is decided with every rating."""
    pending = extras_pending(study=study).filter(item=OuterRef("item"))
    return study.adjudications.filter(Exists(pending))


def adjudicator_held(*, study: Study, user: AbstractBaseUser) -> int:
    """How many items offered to `user` and still without a reference are held for an extra
    rating (the adjudicator's done page says so, not that every item has a reference)."""
    undecided = _offered(study, user).filter(decided_at__isnull=True)
    return undecided.filter(pk__in=held_for_extras(study=study).values("pk")).count()


def canonical_answer(question: Question, answer: object, value: float | None) -> object:
    """The answer as statistics read it: a pairwise preference in the pair's canonical order
    (its code), every other answer as stored."""
    if question.kind == Question.Kind.PAIRWISE and value is not None:
        return int(value)
    return answer


@dataclass(frozen=True)
class ReaderAnswer:
    assignment_id: int
    answer: object  # canonical
    code: float | None


def item_answers(
    *, items: list[int], questions: list[Question]
) -> dict[tuple[int, str], list[ReaderAnswer]]:
    """The raters' submitted answers by (item id, question key), in assignment order."""
    by_id = {q.pk: q for q in questions}
    ratings = Rating.objects.filter(
        assignment__item_id__in=items,
        assignment__kind__in=RATED_KINDS,
        assignment__submitted_at__isnull=False,
        question_id__in=by_id,
        output__isnull=True,
    ).order_by("assignment_id")
    found: dict[tuple[int, str], list[ReaderAnswer]] = {}
    rows = ratings.values_list(
        "assignment__item_id", "assignment_id", "question_id", "answer", "value"
    )
    for item_id, assignment_id, question_id, answer, value in rows.iterator():
        question = by_id[question_id]
        found.setdefault((item_id, question.key), []).append(
            ReaderAnswer(assignment_id, canonical_answer(question, answer, value), value)
        )
    return found


def rule_question(*, study: Study, rule: disagreement.Rule) -> Question:
    """The question a rule is about, among those a reference is recorded for."""
    question = next((q for q in reference_questions(study=study) if q.key == rule.question), None)
    if question is None:
        raise disagreement.RuleError(
            f"rule.question: {rule.question!r} is not a question of this study with a "
            "numeric code or a choice."
        )
    return question


# --- the adjudicator's queue and item ----------------------------------------------------------


def adjudicator_get(*, study: Study, user: AbstractBaseUser) -> Adjudicator | None:
    return Adjudicator.objects.filter(study=study, user=user).first()


def adjudicator_study_get(*, user: AbstractBaseUser, token: str) -> Study:
    study = Study.objects.filter(token=token, adjudicators__user=user).first()
    if study is None or study.status not in ADJUDICATED:
        raise Http404("No such study.")
    return study


def _offered(study: Study, user: AbstractBaseUser) -> QuerySet[Adjudication]:
    """The study's adjudications of items `user` never rated (any kind of assignment)."""
    rated = Assignment.objects.filter(item=OuterRef("item"), rater=user)
    return Adjudication.objects.filter(study=study).exclude(Exists(rated))


def adjudicator_queue(*, study: Study, user: AbstractBaseUser) -> list[str]:
    """Tokens of the undecided adjudications offered to `user`, in an order seeded by the
    study and the adjudicator (never the items' or raters' order)."""
    undecided = _offered(study, user).filter(decided_at__isnull=True)
    held = held_for_extras(study=study).values("pk")
    tokens = list(undecided.exclude(pk__in=held).values_list("token", flat=True))
    return core.draw(tokens, n=len(tokens), seed=core.derived_seed(study.seed, "queue", user.pk))


def adjudicator_decided(*, study: Study, user: AbstractBaseUser) -> list[str]:
    """Tokens of the items with a reference that `user` may revise (those they did not rate),
    in the same seeded order as the queue."""
    tokens = list(
        _offered(study, user).filter(decided_at__isnull=False).values_list("token", flat=True)
    )
    return core.draw(tokens, n=len(tokens), seed=core.derived_seed(study.seed, "queue", user.pk))


def adjudication_get(*, study: Study, user: AbstractBaseUser, token: str) -> Adjudication:
    """One adjudication offered to `user`; 404 for an item they rated (as for any other)."""
    found = (
        _offered(study, user)
        .filter(token=token)
        .select_related("item__output__case", "item__output_b", "adjudicator")
        .first()
    )
    if found is None:
        raise Http404("No such item.")
    return found


@dataclass(frozen=True)
class ReferenceQuestion:
    key: str
    prompt: str
    kind: str
    options: list[tuple[str, str]]  # (value as posted, label); empty for a number
    allow_na: bool
    answer: object  # the recorded reference, canonical, or None
    minimum: float | None = None
    maximum: float | None = None

    @property
    def answer_values(self) -> list[str]:
        """The recorded answer's options as posted, for checking radios and boxes."""
        if self.answer is None:
            return []
        return [str(a) for a in (self.answer if isinstance(self.answer, list) else [self.answer])]


@dataclass(frozen=True)
class ShownReader:
    """One rater of the item as the adjudicator sees them: a label and their answers, no
    pseudonym, name, token or time."""

    label: str
    answers: list[tuple[str, str]]  # (question prompt, answer as shown)
    comments: list[tuple[str, str]]  # (question prompt, free text)


@dataclass(frozen=True)
class AdjudicatorItem:
    """Everything the adjudicator's screen shows for one item, and nothing that names a
    source or a rater: outputs lettered in the item's seeded shown order (`shown_places`), and
    pairwise answers, the readers' and the reference, read in that order (positive: A better)."""

    study_token: str
    study_title: str
    token: str
    case_input: str
    outputs: list[tuple[str, str]]  # (letter, text)
    readers: list[ShownReader]
    questions: list[ReferenceQuestion]
    reason: str
    decided: bool
    remaining: int
    next_token: str | None
    revisions: int
    locked: bool
    study_lang: str = "en"  # the study's content (title, case, outputs) is in this language


def adjudicator_item(
    *, study: Study, user: AbstractBaseUser, adjudication: Adjudication
) -> AdjudicatorItem:
    item = adjudication.item
    questions = reference_questions(study=study)
    queue = adjudicator_queue(study=study, user=user)
    following = [t for t in queue if t != adjudication.token]
    outputs = item.canonical_outputs()
    places = shown_places(study=study, item=item)
    flipped = core.pairwise_flipped(places)
    return AdjudicatorItem(
        study_token=study.token,
        study_title=study.title,
        study_lang=study.language,
        token=adjudication.token,
        case_input=item.output.case.input_text,
        outputs=[
            (rubric.shown_letter(shown), outputs[place].text) for shown, place in enumerate(places)
        ],
        readers=_shown_readers(study, adjudication, questions, flipped),
        questions=[
            _reference_question(q, shown_answer(q, adjudication.answers.get(q.key), flipped))
            for q in questions
        ],
        reason=adjudication.reason,
        decided=adjudication.decided,
        remaining=len(queue),
        next_token=following[0] if following else None,
        revisions=adjudication.revisions.count(),
        locked=study.status != Study.Status.OPEN,
    )


def shown_places(*, study: Study, item: Item) -> list[int]:
    """The canonical places of the item's responses in the order the adjudicator sees them:
    derived from the study's seed and the item, so the page, the API and the recording agree."""
    return core.shown_order(len(item.canonical_outputs()), seed=study.seed, item=item.token)


def shown_answer(question: Question, answer: object, flipped: bool) -> object:
    """A canonical answer as the adjudicator reads it, and (the turn is its own inverse) a
    posted answer as stored: a pairwise code of a pair shown the other way round changes sign."""
    if flipped and question.kind == Question.Kind.PAIRWISE and isinstance(answer, int | float):
        return -answer
    return answer


def _shown_readers(
    study: Study, adjudication: Adjudication, questions: list[Question], flipped: bool
) -> list[ShownReader]:
    texts = list(study.questions.filter(kind=Question.Kind.TEXT))
    shown = adjudication_readers(adjudication=adjudication)
    ratings = Rating.objects.filter(assignment_id__in=shown, output__isnull=True).select_related(
        "question"
    )
    by_reader: dict[int, dict[str, Rating]] = {}
    for rating in ratings:
        by_reader.setdefault(rating.assignment_id, {})[rating.question.key] = rating
    readers = []
    for number, assignment_id in enumerate(shown, start=1):
        mine = by_reader.get(assignment_id, {})
        answers = [
            (q.prompt, _shown_answer(q, mine[q.key], flipped)) for q in questions if q.key in mine
        ]
        comments = [
            (q.prompt, mine[q.key].answer)
            for q in texts
            if q.key in mine and mine[q.key].answer not in ("", rubric.NA)
        ]
        # "Reader n" in the adjudicator's language: a number, never a rater's pseudonym or name.
        label = gettext("Reader %(number)s") % {"number": number}
        readers.append(ShownReader(label, answers, comments))
    return readers


def adjudication_readers(*, adjudication: Adjudication) -> list[int]:
    """The assignments shown as Reader 1, 2, ...: those stored, shuffled, when the item was
    chosen; then any adaptive extra submitted since, in the order they were made, so that a
    late rating never changes the labels the adjudicator has already read."""
    later = (
        Assignment.objects.filter(
            item_id=adjudication.item_id,
            kind=Assignment.Kind.EXTRA,
            submitted_at__isnull=False,
        )
        .exclude(pk__in=adjudication.readers)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return [*adjudication.readers, *later]


def _shown_answer(question: Question, rating: Rating, flipped: bool) -> str:
    canonical = canonical_answer(question, rating.answer, rating.value)
    return answer_text(question, shown_answer(question, canonical, flipped))


def answer_text(question: Question, answer: object) -> str:
    """An answer as a person reads it: a scale point's or choice's label after its value."""
    if answer == rubric.NA:
        return gettext("Not applicable")
    labels = {str(point["value"]): point.get("label", "") for point in _options_of(question)}
    parts = answer if isinstance(answer, list) else [answer]
    return "; ".join(_labelled(part, labels) for part in parts)


def _labelled(part: object, labels: dict[str, str]) -> str:
    shown = f"{part:g}" if isinstance(part, float) else str(part)
    label = labels.get(shown, "")
    return f"{shown} ({label})" if label and label != shown else shown


def _options_of(question: Question) -> list[dict]:
    if question.kind == Question.Kind.YES_NO:
        # Built-in labels (core marks them for translation); a study's own labels stay as written.
        return [{**point, "label": gettext(point["label"])} for point in rubric.YES_NO_SCALE]
    return list(question.scale)


def _reference_question(question: Question, answer: object) -> ReferenceQuestion:
    options = [(str(p["value"]), p.get("label") or str(p["value"])) for p in _options_of(question)]
    return ReferenceQuestion(
        key=question.key,
        prompt=question.prompt,
        kind=question.kind,
        options=options,
        allow_na=question.allow_na,
        answer=answer,
        minimum=question.minimum,
        maximum=question.maximum,
    )


# --- the dashboard and the exports -------------------------------------------------------------


@dataclass(frozen=True)
class SelectionRun:
    mode: str
    described: str  # the rule in words, the sample's size and seed, or "every decided item"
    eligible: int
    chosen: int


@dataclass(frozen=True)
class QuestionSiding:
    key: str
    prompt: str
    siding: core.Siding


@dataclass(frozen=True)
class JudgeReferenceRow:
    """A judge's stored agreement with the adjudicated reference on one question."""

    judge: str
    question: str
    value: float | None
    ci: list | None
    n_units: int


@dataclass(frozen=True)
class AdjudicationSummary:
    selected: int
    decided: int
    adjudicators: int
    runs: list[SelectionRun]
    siding: list[QuestionSiding]
    judges: list[JudgeReferenceRow] = ()
    held: int = 0  # chosen, without a reference, and held for an extra rating still to come

    @property
    def any(self) -> bool:
        return bool(self.selected or self.adjudicators or self.runs)


def selection_words(selection: AdjudicationSelection) -> str:
    if selection.mode == AdjudicationSelection.Mode.RULE:
        return disagreement.describe(disagreement.rule_from_dict(selection.rule))
    if selection.mode == AdjudicationSelection.Mode.SAMPLE:
        asked = (
            f"{selection.sample_size} items"
            if selection.sample_size is not None
            else f"{selection.sample_fraction:.0%} of the items"
        )
        return f"a random sample of {asked} (seed {selection.seed})"
    return "every decided item"


def adjudication_summary(*, study: Study) -> AdjudicationSummary:
    """Items chosen and decided, the runs that chose them, and per reference question how
    often the reference equalled the raters' majority. A study that never chose items costs
    the dashboard two queries, not seven."""
    runs = [
        SelectionRun(run.mode, selection_words(run), run.eligible, run.chosen)
        for run in study.adjudication_runs.all()
    ]
    adjudicators = study.adjudicators.count()
    if not runs:  # nothing was ever chosen, so nothing was decided either
        return AdjudicationSummary(0, 0, adjudicators, [], [])
    adjudications = list(study.adjudications.filter(decided_at__isnull=False))
    questions = reference_questions(study=study)
    found = item_answers(items=[a.item_id for a in adjudications], questions=questions)
    siding = [
        QuestionSiding(
            q.key,
            q.prompt,
            core.siding(
                [
                    (a.answers[q.key], [r.answer for r in found.get((a.item_id, q.key), [])])
                    for a in adjudications
                    if q.key in a.answers
                ]
            ),
        )
        for q in questions
    ]
    judges = [
        JudgeReferenceRow(r.judge, r.question.key, r.value, r.detail.get("ci"), r.n_units)
        for r in study.results.filter(statistic=VERSUS_REFERENCE)
        .select_related("question")
        .order_by("judge", "question__order", "question__key")
    ]
    # How many were chosen, and of those how many wait for an extra rating: one query.
    pending = extras_pending(study=study).filter(item=OuterRef("item"))
    counts = study.adjudications.aggregate(
        selected=Count("pk"),
        held=Count("pk", filter=Exists(pending) & Q(decided_at__isnull=True)),
    )
    return AdjudicationSummary(
        selected=counts["selected"],
        decided=len(adjudications),
        adjudicators=adjudicators,
        runs=runs,
        siding=siding,
        judges=judges,
        held=counts["held"],
    )


def adjudication_rows(*, study: Study) -> list[dict]:
    """One row per decided item and reference question (adjudications.csv): the reference,
    the reason, the adjudicator's label (never a name), how the item was chosen, the raters'
    majority and whether the reference sided with it."""
    adjudications = list(
        study.adjudications.filter(decided_at__isnull=False)
        .select_related("item", "selection", "adjudicator")
        .order_by("item__token")
    )
    questions = reference_questions(study=study)
    found = item_answers(items=[a.item_id for a in adjudications], questions=questions)
    rows = []
    for a in adjudications:
        for q in questions:
            if q.key not in a.answers:
                continue
            answers = [r.answer for r in found.get((a.item_id, q.key), [])]
            rows.append(_row(a, q, answers))
    return rows


def _row(adjudication: Adjudication, question: Question, answers: list) -> dict:
    reference = adjudication.answers[question.key]
    found = disagreement.majority(answers)
    return {
        "item_token": adjudication.item.token,
        "question": question.key,
        "reference_answer": reference,
        "reference_value": adjudication.values.get(question.key),
        "reason": adjudication.reason,
        "adjudicator": adjudication.adjudicator.label if adjudication.adjudicator else "",
        "decided_at": adjudication.decided_at,
        "selected_by": adjudication.selection.mode,
        "selection_rule": selection_words(adjudication.selection),
        "n_raters": len(answers),
        "majority": found,
        "sided_with_majority": core.sided_with_majority(reference, answers),
    }


def reference_codes(*, study: Study, question: Question) -> dict[str, float]:
    """Each decided item's reference code for one question, by item token: what a judge is
    scored against."""
    return {
        token: values[question.key]
        for token, values in study.adjudications.filter(decided_at__isnull=False).values_list(
            "item__token", "values"
        )
        if values.get(question.key) is not None
    }


@dataclass(frozen=True)
class AdjudicatorStudy:
    """A study the user adjudicates, as their home page lists it: no source or rater."""

    token: str
    title: str
    waiting: int
    locked: bool
    language: str = "en"  # the study's own language: its title is marked with it


def adjudicator_studies(*, user: AbstractBaseUser) -> list[AdjudicatorStudy]:
    studies = Study.objects.filter(adjudicators__user=user, status__in=ADJUDICATED).order_by(
        "title"
    )
    return [
        AdjudicatorStudy(
            s.token,
            s.title,
            len(adjudicator_queue(study=s, user=user)),
            s.status == Study.Status.LOCKED,
            s.language,
        )
        for s in studies
    ]


def reference_units(*, study: Study, question: Question) -> dict[tuple[str, str, str], float]:
    """Each decided reference code for one question by the statistics' unit (case id, source,
    the pair's second source or ""; a set's whole-item answer has source ""), with the item
    shape `annotation.services.statistics.rows` gives the raters' and judges' answers."""
    decided = (
        study.adjudications.filter(decided_at__isnull=False)
        .select_related("item__output__case", "item__output__source", "item__output_b__source")
        .prefetch_related("item__members")
    )
    units = {}
    for adjudication in decided:
        code = adjudication.values.get(question.key)
        if code is None:
            continue
        item = adjudication.item
        case = item.output.case.external_id
        if item.is_pair:
            units[(case, item.output.source.label, item.output_b.source.label)] = code
        elif len(item.set_outputs()) > 1:
            units[(case, "", "")] = code
        else:
            units[(case, item.output.source.label, "")] = code
    return units
