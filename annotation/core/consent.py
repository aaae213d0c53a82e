"""Consent and rater background: what a rater must do before their first item, the admin's
ready-made background questions, and the methods text's sentence about the raters. Plain data,
no Django.

A study asks nothing by default. With a consent statement, a rater accepts its current version
before any item (a new version is accepted again); with background questions, they answer
them once. A rater who withdrew consent does no more work: their submitted ratings stay (see
docs/consent.md)."""

import math
import statistics
from dataclasses import dataclass

from annotation.core import rubric

# Where a rater question is asked: before the first item, or offered after the last submit.
BACKGROUND = "background"
POST_STUDY = "post_study"
PHASES = (BACKGROUND, POST_STUDY)

# The kinds a rater question may take: the rubric's own, less those about an item's outputs.
KINDS = (
    rubric.SINGLE_CHOICE,
    rubric.MULTIPLE_CHOICE,
    rubric.YES_NO,
    rubric.NUMBER,
    rubric.TEXT,
    rubric.LIKERT,
)

# What the gate asks of a rater before an item, in this order.
WITHDRAWN = "withdrawn"
CONSENT = "consent"
STEPS = (WITHDRAWN, CONSENT, BACKGROUND)


@dataclass(frozen=True)
class RaterQuestionDraft:
    key: str
    prompt: str
    kind: str
    phase: str = BACKGROUND
    scale: tuple[dict, ...] = ()
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None

    @property
    def spec(self) -> rubric.QuestionSpec:
        return rubric.QuestionSpec(
            kind=self.kind, scale=self.scale, minimum=self.minimum, maximum=self.maximum
        )


def gettext_noop(message: str) -> str:
    """Marks a ready-made question's text for the translation catalogues (makemessages finds
    this name) without translating it: core has no Django. The service that adds the question
    to a study words it in the study's language."""
    return message


def _choices(*pairs: tuple[str, str]) -> tuple[dict, ...]:
    return tuple({"value": value, "label": label} for value, label in pairs)


# The ready-made questions an admin picks from; each can be edited after it is added.
TEMPLATES = {
    "specialty": RaterQuestionDraft(
        key="specialty",
        prompt=gettext_noop("What is your clinical specialty?"),
        kind=rubric.SINGLE_CHOICE,
        scale=_choices(
            ("emergency", gettext_noop("Emergency medicine")),
            ("internal", gettext_noop("Internal medicine")),
            ("family", gettext_noop("Family medicine / general practice")),
            ("surgery", gettext_noop("Surgery")),
            ("radiology", gettext_noop("Radiology")),
            ("pediatrics", gettext_noop("Paediatrics")),
            ("other", gettext_noop("Other")),
        ),
    ),
    "years": RaterQuestionDraft(
        key="years",
        prompt=gettext_noop("How many years have you been in practice (since qualifying)?"),
        kind=rubric.NUMBER,
        minimum=0,
        maximum=70,
    ),
    "role": RaterQuestionDraft(
        key="role",
        prompt=gettext_noop("What is your role?"),
        kind=rubric.SINGLE_CHOICE,
        scale=_choices(
            ("attending", gettext_noop("Attending / consultant")),
            ("resident", gettext_noop("Resident / registrar")),
            ("nurse", gettext_noop("Nurse or nurse practitioner")),
            ("pharmacist", gettext_noop("Pharmacist")),
            ("other", gettext_noop("Other")),
        ),
    ),
    "country": RaterQuestionDraft(
        key="country",
        prompt=gettext_noop("In which country do you practise?"),
        kind=rubric.SINGLE_CHOICE,
        scale=_choices(
            ("us", gettext_noop("United States")),
            ("uk", gettext_noop("United Kingdom")),
            ("eu", gettext_noop("European Union")),
            ("other", gettext_noop("Other")),
        ),
    ),
    "prior_ai": RaterQuestionDraft(
        key="prior_ai",
        prompt=gettext_noop(
            "Have you used AI chat assistants (such as ChatGPT) in your clinical work?"
        ),
        kind=rubric.YES_NO,
    ),
    "workload": RaterQuestionDraft(
        key="workload",
        prompt=gettext_noop("How demanding was this rating task? (1 very low, 7 very high)"),
        kind=rubric.LIKERT,
        phase=POST_STUDY,
        scale=tuple({"value": v, "label": str(v)} for v in range(1, 8)),
        required=False,
    ),
}


def check_draft(draft: RaterQuestionDraft) -> None:
    """Refuse a rater question that is not one of the allowed kinds or does not fit its kind."""
    if draft.phase not in PHASES:
        raise rubric.AnswerError(f"A rater question is asked at: {', '.join(PHASES)}.")
    if draft.kind not in KINDS:
        raise rubric.AnswerError(f"A rater question's kind is one of: {', '.join(KINDS)}.")
    rubric.check_spec(draft.spec, "")


def next_step(
    *,
    consent_version: int,
    accepted_version: int,
    withdrawn: bool,
    asks_background: bool,
    answered_background: bool,
) -> str | None:
    """What the rater must do before an item (one of STEPS), or None when they may work.
    Withdrawal comes first: it cannot be undone by accepting again."""
    if withdrawn:
        return WITHDRAWN
    if consent_version and accepted_version != consent_version:
        return CONSENT
    if asks_background and not answered_background:
        return BACKGROUND
    return None


class AnswerMissing(rubric.AnswerError):
    """A required rater question left blank. The message is English; the page that shows it
    words it in the rater's language from `prompt` (core has no translations)."""

    def __init__(self, draft: "RaterQuestionDraft"):
        super().__init__(f"{draft.key}: an answer is required.")
        self.key, self.prompt = draft.key, draft.prompt


class AnswerInvalid(rubric.AnswerError):
    """A rater question's answer its scale refuses; `reason` is the scale's own words."""

    def __init__(self, draft: "RaterQuestionDraft", reason: str):
        super().__init__(f"{draft.key}: {reason}")
        self.key, self.prompt, self.reason = draft.key, draft.prompt, reason


def parse_answers(drafts: list[RaterQuestionDraft], raw: dict[str, object]) -> dict[str, object]:
    """Each question's canonical answer (rubric.parse_answer), blank optional ones left out;
    AnswerError names the question at fault."""
    answers = {}
    for draft in drafts:
        given = raw.get(draft.key)
        if rubric.is_empty(given):
            if draft.required:
                raise AnswerMissing(draft)
            continue
        try:
            answers[draft.key] = rubric.parse_answer(draft.spec, given)
        except rubric.AnswerError as exc:
            raise AnswerInvalid(draft, str(exc)) from None
    return answers


def raters_sentence(
    *, n_raters: int, group_by: str = "", groups: list[tuple[str, int]], years: list[float]
) -> str:
    """The methods text's sentence on the raters: their number, broken down by the first
    single-choice background question (`group_by`, e.g. "specialty"; largest group first), and
    the median years in practice with the interquartile range, where asked. Labels are used as
    written: "United States" stays a proper noun."""
    if not n_raters:
        return ""
    sentence = f"{n_raters} rater{'s' if n_raters != 1 else ''}"
    if groups:
        ordered = sorted(groups, key=lambda group: (-group[1], group[0]))
        sentence += f" by {group_by}" if group_by else ""
        sentence += ": " + ", ".join(f"{label} {n}" for label, n in ordered)
    sentence += "."
    if years:
        median, q1, q3 = median_iqr(years)
        sentence += (
            f" Years in practice: median {median:g} (IQR {q1:g} to {q3:g}; {len(years)} answered)."
        )
    return sentence


def median_iqr(values: list[float]) -> tuple[float, float, float]:
    """The median and the quartiles (the 'inclusive' method, as R's default type 7)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return median, q1, q3


def parse_choices(text: str) -> tuple[dict, ...]:
    """Choices typed one a line as `value: label` (or a label alone, its value the label
    lower-cased with spaces as underscores)."""
    choices = []
    for line in text.splitlines():
        if not line.strip():
            continue
        value, _, label = line.partition(":")
        if not label.strip():
            label, value = value, value.strip().lower().replace(" ", "_")
        choices.append({"value": value.strip(), "label": label.strip()})
    return tuple(choices)


def parse_scale(text: str) -> tuple[dict, ...]:
    """A Likert scale typed one point a line as `value: label` (a whole number; a number alone
    is its own label), e.g. "1: Very low" to "7: Very high". AnswerError if a value is not a
    whole number."""
    points = []
    for line in text.splitlines():
        if not line.strip():
            continue
        value, _, label = line.partition(":")
        try:
            number = int(value.strip())
        except ValueError:
            raise rubric.AnswerError(
                f"choices: each scale point is `number: label`, got {line.strip()!r}."
            ) from None
        points.append({"value": number, "label": label.strip() or str(number)})
    return tuple(points)


def parse_bound(raw: object, name: str) -> float | None:
    """A number question's minimum or maximum as typed ("" for none): AnswerError names it."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        number = float(str(raw).strip())
    except ValueError:
        raise rubric.AnswerError(f"{name}: a number, got {raw!r}.") from None
    if not math.isfinite(number):
        raise rubric.AnswerError(f"{name}: a finite number, got {raw!r}.")
    return int(number) if number.is_integer() else number


def draft_from_fields(fields: dict[str, str]) -> RaterQuestionDraft:
    """A custom question from the admin's form or the API, checked (AnswerError names why):
    choices for the choice kinds, a scale for a Likert question, limits for a number."""
    kind = fields.get("kind", "")
    choices = str(fields.get("choices") or "")
    if kind in _CHOSEN:
        scale = parse_choices(choices)
    elif kind == rubric.LIKERT:
        scale = parse_scale(choices)
    else:
        scale = ()
    numeric = kind == rubric.NUMBER
    draft = RaterQuestionDraft(
        key=str(fields.get("key", "")).strip(),
        prompt=str(fields.get("prompt", "")).strip(),
        kind=kind,
        phase=fields.get("phase") or BACKGROUND,
        scale=scale,
        required=bool(fields.get("required")),
        minimum=parse_bound(fields.get("minimum"), "minimum") if numeric else None,
        maximum=parse_bound(fields.get("maximum"), "maximum") if numeric else None,
    )
    if not draft.key or not draft.prompt:
        raise rubric.AnswerError("A question needs a key and a prompt.")
    check_draft(draft)
    return draft


_CHOSEN = (rubric.SINGLE_CHOICE, rubric.MULTIPLE_CHOICE)
