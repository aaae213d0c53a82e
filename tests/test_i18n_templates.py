"""Every string a rater, a checklist author or anyone signing in reads on a page is marked for
translation: a template in scope with shown text that is not marked fails, naming the template,
the line and the text (tests/support/template_strings.py says what counts as shown text)."""

import pytest

from tests.support.template_strings import (
    TEMPLATES,
    has_words,
    templates_in_scope,
    unmarked_strings,
)

# The templates each view in scope renders, by who marks them (issue 25); everything they
# include or extend is followed automatically. Admin pages (the dashboard and its partials, the
# study's consent settings) are not in scope: docs/translation.md says why.
ENTRIES = {
    "base": [
        "base.html",
        *sorted(
            str(path.relative_to(TEMPLATES)) for path in (TEMPLATES / "registration").glob("*.html")
        ),
        "annotation/invitation.html",
        "annotation/api_token.html",
        "annotation/rater_consent.html",
        "annotation/rater_background.html",
        "annotation/rater_my_consent.html",
        "404.html",
        "403.html",
        "500.html",
        "csrf_failure.html",
    ],
    "rater": [
        "annotation/rater_home.html",
        "annotation/rater_item.html",
        "annotation/_question_saved.html",
        "annotation/rater_review.html",
        "annotation/rater_done.html",
        "annotation/rater_feedback.html",
        "annotation/rater_session_closed.html",
        "annotation/adjudicator_item.html",
        "annotation/adjudicator_done.html",
        "annotation/scorer_item.html",
        "annotation/scorer_done.html",
    ],
    "checklists": sorted(
        str(path.relative_to(TEMPLATES)) for path in (TEMPLATES / "checklists").glob("*.html")
    ),
}


def _cases() -> list:
    cases, seen = [], set()
    for area, entries in ENTRIES.items():
        for name in templates_in_scope(entries):
            if name in seen:
                continue
            seen.add(name)
            cases.append(pytest.param(name, id=f"{area}:{name}"))
    return cases


@pytest.mark.parametrize("template", _cases())
def test_template_has_no_unmarked_string(template):
    source = (TEMPLATES / template).read_text(encoding="utf-8")
    problems = [str(problem) for problem in unmarked_strings(source)]
    assert problems == [], f"{template}: text not marked for translation"


def test_scope_follows_includes_and_extends():
    scope = templates_in_scope(["annotation/rater_item.html"])
    assert "base.html" in scope
    assert "annotation/_question.html" in scope
    assert "annotation/_keys_help.html" in scope


# The scanner itself.


def test_an_unmarked_word_between_tags_is_found():
    problems = unmarked_strings("{% load i18n %}<p>Save</p>\n<p>{% translate 'Save' %}</p>")
    assert [(p.line, p.where, p.text) for p in problems] == [(1, "text", "Save")]


def test_marked_text_passes():
    source = """{% load i18n %}<h1>{% translate "Log in" %}</h1>
    <p>{% blocktranslate trimmed with name=user.name %}Hello {{ name }}, welcome.
    {% endblocktranslate %}</p>
    <p>{{ study.title }} &middot; 3/4 &nbsp; (1)</p>"""
    assert unmarked_strings(source) == []


def test_comments_scripts_and_styles_are_not_shown_text():
    source = """{% comment %}Translators: a note{% endcomment %}{# a note #}
    <!-- an HTML note --><script type="module">console.log("hello");</script>
    <style>p { color: red; }</style>"""
    assert unmarked_strings(source) == []


def test_read_attributes_are_checked():
    source = (
        '<a title="Open the study" href="/x">{% translate "Open" %}</a>\n'
        '<img alt="{% translate \'Chart\' %}" src="x.png">\n'
        '<input placeholder="Search">\n<nav aria-label="Main"></nav>\n'
        '<button value="Go" data-confirm="Really?" class="primary">1</button>\n'
        '<input type="submit" value="Send">\n<input type="text" value="free text">\n'
        '<div data-msg-saved="Saved" data-keys="a b"></div>'
    )
    found = {(p.line, p.where, p.text) for p in unmarked_strings(source)}
    assert found == {
        (1, "title", "Open the study"),
        (3, "placeholder", "Search"),
        (4, "aria-label", "Main"),
        (5, "value", "Go"),
        (5, "data-confirm", "Really?"),
        (6, "value", "Send"),
        (8, "data-msg-saved", "Saved"),
    }


def test_a_tag_inside_an_attribute_does_not_end_the_element():
    source = '<input{% if a > b %} checked{% endif %} title="Unmarked">'
    assert [p.where for p in unmarked_strings(source)] == ["title"]


def test_only_the_allowed_names_pass():
    assert not has_words("evalapp · CSV, JSON &amp; PDF; Esc / Enter 12.5 %")
    assert has_words("Export CSV")
    assert has_words("Übersicht")
