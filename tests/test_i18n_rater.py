"""The rater workspace in German and Spanish: the pages, the htmx answers, the messages core's
answer checks give, the scripts' words, and blinding in every language. Study content (the
case, the question, its labels) is shown as its admin wrote it."""

import html
import json
import re
from pathlib import Path

import polib
import pytest
from django.urls import reverse

from annotation import services
from tests.adjudication_support import rated_study
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
LOCALE = ROOT / "locale"

# The pages of the rater workspace (the rater, scorer, adjudicator and reading pages); the
# partials they include are found by following their {% include %} tags.
PAGES = [
    "annotation/rater_home.html",
    "annotation/rater_item.html",
    "annotation/rater_review.html",
    "annotation/rater_feedback.html",
    "annotation/rater_done.html",
    "annotation/rater_session_closed.html",
    "annotation/scorer_item.html",
    "annotation/scorer_done.html",
    "annotation/adjudicator_item.html",
    "annotation/adjudicator_done.html",
    "annotation/_question_saved.html",
]
# Names never translated, and key names (a key is the same in every language).
ALLOWED = {"evalapp", "CSV", "JSON", "PDF", "API", "Esc", "Enter", "Tab", "Shift", "Ctrl"}
CHECKED_ATTRIBUTES = ("title", "alt", "placeholder", "aria-label", "aria-description")


def _with_includes(names: list[str]) -> list[str]:
    found, todo = [], list(names)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.append(name)
        todo += re.findall(r'{%\s*include\s+"([^"]+)"', (TEMPLATES / name).read_text())
    return sorted(found)


def _visible(source: str) -> str:
    """What a template prints as text, without what the template language translates or
    fills in: comments, translated blocks, tags, variables, scripts and styles removed."""
    for pattern in (
        r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}",
        r"{#.*?#}",
        r"<!--.*?-->",
        r"{%\s*blocktranslate\b.*?{%\s*endblocktranslate\s*%}",
        r"{%.*?%}",
        r"{{.*?}}",
        r"(?<=<script)[^>]*>.*?(?=</script>)",
        r"(?<=<style)[^>]*>.*?(?=</style>)",
    ):
        source = re.sub(pattern, " ", source, flags=re.S)
    return source


def _words(text: str) -> list[str]:
    text = re.sub(r"&\w+;|&#\d+;", " ", text)
    return [w for w in re.findall(r"[^\W\d_][\w'-]*", text) if w not in ALLOWED]


def _unmarked(source: str) -> list[str]:
    html = _visible(source)
    found = []
    for tag in re.finditer(r"<(\w+)\b([^>]*)>", html):
        name, attributes = tag.groups()
        for attribute, value in re.findall(r'([\w-]+)="([^"]*)"', attributes):
            button_value = attribute == "value" and (
                name == "button" or re.search(r'type="(submit|button)"', attributes)
            )
            checked = attribute in CHECKED_ATTRIBUTES or attribute.startswith("data-confirm")
            if (checked or button_value) and _words(value):
                found.append(f'{attribute}="{value}"')
    text = re.sub(r"<[^>]*>", " ", html)
    found += _words(text)
    return found


def test_the_unmarked_string_rule_finds_what_it_must():
    # The check itself: plain text, an attribute and a button's value are found; translated
    # text, variables, comments and key names are not.
    assert _unmarked("<p>Hello</p>") == ["Hello"]
    assert _unmarked('<img alt="A picture">') == ['alt="A picture"']
    assert _unmarked('<input type="submit" value="Go">') == ['value="Go"']
    marked = (
        '{% load i18n %}<p title="{% translate \'Hi\' %}">{% translate "Hello" %} {{ name }}'
        " <kbd>Esc</kbd> {% blocktranslate %}Hi {{ x }}{% endblocktranslate %}</p>"
        "{# a note #}{% comment %}a note{% endcomment %}<!-- a note -->"
    )
    assert _unmarked(marked) == []


@pytest.mark.parametrize("name", _with_includes(PAGES))
def test_every_string_of_the_rater_workspace_is_marked_for_translation(name):
    assert _unmarked((TEMPLATES / name).read_text()) == [], name


def test_the_workspace_pages_and_their_partials_are_all_checked():
    names = _with_includes(PAGES)
    for partial in ("_question.html", "_keys_help.html", "_unsaved.html", "_session_wait.html"):
        assert f"annotation/{partial}" in names


@pytest.mark.parametrize("domain", ["django", "djangojs"])
@pytest.mark.parametrize("language", ["de", "es"])
def test_the_catalogues_are_complete_and_keep_placeholders_and_markup(language, domain):
    catalogue = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / f"{domain}.po"))
    assert catalogue.untranslated_entries() == []
    assert catalogue.fuzzy_entries() == []
    for entry in catalogue:
        forms = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        source = entry.msgid + " " + entry.msgid_plural
        # The values put in and the markup around them (the session's <time> element, which
        # the page's script reads) come through every translation unchanged; a singular may
        # leave the count out ("the only item") as the English does.
        placeholders = set(re.findall(r"%\(\w+\)s", source))
        given = set().union(*(re.findall(r"%\(\w+\)s", form) for form in forms))
        assert given == placeholders, (entry.msgid, forms)
        for form in forms:
            assert set(re.findall(r"<[^>]+>", form)) == set(re.findall(r"<[^>]+>", source))
    # The .mo shipped is the .po compiled, not an older one.
    compiled = polib.mofile(str(LOCALE / language / "LC_MESSAGES" / f"{domain}.mo"))
    assert _messages(compiled) == _messages(catalogue)


def _messages(catalogue) -> dict:
    return {
        (e.msgctxt, e.msgid): (
            {int(n): text for n, text in e.msgstr_plural.items()} if e.msgid_plural else e.msgstr
        )
        for e in catalogue
        if e.msgid
    }


# --- the pages as a German and a Spanish rater see them ----------------------------------------

GERMAN = {
    "heading": "Element 1 von 4",
    "progress": "0 von 4 bewertet",
    "submit": "Absenden und weiter zum nächsten",
    "keys": "Tastenkürzel",
    "saved": "Gespeichert",
    "refused": "'9' ist kein Punkt auf der Skala dieser Frage.",
    "missing": "Noch zu beantworten: How well does the summary capture the question?",
    "saving": "Noch nicht gespeichert: keine Verbindung. Neuer Versuch…",
    "home": "Meine Studien",
}
SPANISH = {
    "heading": "Elemento 1 de 4",
    "progress": "0 de 4 valorados",
    "submit": "Enviar e ir al siguiente",
    "keys": "Atajos de teclado",
    "saved": "Guardado",
    "refused": "'9' no es un punto de la escala de esta pregunta.",
    "missing": "Falta por responder: How well does the summary capture the question?",
    "saving": "Aún sin guardar: sin conexión. Reintentando…",
    "home": "Mis estudios",
}
WORDS = {"de": GERMAN, "es": SPANISH}


def first_assignment(study, rater):
    return study.assignments.filter(rater=rater).order_by("position").first()


def item_url(study, assignment):
    return reverse("rater_item", args=[study.token, assignment.token])


@pytest.fixture(params=["de", "es"])
def language(request):
    return request.param


@pytest.fixture
def speaking(rater_client, language):
    """The rater's client with the language cookie the switcher sets."""
    rater_client.cookies["django_language"] = language
    return rater_client


@pytest.mark.django_db
def test_the_item_page_is_in_the_raters_language_and_the_study_content_as_written(
    speaking, language, open_study, rater
):
    assignment = first_assignment(open_study, rater)
    page = speaking.get(item_url(open_study, assignment)).content.decode()
    words = WORDS[language]
    for key in ("heading", "progress", "submit", "keys"):
        assert words[key] in page, key
    assert "Submit and go to next" not in page
    # The admin's question and the case stay as written; the keys stay the keys.
    assert "How well does the summary capture the question?" in page
    assert assignment.item.output.case.input_text in page
    assert "<kbd>Enter</kbd>" in page
    assert "<kbd>?</kbd>" in page


@pytest.mark.django_db
def test_a_saved_answer_says_so_in_the_raters_language(speaking, language, open_study, rater):
    assignment = first_assignment(open_study, rater)
    data = {"question": "overall", "answer": "4"}
    response = speaking.post(item_url(open_study, assignment), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["X-Answer-Saved"]
    assert f'<span class="ok">{WORDS[language]["saved"]}</span>' in response.text
    assert assignment.ratings.get().answer == 4


@pytest.mark.django_db
def test_a_refused_answer_gives_cores_reason_in_the_raters_language(
    speaking, language, open_study, rater
):
    # The check is core's (pure Python, marked for the catalogue); the service translates it.
    assignment = first_assignment(open_study, rater)
    data = {"question": "overall", "answer": "9"}
    response = speaking.post(item_url(open_study, assignment), data, HTTP_HX_REQUEST="true")
    assert response["X-Answer-Refused"] == "1"
    assert WORDS[language]["refused"] in html.unescape(response.text)
    assert not assignment.ratings.exists()


@pytest.mark.django_db
def test_submitting_with_a_question_unanswered_says_which_in_the_raters_language(
    speaking, language, open_study, rater
):
    assignment = first_assignment(open_study, rater)
    submit = reverse("rater_submit", args=[open_study.token, assignment.token])
    response = speaking.post(submit, {"elapsed_ms": "0"}, follow=True)
    assert WORDS[language]["missing"] in response.content.decode()
    assignment.refresh_from_db()
    assert assignment.submitted_at is None


@pytest.mark.django_db
def test_numbers_read_in_the_locale_but_a_number_box_keeps_its_decimal_point(
    speaking, language, open_study, rater
):
    # "0,50 bis 10,50" for the reader; the box's value and limits are for the browser, which
    # refuses "2,5" in a number field (the answer would show as empty and be lost on save).
    from annotation.models import Question

    question = Question.objects.create(
        study=open_study,
        key="dose",
        prompt="Dose in mg",
        kind="number",
        level="ratio",
        minimum=0.5,
        maximum=10.5,
        required=False,
    )
    assignment = first_assignment(open_study, rater)
    services.rating_save(assignment=assignment, question=question, answer="2.5")
    page = speaking.get(item_url(open_study, assignment)).content.decode()
    box = re.search(r'<input type="number" name="answer"[^>]*>', page).group(0)
    assert 'min="0.5"' in box
    assert 'max="10.5"' in box
    assert 'value="2.5"' in box
    between = {"de": "0,50 bis 10,50", "es": "0,50 a 10,50"}[language]
    assert f'<span class="helptext">{between}</span>' in page


@pytest.mark.django_db
def test_the_home_page_counts_in_the_raters_language(speaking, language, open_study):
    page = speaking.get(reverse("rater_home")).content.decode()
    assert WORDS[language]["home"] in page
    assert WORDS[language]["progress"] in page


@pytest.mark.django_db
def test_core_answer_checks_stay_english_outside_a_request():
    # Files, the API and a judge's prompt read core's English; only the pages translate.
    from annotation.core import rubric

    with pytest.raises(rubric.AnswerError) as found:
        rubric.parse_answer(rubric.QuestionSpec(kind=rubric.NUMBER, maximum=5.0), "7")
    assert str(found.value) == "The largest allowed answer is 5."
    assert found.value.params == {"maximum": "5"}


@pytest.mark.django_db
def test_the_scripts_words_come_from_the_javascript_catalogue(client, language):
    client.cookies["django_language"] = language
    response = client.get(reverse("javascript_catalog"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    found = re.search(r"const newcatalog = (\{.*?\});\n", response.content.decode(), re.S)
    catalogue = json.loads(found.group(1))
    retrying = "Not saved yet: no connection. Retrying…"
    assert catalogue[retrying] == WORDS[language]["saving"]
    plural = "%(count)s answer from your last visit is saved now."
    assert len(catalogue[plural]) == 2  # both forms, for the script's ngettext


# --- blinding holds in every language -----------------------------------------------------------


@pytest.mark.django_db
def test_a_german_adjudicator_sees_readers_by_number_only(client, study_admin, raters):
    study = rated_study(study_admin, raters)
    services.adjudication_select(
        study=study, by=study_admin, mode="rule", rule={"kind": "no_majority", "question": "harm"}
    )
    senior = UserFactory(username="senior")
    services.adjudicator_add(study=study, user=senior)
    client.force_login(senior)
    client.cookies["django_language"] = "de"
    page = client.get(reverse("adjudicator_next", args=[study.token]), follow=True)
    page = page.content.decode()
    assert "Bewerter 1" in page
    assert "Bewerter 2" in page
    assert "Bewerter 3" not in page
    assert "Ein Element begutachten" in page
    for hidden in ("R1", "R2", "R3", "rater1", "rater2", "rater3", "MedSumm", "Expert-written"):
        assert not re.search(rf"(?<![\w-]){hidden}(?![\w-])", page), hidden


@pytest.mark.django_db
def test_no_source_is_named_on_a_translated_item_page(speaking, open_study, rater):
    for assignment in open_study.assignments.filter(rater=rater):
        page = speaking.get(item_url(open_study, assignment)).content.decode()
        for source in open_study.sources.all():
            assert source.label not in page
