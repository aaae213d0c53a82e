"""The bounds an import is held to that reading and checking both need: how many problems are
listed, and how deep JSON may nest (measured before it is parsed)."""

MAX_PROBLEMS = 50


# How deep a JSON value (a metadata cell, a JSONL field) may nest. Real metadata and criteria
# nest two or three levels; far deeper is an attack on the parser, whose recursion would fail
# with a server error, and on every recursive reader after it.
MAX_JSON_DEPTH = 32


TOO_DEEP = f"JSON nested more than {MAX_JSON_DEPTH} levels deep"


def nesting_over(text: str, limit: int) -> tuple[bool, str]:
    """Whether JSON text nests deeper than `limit` arrays and objects, and if so the key of the
    outermost object under which it does ("" if none). Read without parsing, so that text built
    to exhaust the parser's recursion is refused by name; brackets inside strings do not count.
    Text with fewer brackets than the limit cannot be too deep and is not scanned."""
    if text.count("[") + text.count("{") <= limit:
        return False, ""
    depth, in_string, escaped, start, last_string, key = 0, False, False, 0, "", ""
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                if depth == 1:
                    last_string = text[start:index]  # at depth 1, the key before a nested value
        elif char == '"':
            in_string, start = True, index + 1
        elif char in "[{":
            depth += 1
            if depth == 2:
                key = last_string
            if depth > limit:
                return True, key
        elif char in "]}":
            depth -= 1
    return False, ""


def nesting_depth(value: object) -> int:
    """How many arrays and objects deep a parsed JSON value nests, counted without recursion
    (a recursive count would fail on the very values it is meant to refuse)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest
