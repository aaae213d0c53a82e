"""Every write to checklists goes through these functions; views, the API and commands stay thin."""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from annotation.models import Membership, Study
from annotation.services.audit import audit_record
from checklists.definition_files import (
    Choice,
    DefinitionError,
    DefinitionSpec,
    ModuleSpec,
    parse_definition,
)
from checklists.models import (
    Assessment,
    ChecklistDefinition,
    ChecklistItem,
    Report,
    ReportScopeChange,
    Response,
    ResponseRevision,
    Section,
)
from checklists.selectors import applicable_items

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
DEFINITION_SUFFIXES = (".yaml", ".yml", ".json")

# --- definitions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadOutcome:
    filename: str
    slug: str
    revision: int
    created: bool


def definition_files_shipped() -> list[Path]:
    return sorted(p for p in DEFINITIONS_DIR.iterdir() if p.suffix in DEFINITION_SUFFIXES)


def checklists_load(*, paths: Iterable[Path]) -> list[LoadOutcome]:
    """Load definition files all or nothing: every file is validated before anything is written.

    An unchanged file is a no-op; a changed one becomes the next revision of its checklist, and
    earlier revisions (with every answer given to them) stay as they were.
    """
    specs: list[tuple[str, DefinitionSpec]] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DefinitionError(Path(path).name, "", f"cannot be read: {exc}") from None
        specs.append((Path(path).name, parse_definition(Path(path).name, text)))
    first_file: dict[str, str] = {}
    for filename, spec in specs:
        if spec.slug in first_file:
            reason = f"slug {spec.slug!r} is also used by {first_file[spec.slug]}"
            raise DefinitionError(filename, "slug", reason)
        first_file[spec.slug] = filename
    with transaction.atomic():
        return [_definition_store(filename, spec) for filename, spec in specs]


def _definition_store(filename: str, spec: DefinitionSpec) -> LoadOutcome:
    # Compared with the newest revision only: going back to an earlier text is a change too.
    latest = ChecklistDefinition.objects.filter(slug=spec.slug).order_by("-revision").first()
    if latest and latest.content_hash == spec.content_hash:
        return LoadOutcome(filename, spec.slug, latest.revision, created=False)
    definition = ChecklistDefinition.objects.create(
        slug=spec.slug,
        revision=latest.revision + 1 if latest else 1,
        version=spec.version,
        title=spec.title,
        citation=spec.citation,
        source_url=spec.source_url,
        notice=spec.notice,
        modules=[_module_data(module) for module in spec.modules],
        filename=filename,
        content_hash=spec.content_hash,
    )
    order = 0
    for section_order, section_spec in enumerate(spec.sections):
        section = Section.objects.create(
            definition=definition,
            code=section_spec.code,
            title=section_spec.title,
            guidance=section_spec.guidance,
            order=section_order,
        )
        items = []
        for item in section_spec.items:
            items.append(
                ChecklistItem(
                    definition=definition,
                    section=section,
                    code=item.code,
                    prompt=item.prompt,
                    guidance=item.guidance,
                    kind=item.kind,
                    choices=[_choice_data(c) for c in item.choices],
                    evidence=list(item.evidence),
                    tag=item.tag,
                    applies_to={key: list(codes) for key, codes in item.applies_to},
                    order=order,
                )
            )
            order += 1
        ChecklistItem.objects.bulk_create(items)
    return LoadOutcome(filename, spec.slug, definition.revision, created=True)


def _module_data(module: ModuleSpec) -> dict:
    return {
        "key": module.key,
        "title": module.title,
        "guidance": module.guidance,
        "options": [_choice_data(option) for option in module.options],
    }


def _choice_data(choice: Choice) -> dict:
    data = {"value": choice.value, "label": choice.label}
    if choice.exclusive:
        data["exclusive"] = True
    return data


# --- reports and assessors --------------------------------------------------------------------


@transaction.atomic
def report_create(
    *,
    lead: AbstractBaseUser,
    definition: ChecklistDefinition,
    title: str,
    manuscript: str = "",
    study: Study | None = None,
    lead_assesses: bool = True,
    scope: dict[str, list[str]] | None = None,
) -> Report:
    """A report led by `lead`, who also answers it unless they only coordinate the appraisal.
    A modular checklist's scope may be chosen at once (recorded as its first change); None or
    {} leaves it to be chosen later. A bad scope is refused under `scope`, and no report made."""
    if study is not None and not _is_study_admin(study, lead):
        raise ValidationError({"study": _("You can link only a study you administer.")})
    cleaned = _scope_at_creation(definition, scope) if scope else {}
    report = Report.objects.create(
        definition=definition,
        title=title,
        manuscript=manuscript,
        study=study,
        lead=lead,
        scope=cleaned,
    )
    if cleaned:
        ReportScopeChange.objects.create(report=report, scope=cleaned, changed_by=lead)
    if lead_assesses:
        Assessment.objects.create(report=report, assessor=lead)
    if study is not None:
        # A report linked to a study reads its facts (raters, blinding, agreement): recorded
        # in the study's audit trail.
        details = {"report": title, "checklist": definition.slug, "lead": lead.get_username()}
        audit_record(action="checklist.linked", study=study, target=report, details=details)
    return report


def _scope_at_creation(definition: ChecklistDefinition, scope: object) -> dict[str, list[str]]:
    if not definition.is_modular:
        raise ValidationError({"scope": f"{definition.title} has no modules to choose from."})
    try:
        return _clean_scope(definition, scope)
    except ValidationError as exc:
        raise ValidationError({"scope": exc.messages}) from None


@transaction.atomic
def report_set_scope(
    *, report: Report, user: AbstractBaseUser, scope: dict[str, list[str]]
) -> Report:
    """Choose which designs, tasks (or other modules) a modular checklist's report covers.

    Answers to items that stop applying are kept, only set aside, so that widening the scope
    again brings them back. Every change is recorded. Once an appraisal is submitted the scope
    is fixed: that appraisal answered exactly the items of its scope."""
    report = Report.objects.select_for_update().select_related("definition").get(pk=report.pk)
    if user.pk != report.lead_id:
        raise ValidationError(_("Only the report's lead can choose its scope."))
    if not report.definition.is_modular:
        message = _("%(checklist)s has no modules to choose from.")
        raise ValidationError(message % {"checklist": report.definition.title})
    cleaned = _clean_scope(report.definition, scope)
    if cleaned == report.scope:
        return report
    if report.assessments.filter(submitted_at__isnull=False).exists():
        message = _("An appraisal has been submitted, so the scope can no longer change.")
        raise ValidationError(message)
    report.scope = cleaned
    report.save(update_fields=["scope"])
    ReportScopeChange.objects.create(report=report, scope=cleaned, changed_by=user)
    return report


def _clean_scope(definition: ChecklistDefinition, scope: object) -> dict[str, list[str]]:
    """The scope in the modules' order, or a ValidationError naming the module at fault."""
    if not isinstance(scope, dict):
        raise ValidationError(_("The scope maps each module to the options chosen."))
    modules = {module["key"]: module for module in definition.modules}
    unknown = sorted(set(map(str, scope)) - set(modules))
    if unknown:
        message = _("No such module; known: %(known)s.") % {"known": ", ".join(modules)}
        raise ValidationError({unknown[0]: message})
    cleaned = {}
    for key, module in modules.items():
        allowed = [option["value"] for option in module["options"]]
        chosen = scope.get(key)
        if not isinstance(chosen, list) or not chosen:
            raise ValidationError({key: scope_needs_one(module["title"])})
        wrong = [code for code in chosen if code not in allowed]
        if wrong:
            # Translators: "Research design: no option 'Z'; E, D, ..." (a module of the checklist).
            message = _("%(module)s: no option %(option)s; %(listed)s.") % {
                "module": module["title"],
                "option": repr(wrong[0]),
                "listed": ", ".join(allowed),
            }
            raise ValidationError({key: message})
        cleaned[key] = [code for code in allowed if code in chosen]
    return cleaned


def scope_needs_one(module_title: str) -> str:
    """The refusal of an empty choice in one module; the scope form says it too."""
    # Translators: a module of a modular checklist, e.g. "LLM task: choose at least one."
    return _("%(module)s: choose at least one.") % {"module": module_title}


def report_add_assessor(*, report: Report, user: AbstractBaseUser) -> Assessment:
    if (
        report.study_id
        and report.study.memberships.filter(user=user, role=Membership.Role.RATER).exists()
    ):
        # The report shows the study's facts, sources included: it would unblind a rater.
        message = _("%(user)s rates in the linked study, so cannot assess this report.")
        raise ValidationError(message % {"user": user})
    submitted = report.assessments.filter(submitted_at__isnull=False).exists()
    if user.pk == report.lead_id and submitted:
        # The lead has been able to read the submitted appraisals: theirs would not be independent.
        message = _("The lead can join as an assessor only before anyone has submitted.")
        raise ValidationError(message)
    assessment, _created = Assessment.objects.get_or_create(
        report=report, assessor=user, kind=Assessment.Kind.INDIVIDUAL
    )
    return assessment


def report_name_assessor(*, report: Report, username: str) -> Assessment | None:
    """Let the active account called `username` appraise the report, if there is one; None
    otherwise. Callers answer alike either way: the name is listed to others only once its
    owner starts (selectors.assessments_listed), so the lead cannot probe for accounts."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        return None
    return report_add_assessor(report=report, user=user)


def _is_study_admin(study: Study, user: AbstractBaseUser) -> bool:
    return study.memberships.filter(user=user, role=Membership.Role.ADMIN).exists()


# --- answering --------------------------------------------------------------------------------

UNCHANGED = object()
LOCATION_MAX = Response._meta.get_field("location").max_length


@transaction.atomic
def response_save(
    *,
    assessment: Assessment,
    item: ChecklistItem,
    user: AbstractBaseUser,
    answer: object = UNCHANGED,
    location: str | None = None,
    notes: str | None = None,
) -> Response:
    """Save what changed of one answer, keeping every earlier state in the revision history."""
    assessment = _locked(assessment)
    _check_can_answer(assessment, item, user)
    response, _created = Response.objects.select_for_update().get_or_create(
        assessment=assessment, item=item
    )
    changes = {}
    if answer is not UNCHANGED:
        item.validate_answer(answer)
        changes["answer"] = item.normalise_answer(answer)
    if location is not None:
        if len(location.strip()) > LOCATION_MAX:
            message = _("Where reported: at most %(max)d characters.")
            raise ValidationError(message % {"max": LOCATION_MAX})
        changes["location"] = location.strip()
    if notes is not None:
        changes["notes"] = notes.strip()
    return _response_apply(response, changes, user)


@transaction.atomic
def response_use_evidence(
    *, assessment: Assessment, item: ChecklistItem, user: AbstractBaseUser, text: str, digest: str
) -> Response:
    """Put the study's facts into the answer's notes, remembering which facts they were."""
    assessment = _locked(assessment)
    _check_can_answer(assessment, item, user)
    response, _created = Response.objects.select_for_update().get_or_create(
        assessment=assessment, item=item
    )
    if (response.notes, response.evidence_hash) == (text, digest):
        return response  # the same facts again: nothing to record
    changes = {"notes": text, "evidence_hash": digest, "evidence_used_at": timezone.now()}
    response = _response_apply(response, changes, user)
    study = assessment.report.study
    if study is not None:
        # The study's facts copied out of it, into a report: recorded against the study.
        details = {"report": assessment.report.title, "item": item.code, "facts_hash": digest}
        audit_record(
            action="checklist.evidence_used", study=study, target=response, details=details
        )
    return response


def _locked(assessment: Assessment) -> Assessment:
    # A fresh copy under a row lock: a save and a submit of one assessment never interleave, so
    # nothing changes after the submit and a submitted sheet is never left incomplete.
    return Assessment.objects.select_for_update().select_related("report").get(pk=assessment.pk)


def _check_can_answer(assessment: Assessment, item: ChecklistItem, user: AbstractBaseUser) -> None:
    if assessment.assessor_id != user.pk:
        raise ValidationError(_("Only the assessor can change these answers."))
    if assessment.is_submitted:
        when = formats.date_format(assessment.submitted_at, "DATETIME_FORMAT")
        message = _("These answers were submitted on %(when)s UTC and are locked.")
        raise ValidationError(message % {"when": when})
    if item.definition_id != assessment.report.definition_id:
        message = _("Item %(code)s belongs to another checklist.")
        raise ValidationError(message % {"code": item.code})
    if not item.applies_in(assessment.report.scope):
        raise ValidationError(item_out_of_scope(item.code))


def item_out_of_scope(code: str) -> str:
    """The refusal of an item the report's scope leaves out; the pages say it too."""
    return _("Item %(code)s does not apply to this report's scope.") % {"code": code}


def _response_apply(response: Response, changes: dict, user: AbstractBaseUser) -> Response:
    changed = {k: v for k, v in changes.items() if getattr(response, k) != v}
    if not changed:
        return response
    for field, value in changed.items():
        setattr(response, field, value)
    response.save()
    ResponseRevision.objects.create(
        response=response,
        answer=response.answer,
        location=response.location,
        notes=response.notes,
        saved_by=user,
    )
    return response


@transaction.atomic
def assessment_submit(*, assessment: Assessment) -> Assessment:
    """Lock an individual assessment once every item is answered. Submitting twice is harmless."""
    if assessment.kind != Assessment.Kind.INDIVIDUAL:
        raise ValidationError(_("Only an individual assessment is submitted."))
    assessment = _locked(assessment)
    if assessment.is_submitted:
        return assessment
    answered = {r.item_id for r in assessment.responses.all() if r.is_answered}
    missing = [
        item.code for item in applicable_items(report=assessment.report) if item.pk not in answered
    ]
    if missing:
        listed = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        message = ngettext(
            "%(count)d item still needs an answer: %(listed)s.",
            "%(count)d items still need an answer: %(listed)s.",
            len(missing),
        )
        raise ValidationError(message % {"count": len(missing), "listed": listed})
    assessment.submitted_at = timezone.now()
    assessment.save(update_fields=["submitted_at"])
    return assessment


def consensus_assessment(*, report: Report) -> Assessment:
    assessment, _created = Assessment.objects.get_or_create(
        report=report, kind=Assessment.Kind.CONSENSUS, defaults={"assessor": report.lead}
    )
    return assessment


def consensus_accept_unanimous(*, report: Report, rows: Iterable) -> int:
    """Record as consensus every answer all submitted assessors agree on, where the lead has
    not recorded one yet. `rows` come from `selectors.consensus_view`. Returns how many."""
    consensus = consensus_assessment(report=report)
    recorded = 0
    for row in rows:
        if row.agree is not True or (row.consensus and row.consensus.is_answered):
            continue
        response_save(assessment=consensus, item=row.item, user=report.lead, answer=row.unanimous)
        recorded += 1
    return recorded
