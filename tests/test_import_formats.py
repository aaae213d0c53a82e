"""What the import accepts and says it accepts: the help lists the importer's own columns, a
semicolon-separated CSV is read (or refused with a hint), and a help text shows as written."""

import dataclasses
import html
import re
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotation import forms as annotation_forms
from annotation import services
from annotation.core.importing import COLUMNS, ImportRejected, ImportRow, parse_study_file
from annotation.forms import JudgeForm, SourceEndpointForm
from annotation.models import Case, Output, Study
from checklists import forms as checklist_forms


@pytest.fixture
def empty_study(study_admin) -> Study:
    return services.study_create(
        creator=study_admin, title="Imports", raters_per_item=1, question_prompt="Good?"
    )


def problems_of(filename: str, content: bytes) -> list[str]:
    with pytest.raises(ImportRejected) as info:
        parse_study_file(filename, content)
    return [str(p) for p in info.value.problems]


class _Collect(HTMLParser):
    """The text of every element whose class attribute holds `css_class`, entities decoded."""

    def __init__(self, tag: str, css_class: str) -> None:
        super().__init__()
        self.tag, self.css_class = tag, css_class
        self.found: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        if self._depth:
            self._depth += tag == self.tag
        elif tag == self.tag and self.css_class in (dict(attrs).get("class") or "").split():
            self._depth = 1
            self.found.append("")

    def handle_endtag(self, tag):
        if self._depth and tag == self.tag:
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.found[-1] += data


def texts(markup: str, tag: str, css_class: str) -> list[str]:
    parser = _Collect(tag, css_class)
    parser.feed(markup)
    return [" ".join(text.split()) for text in parser.found]


# --- the import help -------------------------------------------------------------------------


def help_columns(client, study: Study) -> dict[str, str]:
    """Column name -> format, as the dashboard's import help shows them."""
    page = client.get(reverse("study_dashboard", args=[study.token])).content.decode()
    section = page[page.index('id="import-help"') :]
    section = section[: section.index("</details>")]
    names = re.findall(r"<dt><code>([^<]*)</code>", section)
    formats = [html.unescape(" ".join(f.split())) for f in re.findall(r"<dd>(.*?)</dd>", section)]
    return dict(zip(names, formats, strict=True))


def test_the_import_help_lists_every_column_the_parser_accepts_and_no_other(
    client, study_admin, empty_study
):
    client.force_login(study_admin)
    shown = help_columns(client, empty_study)
    # What the parser produces: every field of a parsed row is a column of the file.
    produced = {f.name for f in dataclasses.fields(ImportRow)} - {"row"}
    assert set(shown) == produced
    assert {"role", "expected", "feedback", "metrics", "images"} <= set(shown)
    for name in shown:
        header = "case_id,input" + ("" if name in ("case_id", "input") else f",{name}")
        content = f"{header}\nc1,Question{'' if name in ('case_id', 'input') else ','}\n"
        parse_study_file("s.csv", content.encode())  # accepted: no "unknown column"
    assert problems_of("s.csv", b"case_id,input,notes\nc1,Q,x\n") == [
        "s.csv, field 'notes': unknown column"
    ]


def test_the_import_help_gives_each_columns_format(client, study_admin, empty_study):
    client.force_login(study_admin)
    shown = help_columns(client, empty_study)
    assert list(shown) == [column.name for column in COLUMNS]
    assert "{{ metadata.age }}" in shown["metadata"]
    assert "study, training, attention" in shown["role"]
    assert '{"rougeL": 0.31}' in shown["metrics"]
    assert "in quotes in a semicolon-separated file" in shown["images"]


# --- semicolon-separated CSV -----------------------------------------------------------------

EUROPEAN = (
    "case_id;input;source;output;metadata;metrics\r\n"
    'c1;Douleur thoracique, depuis 3 jours;Modèle A;"Consultez; vite";{"âge": 54};'
    '{"rougeL": 0.31}\r\n'
    "c2;Fièvre, toux;;;;\r\n"
)


def test_a_semicolon_separated_csv_with_a_byte_order_mark_is_read():
    rows = parse_study_file("europe.csv", EUROPEAN.encode("utf-8-sig"))
    assert [(r.row, r.case_id, r.input, r.source, r.output) for r in rows] == [
        (2, "c1", "Douleur thoracique, depuis 3 jours", "Modèle A", "Consultez; vite"),
        (3, "c2", "Fièvre, toux", "", ""),
    ]
    assert rows[0].metadata == {"âge": 54}
    assert rows[0].metrics == {"rougeL": 0.31}


def test_a_semicolon_separated_csv_imports_into_a_study(empty_study):
    summary = services.study_import_file(
        study=empty_study, filename="europe.csv", content=EUROPEAN.encode("utf-8-sig")
    )
    assert (summary.cases_created, summary.outputs_created) == (2, 1)
    assert Output.objects.get(case__study=empty_study).text == "Consultez; vite"


def test_a_header_with_both_separators_is_refused_with_the_hint_and_nothing_imported(
    empty_study,
):
    content = b"case_id;input,source;output\nc1;Q,M;A\n"
    assert problems_of("mixed.csv", content) == [
        "mixed.csv, row 1: this file looks semicolon-separated (its header has ';') but its "
        "header also has ','; save it with one separator throughout: commas, or semicolons"
    ]
    with pytest.raises(ImportRejected):
        services.study_import_file(study=empty_study, filename="mixed.csv", content=content)
    assert not Case.objects.filter(study=empty_study).exists()


def test_a_bad_row_in_a_semicolon_file_is_named_and_nothing_is_imported(empty_study):
    content = (
        b"case_id;input;source;output;metrics\n"
        b"c1;Q1;Model A;Answer;\n"
        b'c2;Q2;Model A;Answer;{"rougeL": 0,31}\n'
    )
    with pytest.raises(ImportRejected) as info:
        services.study_import_file(study=empty_study, filename="europe.csv", content=content)
    assert [str(p) for p in info.value.problems] == [
        "europe.csv, row 3, field 'metrics': not valid JSON (Expecting property name enclosed "
        "in double quotes); JSON numbers take a decimal point, not a comma (0.31, not 0,31)"
    ]
    assert not Case.objects.filter(study=empty_study).exists()


def test_a_windows_1252_file_is_refused_naming_the_line_and_the_fix(empty_study):
    content = "case_id;input\nc1;Fièvre\n".encode("cp1252")
    assert problems_of("excel.csv", content) == [
        "excel.csv: not UTF-8 text (byte 0xe8 on line 2, invalid continuation byte); "
        'spreadsheets often save CSV as Windows-1252: save it as "CSV UTF-8" instead'
    ]
    with pytest.raises(ImportRejected):
        services.study_import_file(study=empty_study, filename="excel.csv", content=content)
    assert not Case.objects.filter(study=empty_study).exists()


def test_a_comma_separated_file_with_semicolons_in_its_values_stays_comma_separated():
    rows = parse_study_file("s.csv", b"case_id,input\nc1,one; two; three\n")
    assert rows[0].input == "one; two; three"


def test_the_dashboard_says_a_semicolon_file_was_refused_and_nothing_imported(
    client, study_admin, empty_study
):
    client.force_login(study_admin)
    upload = SimpleUploadedFile("mixed.csv", b"case_id;input,source\nc1;Q,M\n")
    response = client.post(
        reverse("study_import", args=[empty_study.token]), {"file": upload}, follow=True
    )
    page = response.content.decode()
    assert "this file looks semicolon-separated" in page
    assert "Nothing was imported" in page
    assert not Case.objects.filter(study=empty_study).exists()


# --- help texts shown as written -------------------------------------------------------------


def test_the_prompt_template_help_shows_metadata_key_literally(client, study_admin, empty_study):
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[empty_study.token])).content.decode()
    helps = texts(page, "div", "helptext")
    assert (
        "The user message: {{ input }}, {{ reference }}, {{ case_id }}, {{ metadata.<key> }}."
        in helps
    )


def _forms(study: Study, user) -> list:
    return [
        annotation_forms.StudyCreateForm(),
        annotation_forms.ImportForm(),
        annotation_forms.AddRatersForm(candidates=study.memberships.none()),
        SourceEndpointForm(study=study),
        JudgeForm(study=study),
        annotation_forms.QuestionForm(),
        annotation_forms.RubricTemplateForm(templates=services.rubric_templates()),
        annotation_forms.InviteRatersForm(),
        annotation_forms.AnalysisSettingsForm(instance=study),
        checklist_forms.ReportCreateForm(user=user),
        checklist_forms.AddAssessorForm(),
    ]


def test_every_form_shows_each_help_text_as_written(study_admin, empty_study):
    """Django prints help texts unescaped: any '<' or '&' in one must arrive escaped."""
    for form in _forms(empty_study, study_admin):
        written = []
        for name, form_field in form.fields.items():
            if form_field.help_text:
                original = type(form).base_fields[name].help_text
                written.append(" ".join(str(original).split()))
        shown = texts(str(form.as_div()), "div", "helptext")
        assert shown == written, type(form).__name__


def test_a_refused_prompt_template_names_metadata_key_literally(client, study_admin, empty_study):
    client.force_login(study_admin)
    response = client.post(
        reverse("study_add_source", args=[empty_study.token]),
        {
            "label": "M",
            "base_url": "http://127.0.0.1:9/v1",
            "model_name": "m",
            "user_template": "{{ secret }}",
        },
        follow=True,
    )
    messages = texts(response.content.decode(), "li", "error")
    assert any("{{ metadata.<key> }}" in message for message in messages), messages
