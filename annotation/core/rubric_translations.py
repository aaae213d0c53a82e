"""A rubric template in another language: the English template's questions with their prompts,
help texts and choice labels replaced from a translation file, everything else kept.

Keys, kinds, levels and every scale value come from the English template alone, so a German
and a Spanish site using "the same" template store the same codes and their data pool. A
translation file names each question by key and each scale point by value; one that misses
a key or a value, or names one the English template lacks, is refused, so a translation cannot
drift from its template unnoticed."""

import dataclasses

from annotation.core.rubric import AnswerError, QuestionDraft, Template


def translate_template(name: str, template: Template, data: object) -> Template:
    """`template` with the text of the translation `data` (parsed YAML: title,
    translation_note, and questions by key: prompt, optional help_text, labels by value).
    The citation keeps the original reference and adds the translation note: a translated
    scale is not a validated instrument."""
    if not isinstance(data, dict) or not isinstance(data.get("questions"), dict):
        raise AnswerError(f"{name}: expected a mapping with questions by key")
    note = str(data.get("translation_note", "")).strip()
    if not note:
        raise AnswerError(f"{name}: translation_note is required (who translated, not validated)")
    given = data["questions"]
    keys = [draft.key for draft in template.questions]
    if set(given) != set(keys):
        raise AnswerError(
            f"{name}: questions must be exactly the template's keys; "
            f"missing {sorted(set(keys) - set(given))}, unknown {sorted(set(given) - set(keys))}"
        )
    drafts = tuple(_translate_draft(name, draft, given[draft.key]) for draft in template.questions)
    citation = f"{template.citation} {note}".strip()
    return Template(str(data.get("title") or template.title), citation, drafts)


def _translate_draft(name: str, draft: QuestionDraft, raw: object) -> QuestionDraft:
    if not isinstance(raw, dict) or not str(raw.get("prompt", "")).strip():
        raise AnswerError(f"{name}: {draft.key}: a prompt is required")
    labels = raw.get("labels") or {}
    if not isinstance(labels, dict):
        raise AnswerError(f"{name}: {draft.key}: labels must map each scale value to a label")
    values = [point["value"] for point in draft.scale]
    if {str(v) for v in labels} != {str(v) for v in values}:
        raise AnswerError(
            f"{name}: {draft.key}: labels must name exactly the scale's values {values}, "
            f"got {list(labels)}"
        )
    by_value = {str(value): str(label) for value, label in labels.items()}
    scale = tuple({**point, "label": by_value[str(point["value"])]} for point in draft.scale)
    help_text = str(raw.get("help_text", "")) if draft.help_text else ""
    if draft.help_text and not help_text:
        raise AnswerError(f"{name}: {draft.key}: the help text needs a translation")
    return dataclasses.replace(draft, prompt=str(raw["prompt"]), scale=scale, help_text=help_text)
