"""Django's {# #} comment ends on its own line: a multi-line one is printed on the page."""

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# "{#" then anything up to the end of the line that is not "#}"
UNCLOSED = re.compile(r"\{#(?:(?!#\}).)*$", re.MULTILINE)


def unclosed_comments(text: str) -> list[int]:
    return [text.count("\n", 0, match.start()) + 1 for match in UNCLOSED.finditer(text)]


def test_the_check_finds_a_comment_spread_over_two_lines():
    assert unclosed_comments("<p>\n{# one\n two #}\n") == [2]
    assert unclosed_comments("{# one #} <p>{# two #}</p>\n{% comment %}a\nb{% endcomment %}") == []


def test_no_template_has_a_comment_spread_over_lines():
    found = {
        str(path.relative_to(TEMPLATES)): lines
        for path in sorted(TEMPLATES.rglob("*.html"))
        if (lines := unclosed_comments(path.read_text(encoding="utf-8")))
    }
    assert found == {}
