"""Reads of checklists and reports, with the rule for who may read whose answers.

Assessors appraise independently: an individual assessment is readable by its assessor, and by
other participants only once it is submitted and they have submitted their own (or do not
assess). Nobody else ever reads an unsubmitted assessment, through a page or the API.
"""

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from annotation.models import Membership
from annotation.selectors.facts import study_reporting_facts
from checklists.definition_files import EVIDENCE_KEYS
from checklists.exports import ExportDoc, ExportRow
from checklists.models import (
    Assessment,
    ChecklistDefinition,
    ChecklistItem,
    Report,
    Response,
)
from evalapp.errors import ShownNotFound

if TYPE_CHECKING:  # the consensus page's alpha needs numpy: see consensus_view
    from annotation.core.stats.agreement import AlphaResult

# --- definitions ------------------------------------------------------------------------------


def definitions_current() -> list[ChecklistDefinition]:
    """The newest revision of every checklist, with its item count."""
    latest = list(ChecklistDefinition.objects.values("slug").annotate(r=Max("revision")))
    if not latest:
        return []
    wanted = Q()
    for row in latest:
        wanted |= Q(slug=row["slug"], revision=row["r"])
    return list(
        ChecklistDefinition.objects.filter(wanted).annotate(n_items=Count("items")).order_by("slug")
    )


def definition_get(*, slug: str, revision: int | None = None) -> ChecklistDefinition:
    found = ChecklistDefinition.objects.filter(slug=slug)
    definition = found.filter(revision=revision).first() if revision else found.first()
    if definition is None:
        raise ShownNotFound(_("No such checklist."))
    return definition


# --- scope: which items of a modular checklist a report answers --------------------------------


def applicable_items(*, report: Report) -> list[ChecklistItem]:
    """The items the report answers: all of them, unless a modular checklist's scope leaves
    some out. Every count of items ("N of M") counts these."""
    return [item for item in report.definition.items.all() if item.applies_in(report.scope)]


def set_aside_codes(*, assessment: Assessment) -> list[str]:
    """Codes of items answered in this assessment that no longer apply to the report's scope:
    their answers are kept (and come back if the scope widens), but are not shown or counted."""
    answered = assessment.responses.filter(answer__isnull=False).select_related("item")
    return [
        r.item.code
        for r in answered.order_by("item__order")
        if r.is_answered and not r.item.applies_in(assessment.report.scope)
    ]


@dataclass(frozen=True)
class ScopeModule:
    key: str
    title: str
    guidance: str
    options: list[dict]
    chosen: list[str]

    @property
    def chosen_labels(self) -> list[str]:
        return [o["label"] for o in self.options if o["value"] in self.chosen]


def scope_modules(*, report: Report) -> list[ScopeModule]:
    """The checklist's modules with what the report chose in each (nothing, until chosen)."""
    return [
        ScopeModule(
            key=module["key"],
            title=module["title"],
            guidance=module.get("guidance", ""),
            options=module["options"],
            chosen=report.scope.get(module["key"], []),
        )
        for module in report.definition.modules
    ]


def scope_text(*, report: Report) -> str:
    """The scope in one line for exports, e.g. "Research design: E (LLM evaluation); ..."."""
    if not report.definition.is_modular:
        return ""
    if not report.scope:
        return _("not chosen: every item is shown")
    return "; ".join(
        f"{module.title}: {', '.join(module.chosen_labels)}"
        for module in scope_modules(report=report)
    )


# --- reports and who may read what ------------------------------------------------------------


def reports_for_user(*, user: AbstractBaseUser) -> QuerySet[Report]:
    # Someone who rates in a report's linked study never reaches the report, whichever came
    # first: its notes may quote the study's facts, sources included.
    rates_in = Membership.objects.filter(user=user, role=Membership.Role.RATER).values("study_id")
    return (
        Report.objects.filter(
            Q(lead=user) | Q(assessments__assessor=user, assessments__kind="individual")
        )
        .exclude(study_id__in=rates_in)
        .distinct()
        .select_related("definition", "study")
    )


def report_for_participant(*, user: AbstractBaseUser, token: str) -> Report:
    """The report if `user` leads or assesses it; 404 otherwise, so outsiders learn nothing."""
    report = reports_for_user(user=user).filter(token=token).first()
    if report is None:
        raise ShownNotFound(_("No such report."))
    return report


def _with_started(assessments: QuerySet[Assessment]) -> QuerySet[Assessment]:
    """Annotate `started`: its assessor has answered an item or submitted."""
    answered = Exists(Response.objects.filter(assessment=OuterRef("pk")))
    return assessments.annotate(answered=answered).annotate(
        started=Q(answered=True) | Q(submitted_at__isnull=False)
    )


def assessments_listed(*, report: Report, user: AbstractBaseUser) -> list[Assessment]:
    """The individual assessments `user` sees named on the report: their own, and the others
    once their assessor has started. One named by the lead but not started is shown to nobody
    else, so naming an assessor never tells the lead whether that account exists."""
    individual = _with_started(report.assessments.filter(kind=Assessment.Kind.INDIVIDUAL))
    return list(individual.filter(Q(started=True) | Q(assessor=user)).select_related("assessor"))


def own_assessment(*, report: Report, user: AbstractBaseUser) -> Assessment | None:
    return report.assessments.filter(assessor=user, kind=Assessment.Kind.INDIVIDUAL).first()


def can_read_assessment(
    *, assessment: Assessment, user: AbstractBaseUser, own: Assessment | None
) -> bool:
    if assessment.kind == Assessment.Kind.INDIVIDUAL and assessment.assessor_id == user.pk:
        return True
    if own is not None and not own.is_submitted:
        return False  # still appraising: independence comes first
    return assessment.kind == Assessment.Kind.CONSENSUS or assessment.is_submitted


def can_see_others(*, report: Report, user: AbstractBaseUser) -> bool:
    own = own_assessment(report=report, user=user)
    return own is None or own.is_submitted


def assessment_for_reader(*, report: Report, user: AbstractBaseUser, token: str) -> Assessment:
    """An assessment of this report that `user` may read; 404 for any other."""
    assessment = report.assessments.filter(token=token).select_related("assessor").first()
    own = own_assessment(report=report, user=user)
    if assessment is None or not can_read_assessment(assessment=assessment, user=user, own=own):
        raise ShownNotFound(_("No such assessment, or not yours to read yet."))
    return assessment


def can_view_study_facts(*, report: Report, user: AbstractBaseUser) -> bool:
    # The facts name the study's sources: only the study's own admins see them.
    if report.study_id is None:
        return False
    return report.study.memberships.filter(user=user, role=Membership.Role.ADMIN).exists()


# --- the answer sheet ------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    lines: list[str]
    text: str
    digest: str
    used: bool  # these exact facts are in the notes' history
    stale: bool  # facts were used, and the study has changed since


@dataclass
class ItemRow:
    item: ChecklistItem
    response: Response | None
    evidence: Evidence | None = None

    @property
    def is_answered(self) -> bool:
        return self.response is not None and self.response.is_answered

    @property
    def selected(self) -> list[str]:
        answer = self.response.answer if self.response else None
        if answer is None:
            return []
        return answer if isinstance(answer, list) else [answer]


@dataclass
class SectionRows:
    code: str
    title: str
    guidance: str
    rows: list[ItemRow] = field(default_factory=list)
    total: int = 0

    @property
    def answered(self) -> int:
        return sum(row.is_answered for row in self.rows)


@dataclass
class Sheet:
    sections: list[SectionRows]
    answered: int
    total: int

    @property
    def is_complete(self) -> bool:
        return self.answered == self.total


def assessment_sheet(*, assessment: Assessment, facts: dict[str, list[str]] | None = None) -> Sheet:
    """Every item of the checklist with this assessment's response, grouped by section."""
    responses = {r.item_id: r for r in assessment.responses.all()}
    definition = assessment.report.definition
    sections: dict[int, SectionRows] = {}
    for section in definition.sections.all():
        sections[section.pk] = SectionRows(section.code, section.title, section.guidance)
    for item in applicable_items(report=assessment.report):
        response = responses.get(item.pk)
        evidence = _evidence(item, response, facts, assessment.report) if facts else None
        sections[item.section_id].rows.append(ItemRow(item, response, evidence))
    for section in sections.values():
        section.total = len(section.rows)
    # A section none of whose items applies is left out, as its items are.
    shown = [section for section in sections.values() if section.rows]
    answered = sum(s.answered for s in shown)
    total = sum(s.total for s in shown)
    return Sheet(shown, answered, total)


def study_facts_for(*, report: Report, user: AbstractBaseUser) -> dict[str, list[str]] | None:
    if not can_view_study_facts(report=report, user=user):
        return None
    return study_reporting_facts(study=report.study)


def _evidence(
    item: ChecklistItem, response: Response | None, facts: dict, report: Report
) -> Evidence | None:
    if not item.evidence:
        return None
    lines = [line for key in item.evidence for line in facts.get(key, [])]
    headings = ", ".join(EVIDENCE_KEYS[key].lower() for key in item.evidence)
    text = f'From the evalapp reader study "{report.study.title}" ({headings}):\n' + "\n".join(
        f"- {line}" for line in lines
    )
    digest = hashlib.sha256(text.encode()).hexdigest()
    used_hash = response.evidence_hash if response else ""
    return Evidence(
        lines=lines,
        text=text,
        digest=digest,
        used=bool(used_hash) and used_hash == digest,
        stale=bool(used_hash) and used_hash != digest,
    )


def item_for_assessment(*, assessment: Assessment, code: str) -> ChecklistItem:
    item = assessment.report.definition.items.filter(code=code).first()
    if item is None:
        raise ShownNotFound(_("No such item in this checklist."))
    return item


# --- consensus --------------------------------------------------------------------------------


@dataclass
class ConsensusRow:
    item: ChecklistItem
    answers: list[str | None]  # one per submitted assessor, as labels
    agree: bool | None  # None when fewer than two assessors answered
    consensus: Response | None
    unanimous: object = None  # the shared answer when every assessor gave the same one

    @property
    def consensus_label(self) -> str:
        return answer_labels(self.item, self.consensus.answer) if self.consensus else ""


# Why alpha has no value, as the statistics core says it (in English: the core has no Django),
# in the words of the consensus page. A reason not listed here is shown as the core wrote it.
ALPHA_REASONS = {
    "no unit has two or more ratings": gettext_lazy(
        "no item has answers from two or more assessors"
    ),
    "all ratings share one value": gettext_lazy(
        "every answer is the same, so chance agreement is 1"
    ),
}


@dataclass
class ConsensusView:
    assessors: list[Assessment]
    pending: list[Assessment]
    rows: list[ConsensusRow]
    percent_agreement: float | None
    alpha: "AlphaResult"

    @property
    def percent(self) -> float | None:
        return None if self.percent_agreement is None else 100 * self.percent_agreement

    @property
    def alpha_reason(self) -> str:
        return str(ALPHA_REASONS.get(self.alpha.reason, self.alpha.reason))

    @property
    def has_consensus(self) -> bool:
        return any(row.consensus and row.consensus.is_answered for row in self.rows)

    @property
    def n_disagreements(self) -> int:
        return sum(row.agree is False for row in self.rows)

    @property
    def n_unanimous_unrecorded(self) -> int:
        return sum(
            row.agree is True and not (row.consensus and row.consensus.is_answered)
            for row in self.rows
        )


def answer_key(answer: object) -> str | None:
    """One nominal category per distinct answer; a set of ticked boxes is one category."""
    if answer in (None, [], ""):
        return None
    return "+".join(answer) if isinstance(answer, list) else str(answer)


def answer_labels(item: ChecklistItem, answer: object) -> str:
    if answer in (None, [], ""):
        return ""
    values = answer if isinstance(answer, list) else [answer]
    return "; ".join(item.label_of(value) for value in values)


def consensus_view(*, report: Report) -> ConsensusView:
    """Submitted assessments side by side, their agreement across items, and the consensus."""
    # Imported here: alpha needs numpy, loaded by the consensus page and the bundle that show
    # it, not by every page that reads checklists (issue 22).
    from annotation.core.stats import agreement

    individual = _with_started(
        report.assessments.filter(kind=Assessment.Kind.INDIVIDUAL)
    ).select_related("assessor")
    submitted = [a for a in individual if a.is_submitted]
    # Only those who started: one named but never started must not show, even as a count.
    pending = [a for a in individual if a.started and not a.is_submitted]
    answers = {
        (r.assessment_id, r.item_id): r.answer
        for r in Response.objects.filter(assessment__in=submitted)
    }
    consensus = report.assessments.filter(kind=Assessment.Kind.CONSENSUS).first()
    agreed = {r.item_id: r for r in consensus.responses.all()} if consensus else {}
    rows, observations, categories = [], [], {}
    for item in applicable_items(report=report):
        keys = [answer_key(answers.get((a.pk, item.pk))) for a in submitted]
        given = [k for k in keys if k is not None]
        for assessment, key in zip(submitted, keys, strict=True):
            if key is not None:
                code = categories.setdefault(key, len(categories))
                observations.append(agreement.Observation(item.code, assessment.token, code))
        raw = [answers.get((a.pk, item.pk)) for a in submitted]
        agree = len(set(given)) == 1 if len(given) >= 2 else None
        rows.append(
            ConsensusRow(
                item=item,
                answers=[answer_labels(item, answer) for answer in raw],
                agree=agree,
                consensus=agreed.get(item.pk),
                unanimous=next(a for a in raw if a is not None) if agree else None,
            )
        )
    alpha = agreement.krippendorff_alpha(
        observations, level="nominal", value_domain=list(range(max(len(categories), 1)))
    )
    return ConsensusView(
        assessors=submitted,
        pending=pending,
        rows=rows,
        percent_agreement=agreement.percent_agreement(observations),
        alpha=alpha,
    )


# --- exports ----------------------------------------------------------------------------------


def assessment_to_export(*, report: Report, user: AbstractBaseUser, which: str = "") -> Assessment:
    """`which` names an assessment by token, or "consensus"; by default the consensus once it
    has answers, otherwise the caller's own assessment."""
    own = own_assessment(report=report, user=user)
    consensus = report.assessments.filter(kind=Assessment.Kind.CONSENSUS).first()
    readable = consensus and can_read_assessment(assessment=consensus, user=user, own=own)
    if which == "consensus" or (not which and readable and consensus.responses.exists()):
        if readable:
            return consensus
        raise ShownNotFound(_("No consensus to export yet."))
    if which:
        return assessment_for_reader(report=report, user=user, token=which)
    if own is None:
        raise ShownNotFound(
            _("You have no answers of your own here; export the consensus instead.")
        )
    return own


# The exported files are for a paper written in English, as the checklists are published.
EXPORT_LANGUAGE = "en"


def export_doc(
    *, assessment: Assessment, exported_at: str, language: str = EXPORT_LANGUAGE
) -> ExportDoc:
    """The assessment as the exports write it. What evalapp itself words (the version label,
    yes / no / not applicable, the scope, who answered) is in `language`: English for the
    files, the reader's language for the page to print."""
    with translation.override(language):
        return _export_doc(assessment, exported_at)


def _export_doc(assessment: Assessment, exported_at: str) -> ExportDoc:
    report = assessment.report
    definition = report.definition
    responses = {r.item_id: r for r in assessment.responses.all()}
    sections = {s.pk: f"{s.code}. {s.title}" for s in definition.sections.all()}
    rows = []
    for item in applicable_items(report=report):
        response = responses.get(item.pk)
        answer = response.answer if response else None
        rows.append(
            ExportRow(
                section=sections[item.section_id],
                code=item.code,
                prompt=item.prompt,
                answer=answer_labels(item, answer),
                answer_values=[] if answer is None else list(_as_list(answer)),
                location=response.location if response else "",
                notes=response.notes if response else "",
            )
        )
    return ExportDoc(
        checklist=definition.title,
        version=definition.version_label,
        citation=definition.citation,
        source_url=definition.source_url,
        notice=definition.notice,
        scope=scope_text(report=report),
        report=report.title,
        manuscript=report.manuscript,
        answered_by=_answered_by(assessment),
        submitted_at=assessment.submitted_at.isoformat() if assessment.submitted_at else "",
        exported_at=exported_at,
        rows=rows,
    )


def _as_list(answer: object) -> list[str]:
    return answer if isinstance(answer, list) else [str(answer)]


def _answered_by(assessment: Assessment) -> str:
    name = assessment.assessor.get_full_name() or assessment.assessor.get_username()
    if assessment.kind == Assessment.Kind.CONSENSUS:
        n = assessment.report.assessments.filter(
            kind=Assessment.Kind.INDIVIDUAL, submitted_at__isnull=False
        ).count()
        message = ngettext(
            "Consensus of %(count)d assessor, recorded by %(name)s",
            "Consensus of %(count)d assessors, recorded by %(name)s",
            n,
        )
        return message % {"count": n, "name": name}
    return name
