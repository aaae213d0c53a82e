"""Review fixes to the German and Spanish pages: numbers in form attributes stay readable by the
browser ("12.0", never "12,0"); the 404, 403 and 500 pages in the user's language."""

import re

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation
from django.views import defaults

from annotation import services
from annotation.core import consent
from annotation.models import Membership, UserPreference
from checklists import services as checklist_services
from evalapp.views import denied, not_found
from tests.conftest import study_drafted
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def hours_study(study_admin, raters):
    """An open study asking, after the last item, an optional number with decimal limits."""
    study = study_drafted(study_admin, raters)
    services.rater_question_add(
        study=study,
        draft=consent.RaterQuestionDraft(
            key="hours",
            prompt="Hours per week?",
            kind="number",
            phase=consent.POST_STUDY,
            required=False,
            minimum=0.5,
            maximum=80.5,
        ),
    )
    services.study_open(study=study)
    study.refresh_from_db()
    return study


@pytest.mark.parametrize("language", ["de", "es"])
def test_a_stored_number_is_shown_unlocalized_in_the_after_study_form(
    rater_client, rater, hours_study, language
):
    Membership.objects.filter(study=hours_study, user=rater).update(post_study={"hours": 12.5})
    page = rater_client.get(
        reverse("rater_post_study", args=[hours_study.token]), HTTP_ACCEPT_LANGUAGE=language
    )
    assert page.status_code == 200
    assert f'<html lang="{language}"' in page.text
    field = next(line for line in page.text.splitlines() if 'id="rq-hours"' in line)
    assert 'value="12.5"' in field
    assert 'min="0.5"' in field
    assert 'max="80.5"' in field
    assert "," not in field.split('name="hours"')[1]


# --- 2. Error pages ---------------------------------------------------------------------------

ERRORS = {
    "de": ("Seite nicht gefunden", "Zur Startseite", "Dieser Einladungslink ist ungültig."),
    "es": (
        "Página no encontrada",
        "Ir a la página de inicio",
        "Este enlace de invitación no es válido.",
    ),
}


@pytest.mark.parametrize("language", ["de", "es"])
def test_an_unknown_address_is_a_404_page_in_the_users_language(client, settings, language):
    settings.DEBUG = False
    page = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 404
    assert f'<html lang="{language}"' in page.text
    heading, home, _invalid = ERRORS[language]
    assert f"<h1>{heading}</h1>" in page.text
    assert home in page.text
    assert "Not Found" not in page.text


@pytest.mark.parametrize("language", ["de", "es"])
def test_an_invalid_invitation_says_so_on_the_404_page(client, settings, language):
    settings.DEBUG = False
    page = client.get(reverse("invitation", args=["no-such-token"]), HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 404
    assert ERRORS[language][2] in page.text


def test_an_internal_404_or_403_message_is_not_shown(db):
    request = RequestFactory().get("/studies/1/figures/x/")
    request.user = None
    with translation.override("de"):
        page = not_found(request, Http404("No such figure: internal detail."))
        refused = denied(request, PermissionDenied("Internal: only staff."))
    assert page.status_code == 404
    assert "internal detail" not in page.content.decode()
    assert refused.status_code == 403
    assert "Internal" not in refused.content.decode()
    assert "Zugriff verweigert" in refused.content.decode()


def test_the_api_keeps_its_json_404(client, settings):
    settings.DEBUG = False
    page = client.get("/api/v1/no-such-thing/", HTTP_ACCEPT_LANGUAGE="de")
    assert page.status_code == 404
    assert page.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    ("language", "refusal"),
    [
        ("de", "Nur die Leitung des Berichts kann dies tun."),
        ("es", "Solo el responsable del informe puede hacer esto."),
    ],
)
def test_a_step_only_the_lead_may_take_is_a_403_page_saying_why(
    client, settings, appraisal, language, refusal
):
    settings.DEBUG = False
    client.cookies["django_language"] = language
    client.force_login(appraisal.assessments.first().assessor)
    page = client.post(reverse("report_add_assessor", args=[appraisal.token]), {"username": "x"})
    assert page.status_code == 403
    assert f'<html lang="{language}"' in page.text
    assert refusal in page.text


@pytest.mark.parametrize(
    ("language", "heading"), [("de", "Serverfehler"), ("es", "Error del servidor")]
)
def test_the_500_page_is_self_contained_and_in_the_active_language(
    language, heading, django_assert_num_queries
):
    request = RequestFactory().get("/")
    with translation.override(language), django_assert_num_queries(0):
        page = defaults.server_error(request)
    text = page.content.decode()
    assert page.status_code == 500
    assert f'<html lang="{language}">' in text
    assert f"<h1>{heading}</h1>" in text
    assert "/static/" not in text


# --- 4. The switcher names each language in itself -------------------------------------------


@pytest.mark.parametrize("language", ["en", "de", "es"])
def test_the_switcher_names_each_language_in_itself_in_every_interface_language(client, language):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE=language).text
    options = re.findall(r'<option value="(\w+)" lang="(\w+)"[^>]*>([^<]+)</option>', page)
    assert options == [
        ("en", "en", "English"),
        ("de", "de", "Deutsch"),
        ("es", "es", "Español"),
    ]
    assert "Englisch" not in page
    assert "Inglés" not in page


# --- 5. A language chosen before signing in wins over the stored one -------------------------


def test_a_language_chosen_on_the_sign_in_page_wins_over_the_stored_one(rater):
    UserPreference.objects.create(user=rater, language="de")
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.post(reverse("set_language"), {"language": "es", "next": "/"})
    response = browser.post(reverse("login"), {"username": rater.username, "password": PASSWORD})
    assert response.status_code == 302
    assert UserPreference.objects.get(user=rater).language == "es"
    assert browser.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    page = browser.get(reverse("api_token")).text
    assert '<html lang="es"' in page
    # Once applied, the note is gone: signing in again later brings the stored choice.
    assert "language_chosen_before_sign_in" not in browser.session


def test_an_old_language_cookie_does_not_override_the_stored_choice(rater):
    """Only a choice made in this session wins: a cookie from an earlier visit does not."""
    UserPreference.objects.create(user=rater, language="de")
    browser = Client()
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    browser.post(reverse("login"), {"username": rater.username, "password": PASSWORD})
    assert UserPreference.objects.get(user=rater).language == "de"
    assert browser.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"


# --- 6. The study's own content is marked with the study's language -------------------------


def case_element(page: str) -> str:
    """The opening tag of the element holding the case's text (the first under a heading)."""
    return re.search(r'</h2>\s*(<div class="text"[^>]*>)', page).group(1)


@pytest.mark.parametrize(
    ("study_language", "ui_language"), [("de", "en"), ("en", "de"), ("es", "de")]
)
def test_the_case_and_questions_carry_the_studys_language_not_the_interfaces(
    rater_client, study_admin, raters, study_language, ui_language
):
    study = study_drafted(study_admin, raters)
    if study_language != "en":
        services.study_language_set(study=study, language=study_language)
    services.study_open(study=study)
    page = rater_client.get(
        reverse("rater_resume", args=[study.token]), HTTP_ACCEPT_LANGUAGE=ui_language, follow=True
    ).text
    assert f'<html lang="{ui_language}"' in page
    assert f'lang="{study_language}"' in case_element(page)
    assert re.search(rf'<span class="prompt" lang="{study_language}">', page)
    home = rater_client.get(reverse("rater_home"), HTTP_ACCEPT_LANGUAGE=ui_language).text
    assert re.search(rf'<a class="title" href="[^"]+" lang="{study_language}">', home)


def test_checklist_items_are_marked_english_in_a_german_page(client, mi_claim, study_admin):
    report = checklist_services.report_create(lead=study_admin, definition=mi_claim, title="T")
    client.force_login(study_admin)
    client.cookies["django_language"] = "de"
    page = client.get(reverse("report_detail", args=[report.token])).text
    assert '<html lang="de"' in page
    assert '<span class="prompt" lang="en">' in page
    assert re.search(r'<h2>\w+\. <span lang="en">', page)


# --- 7. A translated template's citation: in the API's answer and on the dashboard -----------

NOT_VALIDATED = "not a validated translation"


def test_the_api_returns_a_translated_templates_citation_and_the_dashboard_shows_it(
    client, study_admin, raters
):
    study = study_drafted(study_admin, raters)
    services.study_language_set(study=study, language="de")
    client.force_login(study_admin)
    dashboard = reverse("study_dashboard", args=[study.token])
    assert NOT_VALIDATED not in client.get(dashboard).text
    url = f"/api/v1/studies/{study.token}/questions-from-template/"
    added = client.post(url, {"template": "harm"}, content_type="application/json")
    assert added.status_code == 201, added.content
    assert NOT_VALIDATED in added.json()["citation"]
    page = client.get(dashboard).text
    cited = re.search(r'data-testid="rubric-citation">([^<]+)<', page)
    assert cited
    assert NOT_VALIDATED in cited.group(1)


def test_an_english_templates_citation_has_no_translation_note(client, study_admin, raters):
    study = study_drafted(study_admin, raters)
    client.force_login(study_admin)
    url = f"/api/v1/studies/{study.token}/questions-from-template/"
    added = client.post(url, {"template": "harm"}, content_type="application/json")
    assert added.status_code == 201
    assert added.json()["citation"]
    assert NOT_VALIDATED not in added.json()["citation"]
