"""Raters' free-text comments, for the study's admins (blinded until the study is locked)."""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet

from annotation.core import rubric
from annotation.models import (
    ItemOutput,
    Question,
    Rating,
    Study,
)
from annotation.selectors.studies import study_rater_pseudonyms

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
    pseudonyms = study_rater_pseudonyms(study=study)
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
