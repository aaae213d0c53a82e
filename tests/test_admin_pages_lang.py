"""The admin pages stay English by design (docs/translation.md) under a German or Spanish
interface, where <html lang> is "de" or "es": their content says lang="en", so a screen reader
reads it with an English voice (WCAG 3.1.2). The translated pages (tests/test_i18n_templates.py's
scope) must not say so of their content: it is in the page's language."""

import re

import pytest
from django.urls import reverse

from tests.support.template_strings import TEMPLATES, templates_in_scope
from tests.test_i18n_templates import ENTRIES

# base.html's block that an English page fills with ` lang="en"` on <main>.
MAIN_LANG = re.compile(r'\{%\s*block main_lang\s*%\}\s*lang="en"\s*\{%\s*endblock\s*%\}')
EXTENDS_BASE = re.compile(r'\{%\s*extends\s+"base\.html"\s*%\}')
# Translated, outside the scope's entries: the CSRF failure page (an error page, in every
# language like 403 and 404).
TRANSLATED_ELSEWHERE = {"csrf_failure.html"}


def _in_scope() -> set[str]:
    return set(templates_in_scope([name for names in ENTRIES.values() for name in names]))


def _pages() -> list[str]:
    """Every template that is a page of its own: it extends base.html."""
    return sorted(
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if EXTENDS_BASE.search(path.read_text(encoding="utf-8"))
    )


def test_there_are_admin_pages_and_translated_pages():
    scope = _in_scope()
    admin = [name for name in _pages() if name not in scope and name not in TRANSLATED_ELSEWHERE]
    assert "annotation/audit_log.html" in admin
    assert "annotation/study_dashboard.html" in admin
    assert "annotation/rater_item.html" in scope


@pytest.mark.parametrize("template", _pages())
def test_a_page_says_lang_en_exactly_when_it_is_not_translated(template):
    source = (TEMPLATES / template).read_text(encoding="utf-8")
    english = template not in _in_scope() and template not in TRANSLATED_ELSEWHERE
    if english:
        assert MAIN_LANG.search(source), f'{template}: admin page without lang="en"'
    else:
        # An English name inside it (a checklist's title) may still say lang="en" itself.
        assert "block main_lang" not in source, f'{template}: translated page marked lang="en"'


def test_base_puts_the_block_on_main():
    source = (TEMPLATES / "base.html").read_text(encoding="utf-8")
    assert '<main id="main" tabindex="-1"{% block main_lang %}{% endblock %}>' in source


def _main_tag(html: str) -> str:
    return re.search(r"<main\b[^>]*>", html).group(0)


@pytest.mark.django_db
def test_under_german_the_audit_page_is_english_content_and_a_rater_page_is_not(
    client, open_study, study_admin, rater
):
    client.force_login(study_admin)
    for url in (
        reverse("study_audit", args=[open_study.token]),
        reverse("study_dashboard", args=[open_study.token]),
    ):
        html = client.get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
        assert '<html lang="de">' in html
        assert _main_tag(html) == '<main id="main" tabindex="-1" lang="en">', url
    client.force_login(rater)
    html = client.get(reverse("rater_home"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<html lang="de">' in html
    assert _main_tag(html) == '<main id="main" tabindex="-1">'
