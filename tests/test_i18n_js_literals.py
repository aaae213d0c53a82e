"""No English sentence hard-coded in the pages' scripts: a string with letters that a script puts
where a reader sees it (textContent, innerText, title, placeholder, aria-label, a text node, an
alert or confirm box) must come through gettext/ngettext (static/js/i18n.js, Django's djangojs
catalogue). A regular-expression check, not a parser: it reads each such statement up to its
semicolon and drops the literals handed to gettext/ngettext first. Its blind spot: a single
lower-case word (taken for a field's or a class's name) passes."""

import re
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parent.parent / "static" / "js"

# Where a string is shown: an assignment to a shown property, a shown attribute set, a text node
# made or appended, a browser dialog.
SHOWN = re.compile(
    r"""\.(?:textContent|innerText|title|placeholder|ariaLabel)\s*=(?!=)"""
    r"""|\.setAttribute\(\s*["'](?:title|placeholder|aria-label|aria-description)["']\s*,"""
    r"""|\bcreateTextNode\(|\.(?:append|prepend)\(|\b(?:window\.)?(?:alert|confirm|prompt)\("""
)
STRING = re.compile(r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`""")
# A message: literals, maybe joined by "+" across lines; gettext takes one, ngettext two.
_LITERAL = r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
_MESSAGE = rf"{_LITERAL}(?:\s*\+\s*{_LITERAL})*"
TRANSLATED = re.compile(rf"\b(?:gettext|ngettext)\(\s*{_MESSAGE}(?:\s*,\s*{_MESSAGE})?")
# A literal that names something for the code, not the reader: a CSS selector, or a single
# lower-case identifier (a form field's name, a dialog's return value, a class).
CODE_NAME = re.compile(r"^(?:[a-z][\w-]*|[^\s]*[\[\]=#>][^\s]*)$")
# Literals with letters that are not English words for a reader.
ALLOWED = {"evalapp", "UTC", "px", "em"}


def untranslated(source: str) -> list[tuple[int, str]]:
    """The (line, literal) pairs shown to a reader without gettext."""
    found = []
    for match in SHOWN.finditer(source):
        end = source.find(";", match.end())
        statement = source[match.end() : end if end != -1 else len(source)]
        statement = TRANSLATED.sub("gettext(_)", statement)
        for literal in STRING.findall(statement):
            text = literal[1:-1]
            if text.startswith("${") or not re.search(r"[A-Za-z]", text):
                continue
            if text in ALLOWED or CODE_NAME.match(text):
                continue
            found.append((source.count("\n", 0, match.start()) + 1, literal))
    return found


SCRIPTS = sorted(JS.rglob("*.js"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(JS)))
def test_no_hard_coded_english_is_shown(script):
    found = untranslated(script.read_text(encoding="utf-8"))
    assert not found, f"{script.relative_to(JS)}: untranslated text shown: {found}"


def test_the_scripts_of_the_rater_and_checklist_pages_are_scanned():
    names = {str(p.relative_to(JS)) for p in SCRIPTS}
    assert {"rater/fill.js", "rater/spans.js", "checklist.js", "rater.js"} <= names


def test_the_old_span_list_is_caught():
    old = 'remove.textContent = "Remove";\n'
    assert untranslated(old) == [(1, '"Remove"')]


@pytest.mark.parametrize(
    "line",
    [
        'note.title = "Saved at " + when;',
        "el.setAttribute('aria-label', 'Close');",
        'window.alert("Not saved");',
        "if (confirm(`Leave the page?`)) go();",
        'li.append("Remove", button);',
        'status.innerText = ok ? gettext("Saved") : "Not saved";',
    ],
)
def test_each_shown_place_is_checked(line):
    assert untranslated(line)


@pytest.mark.parametrize(
    "line",
    [
        'remove.textContent = gettext("Remove");',
        'note.textContent = interpolate(gettext("Saved at %(time)s"), {time: when});',
        'x.textContent = ngettext("%(n)s item", "%(n)s items", n);',
        'note.textContent = " (" + utc + ")";',
        'li.append("“", quote, "” · ", remove);',
        'data.append("csrfmiddlewaretoken", token);',
        'mark.title = optionLabel("[data-span-severity]", code);',
        'p.textContent = ngettext(\n  "One answer " +\n    "is kept.",\n  "All " + "kept.", n);',
        "el.title = label;",
    ],
)
def test_translated_or_letterless_text_passes(line):
    assert not untranslated(line)
