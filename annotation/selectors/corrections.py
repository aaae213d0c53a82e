"""Raters' corrected outputs, for the study's admins: each correction as a diff against the
output it corrects. Never for raters (no rater page reads this), and without sources until
the study is locked, as the comments are (`selectors.comments`)."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from annotation.core import corrections, rubric
from annotation.models import Assignment, Question, Rating, Study
from annotation.selectors.comments import COMMENTS_SHOWN, study_comments_unblinded
from annotation.selectors.studies import study_rater_pseudonyms


@dataclass(frozen=True)
class Correction:
    case_id: str
    rater: str  # pseudonym
    segments: list[tuple[str, str]]  # the diff to show (`corrections.segments`)
    chars: int
    words: int
    rate: float | None  # word edits per word of the original
    unchanged: bool
    saved_at: datetime
    submitted: bool
    kind: str  # the assignment's kind: study, training, attention, repeat
    source: str = ""  # empty while the study is blinded


@dataclass(frozen=True)
class QuestionCorrections:
    key: str
    prompt: str
    total: int  # every answered correction, shown or not
    unchanged: int  # of those, accepted unchanged
    corrections: list[Correction]


def study_corrections(
    *, study: Study, question: str = "", show_all: bool = False
) -> list[QuestionCorrections]:
    """Every answered correction, per correction question in rubric order, newest first: the
    first COMMENTS_SHOWN of each, or all; `question` keeps one question."""
    questions = study.questions.filter(kind=Question.Kind.CORRECTION)
    if question:
        questions = questions.filter(key=question)
    unblinded = study_comments_unblinded(study=study)
    pseudonyms = study_rater_pseudonyms(study=study)
    listed = []
    for q in questions:
        ratings = _answered(q)
        shown = ratings if show_all else ratings[:COMMENTS_SHOWN]
        found = [_correction(r, pseudonyms, unblinded=unblinded) for r in shown]
        unchanged = ratings.filter(answer__chars=0).count()
        listed.append(QuestionCorrections(q.key, q.prompt, ratings.count(), unchanged, found))
    return listed


def _answered(question: Question) -> QuerySet[Rating]:
    # Stored corrections are objects; "" is a box emptied or reset (no answer).
    return (
        Rating.objects.filter(question=question, answer__has_key="text")
        .select_related("output__source", "assignment__item__output__case")
        .select_related("assignment__item__output__source")
        .order_by("-updated_at", "-pk")
    )


def _correction(rating: Rating, pseudonyms: dict[int, str], *, unblinded: bool) -> Correction:
    assignment = rating.assignment
    output = rating.output or assignment.item.output  # side by side: the response corrected
    original = corrections.normalise(output.text)
    answer = rating.answer
    found = rubric.correction_distance(answer)
    return Correction(
        case_id=output.case.external_id,
        rater=pseudonyms.get(assignment.rater_id, ""),
        segments=corrections.segments(original, answer["text"], answer["diff"]),
        chars=found.chars,
        words=found.words,
        rate=found.rate,
        unchanged=found.unchanged,
        saved_at=rating.updated_at,
        submitted=assignment.submitted_at is not None,
        kind=assignment.kind,
        source=output.source.label if unblinded else "",
    )


@dataclass(frozen=True)
class CorrectionLine:
    """One correction as data: what the bundle's corrections.csv and the statistics read."""

    question: str
    case_id: str
    source: str
    rater: str  # pseudonym
    assignment_kind: str
    submitted: bool
    original: str
    corrected: str
    chars: int
    words: int
    original_words: int
    rate: float | None
    unchanged: bool


def study_correction_lines(
    *, study: Study, question: Question | None = None, analysed_only: bool = False
) -> list[CorrectionLine]:
    """Every answered correction of the study (or of one question), by question, case, source
    and rater. `analysed_only`: the answers statistics read, submitted study items only."""
    ratings = Rating.objects.filter(
        question__study=study,
        question__kind=Question.Kind.CORRECTION,
        answer__has_key="text",
    )
    if question is not None:
        ratings = ratings.filter(question=question)
    if analysed_only:
        ratings = ratings.filter(
            assignment__kind=Assignment.Kind.STUDY, assignment__submitted_at__isnull=False
        )
    ratings = ratings.select_related(
        "question",
        "output__source",
        "output__case",
        "assignment__item__output__case",
        "assignment__item__output__source",
    )
    pseudonyms = study_rater_pseudonyms(study=study)
    lines = [_line(rating, pseudonyms) for rating in ratings]
    return sorted(lines, key=lambda x: (x.question, x.case_id, x.source, x.rater))


def _line(rating: Rating, pseudonyms: dict[int, str]) -> CorrectionLine:
    output = rating.output or rating.assignment.item.output
    found = rubric.correction_distance(rating.answer)
    return CorrectionLine(
        question=rating.question.key,
        case_id=output.case.external_id,
        source=output.source.label,
        rater=pseudonyms.get(rating.assignment.rater_id, ""),
        assignment_kind=rating.assignment.kind,
        submitted=rating.assignment.submitted_at is not None,
        original=corrections.normalise(output.text),
        corrected=rating.answer["text"],
        chars=found.chars,
        words=found.words,
        original_words=found.original_words,
        rate=found.rate,
        unchanged=found.unchanged,
    )
