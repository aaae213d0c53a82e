"""Consent and rater background as read: the gate before a rater's items, what a rater sees of
their own consent, and the raters' background as the admin and the exports see it."""

import json
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from annotation.core import columns, consent, rubric
from annotation.models import ConsentVersion, Membership, RaterQuestion, Result, Study

STEP_MESSAGES = {
    consent.WITHDRAWN: gettext_lazy(
        "You have withdrawn your consent to this study: no further work is asked of you."
    ),
    consent.CONSENT: gettext_lazy(
        "Before your items, read and accept the study's consent statement."
    ),
    consent.BACKGROUND: gettext_lazy(
        "Before your items, answer the few questions about your background."
    ),
}


class OnboardingRequired(PermissionDenied):
    """A rater's item refused until they accept the consent statement or answer the background
    questions, or for good once they withdrew. Django and the API answer 403 with the message;
    the rater's pages send them to the step instead."""

    def __init__(self, *, step: str, study_token: str):
        super().__init__(str(STEP_MESSAGES[step]))
        self.step = step
        self.study_token = study_token


def rater_onboarding_check(*, user: AbstractBaseUser, study: Study) -> None:
    """Raise OnboardingRequired if the rater must do something first (core.consent.next_step).
    No query for a study that asks nothing: a study without consent has no withdrawal."""
    if not study.consent_version and not study.asks_background:
        return
    membership = Membership.objects.filter(
        study=study, user=user, role=Membership.Role.RATER
    ).first()
    if membership is None:
        raise Http404("No such study.")
    step = membership_next_step(membership=membership, study=study)
    if step is not None:
        raise OnboardingRequired(step=step, study_token=study.token)


def membership_next_step(*, membership: Membership, study: Study) -> str | None:
    return consent.next_step(
        consent_version=study.consent_version,
        accepted_version=membership.consent_version,
        withdrawn=membership.withdrawn_at is not None,
        asks_background=study.asks_background,
        answered_background=membership.background_at is not None,
    )


def rater_membership_get(*, user: AbstractBaseUser, study_token: str) -> Membership:
    """The rater's membership of an open or locked study, with the study; 404 otherwise."""
    found = (
        Membership.objects.select_related("study")
        .filter(
            user=user,
            role=Membership.Role.RATER,
            study__token=study_token,
            study__status__in=[Study.Status.OPEN, Study.Status.LOCKED],
        )
        .first()
    )
    if found is None:
        raise Http404("No such study.")
    return found


def answers_closed(*, membership: Membership, phase: str) -> str:
    """Why the rater may not answer this phase's questions ("" if they may): only while the
    study is open, and the background once (it forms the groups of the statistics and the
    exports' covariates, which must not shift under an analysis). The optional post-study
    answers may be revised until the study is locked."""
    if phase == consent.BACKGROUND and membership.background_at is not None:
        return _("Your background answers are already recorded: they cannot be changed.")
    if membership.study.status != Study.Status.OPEN:
        return _("The study is closed: it takes no more answers.")
    return ""


def consent_text(*, study: Study, version: int) -> str:
    """The text of one version of the study's consent statement ("" for none)."""
    if not version:
        return ""
    found = ConsentVersion.objects.filter(study=study, version=version).first()
    return found.text if found else ""


def study_rater_questions(*, study: Study, phase: str | None = None) -> list[RaterQuestion]:
    questions = study.rater_questions.all()
    if phase is not None:
        questions = questions.filter(phase=phase)
    return list(questions)


@dataclass(frozen=True)
class RaterBackground:
    """One rater as the admin and the exports see them: pseudonym, consent, answers."""

    pseudonym: str
    consent_version: int
    accepted_at: object  # datetime or None
    withdrawn_at: object
    answers: dict  # question key -> stored answer (background and post-study)

    def label(self, question: RaterQuestion) -> str:
        return question.label_of(self.answers.get(question.key))


def study_raters_background(*, study: Study) -> list[RaterBackground]:
    """Every rater of the study, by pseudonym: for the admin, raters.csv and the ratings
    export. Never for a rater: a rater sees no one else's background."""
    memberships = study.memberships.filter(role=Membership.Role.RATER).order_by("pk")
    return [
        RaterBackground(
            pseudonym=m.pseudonym,
            consent_version=m.consent_version,
            accepted_at=m.consent_accepted_at,
            withdrawn_at=m.withdrawn_at,
            answers={**m.background, **m.post_study},
        )
        for m in memberships
    ]


def split_question(*, study: Study) -> RaterQuestion | None:
    """The background question raters are grouped by (methods text, dashboard): the first
    single choice asked before the first item, typically the specialty."""
    if not study.asks_background:  # no query for a study that asks nothing
        return None
    questions = study.rater_questions.filter(phase=consent.BACKGROUND, kind=rubric.SINGLE_CHOICE)
    return questions.first()


def study_raters_sentence(*, study: Study) -> str:
    """The methods text's sentence on the raters (core.consent.raters_sentence), by the first
    single-choice background question and a number question keyed "years", where asked."""
    raters = study_raters_background(study=study)
    split = split_question(study=study)
    groups: dict[str, int] = {}
    if split is not None:
        for rater in raters:
            label = rater.label(split) or "not answered"
            groups[label] = groups.get(label, 0) + 1
    asks_years = study.rater_questions.filter(
        phase=consent.BACKGROUND, key="years", kind=rubric.NUMBER
    ).exists()
    years = [float(r.answers["years"]) for r in raters if asks_years and "years" in r.answers]
    return consent.raters_sentence(
        n_raters=len(raters),
        group_by=split.key.replace("_", " ") if split is not None else "",
        groups=list(groups.items()),
        years=years,
    )


def rater_post_study_offered(*, user: AbstractBaseUser, study: Study) -> bool:
    """Whether the rater's done page offers the post-study questions: asked by the study, not
    answered yet, and the rater has not withdrawn."""
    membership = study.memberships.filter(user=user, role=Membership.Role.RATER).first()
    return (
        membership is not None
        and membership.withdrawn_at is None
        and membership.post_study_at is None
        and study.rater_questions.filter(phase=consent.POST_STUDY).exists()
    )


def study_withdrawn_raters(*, study: Study) -> list[str]:
    """The pseudonyms of raters who withdrew consent, for the admin's dashboard. No query for
    a study that never asked for consent: its statement cannot be removed once a rater accepted
    or withdrew (services.consent), so a study with a withdrawal always has a version."""
    if not study.consent_version:
        return []
    found = study.memberships.filter(role=Membership.Role.RATER, withdrawn_at__isnull=False)
    return list(found.order_by("pseudonym").values_list("pseudonym", flat=True))


@dataclass(frozen=True)
class GroupLine:
    label: str
    n_raters: int  # the group's raters with ratings of this question
    alpha: float | None
    ci: list | None
    mean: float | None
    reason: str = ""  # why alpha is undefined, if it is


@dataclass(frozen=True)
class SplitTable:
    """One question's agreement and mean score by group of raters, as stored by the worker."""

    key: str
    prompt: str
    group_key: str
    lines: list[GroupLine]


def study_background_split(*, study: Study) -> list[SplitTable]:
    """Each question's stored statistics by group of raters (services.statistics.subgroups),
    in the rubric's and the groups' order; nothing is computed here. One query, none for a
    study that asks no background."""
    if not study.asks_background:
        return []
    results = Result.objects.filter(study=study, statistic__startswith="group_").select_related(
        "question"
    )
    by_question: dict = {}
    for result in results:
        measure, _sep, value = result.statistic.partition(":")
        group = by_question.setdefault(result.question, {}).setdefault(value, {})
        group[measure] = result
    return [
        SplitTable(
            key=question.key,
            prompt=question.prompt,
            group_key=next(iter(groups.values()))["group_alpha"].detail.get("group_key", ""),
            lines=[_group_line(group) for _name, group in sorted(groups.items(), key=_group_order)],
        )
        for question, groups in sorted(by_question.items(), key=lambda q: (q[0].order, q[0].key))
        if all("group_alpha" in group for group in groups.values())
    ]


def _group_order(item: tuple[str, dict]) -> str:
    return item[1]["group_alpha"].detail.get("label", item[0])


def _group_line(group: dict) -> GroupLine:
    alpha, mean = group["group_alpha"], group.get("group_mean")
    return GroupLine(
        label=alpha.detail.get("label", ""),
        n_raters=alpha.detail.get("n_group_raters", alpha.n_raters),
        alpha=alpha.value,
        ci=alpha.detail.get("ci"),
        mean=mean.value if mean else None,
        reason=alpha.detail.get("reason", ""),
    )


def study_rater_keys(*, study: Study) -> list[str]:
    """The keys of the questions about raters, in their order: raters.csv's extra columns. No
    query for a study that asks its raters nothing."""
    if not study.asks_raters:
        return []
    return list(study.rater_questions.values_list("key", flat=True))


def study_raters_rows(*, study: Study, keys: list[str] | None = None) -> list[dict]:
    """raters.csv: one row per rater, the answers in `rater_<key>` columns; a multiple-choice
    answer as a JSON list (`["gpt", "claude"]`), which R and pandas read back as a list.
    `keys` when the caller has read them already."""
    keys = study_rater_keys(study=study) if keys is None else keys
    return [
        {
            "rater": rater.pseudonym,
            "consent_version": rater.consent_version,
            "consent_accepted_at": rater.accepted_at,
            "withdrawn_at": rater.withdrawn_at,
            **{
                f"{columns.RATER_COLUMN_PREFIX}{key}": _cell(rater.answers.get(key)) for key in keys
            },
        }
        for rater in study_raters_background(study=study)
    ]


def study_rater_covariates(*, study: Study) -> tuple[list[str], dict[str, dict]]:
    """The columns the ratings export adds, joined by pseudonym: each question about raters as
    `rater_<key>`, then `rater_withdrawn_at`; none for a study that asks its raters nothing."""
    names = study_rater_columns(study=study)
    if not names:
        return [], {}
    keys = [name.removeprefix(columns.RATER_COLUMN_PREFIX) for name in names[:-1]]
    values = {
        row["rater"]: {**{name: row.get(name) for name in names}, names[-1]: row["withdrawn_at"]}
        for row in study_raters_rows(study=study, keys=keys)
    }
    return names, values


def study_rater_columns(*, study: Study) -> list[str]:
    """The names of the columns study_rater_covariates adds; no query for a study that asks its
    raters nothing (withdrawal needs a consent statement, which cannot then be removed)."""
    if not study.asks_raters and not study.consent_version:
        return []
    keys = study_rater_keys(study=study)
    return [f"{columns.RATER_COLUMN_PREFIX}{key}" for key in keys] + ["rater_withdrawn_at"]


def _cell(answer: object) -> object:
    """An answer as an export's cell: a list (multiple choice) as JSON, not Python's repr."""
    return json.dumps(answer, ensure_ascii=False) if isinstance(answer, list) else answer
