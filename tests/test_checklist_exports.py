"""Exports of a filled checklist, checked field by field in every format."""

import csv
import io
import json

import pytest
from django.urls import reverse

from checklists import services
from checklists.exports import latex_escape
from tests.support.checklists import answer

pytestmark = pytest.mark.django_db

TRICKY = "50% & $x_1$ #\\ {a} ~b^ | pipe\nsecond line <script>alert(1)</script>"
CITATION_START = "Miao BY, Chen IY, Williams CYK, et al. The MI-CLAIM-GEN checklist"


@pytest.fixture
def filled(mi_claim, study_admin):
    report = services.report_create(
        lead=study_admin, definition=mi_claim, title="LLM summaries: a trial", manuscript="doi:10/x"
    )
    assessment = report.assessments.get()
    answer(assessment, "1.1", "yes", location="p. 2")
    answer(assessment, "1.5", ["unstructured", "categorical"], location="Methods 2.1")
    answer(assessment, "6.1", "tier_2b", notes=TRICKY)
    answer(assessment, "2.1", "na", notes='=HYPERLINK("http://x")')
    return report


def get(client, report, fmt: str):
    response = client.get(reverse("report_export", args=[report.token, fmt]))
    assert response.status_code == 200
    return response


def test_markdown_carries_the_checklist_and_every_field(client, filled, study_admin):
    client.force_login(study_admin)
    response = get(client, filled, "md")
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert f'filename="mi-claim-gen-{filled.token}.md"' in response["Content-Disposition"]
    lines = response.content.decode().splitlines()
    assert lines[0] == "# MI-CLAIM-GEN checklist: LLM summaries: a trial"
    assert "- Checklist: MI-CLAIM-GEN, version 2024-06 (revision 1)" in lines
    citation = next(line for line in lines if line.startswith("- Citation: "))
    assert CITATION_START in citation
    assert citation.endswith("<https://arxiv.org/abs/2403.02558>")
    assert "- Manuscript: doi:10/x" in lines
    assert "- Items answered: 4 of 23" in lines
    assert "## 3-4. Model performance and evaluation" in lines
    rows = {line.split(" | ")[0][2:]: line for line in lines if line.startswith("| ")}
    assert rows["1.1"].split(" | ")[2:4] == ["Yes", "p. 2"]
    assert rows["1.5"].split(" | ")[2] == "Categorical; Unstructured (free text, images)"
    tricky = rows["6.1"]
    assert "Tier 2B: full code shared, no data" in tricky
    assert "pipe<br>second line &lt;script&gt;" in tricky
    assert "\\| pipe" in tricky
    assert "<script>" not in response.content.decode()
    assert sorted(rows) == sorted([*(i.code for i in filled.definition.items.all()), "Item"])
    assert sum(line.startswith("| Item | Requirement |") for line in lines) == 5  # per section


def test_csv_has_one_row_per_item_with_the_checklist_on_each(client, filled, study_admin):
    client.force_login(study_admin)
    rows = list(csv.DictReader(io.StringIO(get(client, filled, "csv").content.decode())))
    assert len(rows) == 23
    assert {(r["checklist"], r["version"]) for r in rows} == {
        ("MI-CLAIM-GEN", "2024-06 (revision 1)")
    }
    assert all(r["citation"].startswith(CITATION_START) for r in rows)
    assert {(r["report"], r["scope"]) for r in rows} == {("LLM summaries: a trial", "")}
    by_item = {r["item"]: r for r in rows}
    assert by_item["1.5"]["answer"] == "Categorical; Unstructured (free text, images)"
    assert by_item["1.5"]["answer_values"] == "categorical;unstructured"
    assert by_item["1.5"]["where_reported"] == "Methods 2.1"
    assert by_item["1.5"]["section"] == "1. Study design"
    assert by_item["6.1"]["notes"] == TRICKY
    # A note a spreadsheet would run as a formula is defused.
    assert by_item["2.1"]["notes"] == '\'=HYPERLINK("http://x")'
    assert by_item["1.3"]["answer"] == ""


def test_json_is_structured_for_machines(client, filled, study_admin):
    client.force_login(study_admin)
    body = json.loads(get(client, filled, "json").content)
    assert body["checklist"]["name"] == "MI-CLAIM-GEN"
    assert body["checklist"]["version"] == "2024-06 (revision 1)"
    assert body["checklist"]["source_url"] == "https://arxiv.org/abs/2403.02558"
    assert body["checklist"]["citation"].startswith(CITATION_START)
    assert body["report"]["title"] == "LLM summaries: a trial"
    assert body["report"]["manuscript"] == "doi:10/x"
    assert body["report"]["submitted_at"] is None
    assert (body["report"]["items_answered"], body["report"]["items_total"]) == (4, 23)
    assert body["report"]["answered_by"] == "studyadmin"
    assert "scope" not in body["report"]  # MI-CLAIM-GEN has no modules
    items = {item["code"]: item for item in body["items"]}
    assert items["1.5"]["answer_values"] == ["categorical", "unstructured"]
    assert items["6.1"] | {"notes": None} == {
        "section": "6. Reproducibility",
        "code": "6.1",
        "prompt": "Choose the tier of data transparency the study meets.",
        "answer": "Tier 2B: full code shared, no data",
        "answer_values": ["tier_2b"],
        "location": "",
        "notes": None,
    }
    assert items["6.1"]["notes"] == TRICKY


def test_latex_is_a_longtable_with_user_text_escaped(client, filled, study_admin):
    client.force_login(study_admin)
    text = get(client, filled, "tex").content.decode()
    assert r"\begin{longtable}" in text
    assert r"\end{longtable}" in text
    caption = next(line for line in text.splitlines() if line.startswith(r"\caption{"))
    assert "MI-CLAIM-GEN checklist (version 2024-06 (revision 1))" in caption
    assert r"\url{https://arxiv.org/abs/2403.02558}" in caption
    assert r"\multicolumn{5}{@{}l}{\textbf{1. Study design}} \\" in text
    assert r"1.5 & The type of output data is stated." in text
    assert latex_escape(TRICKY) in text
    assert latex_escape(TRICKY).startswith(
        r"50\% \& \$x\_1\$ \#\textbackslash{} \{a\} \textasciitilde{}b\textasciicircum{}"
        r" \textbar{} pipe \newline second line \textless{}script\textgreater{}"
    )
    table_rows = [line for line in text.splitlines() if line.endswith(r" \\") and " & " in line]
    assert len(table_rows) == 1 + 23  # the header, then one row per item


def test_the_print_page_shows_everything_escaped(client, filled, study_admin):
    client.force_login(study_admin)
    page = get(client, filled, "html").content.decode()
    assert "<title>MI-CLAIM-GEN checklist · LLM summaries: a trial</title>" in page
    assert "version 2024-06 (revision 1)" in page
    assert CITATION_START in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert 'href="/static/css/print.css"' in page  # A4 pages (no inline style: the CSP)
    assert page.count('<td class="code">') == 23


def test_the_consensus_export_says_whose_it_is(client, appraisal):
    consensus = services.consensus_assessment(report=appraisal)
    services.response_save(
        assessment=consensus,
        item=appraisal.definition.items.get(code="1.1"),
        user=appraisal.lead,
        answer="yes",
    )
    client.force_login(appraisal.lead)
    body = json.loads(get(client, appraisal, "json").content)
    assert body["report"]["answered_by"] == "Consensus of 0 assessors, recorded by lead"
    assert body["report"]["items_answered"] == 1
