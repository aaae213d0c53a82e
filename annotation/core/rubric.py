"""Rubric questions: what each kind of question accepts as an answer, and the number statistics
use for it. Plain data, no Django.

An answer is stored as given (canonical JSON: an int scale point, a choice value, a list of
choice values, "yes"/"no", a number, text, or "na" for "not applicable"), and beside it the
numeric code agreement statistics read: the scale point for Likert, 1/0 for yes/no, the number
itself, the position in the declared list for a single choice. Text, multiple choice and "not
applicable" have no code: they are left out of agreement, never coded as a value.

Span, criteria and omission questions also take "none" (NONE): "no errors found" / "no
criterion met" / "none omitted, none wrong", a real answer coded 0 spans / 0 points / a rate of
0. An empty list is not that answer: it is what is left when a rater removes every span or
unticks every criterion or fact, and counts as unanswered.

A correction's answer is the corrected text with its word-level diff against the output's text
and the distances ({"text", "diff", "chars", "words", "original_words"}, from
`annotation.core.corrections`); its code is the word edit rate, 0 for an output accepted
unchanged.
"""

import json
import math
from dataclasses import dataclass

from annotation.core import corrections
from annotation.core.messages import gettext_noop

LIKERT = "likert"
SINGLE_CHOICE = "single_choice"
MULTIPLE_CHOICE = "multiple_choice"
YES_NO = "yes_no"
NUMBER = "number"
TEXT = "text"
# A preference between the outputs shown as A and B: a symmetric integer scale, positive for
# "A better", 0 for "neither" (a tie), as shown to the rater. Statistics read it turned into
# the pair's canonical order (see services.rating_save).
PAIRWISE = "pairwise"
# Per-case criteria (HealthBench): each case carries its own criteria with points (negative
# for harmful behaviour); the rater ticks those met. The answer is the list of met criterion
# ids; the score is points earned over the positive points possible, clipped to 0..1.
CRITERIA = "criteria"
# Span marking: the rater selects text in the output and gives each span an error category
# (the question's choices) and a severity. The answer is the list of spans, as character
# offsets into the output's text; its code is the number of spans marked.
SPAN = "span"
SEVERITIES = (
    ("minor", gettext_noop("Minor")),
    ("moderate", gettext_noop("Moderate")),
    ("major", gettext_noop("Major")),
)
# Ranking of the outputs shown side by side: the answer lists, for each output in the order
# shown (A, B, C...), the rank the rater gave it (1 = best), or None where not ranked yet; ranks
# are distinct. `spec.maximum` holds the number of outputs here. It has no single code:
# statistics read one rank per output, turned into the item's canonical order.
RANKING = "ranking"
# Omission marking against the case's source facts (MED-OMIT): each case carries its facts
# ({"id", "text", "importance"}); the rater ticks, for the output, the facts it omits and the
# facts it states wrongly. The answer is {"omitted": [ids], "wrong": [ids]} (a fact is one or
# the other, each list in the case's order), or "none" (none omitted, none stated wrongly); its
# code is the importance-weighted omission rate, 0..1 (see `omission_rate`).
OMISSION = "omission"
# A corrected output: the rater edits the output into what they would sign off; the answer
# keeps the corrected text, compared with the original for edit distance.
CORRECTION = "correction"
# The reader's own answer to the case (AI-assisted reading, annotation.core.reading): a
# choice, a number, free text or a ranked list of up to k entries (`spec.answer_kind`), scored
# against the case's accepted answers rather than coded for agreement.
ANSWER = "answer"
RANKED_ANSWER = "ranked"
ANSWER_KINDS = ("choice", "number", "text", RANKED_ANSWER)
KINDS = (
    LIKERT,
    SINGLE_CHOICE,
    MULTIPLE_CHOICE,
    YES_NO,
    NUMBER,
    TEXT,
    PAIRWISE,
    CRITERIA,
    SPAN,
    RANKING,
    OMISSION,
    CORRECTION,
    ANSWER,
)

NA = "na"  # "not applicable", where a question allows it
# "No errors found" (span) / "no criterion met" (criteria): stored as this string, never as
# [], so that a list emptied by removing spans one by one stays unanswered.
NONE = "none"
NONE_KINDS = (SPAN, CRITERIA, OMISSION)
# The labels below are marked for translation (core.messages): shown in the rater's language by
# the selectors; English everywhere else (files, the API, a judge's prompt).
NONE_LABELS = {
    SPAN: gettext_noop("No errors found"),
    CRITERIA: gettext_noop("No criterion met"),
    OMISSION: gettext_noop("None omitted, none wrong"),
}
YES_NO_SCALE = (
    {"value": "yes", "label": gettext_noop("Yes")},
    {"value": "no", "label": gettext_noop("No")},
)
TEXT_MAX = 5000
RANKED_MAX = 20  # the longest ranked answer a question may ask for (McDuff et al.: 10)

# Which levels of measurement a kind's numeric codes support; () means no statistics.
LEVELS = {
    LIKERT: ("ordinal", "interval", "ratio", "nominal"),
    SINGLE_CHOICE: ("nominal", "ordinal"),
    MULTIPLE_CHOICE: (),
    YES_NO: ("nominal",),
    NUMBER: ("interval", "ratio"),
    TEXT: (),
    PAIRWISE: ("ordinal", "interval", "nominal"),
    CRITERIA: ("interval", "ratio"),
    SPAN: ("ratio", "interval"),
    RANKING: ("ordinal",),
    OMISSION: ("interval", "ratio"),
    CORRECTION: ("ratio", "interval"),
    ANSWER: (),  # scored right or wrong per case (core.reading.statistics), not coded
}


class AnswerError(ValueError):
    """An answer or a question definition that does not fit; the message says why.

    `message` is the English text, with `%(name)s` placeholders where `params` go; a message
    a rater may read is marked with `gettext_noop` so that the layer showing it can translate
    it (core.messages). `str()` gives the English text with its values."""

    def __init__(self, message: str, **params: object) -> None:
        self.message, self.params = message, params
        super().__init__(message % params if params else message)


@dataclass(frozen=True)
class QuestionSpec:
    kind: str
    scale: tuple[dict, ...] = ()  # Likert points ({"value": int}) or choices ({"value": str})
    allow_na: bool = False
    minimum: float | None = None
    maximum: float | None = None
    original: str = ""  # a correction's: the output's text, which the rater edits
    answer_kind: str = ""  # answer questions: one of ANSWER_KINDS
    k: int | None = None  # ranked answers: the most entries

    @property
    def points(self) -> tuple[dict, ...]:
        return YES_NO_SCALE if self.kind == YES_NO else self.scale

    @property
    def values(self) -> list:
        return [point["value"] for point in self.points]


def check_spec(spec: QuestionSpec, level: str) -> None:
    """Refuse a question that cannot be answered or analysed as declared."""
    if spec.kind not in KINDS:
        raise AnswerError(f"Unknown kind of question {spec.kind!r}.")
    if level and level not in LEVELS[spec.kind]:
        allowed = ", ".join(LEVELS[spec.kind]) or "none (no statistics)"
        raise AnswerError(f"A {spec.kind} question is analysed as: {allowed}.")
    if spec.kind in (LIKERT, PAIRWISE):
        _check_likert_scale(spec.scale)
        if spec.kind == PAIRWISE and sorted(-v for v in spec.values) != spec.values:
            raise AnswerError("A pairwise scale must be symmetric around 0, e.g. -2 to 2.")
    elif spec.kind in (SINGLE_CHOICE, MULTIPLE_CHOICE):
        _check_choices(spec.scale, "A choice question needs at least two choices.")
    elif spec.kind == SPAN:
        _check_choices(spec.scale, "A span question needs at least two error categories.")
    elif spec.kind == ANSWER:
        _check_answer_spec(spec)
    elif spec.scale and spec.kind != CRITERIA:  # criteria come with each case
        raise AnswerError(f"A {spec.kind} question takes no scale or choices.")
    if spec.kind == TEXT and spec.allow_na:
        raise AnswerError('A free-text question needs no "not applicable": leave it empty.')
    if spec.kind == CORRECTION and spec.allow_na:
        raise AnswerError('A correction needs no "not applicable": the text is always there.')
    for bound in (spec.minimum, spec.maximum):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float)):
            raise AnswerError(f"The limits of a number must be numbers, got {bound!r}.")
    lo, hi = spec.minimum, spec.maximum
    if spec.kind == NUMBER and lo is not None and hi is not None and lo >= hi:
        raise AnswerError("The minimum must be below the maximum.")


def _check_answer_spec(spec: QuestionSpec) -> None:
    if spec.answer_kind not in ANSWER_KINDS:
        raise AnswerError(f"An answer question's answer is one of: {', '.join(ANSWER_KINDS)}.")
    if spec.answer_kind == "choice":
        _check_choices(spec.scale, "A choice answer needs at least two choices.")
    elif spec.scale:
        raise AnswerError(f"A {spec.answer_kind} answer takes no choices.")
    if (spec.answer_kind == RANKED_ANSWER) != (spec.k is not None):
        raise AnswerError("A ranked answer, and only it, takes k (the most entries).")
    if spec.k is not None and not 1 <= spec.k <= RANKED_MAX:
        raise AnswerError(f"k is between 1 and {RANKED_MAX}.")
    if spec.allow_na:
        raise AnswerError('An answer question has no "not applicable".')


def _check_likert_scale(scale: tuple[dict, ...]) -> None:
    values = [point.get("value") for point in scale]
    if len(scale) < 2 or not all(type(v) is int for v in values):
        raise AnswerError("A scale needs at least two points with whole-number values.")
    if values != sorted(set(values)):
        raise AnswerError("List each value once, from lowest to highest.")
    _check_labels(scale, "scale point")


def _check_choices(scale: tuple[dict, ...], too_few: str) -> None:
    values = [point.get("value") for point in scale]
    if len(scale) < 2 or not all(isinstance(v, str) and v.strip() for v in values):
        raise AnswerError(too_few)
    if len(set(values)) != len(values):
        raise AnswerError("Each choice must be listed once.")
    if NA in values:
        raise AnswerError(f"{NA!r} is reserved for 'not applicable'.")
    _check_labels(scale, "choice")


def _check_labels(scale: tuple[dict, ...], what: str) -> None:
    if not all(isinstance(p.get("label"), str) and p["label"].strip() for p in scale):
        raise AnswerError(f"Every {what} needs a label.")


def parse_answer(spec: QuestionSpec, raw: object) -> object:
    """The canonical stored form of an answer, or AnswerError saying what is allowed."""
    # [NA]: the "not applicable" box of a multiple choice. Typed text never means NA.
    if spec.kind not in (TEXT, CORRECTION) and (raw == NA or raw == [NA]):
        if not spec.allow_na:
            raise AnswerError(gettext_noop("This question has no 'not applicable' answer."))
        return NA
    if spec.kind in NONE_KINDS and _means_none(spec, raw):
        return NONE
    parse = {
        LIKERT: _parse_likert,
        PAIRWISE: _parse_likert,
        SINGLE_CHOICE: _parse_single,
        YES_NO: _parse_single,
        MULTIPLE_CHOICE: _parse_multiple,
        NUMBER: _parse_number,
        TEXT: _parse_text,
        CRITERIA: _parse_criteria,
        SPAN: _parse_spans,
        RANKING: _parse_ranking,
        OMISSION: _parse_omission,
        CORRECTION: _parse_correction,
        ANSWER: _parse_reader_answer,
    }[spec.kind]
    answer = parse(spec, raw)
    # PostgreSQL stores neither text nor JSON with a NUL in it; no real answer has one.
    if contains_nul(answer):
        raise AnswerError(gettext_noop("An answer cannot contain a NUL character."))
    # JSON can spell half of a UTF-16 pair ("\ud800"): no page or export could write it out.
    if not encodes_as_utf8(answer):
        raise AnswerError(
            gettext_noop("An answer cannot contain a lone UTF-16 surrogate (invalid text).")
        )
    return answer


def _means_none(spec: QuestionSpec, raw: object) -> bool:
    """ "none" as sent by the page's checkbox (alone in the list of ticked values) or by the API
    and imports (the bare string). A case criterion that happens to be called "none" keeps
    its list form."""
    if raw == NONE:
        return True
    ids = [criterion["id"] for criterion in spec.scale] if spec.kind == CRITERIA else []
    return raw == [NONE] and NONE not in ids


def contains_nul(value: object) -> bool:
    """Whether a NUL character is anywhere in a JSON-like value."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(v) for v in value)
    return False


def encodes_as_utf8(value: object) -> bool:
    """Whether every string anywhere in a JSON-like value can be written as UTF-8."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(encodes_as_utf8(k) and encodes_as_utf8(v) for k, v in value.items())
    if isinstance(value, list):
        return all(encodes_as_utf8(v) for v in value)
    return True


def _parse_likert(spec: QuestionSpec, raw: object) -> int:
    try:
        value = int(raw) if isinstance(raw, str) else raw
    except ValueError:
        value = None
    if type(value) is not int or value not in spec.values:
        raise AnswerError(
            gettext_noop("%(value)s is not a point on this question's scale."), value=repr(raw)
        )
    return value


def _parse_single(spec: QuestionSpec, raw: object) -> str:
    if raw not in spec.values:
        choices = ", ".join(map(str, spec.values))
        raise AnswerError(gettext_noop("Choose one of: %(choices)s."), choices=choices)
    return raw


def _parse_multiple(spec: QuestionSpec, raw: object) -> list[str]:
    if not isinstance(raw, list) or any(value not in spec.values for value in raw):
        choices = ", ".join(spec.values)
        raise AnswerError(gettext_noop("Tick any of: %(choices)s."), choices=choices)
    return [value for value in spec.values if value in raw]  # declared order, no repeats


def _parse_criteria(spec: QuestionSpec, raw: object) -> list[str]:
    """`spec.scale` holds the case's criteria here; the answer lists those met."""
    ids = [criterion["id"] for criterion in spec.scale]
    if not ids:
        raise AnswerError(gettext_noop("This case has no criteria to judge."))
    if not isinstance(raw, list) or any(value not in ids for value in raw):
        message = gettext_noop("Tick any of the case's criteria: %(criteria)s.")
        raise AnswerError(message, criteria=", ".join(ids))
    return [ident for ident in ids if ident in raw]


def _parse_omission(spec: QuestionSpec, raw: object) -> dict | list:
    """`spec.scale` holds the case's facts here; the answer names the facts the output omits
    and those it states wrongly. Both lists emptied is [], unanswered, as for criteria."""
    ids = [fact["id"] for fact in spec.scale]
    if not ids:
        raise AnswerError(gettext_noop("This case has no facts to check the output against."))
    if isinstance(raw, str):  # a cell of a ratings file: JSON text
        try:
            raw = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            raise AnswerError(
                gettext_noop("The omitted and wrong facts could not be read.")
            ) from None
    if not isinstance(raw, dict) or not set(raw) <= {"omitted", "wrong"}:
        message = gettext_noop('Give the facts as {"omitted": [ids], "wrong": [ids]}, or "none".')
        raise AnswerError(message)
    marked = {key: raw.get(key, []) for key in ("omitted", "wrong")}
    for key, given in marked.items():
        if not isinstance(given, list) or any(value not in ids for value in given):
            message = {
                "omitted": gettext_noop("Tick omitted facts among the case's facts: %(facts)s."),
                "wrong": gettext_noop("Tick wrong facts among the case's facts: %(facts)s."),
            }[key]
            raise AnswerError(message, facts=", ".join(ids))
        if len(set(given)) != len(given):
            message = {
                "omitted": gettext_noop("Name each omitted fact once."),
                "wrong": gettext_noop("Name each wrong fact once."),
            }[key]
            raise AnswerError(message)
    if set(marked["omitted"]) & set(marked["wrong"]):
        raise AnswerError(gettext_noop("A fact the output omits cannot also be stated wrongly."))
    if not marked["omitted"] and not marked["wrong"]:
        return []
    return {key: [ident for ident in ids if ident in given] for key, given in marked.items()}


def omission_rate(facts: list[dict] | tuple, omitted: list[str]) -> float:
    """MED-OMIT's weighted omission rate of one output: the importance of the facts it omits
    over the importance of all the case's facts, 0..1 (facts weigh 1 unless given)."""
    total = sum(fact.get("importance", 1) for fact in facts)
    if total <= 0:
        raise AnswerError("A case needs facts to measure omissions against.")
    return sum(fact.get("importance", 1) for fact in facts if fact["id"] in omitted) / total


def _parse_spans(spec: QuestionSpec, raw: object) -> list[dict]:
    """Spans as [{"start", "end", "category", "severity"}], inside the output's text, whose
    length is `spec.maximum` here; sorted by position, each span once."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else []
        except (json.JSONDecodeError, RecursionError):  # nested past the parser's recursion
            raise AnswerError(gettext_noop("The marked spans could not be read.")) from None
    if not isinstance(raw, list):
        raise AnswerError(gettext_noop("The marked spans could not be read."))
    length, categories = int(spec.maximum or 0), spec.values
    severities = [value for value, _ in SEVERITIES]
    spans = []
    for span in raw:
        if not isinstance(span, dict) or set(span) != {"start", "end", "category", "severity"}:
            raise AnswerError(gettext_noop("Each span needs start, end, category and severity."))
        start, end = span["start"], span["end"]
        if type(start) is not int or type(end) is not int or not 0 <= start < end <= length:
            message = gettext_noop("A span must lie within the text (0 to %(length)s characters).")
            raise AnswerError(message, length=length)
        if span["category"] not in categories:
            message = gettext_noop("Choose an error category: %(categories)s.")
            raise AnswerError(message, categories=", ".join(categories))
        if span["severity"] not in severities:
            message = gettext_noop("Choose a severity: %(severities)s.")
            raise AnswerError(message, severities=", ".join(severities))
        spans.append({k: span[k] for k in ("start", "end", "category", "severity")})
    unique = {tuple(s.values()): s for s in spans}
    return sorted(unique.values(), key=lambda s: (s["start"], s["end"], s["category"]))


def _parse_ranking(spec: QuestionSpec, raw: object) -> list[int | None]:
    """One rank (or None) per output as shown; [] when nothing is ranked yet."""
    n = int(spec.maximum or 0)
    if not isinstance(raw, list) or len(raw) != n:
        raise AnswerError(gettext_noop("Give a rank to each of the %(n)s responses."), n=n)
    ranks = []
    for rank in raw:
        if rank in (None, ""):
            ranks.append(None)
            continue
        try:
            rank = int(rank) if isinstance(rank, str) else rank
        except ValueError:
            rank = None
        if type(rank) is not int or not 1 <= rank <= n:
            raise AnswerError(gettext_noop("A rank is a whole number from 1 (best) to %(n)s."), n=n)
        ranks.append(rank)
    given = [rank for rank in ranks if rank is not None]
    if len(set(given)) != len(given):
        raise AnswerError(gettext_noop("Give each response a different rank."))
    return ranks if given else []


# The character Levenshtein distance takes time in proportion to the product of the two
# lengths (about a second at 20,000 by 40,000): past this length a corrected text may only
# be a little longer than its output, so a rater cannot make one save cost far more than the
# output's own length does.
CORRECTION_ROOM = 20_000


def correction_max(original: str) -> int:
    """The longest corrected text taken: room to rewrite a short output twice over, up to
    CORRECTION_ROOM characters, always the whole output and 1000 more, and never less than a
    free-text answer allows."""
    room = max(CORRECTION_ROOM, len(original) + 1000)
    return max(TEXT_MAX, min(2 * len(original) + 1000, room))


def _parse_correction(spec: QuestionSpec, raw: object) -> dict | str:
    """The corrected text of the output whose text is `spec.original`, with the diff and the
    distances computed here, never taken from the client. Also as {"text": ...}, the stored
    form, whose other keys are recomputed, or {"text": ..., "accepted": false} as the rater
    page posts a text the rater has not confirmed: the original text there, untouched or reset,
    is no answer yet (""), and neither is an empty text unless confirmed with "accepted": true
    (an empty output accepted as it is, or every word deleted on purpose)."""
    accepted, confirmed = True, False
    if isinstance(raw, dict) and "text" in raw:
        # Only JSON true confirms: "false", 0 or null do not. Without the key it is the
        # stored form, whose text is an answer by itself.
        confirmed = raw.get("accepted") is True
        accepted = confirmed or "accepted" not in raw
        raw = raw["text"]
    if not isinstance(raw, str):
        raise AnswerError(gettext_noop("The corrected text must be text."))
    text, original = corrections.normalise(raw), corrections.normalise(spec.original)
    if (not text.strip() and not confirmed) or (text == original and not accepted):
        return ""
    limit = correction_max(spec.original)
    if len(text) > limit:
        message = gettext_noop("At most %(limit)s characters for this corrected text.")
        raise AnswerError(message, limit=limit)
    found = corrections.distance(original, text)
    return {
        "text": text,
        "diff": corrections.diff(original, text),
        "chars": found.chars,
        "words": found.words,
        "original_words": found.original_words,
    }


def correction_distance(answer: object) -> corrections.Distance | None:
    """The distances a stored correction carries; None for anything else."""
    if not isinstance(answer, dict) or "chars" not in answer:
        return None
    corrected = len(corrections.words(answer.get("text", "")))
    return corrections.Distance(
        answer["chars"], answer["words"], answer["original_words"], corrected
    )


def _parse_reader_answer(spec: QuestionSpec, raw: object) -> object:
    """A reader's answer: a choice value, a number, text, or a ranked list of up to k entries
    (blank rows dropped, order kept)."""
    if spec.answer_kind == "choice":
        return _parse_single(spec, raw)
    if spec.answer_kind == "number":
        return _parse_number(spec, raw)
    if spec.answer_kind == "text":
        return _parse_text(spec, raw)
    entries = [raw] if isinstance(raw, str) else raw
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise AnswerError(gettext_noop("A ranked answer is a list of text entries."))
    kept = [entry.strip() for entry in entries if entry.strip()]
    if len(kept) > (spec.k or 0):
        raise AnswerError(gettext_noop("At most %(k)s entries."), k=spec.k)
    if any(len(entry) > TEXT_MAX for entry in kept):
        raise AnswerError(gettext_noop("At most %(limit)s characters an entry."), limit=TEXT_MAX)
    return kept


def is_complete(answer: object) -> bool:
    """Whether an answer is whole: every output ranked, for a ranking; any non-empty answer
    otherwise."""
    if is_empty(answer):
        return False
    return not (isinstance(answer, list) and None in answer)


def criteria_score(criteria: list[dict] | tuple, met: list[str]) -> float:
    """HealthBench's score: points of the met criteria over the positive points possible,
    clipped to 0..1 (negative points can take it below zero before clipping)."""
    possible = sum(c["points"] for c in criteria if c["points"] > 0)
    earned = sum(c["points"] for c in criteria if c["id"] in met)
    if possible <= 0:
        raise AnswerError("A case's criteria need some positive points to score against.")
    return min(1.0, max(0.0, earned / possible))


def _parse_number(spec: QuestionSpec, raw: object) -> float:
    try:
        value = float(raw) if isinstance(raw, str | int | float) else math.nan
    except ValueError:
        value = math.nan
    if isinstance(raw, bool) or not math.isfinite(value):
        raise AnswerError(gettext_noop("%(value)s is not a number."), value=repr(raw))
    if spec.minimum is not None and value < spec.minimum:
        message = gettext_noop("The smallest allowed answer is %(minimum)s.")
        raise AnswerError(message, minimum=f"{spec.minimum:g}")
    if spec.maximum is not None and value > spec.maximum:
        message = gettext_noop("The largest allowed answer is %(maximum)s.")
        raise AnswerError(message, maximum=f"{spec.maximum:g}")
    return value


def _parse_text(spec: QuestionSpec, raw: object) -> str:
    if not isinstance(raw, str):
        raise AnswerError(gettext_noop("The answer must be text."))
    if len(raw) > TEXT_MAX:
        raise AnswerError(gettext_noop("At most %(limit)s characters."), limit=TEXT_MAX)
    return raw.strip()


def numeric_code(spec: QuestionSpec, answer: object) -> float | None:
    """The number statistics read for a canonical answer; None when it has none."""
    if answer == NA or answer is None:
        return None
    if answer == NONE and spec.kind == SPAN:
        return 0.0  # no spans marked
    if answer == NONE and spec.kind == CRITERIA:
        # No criterion met earns no points; scored like any answer, so a case with nothing
        # to earn is refused alike, and without the case's criteria there is no score.
        return criteria_score(spec.scale, []) if spec.scale else None
    if answer == NONE and spec.kind == OMISSION:
        return omission_rate(spec.scale, []) if spec.scale else None
    if spec.kind in NONE_KINDS and answer == []:
        return None  # every span removed, every box unticked: unanswered, not "none"
    if spec.kind in (LIKERT, NUMBER, PAIRWISE):
        return float(answer)
    if spec.kind == YES_NO:
        return 1.0 if answer == "yes" else 0.0
    if spec.kind == SINGLE_CHOICE:
        return float(spec.values.index(answer))
    if spec.kind == CRITERIA:
        return criteria_score(spec.scale, answer)
    if spec.kind == SPAN:
        return float(len(answer))
    if spec.kind == OMISSION:
        return omission_rate(spec.scale, answer["omitted"])
    if spec.kind == CORRECTION:
        found = correction_distance(answer)
        return found.rate if found else None
    return None


def value_domain(spec: QuestionSpec) -> list[float] | None:
    """Every code the question can produce, for statistics that need the full scale."""
    if spec.kind in (LIKERT, PAIRWISE):
        return [float(v) for v in spec.values]
    if spec.kind in (SINGLE_CHOICE, YES_NO):
        return [float(i) for i in range(len(spec.points))]
    return None


def matches_expected(spec: QuestionSpec, answer: object, value, expected: list) -> bool:
    """Whether an answer is one of the expected ones. A pairwise answer is compared by its
    canonical code (`value`), as expected pairwise answers are written in canonical order."""
    if spec.kind == PAIRWISE:
        return value is not None and value in [float(e) for e in expected]
    if spec.kind == CORRECTION:
        # The corrected text against the texts expected; the distances depend on the output.
        given = answer.get("text") if isinstance(answer, dict) else None
        texts = [corrections.normalise(e) for e in expected if isinstance(e, str)]
        return given is not None and given in texts
    accepted = []
    for raw in expected:
        try:
            accepted.append(parse_answer(spec, raw))
        except AnswerError:
            continue
    return answer in accepted


def shown_letter(place: int) -> str:
    """How raters see the output at a place (from 0) in their order: A, B, C..."""
    return chr(ord("A") + place)


def is_empty(answer: object) -> bool:
    return answer is None or answer == "" or answer == []


# --- rubric templates (data files in annotation/rubric_templates/) -----------------------------


@dataclass(frozen=True)
class QuestionDraft:
    key: str
    prompt: str
    kind: str
    level: str
    scale: tuple[dict, ...] = ()
    help_text: str = ""
    allow_na: bool = False
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Template:
    title: str
    citation: str
    questions: tuple[QuestionDraft, ...]


def parse_template(name: str, data: object) -> Template:
    """A rubric template read from YAML; AnswerError names the file and question on a problem."""
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise AnswerError(f"{name}: expected a mapping with a list of questions")
    drafts = []
    for i, raw in enumerate(data["questions"]):
        try:
            drafts.append(_draft(raw))
        except (AnswerError, KeyError, TypeError, ValueError) as exc:
            raise AnswerError(f"{name}: questions[{i}]: {exc}") from None
    keys = [d.key for d in drafts]
    if len(set(keys)) != len(keys):
        raise AnswerError(f"{name}: question keys must be unique")
    return Template(str(data.get("title", name)), str(data.get("citation", "")), tuple(drafts))


def _draft(raw: dict) -> QuestionDraft:
    kind = raw["kind"]
    pairs = raw.get("points") or raw.get("choices") or []
    draft = QuestionDraft(
        key=str(raw["key"]),
        prompt=str(raw["prompt"]),
        kind=kind,
        level=raw.get("level", (LEVELS.get(kind) or ("",))[0]),
        scale=tuple({"value": value, "label": str(label)} for value, label in pairs),
        help_text=str(raw.get("help_text", "")),
        allow_na=_flag(raw, "allow_na", False),
        required=_flag(raw, "required", True),
        minimum=raw.get("minimum"),
        maximum=raw.get("maximum"),
    )
    spec = QuestionSpec(draft.kind, draft.scale, draft.allow_na, draft.minimum, draft.maximum)
    check_spec(spec, draft.level)
    return draft


def _flag(raw: dict, key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise AnswerError(f"{key} must be true or false, got {value!r}")
    return value
