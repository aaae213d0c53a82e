"""The shapes of the API's free-form JSON values, for the OpenAPI schema: an answer as each
question kind stores it, a case's metadata, criteria and expected answers, an output's metrics.

`add_components` (a drf-spectacular postprocessing hook) adds the named parts the fields refer
to; `annotation.api.serializers` gives each field its shape."""

from annotation.core import rubric


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


SPAN = {
    "type": "object",
    "description": "An error marked in an output's text, by character offsets.",
    "properties": {
        "start": {"type": "integer", "minimum": 0},
        "end": {"type": "integer", "minimum": 1},
        "category": {"type": "string", "description": "One of the question's error categories."},
        "severity": {"type": "string", "enum": [value for value, _ in rubric.SEVERITIES]},
    },
    "required": ["start", "end", "category", "severity"],
}

CRITERION = {
    "type": "object",
    "description": "A case's rubric criterion, as HealthBench writes them.",
    "properties": {
        "id": {"type": "string"},
        "text": {"type": "string"},
        "points": {"type": "integer", "description": "Negative for behaviour to penalise."},
        "axis": {"description": "Optional: the criterion's axis, as imported."},
    },
    "required": ["id", "text", "points"],
}

FACT = {
    "type": "object",
    "description": "A fact of the case's source, for omission questions (MED-OMIT).",
    "properties": {
        "id": {"type": "string"},
        "text": {"type": "string"},
        "importance": {
            "type": "number",
            "minimum": 0,
            "exclusiveMinimum": True,
            "description": "1 if not given.",
        },
    },
    "required": ["id", "text", "importance"],
}
OMISSION_ANSWER = {
    "type": "object",
    "description": "Omission: the ids of the facts the output omits and of those it states "
    'wrongly (or the answer "none").',
    "properties": {
        "omitted": {"type": "array", "items": {"type": "string"}},
        "wrong": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}

_RANGE = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 2, "maxItems": 2}
CORRECTION = {
    "type": "object",
    "description": "A correction as stored: the corrected text, and what the server computed "
    "from it and the output's text (never taken from a client). Send the text alone, or "
    '{"text": ...}.',
    "properties": {
        "text": {"type": "string", "description": "The corrected text (line endings LF)."},
        "diff": {
            "type": "array",
            "description": "Word-level operations from the output's text to the corrected one.",
            "items": {
                "type": "object",
                "properties": {
                    "op": {"type": "string", "enum": ["equal", "insert", "delete", "replace"]},
                    "a": {**_RANGE, "description": "[start, end) in the output's text."},
                    "b": {**_RANGE, "description": "[start, end) in the corrected text."},
                },
                "required": ["op", "a", "b"],
            },
        },
        "chars": {"type": "integer", "description": "Levenshtein distance in characters."},
        "words": {"type": "integer", "description": "Levenshtein distance in words."},
        "original_words": {"type": "integer", "description": "Words in the output's text."},
    },
    "required": ["text", "diff", "chars", "words", "original_words"],
}

COMPONENTS = {
    "Span": SPAN,
    "Criterion": CRITERION,
    "Fact": FACT,
    "OmissionAnswer": OMISSION_ANSWER,
    "Correction": CORRECTION,
}


def answer_schema(*, nullable: bool = False) -> dict:
    """An answer as stored: which form depends on the question's kind."""
    schema = {
        "anyOf": [
            {
                "type": "string",
                "description": 'A choice, free text, "na" (not applicable), or "none" (no error '
                "found, no criterion met, none omitted and none wrong).",
            },
            {"type": "number", "description": "A scale point (Likert, pairwise) or a number."},
            # Spans first of the lists: a generated client tries the forms in this order, and
            # only this one checks its items.
            {"type": "array", "items": ref("Span"), "description": "Errors marked."},
            {
                "type": "array",
                "items": {"type": "string"},
                "description": "Choices ticked (multiple choice), or criteria met.",
            },
            {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "nullable": True},
                "description": "Ranking: each response's rank (1 best) in the order shown, "
                "null where not ranked yet.",
            },
            # The correction before the omission answer, for the same reason: a generated
            # client reads a correction as an omission answer with neither list (its reader
            # ignores keys it does not know), where a correction's required fields refuse an
            # omission answer.
            ref("Correction"),
            ref("OmissionAnswer"),
        ],
    }
    if nullable:
        schema["nullable"] = True
    return schema


MARKED = {
    "type": "array",
    "items": {
        "allOf": [ref("Span")],
        "type": "object",
        "properties": {
            "quote": {"type": "string", "description": "The text marked."},
            "label": {"type": "string", "nullable": True, "description": "Its category's label."},
        },
        "required": ["quote", "label"],
    },
    "description": "Span marking: the errors you marked, with their text.",
}
RANKED = {
    "type": "array",
    "items": {
        "type": "array",
        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}], "nullable": True},
        "minItems": 2,
        "maxItems": 2,
    },
    "description": "Ranking: [letter, your rank or null] for each response, in the order shown.",
}
SCALE_VALUE = {
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "description": "A whole number (Likert) or a short code (choices).",
}
METADATA = {
    "type": "object",
    "additionalProperties": {},
    "description": "The case's metadata as imported: any JSON values, by name.",
}
CRITERIA = {"type": "array", "items": ref("Criterion")}
FACTS = {"type": "array", "items": ref("Fact")}
FACTS_MARKED = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "text": {"type": "string"},
            "omitted": {"type": "boolean", "description": "You ticked it as omitted."},
            "wrong": {"type": "boolean", "description": "You ticked it as stated wrongly."},
        },
        "required": ["id", "text", "omitted", "wrong"],
    },
    "description": "Omission: the case's facts, with what you marked of each.",
}
EXPECTED = {
    "type": "object",
    "additionalProperties": {
        "type": "array",
        "items": {"anyOf": [{"type": "string"}, {"type": "number"}]},
    },
    "description": "Training and attention-check cases: acceptable answers by question key.",
}
METRICS = {
    "type": "object",
    "additionalProperties": {"type": "number"},
    "description": "Automatic metrics imported with the output, by name.",
}
DETAIL = {
    "type": "object",
    "additionalProperties": {},
    "description": "Everything else the statistic reports (its `ci`, the method, the inputs).",
}


def add_components(result: dict, generator, request, public) -> dict:
    result.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
    return result
