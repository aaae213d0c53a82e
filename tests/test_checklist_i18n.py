"""The checklist pages in German and Spanish: the words around the checklist translate, the
checklist's own words (items, sections, options) stay in English as published, dates and numbers
follow the reader's locale, and the files and the API stay in English."""

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from annotation.core.stats import agreement
from checklists import selectors, services
from checklists.models import Assessment, ChecklistDefinition
from tests.support.checklists import answer, answer_all
from tests.test_api import auth

pytestmark = pytest.mark.django_db

# A few strings of each language's catalogue, as a reader sees them on the answer sheet.
SHEET = {
    "de": [
        "Abschnitte",
        "0 von 23 beantwortet",
        "0 von 23 Elementen beantwortet. Jede Änderung wird sofort gespeichert.",
        "Fundstelle",
        'placeholder="Seite oder Abschnitt"',
        "Nicht zutreffend",
        "Tastenkürzel",
        "Nur unbeantwortete anzeigen",
        "2024-06 (Revision 1)",
    ],
    "es": [
        "Secciones",
        "0 de 23 respondidos",
        "0 de 23 elementos respondidos. Cada cambio se guarda al momento.",
        "Dónde se informa",
        'placeholder="Página o sección"',
        "No aplicable",
        "Atajos de teclado",
        "Mostrar solo los elementos sin responder",
        "2024-06 (revisión 1)",
    ],
}
ENGLISH_CHROME = ["Where reported", "Keyboard shortcuts", "items answered", "Show unanswered only"]


@pytest.fixture
def own_report(mi_claim, study_admin):
    return services.report_create(lead=study_admin, definition=mi_claim, title="Ein Manuskript")


def in_language(client, language: str):
    client.cookies["django_language"] = language
    return client


@pytest.mark.parametrize("language", ["de", "es"])
def test_the_answer_sheet_is_in_the_readers_language_around_the_checklists_english(
    client, own_report, study_admin, language
):
    in_language(client, language).force_login(study_admin)
    page = client.get(reverse("report_detail", args=[own_report.token])).content.decode()
    for text in SHEET[language]:
        assert text in page
    for text in ENGLISH_CHROME:
        assert text not in page
    # The checklist itself is shown as published.
    item = own_report.definition.items.get(code="1.1")
    assert item.prompt in page
    assert own_report.definition.sections.first().title in page
    # The keys are the same in every language, in the keys line and in the help.
    for key in ("j", "k", "w", "n", "u"):
        assert page.count(f"<kbd>{key}</kbd>") >= 2


def test_english_stays_the_default(client, own_report, study_admin):
    client.force_login(study_admin)
    page = client.get(reverse("report_detail", args=[own_report.token])).content.decode()
    assert "0 of 23 items answered. Every change is saved as you make it." in page
    assert "Where reported" in page
    assert "Fundstelle" not in page


@pytest.mark.parametrize(
    ("language", "saved", "total", "refusal"),
    [
        ("de", "Gespeichert um 14:03", "1 von 23 beantwortet", "Element 1.1 erlaubt eine"),
        ("es", "Guardado a las 14:03", "1 de 23 respondidos", "El elemento 1.1 admite una"),
    ],
)
def test_an_item_saved_through_htmx_answers_in_the_readers_language(
    client, own_report, study_admin, language, saved, total, refusal, monkeypatch
):
    monkeypatch.setattr(
        "checklists.views.timezone.now", lambda: datetime(2026, 12, 6, 14, 3, 27, tzinfo=UTC)
    )
    in_language(client, language).force_login(study_admin)
    url = reverse("response_save", args=[own_report.token, "1.1"])
    htmx = {"HX-Request": "true"}
    response = client.post(url, {"answer": "yes", "location": "S. 4"}, headers=htmx)
    body = response.content.decode()
    assert response.status_code == 200
    assert saved in body
    assert total in body  # the section nav, swapped out of band
    refused = client.post(url, {"answer": "maybe"}, headers=htmx).content.decode()
    assert refusal in refused
    stored = own_report.assessments.get().responses.get(item__code="1.1")
    assert (stored.answer, stored.location) == ("yes", "S. 4")


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("en", "Submitted on 6 December 2026, 14:03 UTC. Your answers are locked."),
        ("de", "Abgesendet am 6. Dezember 2026 14:03 UTC. Ihre Antworten sind gesperrt."),
        (
            "es",
            "Enviado el 6 de diciembre de 2026 a las 14:03 UTC. Sus respuestas están bloqueadas.",
        ),
    ],
)
def test_dates_follow_the_readers_locale(client, own_report, study_admin, language, sentence):
    assessment = own_report.assessments.get()
    answer_all(assessment)
    services.assessment_submit(assessment=assessment)
    submitted = datetime(2026, 12, 6, 14, 3, tzinfo=UTC)
    Assessment.objects.filter(pk=assessment.pk).update(submitted_at=submitted)
    in_language(client, language).force_login(study_admin)
    page = client.get(reverse("report_detail", args=[own_report.token])).content.decode()
    assert sentence in page


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("de", "22 Elemente sind noch unbeantwortet: 1.2, 1.3"),
        ("es", "22 elementos todavía necesitan respuesta: 1.2, 1.3"),
    ],
)
def test_a_refused_submit_says_why_in_the_readers_language(
    client, own_report, study_admin, language, message
):
    answer(own_report.assessments.get(), "1.1", "yes")
    in_language(client, language).force_login(study_admin)
    url = reverse("assessment_submit", args=[own_report.token])
    page = client.post(url, follow=True).content.decode()
    assert message in page
    assert own_report.assessments.get().submitted_at is None


@pytest.fixture
def two_submitted(appraisal):
    """Both assessors submitted; they differ on 1.1 (yes / no) and agree elsewhere."""
    for assessment in appraisal.assessments.order_by("assessor__username"):
        differs = {"1.1": "no"} if assessment.assessor.username == "assessor2" else {}
        answer_all(assessment, differs)
        services.assessment_submit(assessment=assessment)
    return appraisal


CONSENSUS = {
    "de": [
        "Übereinstimmung zwischen den Prüfern",
        "Übereinstimmung (Anteil der Prüferpaare mit gleicher Antwort",
        "Krippendorffs Alpha, nominal, über 23 Elemente",
        "1 Element mit abweichenden Antworten.",
        "Die 22 einstimmigen Antworten als Konsens erfassen",
        "<th>Anforderung</th>",
        "<td>Nein</td>",
        "<td>Ja</td>",
    ],
    "es": [
        "Concordancia entre revisores",
        "de concordancia (proporción de pares de revisores con la misma respuesta",
        "alfa de Krippendorff, nominal, sobre 23 elementos",
        "1 elemento con discrepancias.",
        "Registrar las 22 respuestas unánimes como consenso",
        "<th>Requisito</th>",
        "<td>No</td>",
        "<td>Sí</td>",
    ],
}


@pytest.mark.parametrize("language", ["de", "es"])
def test_the_consensus_page_is_in_the_readers_language(client, two_submitted, language):
    in_language(client, language).force_login(two_submitted.lead)
    url = reverse("report_consensus", args=[two_submitted.token])
    page = client.get(url).content.decode()
    for text in CONSENSUS[language]:
        assert text in page
    # 22 of 23 items agree: the share with a decimal comma and the sign as the language writes it.
    assert f"{100 * 22 / 23:.1f}".replace(".", ",") + " %" in page
    assert "Agreement between assessors" not in page
    save = reverse("consensus_save", args=[two_submitted.token, "1.1"])
    status = client.post(save, {"answer": "no"}, headers={"HX-Request": "true"})
    assert {"de": "Gespeichert", "es": "Guardado"}[language] in status.content.decode()
    consensus = two_submitted.assessments.get(kind="consensus")
    assert consensus.responses.get(item__code="1.1").answer == "no"


def test_why_alpha_is_missing_is_said_in_the_readers_language(client, mi_claim, assessors):
    # CHART's items are all yes / no / not applicable: two assessors who answer "yes"
    # throughout leave alpha undefined (0/0), and the page says why.
    chart = ChecklistDefinition.objects.get(slug="chart")
    lead = assessors[0]
    report = services.report_create(lead=lead, definition=chart, title="Chatbot advice")
    services.report_add_assessor(report=report, user=assessors[1])
    for assessment in report.assessments.all():
        answer_all(assessment)
        services.assessment_submit(assessment=assessment)
    in_language(client, "de").force_login(lead)
    page = client.get(reverse("report_consensus", args=[report.token])).content.decode()
    assert "(alle Antworten sind gleich, die zufällige Übereinstimmung ist also 1)" in page


def test_every_reason_the_core_gives_for_a_missing_alpha_on_the_consensus_page_is_translated():
    # The core words its reasons in English; the page translates the ones a checklist can meet.
    nobody = agreement.krippendorff_alpha([], level="nominal", value_domain=[0, 1])
    same = agreement.krippendorff_alpha(
        [agreement.Observation("1.1", rater, 0) for rater in ("a", "b")],
        level="nominal",
        value_domain=[0, 1],
    )
    assert nobody.reason in selectors.ALPHA_REASONS
    assert same.reason in selectors.ALPHA_REASONS


@pytest.fixture
def answered(own_report):
    assessment = own_report.assessments.get()
    answer(assessment, "1.1", "yes", location="S. 2")
    answer(assessment, "2.1", "na")
    return own_report


@pytest.mark.parametrize(
    ("language", "texts"),
    [
        (
            "de",
            [
                '<html lang="de">',
                "Drucken oder als PDF speichern",
                "<th>Fundstelle</th>",
                "<td>Nicht zutreffend</td>",
                "<td>Ja</td>",
                "MI-CLAIM-GEN, Version 2024-06 (Revision 1)",
                "<strong>Abgesendet:</strong> noch nicht",
                "<strong>Beantwortete Elemente:</strong> 2 von 23",
            ],
        ),
        (
            "es",
            [
                '<html lang="es">',
                "Imprimir o guardar como PDF",
                "<th>Dónde se informa</th>",
                "<td>No aplicable</td>",
                "<td>Sí</td>",
                "MI-CLAIM-GEN, versión 2024-06 (revisión 1)",
                "<strong>Enviado:</strong> todavía no",
                "<strong>Elementos respondidos:</strong> 2 de 23",
            ],
        ),
    ],
)
def test_the_print_view_is_a_page_in_the_readers_language(
    client, answered, study_admin, language, texts
):
    in_language(client, language).force_login(study_admin)
    page = client.get(reverse("report_export", args=[answered.token, "html"])).content.decode()
    for text in texts:
        assert text in page
    assert answered.definition.items.get(code="1.1").prompt in page


def test_the_files_stay_in_english_for_a_german_reader(client, answered, study_admin):
    in_language(client, "de").force_login(study_admin)

    def download(fmt: str) -> str:
        response = client.get(reverse("report_export", args=[answered.token, fmt]))
        assert response.status_code == 200
        return response.content.decode()

    markdown = download("md")
    assert "- Checklist: MI-CLAIM-GEN, version 2024-06 (revision 1)" in markdown
    assert "Not applicable" in markdown
    assert "Nicht zutreffend" not in markdown
    rows = {row["item"]: row for row in csv.DictReader(io.StringIO(download("csv")))}
    assert (rows["1.1"]["answer"], rows["2.1"]["answer"]) == ("Yes", "Not applicable")
    body = json.loads(download("json"))
    assert body["checklist"]["version"] == "2024-06 (revision 1)"
    assert "Revision" not in download("tex")


def test_the_api_stays_in_english_whatever_the_caller_asks_for(client, answered, study_admin):
    headers = {**auth(study_admin), "Accept-Language": "de"}
    in_language(client, "de")
    url = reverse("api_checklist", args=["mi-claim-gen"])
    definition = client.get(url, headers=headers)
    assert definition.headers["Content-Language"] == "en"
    item = definition.json()["sections"][0]["items"][0]
    assert [choice["label"] for choice in item["choices"]] == ["Yes", "No", "Not applicable"]
    save = reverse("api_response_save", args=[answered.token, "1.1"])
    refused = client.put(
        save, {"answer": "maybe"}, content_type="application/json", headers=headers
    )
    assert refused.status_code == 400
    assert refused.json()["detail"] == "Item 1.1 takes one of: yes, no, na; got 'maybe'."
    report = client.get(reverse("api_report", args=[answered.token]), headers=headers).json()
    assert "Revision" not in json.dumps(report)


def test_an_assessor_still_appraising_is_told_to_wait_in_their_language(client, appraisal):
    in_language(client, "es").force_login(appraisal.assessments.first().assessor)
    response = client.get(reverse("report_consensus", args=[appraisal.token]))
    assert response.status_code == 403
    page = response.content.decode()
    assert "Todavía no" in page
    assert "Volver a sus respuestas" in page


def test_the_printed_consensus_says_whose_it_is_in_the_readers_language(client, two_submitted):
    services.consensus_accept_unanimous(
        report=two_submitted, rows=selectors.consensus_view(report=two_submitted).rows
    )
    in_language(client, "de").force_login(two_submitted.lead)
    url = reverse("report_export", args=[two_submitted.token, "html"]) + "?of=consensus"
    page = client.get(url).content.decode()
    assert "Konsens von 2 Prüfern, erfasst von lead" in page
    markdown = client.get(url.replace(".html", ".md")).content.decode()
    assert "Consensus of 2 assessors, recorded by lead" in markdown
