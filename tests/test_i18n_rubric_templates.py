"""Rubric templates and preset scales in each shipped language: the same keys, kinds, levels and
values as the English template (so data from sites in different languages pools), the text in
the language, and a citation that says the translation is evalapp's own."""

import pytest
import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation import services
from annotation.core import rubric
from annotation.core.rubric_translations import translate_template
from annotation.models import Study
from annotation.services.questions import RUBRIC_TEMPLATES_DIR
from tests.conftest import study_drafted

TRANSLATED = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def structure(template: rubric.Template) -> list[tuple]:
    return [
        (q.key, q.kind, q.level, q.allow_na, q.required, q.minimum, q.maximum)
        + tuple(point["value"] for point in q.scale)
        for q in template.questions
    ]


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_template_has_a_translation_file(language):
    english = {path.name for path in RUBRIC_TEMPLATES_DIR.glob("*.yaml")}
    translated = {path.name for path in (RUBRIC_TEMPLATES_DIR / language).glob("*.yaml")}
    assert translated == english


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_language_keeps_the_keys_codes_and_levels(language):
    english = services.rubric_templates()
    translated = services.rubric_templates(language)
    assert translated.keys() == english.keys()
    for name, template in english.items():
        other = translated[name]
        assert structure(other) == structure(template), name
        # Every text a rater reads is translated: no prompt or word label left in English.
        assert other.title != template.title
        for mine, theirs in zip(template.questions, other.questions, strict=True):
            assert theirs.prompt != mine.prompt, (name, mine.key)
            for a, b in zip(mine.scale, theirs.scale, strict=True):
                if not a["label"].isdigit():
                    assert a["label"] != b["label"] or a["label"] == "No", (name, mine.key, a)


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_citation_says_the_translation_is_not_validated(language):
    for name, template in services.rubric_templates(language).items():
        english = services.rubric_templates()[name]
        assert template.citation.startswith(english.citation)
        assert "evalapp" in template.citation
        assert "not a validated translation" in template.citation


def test_a_translation_that_drifts_from_its_template_is_refused():
    english = services.rubric_templates()["harm"]
    data = yaml.safe_load((RUBRIC_TEMPLATES_DIR / "de" / "harm.yaml").read_text())
    assert translate_template("de/harm.yaml", english, data).questions[0].prompt.startswith("Wenn")
    renamed = {**data, "questions": {**data["questions"]}}
    renamed["questions"]["harm_size"] = renamed["questions"].pop("harm_extent")
    with pytest.raises(rubric.AnswerError, match="missing \\['harm_extent'\\]"):
        translate_template("de/harm.yaml", english, renamed)
    recoded = yaml.safe_load((RUBRIC_TEMPLATES_DIR / "de" / "harm.yaml").read_text())
    recoded["questions"]["harm_likelihood"]["labels"] = {"low": "Gering", "mid": "Mittel"}
    with pytest.raises(rubric.AnswerError, match="harm_likelihood: labels must name exactly"):
        translate_template("de/harm.yaml", english, recoded)
    unnoted = {**data, "translation_note": ""}
    with pytest.raises(rubric.AnswerError, match="translation_note is required"):
        translate_template("de/harm.yaml", english, unnoted)


@pytest.mark.django_db
def test_the_german_template_on_a_german_study_writes_german_prompts(study_admin, raters):
    study = study_drafted(study_admin, raters)
    services.study_language_set(study=study, language="de")
    added = services.questions_add_template(study=study, name="harm")
    assert [q.key for q in added] == ["harm_extent", "harm_likelihood"]
    assert added[1].prompt == "Wie wahrscheinlich ist dieser Schaden?"
    assert [p["label"] for p in added[1].scale] == ["Gering", "Mittel", "Hoch"]
    assert [p["value"] for p in added[1].scale] == ["low", "medium", "high"]


@pytest.mark.django_db
def test_another_language_can_be_chosen_and_an_unknown_one_is_refused(study_admin, raters):
    study = study_drafted(study_admin, raters)
    services.study_language_set(study=study, language="de")
    added = services.questions_add_template(study=study, name="medflamingo", language="es")
    assert added[0].prompt.startswith("¿Qué utilidad")
    with pytest.raises(ValidationError, match="Unknown language"):
        services.questions_add_template(study=study, name="harm", language="fr")


@pytest.mark.django_db
def test_the_picker_offers_the_study_language_and_adds_in_the_chosen_one(
    client, study_admin, raters
):
    study = study_drafted(study_admin, raters)
    services.study_language_set(study=study, language="es")
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[study.token])).text
    assert '<option value="es" selected>Español</option>' in page
    assert "written in Español" in page
    response = client.post(
        reverse("study_question_template", args=[study.token]),
        {"template": "harm", "language": "de"},
        follow=True,
    )
    assert "Deutsche Übersetzung: evalapp" in response.text
    assert study.questions.get(key="harm_likelihood").prompt.startswith("Wie wahrscheinlich")


@pytest.mark.django_db
def test_the_api_creates_a_study_in_a_language_and_takes_the_templates_language(
    client, study_admin
):
    client.force_login(study_admin)
    created = client.post(
        "/api/v1/studies/",
        {"title": "Estudio", "question_prompt": "¿Calidad global?", "language": "es"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["language"] == "es"
    # The preset Likert scale comes in the study's language, with the same values.
    question = Study.objects.get(token=body["token"]).questions.get()
    assert [p["label"] for p in question.scale][0] == "Muy deficiente"
    assert [p["value"] for p in question.scale] == [1, 2, 3, 4, 5]
    url = f"/api/v1/studies/{body['token']}/questions-from-template/"
    added = client.post(url, {"template": "harm"}, content_type="application/json")
    assert added.status_code == 201
    assert added.json()["added"][0]["prompt"].startswith("Si se actuara")
    refused = client.post(
        url, {"template": "medflamingo", "language": "fr"}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert "language" in refused.json()
    changed = client.patch(
        f"/api/v1/studies/{body['token']}/", {"language": "de"}, content_type="application/json"
    )
    assert changed.status_code == 200
    assert changed.json()["language"] == "de"
    bad = client.patch(
        f"/api/v1/studies/{body['token']}/", {"language": "xx"}, content_type="application/json"
    )
    assert bad.status_code == 400
    assert "language" in bad.json()


@pytest.mark.django_db
def test_the_new_study_page_sets_the_language(client, study_admin):
    client.force_login(study_admin)
    page = client.get(reverse("study_list")).text
    assert 'name="language"' in page
    client.post(
        reverse("study_create"),
        {
            "title": "Zusammenfassungen",
            "question_prompt": "Wie gut ist die Zusammenfassung?",
            "raters_per_item": 2,
            "language": "de",
            "level": "ordinal",
        },
    )
    study = Study.objects.get(title="Zusammenfassungen")
    assert study.language == "de"
    assert study.questions.get().scale[-1] == {"value": 5, "label": "Ausgezeichnet"}


@pytest.mark.django_db
def test_ready_made_rater_questions_come_in_the_study_language_with_the_same_codes(
    study_admin, raters
):
    english = study_drafted(study_admin, raters, title="English")
    german = study_drafted(study_admin, raters, title="Deutsch")
    services.study_language_set(study=german, language="de")
    en = services.rater_question_add_template(study=english, name="specialty")
    de = services.rater_question_add_template(study=german, name="specialty")
    assert en.prompt == "What is your clinical specialty?"
    assert de.prompt == "Was ist Ihr klinisches Fachgebiet?"
    assert [p["value"] for p in de.scale] == [p["value"] for p in en.scale]
    assert de.scale[0]["label"] == "Notfallmedizin"
