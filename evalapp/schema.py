"""What the OpenAPI schema says about every endpoint that no single view declares: the errors
any call can meet, and ids as the integers they are. A drf-spectacular postprocessing hook
(SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]), run on the finished schema."""

ERROR = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "Why the call was refused.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}

# Every call can meet these: no or a wrong token (401), a part of the API the caller may not
# use (403), something that does not exist or is not theirs to see (404), too many calls (429).
ERRORS = {
    "401": "No credentials, or a wrong or expired token.",
    "403": "Signed in, but not allowed to do this (a rater asking for an admin's data).",
    "404": "No such thing, or not one of yours (its existence is not disclosed).",
    "429": "Too many calls, or too many wrong tokens from this address: wait Retry-After seconds.",
}

# Django's auto-increment primary key, a 64-bit signed integer.
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
DIGITS = "^[0-9]+$"


def document_errors_and_ids(result: dict, generator, request, public) -> dict:
    """Adds the shared `Error` component and, to every operation, the error responses it
    does not declare itself; declares path ids (matched by `[0-9]+`) as integers."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR] = ERROR_SCHEMA
    for path in result["paths"].values():
        for method, operation in path.items():
            if method == "parameters":
                continue
            _integer_ids(operation)
            _add_errors(operation)
    return result


def _integer_ids(operation: dict) -> None:
    for parameter in operation.get("parameters", ()):
        if parameter["in"] == "path" and parameter["schema"].get("pattern") == DIGITS:
            parameter["schema"] = dict(ID_SCHEMA)


def _add_errors(operation: dict) -> None:
    responses = operation["responses"]
    ok = next((r for code, r in sorted(responses.items()) if code.startswith("2")), {})
    # A view that can answer CSV renders its errors as CSV when CSV was asked for.
    csv = any(media.startswith("text/csv") for media in ok.get("content", {}))
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR}"}}}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    for code, description in ERRORS.items():
        responses.setdefault(code, {"description": description, "content": content})
