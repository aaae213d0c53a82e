"""The rubric: questions of a draft study, and the built-in templates."""

import dataclasses
from pathlib import Path

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction

from annotation.core import rubric, rubric_translations
from annotation.models import (
    Question,
    Study,
)
from annotation.services.adaptive_rule import rule_question_check_removable
from annotation.services.audit import audit_record
from annotation.services.task_runs import study_for_change

RUBRIC_TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "rubric_templates"


def rubric_templates(language: str | None = None) -> dict[str, rubric.Template]:
    """The built-in rubric templates by file name (medpalm, medflamingo, harm, ...), in
    `language` (default English, the source). A translation lives in
    rubric_templates/<language>/<name>.yaml; a template without one stays in English (an
    operator's own template, say), and says so by its English title."""
    found = {}
    for path in sorted(RUBRIC_TEMPLATES_DIR.glob("*.yaml")):
        template = rubric.parse_template(path.name, yaml.safe_load(path.read_text()))
        translated = RUBRIC_TEMPLATES_DIR / (language or "") / path.name
        if language and language != settings.LANGUAGE_CODE and translated.is_file():
            data = yaml.safe_load(translated.read_text(encoding="utf-8"))
            template = rubric_translations.translate_template(
                f"{language}/{path.name}", template, data
            )
        found[path.stem] = template
    return found


@transaction.atomic
def question_add(*, study: Study, draft: rubric.QuestionDraft) -> Question:
    """Add one question to a draft study, after the checks `Question.clean` makes."""
    study = study_for_change(study.pk)
    if study.status != Study.Status.DRAFT:
        raise ValidationError("Questions can only change while the study is a draft.")
    if study.questions.filter(key=draft.key).exists():
        raise ValidationError(f"The study already has a question {draft.key!r}.")
    last = study.questions.aggregate(m=models.Max("order"))["m"]
    _check_fits_design(study, draft.kind)
    question = Question(study=study, order=(last or 0) + 1, **_draft_fields(draft))
    question.full_clean()
    question.save()
    audit_record(
        action="rubric.changed",
        study=study,
        target=question,
        details={"question": question.key, "added": _draft_fields(draft)},
    )
    return question


def _check_fits_design(study: Study, kind: str) -> None:
    if kind == rubric.PAIRWISE and study.design != Study.Design.PAIRWISE:
        raise ValidationError("A pairwise question needs a pairwise study (outputs shown as A/B).")
    if kind == rubric.RANKING and not study.shows_sets:
        raise ValidationError(
            "A ranking question needs a case's outputs shown together: a side-by-side or "
            "ranking study."
        )
    if kind in (rubric.CRITERIA, rubric.SPAN) and study.design != Study.Design.ABSOLUTE:
        raise ValidationError(
            "Per-case criteria and span marking judge one output at a time: an absolute study."
        )
    if kind == rubric.OMISSION and study.design not in (
        Study.Design.ABSOLUTE,
        Study.Design.SIDE_BY_SIDE,
    ):
        raise ValidationError(
            "Omission marking checks each output against its case's facts: an absolute or "
            "side-by-side study."
        )
    if kind == rubric.CORRECTION and study.design in (Study.Design.PAIRWISE, Study.Design.RANKING):
        raise ValidationError(
            "A correction edits one output: an absolute or side-by-side study, where each "
            "response is answered on its own, not a pairwise or ranking one."
        )


def _draft_fields(draft: rubric.QuestionDraft) -> dict:
    fields = dataclasses.asdict(draft)
    fields["scale"] = list(draft.scale)
    return fields


@transaction.atomic
def questions_add_template(
    *, study: Study, name: str, language: str | None = None
) -> list[Question]:
    """All questions of a built-in template, in `language` (default: the study's), or none if
    any key is already taken."""
    language = language or study.language
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": f"Unknown language {language!r}."})
    template = rubric_templates(language).get(name)
    if template is None:
        raise ValidationError(f"No rubric template {name!r}.")
    with transaction.atomic():
        added = [question_add(study=study, draft=draft) for draft in template.questions]
        # Each question keeps the template's citation (with its translation note if
        # translated): the dashboard shows it beside the rubric, the API returns it.
        Question.objects.filter(pk__in=[q.pk for q in added]).update(citation=template.citation)
    for question in added:
        question.citation = template.citation
    return added


def question_remove(*, study: Study, key: str) -> None:
    if study.status != Study.Status.DRAFT:
        raise ValidationError("Questions can only change while the study is a draft.")
    if study.questions.count() <= 1:
        raise ValidationError("A study needs at least one question.")
    rule_question_check_removable(study=study, key=key)
    removed = study.questions.filter(key=key).first()
    if removed is None:
        return
    with transaction.atomic():
        removed.delete()
        audit_record(
            action="rubric.changed",
            study=study,
            details={
                "question": key,
                "removed": {
                    name: getattr(removed, name)
                    for name in ("key", "kind", "prompt", "scale", "level", "order")
                },
            },
        )
