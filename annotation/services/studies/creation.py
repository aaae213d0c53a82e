"""A study created, its first question on a preset scale in the study's language; the
language changed; a study deleted."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

from annotation.models import Membership, Question, Study
from annotation.services.audit import audit_record, fields_of
from annotation.services.bundle import bundle_files_remove

# The first question's preset scales, in English; a study in another language gets them in its
# language (scale_in_language), with the same values, so that data from every site pools.
DEFAULT_SCALE = [
    {"value": 1, "label": gettext_noop("Very poor")},
    {"value": 2, "label": gettext_noop("Poor")},
    {"value": 3, "label": gettext_noop("Acceptable")},
    {"value": 4, "label": gettext_noop("Good")},
    {"value": 5, "label": gettext_noop("Excellent")},
]


PAIRWISE_SCALE = [
    # Translators: a pairwise preference between two responses shown as A and B.
    {"value": -2, "label": gettext_noop("B much better")},
    {"value": -1, "label": gettext_noop("B slightly better")},
    {"value": 0, "label": gettext_noop("Neither")},
    {"value": 1, "label": gettext_noop("A slightly better")},
    {"value": 2, "label": gettext_noop("A much better")},
]


def scale_in_language(scale: list[dict], language: str) -> list[dict]:
    """A preset scale (DEFAULT_SCALE, PAIRWISE_SCALE) with its labels in `language`."""
    with translation.override(language):
        return [{"value": point["value"], "label": gettext(point["label"])} for point in scale]


# --- studies and membership -------------------------------------------------------------------


def study_delete(*, study: Study) -> None:
    """Delete a study and everything in it. Its paper bundles, files outside the database that
    each hold the unblinding key, go once the deletion is committed."""
    token = study.token
    # Recorded after the deletion (the chain's lock is then held only until the commit, not
    # through the cascade), under the id and title it had.
    gone = Study(pk=study.pk, title=study.title)
    with transaction.atomic():
        study.delete()
        audit_record(action="study.deleted", study=gone, target=gone)
        transaction.on_commit(lambda: bundle_files_remove(study_token=token), robust=True)


@transaction.atomic
def study_create(
    *,
    creator: AbstractBaseUser,
    title: str,
    instructions: str = "",
    raters_per_item: int = 2,
    question_prompt: str,
    scale: list[dict] | None = None,
    level: str = Question.Level.ORDINAL,
    seed: int | None = None,
    show_reference: bool = False,
    design: str = Study.Design.ABSOLUTE,
    repeats_per_rater: int = 0,
    retests_per_rater: int = 0,
    washout_days: int = 0,
    language: str = settings.LANGUAGE_CODE,
) -> Study:
    study = Study(
        design=design,
        language=language,
        repeats_per_rater=repeats_per_rater,
        retests_per_rater=retests_per_rater,
        washout_days=washout_days,
        title=title,
        instructions=instructions,
        raters_per_item=raters_per_item,
        show_reference=show_reference,
        created_by=creator,
    )
    if seed is not None:
        study.seed = seed
    study.full_clean()
    study.save()
    Membership.objects.create(study=study, user=creator, role=Membership.Role.ADMIN)
    if design == Study.Design.PAIRWISE:
        preset = scale_in_language(PAIRWISE_SCALE, language)
        first = {"key": "preference", "kind": Question.Kind.PAIRWISE, "scale": preset}
    elif design == Study.Design.RANKING:
        first = {"key": "rank", "kind": Question.Kind.RANKING, "scale": []}
        level = Question.Level.ORDINAL
    else:
        scale = scale or scale_in_language(DEFAULT_SCALE, language)
        first = {"key": "overall", "kind": Question.Kind.LIKERT, "scale": scale}
    question = Question(study=study, prompt=question_prompt, level=level, **first)
    question.full_clean()
    question.save()
    audit_record(
        action="study.created",
        study=study,
        target=study,
        details={
            "settings": fields_of(study, STUDY_SETTINGS),
            "question": {"key": question.key, "kind": question.kind, "prompt": question.prompt},
        },
        user=creator,
    )
    return study


# The study's settings an entry of study.created lists.
STUDY_SETTINGS = (
    "title",
    "instructions",
    "design",
    "raters_per_item",
    "show_reference",
    "seed",
    "repeats_per_rater",
    "retests_per_rater",
    "washout_days",
)


def study_language_set(*, study: Study, language: str) -> Study:
    """Say which language the study's own content is written in (one of LANGUAGES). Only a
    label for the rater pages and the template picker: no content is translated."""
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": f"Unknown language {language!r}."})
    if study.status == Study.Status.ARCHIVED:
        raise ValidationError("The study is archived: it cannot change.")
    Study.objects.filter(pk=study.pk).update(language=language)
    study.language = language
    return study
