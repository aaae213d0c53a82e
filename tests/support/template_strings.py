"""Finds the text of a Django template that is shown to a person but not marked for
translation (docs/translation.md: what the unmarked-string test checks).

What is left of a template once its comments, template tags, variables, translated blocks,
HTML comments and the bodies of <script> and <style> are gone is what the page shows as it is
written: any letter there (between tags, or in an attribute a person reads) is English that no
German or Spanish user would see translated."""

import re
from dataclasses import dataclass
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"

# Names that are the same in every language: the product, the checklists' published names,
# file formats, and key names printed on keyboards.
ALLOWED_WORDS = frozenset(
    {
        "evalapp",
        "MI-CLAIM-GEN",
        "ELEVATE-GenAI",
        "TRIPOD-LLM",
        "CHART",
        "CSV",
        "JSON",
        "PDF",
        "API",
        "Markdown",
        "LaTeX",
        "OpenID",
        "Esc",
        "Enter",
        "Tab",
        "Shift",
        "Ctrl",
        "Alt",
    }
)

# Attributes a person reads (or hears from a screen reader) on any element.
READ_ATTRIBUTES = re.compile(r"^(title|alt|placeholder|aria-label|aria-description)$", re.I)
# Text a page's script shows, handed over in a data-* attribute (a confirmation, a status).
# `data-help` alone or ending a name is text; `data-help-needs` (a CSS selector saying when a
# line of the keys help applies) is not.
DATA_TEXT_ATTRIBUTES = re.compile(
    r"^data-(confirm|msg|message|text|label|title|status|error)([\w-]*)$|^data-help$|"
    r"^data-[\w-]*-(confirm|message|text|label|title|status|help|error)$",
    re.I,
)
# A value is shown as the button's text on these.
BUTTON_INPUT_TYPES = {"submit", "button", "reset"}

COMMENT_BLOCK = re.compile(r"\{%-?\s*comment\b.*?%\}.*?\{%-?\s*endcomment\s*-?%\}", re.S)
SHORT_COMMENT = re.compile(r"\{#.*?#\}", re.S)
TRANSLATED_BLOCK = re.compile(
    r"\{%\s*blocktrans(?:late)?\b.*?%\}.*?\{%\s*endblocktrans(?:late)?\s*%\}", re.S
)
TEMPLATE_TAG = re.compile(r"\{%.*?%\}", re.S)
TEMPLATE_VARIABLE = re.compile(r"\{\{.*?\}\}", re.S)
HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b([^>]*)>.*?</\1\s*>", re.S | re.I)
HTML_TAG = re.compile(r"<(/?)([a-zA-Z][\w:-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)/?>", re.S)
ATTRIBUTE = re.compile(r"([^\s=/>\"']+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+))?")
DOCTYPE = re.compile(r"<!doctype[^>]*>", re.I)
ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
LETTER = re.compile(r"[^\W\d_]")
WORD = re.compile(r"[^\W\d_][\w-]*[\w]|[^\W\d_]")
INCLUDE = re.compile(r"\{%\s*(?:include|extends)\s+[\"']([^\"']+)[\"']")


@dataclass(frozen=True)
class Unmarked:
    line: int
    where: str  # "text", or the attribute's name
    text: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.where}: {self.text!r}"


def _blank(match: re.Match) -> str:
    """Removes a match but keeps its newlines, so that line numbers stay right."""
    return "\n" * match.group(0).count("\n")


def _blank_script_body(match: re.Match) -> str:
    return f"<{match.group(1)}{match.group(2)}>" + "\n" * match.group(0).count("\n")


def strip_template(source: str) -> str:
    """The template as HTML with nothing Django would replace: comments, translated blocks,
    tags and variables removed (newlines kept)."""
    for pattern in (COMMENT_BLOCK, SHORT_COMMENT, TRANSLATED_BLOCK, TEMPLATE_TAG):
        source = pattern.sub(_blank, source)
    source = TEMPLATE_VARIABLE.sub(_blank, source)
    source = HTML_COMMENT.sub(_blank, source)
    source = DOCTYPE.sub("", source)
    return SCRIPT_OR_STYLE.sub(_blank_script_body, source)


def has_words(text: str) -> bool:
    """True when `text` holds a letter outside the allowed names and the HTML entities."""
    text = ENTITY.sub(" ", text)
    leftover = WORD.sub(lambda m: "" if m.group(0) in ALLOWED_WORDS else m.group(0), text)
    return LETTER.search(leftover) is not None


def _attribute_problems(name: str, attributes: str) -> list[tuple[str, str]]:
    found = dict(
        (key.lower(), value.strip("\"'") if value else "")
        for key, value in ATTRIBUTE.findall(attributes)
    )
    problems = []
    for key, value in found.items():
        read = READ_ATTRIBUTES.match(key) or DATA_TEXT_ATTRIBUTES.match(key)
        shown_value = key == "value" and (
            name == "button" or found.get("type", "").lower() in BUTTON_INPUT_TYPES
        )
        if (read or shown_value) and has_words(value):
            problems.append((key, value))
    return problems


def unmarked_strings(source: str) -> list[Unmarked]:
    """Every piece of shown text in a template's source that is not marked for translation."""
    html = strip_template(source)
    problems = []
    position = 0
    for tag in HTML_TAG.finditer(html):
        problems += _text_problems(html, position, tag.start())
        line = html.count("\n", 0, tag.start()) + 1
        for key, value in _attribute_problems(tag.group(2).lower(), tag.group(3)):
            problems.append(Unmarked(line, key, value))
        position = tag.end()
    problems += _text_problems(html, position, len(html))
    return problems


def _text_problems(html: str, start: int, end: int) -> list[Unmarked]:
    text = html[start:end]
    if not has_words(text):
        return []
    line = html.count("\n", 0, start) + 1 + len(text) - len(text.lstrip("\n"))
    return [Unmarked(line, "text", " ".join(text.split()))]


def templates_in_scope(entries: list[str]) -> list[str]:
    """The entry templates and every template they include or extend, at any depth."""
    seen: list[str] = []
    queue = list(entries)
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.append(name)
        source = (TEMPLATES / name).read_text(encoding="utf-8")
        queue += INCLUDE.findall(COMMENT_BLOCK.sub("", source))
    return seen
