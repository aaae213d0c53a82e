"""Consent and rater background: the admin's statement and questions, and a rater's
acceptance, answers and withdrawal (core.consent has the rules)."""

import dataclasses

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from annotation.core import consent, rubric
from annotation.models import ConsentVersion, Membership, RaterQuestion, Study
from annotation.selectors.consent import answers_closed
from annotation.services.audit import audit_record
from annotation.services.task_runs import study_for_change

# The consent statement may change while raters work (they accept the new version before their
# next item); the questions about raters only in a draft, so every rater answers the same ones.
CONSENT_EDITABLE = (Study.Status.DRAFT, Study.Status.OPEN)


@transaction.atomic
def study_consent_set(*, study: Study, text: str) -> Study:
    """Set the consent statement; a changed text is a new version, blank asks for none. The
    same text again changes nothing."""
    study = study_for_change(study.pk)
    if study.status not in CONSENT_EDITABLE:
        raise ValidationError({"text": _("The consent statement cannot change once locked.")})
    text = text.strip()
    if "\x00" in text:
        raise ValidationError({"text": "The statement cannot contain a NUL character."})
    current = study.consent_versions.filter(version=study.consent_version).first()
    old_text = current.text if current and study.consent_version else ""
    if old_text == text:
        return study
    old_version = study.consent_version
    if text:
        last = study.consent_versions.aggregate(m=models.Max("version"))["m"] or 0
        ConsentVersion.objects.create(study=study, version=last + 1, text=text)
        study.consent_version = last + 1
    else:
        _check_may_drop_consent(study)
        study.consent_version = 0
    study.save(update_fields=["consent_version"])
    audit_record(
        action="consent.changed",
        study=study,
        target=study,
        details={
            "consent_version": {"old": old_version, "new": study.consent_version},
            "text": {"old": old_text, "new": text},
        },
    )
    return study


def _check_may_drop_consent(study: Study) -> None:
    """Refuse asking for no consent once a rater accepted or withdrew: the gate would let a
    withdrawn rater back in, and the dashboard and exports would lose their withdrawal (the
    gate, the withdrawn list and the exports' columns skip a study whose consent_version is 0).
    """
    raters = study.memberships.filter(role=Membership.Role.RATER)
    if raters.filter(
        models.Q(consent_version__gt=0) | models.Q(withdrawn_at__isnull=False)
    ).exists():
        raise ValidationError(
            {
                "text": "Raters have already accepted (or withdrawn from) this statement: it "
                "can be replaced by a new version, not removed."
            }
        )


@transaction.atomic
def rater_question_add(*, study: Study, draft: consent.RaterQuestionDraft) -> RaterQuestion:
    """Add a question about raters to a draft study."""
    study = _draft_study(study)
    try:
        consent.check_draft(draft)
    except rubric.AnswerError as exc:
        raise ValidationError({"kind": str(exc)}) from None
    if study.rater_questions.filter(key=draft.key).exists():
        raise ValidationError({"key": f"The study already asks raters {draft.key!r}."})
    last = study.rater_questions.aggregate(m=models.Max("order"))["m"] or 0
    question = RaterQuestion(
        study=study,
        phase=draft.phase,
        key=draft.key,
        prompt=draft.prompt,
        kind=draft.kind,
        scale=list(draft.scale),
        required=draft.required,
        minimum=draft.minimum,
        maximum=draft.maximum,
        order=last + 1,
    )
    question.full_clean(exclude=["study"])
    question.save()
    _note_background(study)
    audit_record(
        action="rater_questions.changed",
        study=study,
        target=question,
        details={"question": draft.key, "added": {"phase": draft.phase, "prompt": draft.prompt}},
    )
    return question


def rater_question_add_template(*, study: Study, name: str) -> RaterQuestion:
    """A ready-made question, worded in the study's language (the same key and codes in every
    language, so that sites pool)."""
    if name not in consent.TEMPLATES:
        raise ValidationError({"template": f"Choose one of: {', '.join(consent.TEMPLATES)}."})
    return rater_question_add(
        study=study, draft=_in_language(consent.TEMPLATES[name], study.language)
    )


def _in_language(draft: consent.RaterQuestionDraft, language: str) -> consent.RaterQuestionDraft:
    with translation.override(language):
        return dataclasses.replace(
            draft,
            prompt=_(draft.prompt),
            scale=tuple({**point, "label": _(point["label"])} for point in draft.scale),
        )


@transaction.atomic
def rater_question_remove(*, study: Study, key: str) -> None:
    study = _draft_study(study)
    if not study.rater_questions.filter(key=key).delete()[0]:
        raise ValidationError({"key": f"The study asks raters no {key!r}."})
    _note_background(study)
    audit_record(
        action="rater_questions.changed", study=study, details={"question": key, "removed": True}
    )


def _draft_study(study: Study) -> Study:
    study = study_for_change(study.pk)
    if study.status != Study.Status.DRAFT:
        raise ValidationError(
            _("Questions about raters can only change while the study is a draft.")
        )
    return study


def _note_background(study: Study) -> None:
    phases = set(study.rater_questions.values_list("phase", flat=True))
    Study.objects.filter(pk=study.pk).update(
        asks_background=consent.BACKGROUND in phases, asks_raters=bool(phases)
    )


def _membership_for_update(membership: Membership) -> Membership:
    return Membership.objects.select_related("study").select_for_update().get(pk=membership.pk)


@transaction.atomic
def rater_consent_accept(*, membership: Membership, version: int) -> Membership:
    """Record that the rater accepted this version of the statement, now. Only the current
    version: a page left open on an older text is refused, not counted as the new one."""
    membership = _membership_for_update(membership)
    _check_not_withdrawn(membership)
    current = membership.study.consent_version
    if not current or version != current:
        raise ValidationError(
            {"version": _("The consent statement has changed: read the current one and accept it.")}
        )
    if membership.consent_version != current:
        membership.consent_version = current
        membership.consent_accepted_at = timezone.now()
        membership.save(update_fields=["consent_version", "consent_accepted_at"])
    return membership


@transaction.atomic
def rater_answers_save(*, membership: Membership, phase: str, raw: dict) -> Membership:
    """Store the rater's answers to the study's background or post-study questions, all of them
    checked first: a refusal names the question and stores nothing. Answered once, while the
    study is open: the answers describe the rater who rated, and the statistics by group and
    the exports must not change under an analysis (docs/consent.md)."""
    membership = _membership_for_update(membership)
    _check_not_withdrawn(membership)
    closed = answers_closed(membership=membership, phase=phase)
    if closed:
        raise ValidationError({"answers": closed})
    questions = membership.study.rater_questions.filter(phase=phase)
    try:
        answers = consent.parse_answers([q.draft for q in questions], raw)
    except rubric.AnswerError as exc:
        raise ValidationError({"answers": _answer_problem(exc)}) from None
    field = "background" if phase == consent.BACKGROUND else "post_study"
    setattr(membership, field, answers)
    setattr(membership, f"{field}_at", timezone.now())
    membership.save(update_fields=[field, f"{field}_at"])
    return membership


@transaction.atomic
def rater_consent_withdraw(*, membership: Membership) -> Membership:
    """Withdraw the rater's consent, for good (the rater cannot undo it): no further work is
    asked of them; their submitted ratings stay (docs/consent.md). Twice is harmless."""
    membership = _membership_for_update(membership)
    if not membership.study.consent_version and not membership.consent_version:
        raise ValidationError(_("This study asks for no consent, so there is none to withdraw."))
    if membership.withdrawn_at is None:
        membership.withdrawn_at = timezone.now()
        membership.save(update_fields=["withdrawn_at"])
    return membership


def _check_not_withdrawn(membership: Membership) -> None:
    if membership.withdrawn_at is not None:
        raise ValidationError(_("You have withdrawn from this study: nothing more is stored."))


def _answer_problem(exc: rubric.AnswerError) -> str:
    """The rater's answer problem in their language: core names the question (its prompt is the
    study's own text) and says what is missing; a rule of the scale stays as core words it."""
    if isinstance(exc, consent.AnswerMissing):
        return _("“%(question)s”: an answer is required.") % {"question": exc.prompt}
    if isinstance(exc, consent.AnswerInvalid):
        return _("“%(question)s”: %(problem)s") % {"question": exc.prompt, "problem": exc.reason}
    return str(exc)
