"""Study imports: every problem named by file, row and field; a bad file writes nothing."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token

from annotation import services
from annotation.core.importing import ImportRejected, parse_study_file
from annotation.models import Case, Output, Source

HEADER = "case_id,input,source,output,source_kind\n"


def rejected(filename: str, text: str) -> list[str]:
    with pytest.raises(ImportRejected) as info:
        parse_study_file(filename, text.encode())
    return [str(p) for p in info.value.problems]


def test_csv_rows_parse_with_defaults():
    rows = parse_study_file(
        "s.csv", (HEADER + "c1,Question,Model A,Answer,\nc2,Other,,,\n").encode()
    )
    assert [(r.row, r.case_id, r.source, r.source_kind) for r in rows] == [
        (2, "c1", "Model A", "model"),
        (3, "c2", "", "model"),
    ]


def test_jsonl_rows_parse():
    lines = [
        {
            "case_id": "c1",
            "input": "Q",
            "source": "Ref",
            "output": "A",
            "source_kind": "human_reference",
        }
    ]
    rows = parse_study_file("s.jsonl", "\n".join(json.dumps(x) for x in lines).encode())
    assert rows[0].source_kind == "human_reference"
    assert rows[0].row == 1


def test_missing_and_unknown_columns_are_named():
    assert rejected("s.csv", "case_id,prompt\nc1,Q\n") == [
        "s.csv, field 'input': required column is missing",
        "s.csv, field 'prompt': unknown column",
    ]


def test_each_bad_row_is_named_with_its_field():
    text = HEADER + "c1,Q,Model A,,\n,Q2,Model A,Out,\nc3,Q3,Model A,Out,robot\n"
    assert rejected("study.csv", text) == [
        "study.csv, row 2, field 'output': is empty but a source is given",
        "study.csv, row 3, field 'case_id': is empty",
        "study.csv, row 4, field 'source_kind': must be one of ('model', 'human_reference')",
    ]


def test_conflicting_rows_within_a_file_are_named():
    text = HEADER + "c1,Q,M,A,\nc1,Different,M2,B,\nc1,Q,M,Again,\n"
    problems = rejected("s.csv", text)
    assert "s.csv, row 3, field 'input': differs from row 2 for the same case_id" in problems
    assert any("row 4, field 'source'" in p and "second output" in p for p in problems)


def test_jsonl_syntax_errors_and_types_are_named():
    text = '{"case_id": "c1", "input": "Q"}\n{not json\n{"case_id": 5, "input": "Q"}\n[1]\n'
    problems = rejected("s.jsonl", text)
    assert problems[0].startswith("s.jsonl, row 2: not valid JSON")
    assert "s.jsonl, row 4: each line must be a JSON object" in problems


def test_non_utf8_and_wrong_extension_are_refused():
    with pytest.raises(ImportRejected, match="not UTF-8"):
        parse_study_file("s.csv", "case_id,input\nc1,caf\xe9\n".encode("latin-1"))
    assert rejected("s.xlsx", "x") == ["s.xlsx: expected a .csv or .jsonl file"]


def test_empty_file_is_refused():
    assert rejected("s.csv", HEADER) == ["s.csv: the file has no rows"]


@pytest.mark.django_db
def test_import_creates_cases_sources_and_outputs(draft_study):
    assert draft_study.cases.count() == 3
    assert set(draft_study.sources.values_list("label", "kind")) == {
        ("Expert-written summary", "human_reference"),
        ("MedSumm-7B", "model"),
    }
    assert Output.objects.filter(case__study=draft_study).count() == 6


@pytest.mark.django_db
def test_reimporting_the_same_file_changes_nothing(draft_study):
    from tests.conftest import STUDY_ROWS

    summary = services.study_import_file(study=draft_study, filename="s.csv", content=STUDY_ROWS)
    assert (summary.cases_created, summary.outputs_created, summary.unchanged) == (0, 0, 6)


@pytest.mark.django_db
def test_a_conflict_with_stored_data_rolls_back_the_whole_file(draft_study):
    text = HEADER + "c9,New case,New model,New output,\nc1,Changed input,MedSumm-7B,X,\n"
    with pytest.raises(ImportRejected) as info:
        services.study_import_file(study=draft_study, filename="more.csv", content=text.encode())
    assert [str(p) for p in info.value.problems] == [
        "more.csv, row 3, field 'input': differs from the input stored for case 'c1'"
    ]
    # Row 2 was valid and written before row 3 failed: the transaction must have undone it.
    assert not Case.objects.filter(external_id="c9").exists()
    assert not Source.objects.filter(label="New model").exists()


@pytest.mark.django_db
def test_an_open_study_refuses_imports(open_study):
    text = HEADER + "c9,New case,,,\n"
    with pytest.raises(ValidationError, match="no longer a draft"):
        services.study_import_file(study=open_study, filename="s.csv", content=text.encode())
    assert open_study.cases.count() == 3


@pytest.mark.django_db
def test_conflicts_with_stored_outputs_and_sources_are_named(draft_study):
    changed = HEADER + "c1,Patient asks whether a cough is caused by lisinopril.,MedSumm-7B,New,\n"
    with pytest.raises(ImportRejected) as info:
        services.study_import_file(study=draft_study, filename="s.csv", content=changed.encode())
    assert [str(p) for p in info.value.problems] == [
        "s.csv, row 2, field 'output': this case already has a different output from this source"
    ]
    kind = HEADER + "c2,Child with fever and a non-blanching rash.,MedSumm-7B,x,human_reference\n"
    with pytest.raises(ImportRejected) as info:
        services.study_import_file(study=draft_study, filename="k.csv", content=kind.encode())
    assert [str(p) for p in info.value.problems] == [
        "k.csv, row 2, field 'source_kind': source 'MedSumm-7B' is already a model"
    ]
    stored = draft_study.sources.get(label="MedSumm-7B").outputs.get(case__external_id="c1")
    assert stored.text == "Does lisinopril cause cough?"


def jsonl(*records: dict) -> bytes:
    return "\n".join(json.dumps(r) for r in records).encode()


@pytest.mark.django_db
def test_cases_carry_a_reference_and_metadata(draft_study):
    content = jsonl(
        {"case_id": "v1", "input": "Q?", "source": "M", "output": "A", "metadata": {"age": 54}},
        {"case_id": "v1", "input": "Q?", "source": "N", "output": "B", "reference": "Ref."},
    )
    services.study_import_file(study=draft_study, filename="v.jsonl", content=content)
    case = Case.objects.get(study=draft_study, external_id="v1")
    assert (case.reference, case.metadata) == ("Ref.", {"age": 54})
    csv_text = 'case_id,input,reference,metadata\nv2,Q2?,R2,"{""site"": ""ED""}"\n'
    services.study_import_file(study=draft_study, filename="v.csv", content=csv_text.encode())
    case = Case.objects.get(study=draft_study, external_id="v2")
    assert (case.reference, case.metadata) == ("R2", {"site": "ED"})


def test_bad_metadata_and_disagreeing_references_are_named():
    problems = rejected(
        "m.jsonl",
        jsonl(
            {"case_id": "a", "input": "Q", "metadata": [1, 2]},
            {"case_id": "b", "input": "Q", "reference": "R1"},
            {"case_id": "b", "input": "Q", "reference": "R2"},
        ).decode(),
    )
    assert problems == [
        "m.jsonl, row 1, field 'metadata': must be a JSON object, e.g. {\"age\": 54}",
        "m.jsonl, row 3, field 'reference': differs from row 2 for the same case_id",
    ]
    assert rejected("m.csv", "case_id,input,metadata\na,Q,{broken\n") == [
        "m.csv, row 2, field 'metadata': not valid JSON (Expecting property name enclosed in "
        "double quotes)"
    ]


@pytest.mark.django_db
def test_a_reference_that_differs_from_the_stored_one_is_refused(draft_study):
    services.study_import_file(
        study=draft_study, filename="a.csv", content=b"case_id,input,reference\nz,Q,First\n"
    )
    with pytest.raises(ImportRejected) as info:
        services.study_import_file(
            study=draft_study, filename="b.csv", content=b"case_id,input,reference\nz,Q,Second\n"
        )
    assert [str(p) for p in info.value.problems] == [
        "b.csv, row 2, field 'reference': differs from the reference stored for case 'z'"
    ]
    # Rows that leave the reference out do not conflict with it.
    summary = services.study_import_file(
        study=draft_study, filename="c.csv", content=b"case_id,input\nz,Q\n"
    )
    assert summary.cases_created == 0


def test_metadata_with_nan_is_refused_with_a_reason():
    assert rejected("m.csv", 'case_id,input,metadata\na,Q,"{""x"": NaN}"\n') == [
        "m.csv, row 2, field 'metadata': NaN is not a JSON value"
    ]


def test_bad_metrics_are_named_by_row_and_field():
    head = "case_id,input,source,output,metrics\n"
    text = (
        head
        + 'c1,Q,M,Out,"{""rougeL"": ""high""}"\n'
        + 'c2,Q,M,Out,"{""1rouge"": 0.2}"\n'
        + 'c3,Q,M,Out,"[0.2]"\n'
        + 'c4,Q,,,"{""rougeL"": 0.2}"\n'
        + 'c5,Q,M,Out,"{""bleu"": NaN}"\n'
    )
    assert rejected("metrics.csv", text) == [
        "metrics.csv, row 2, field 'metrics': 'rougeL' must be a finite number, not 'high'",
        "metrics.csv, row 3, field 'metrics': '1rouge' is not a metric name (a letter, then "
        "letters, digits or _.:-)",
        "metrics.csv, row 4, field 'metrics': must be a JSON object of metric name to number, "
        'e.g. {"rougeL": 0.31}',
        "metrics.csv, row 5, field 'metrics': are about an output: give its source",
        "metrics.csv, row 6, field 'metrics': " + rejected_nan_message(),
    ]


def rejected_nan_message() -> str:
    """What the JSON reader says of NaN, which is not JSON (as for metadata)."""
    with pytest.raises(ImportRejected) as info:
        parse_study_file("m.csv", b'case_id,input,metadata\nc1,Q,"{""a"": NaN}"\n')
    return info.value.problems[0].message


@pytest.mark.django_db
def test_metrics_arrive_with_the_outputs_or_later_and_never_change_silently(draft_study):
    head = "case_id,input,source,output,metrics\n"
    later = (
        head
        + "c1,Patient asks whether a cough is caused by lisinopril.,MedSumm-7B,"
        + 'Does lisinopril cause cough?,"{""rougeL"": 0.4}"\n'
    )
    services.study_import_file(study=draft_study, filename="m.csv", content=later.encode())
    output = Output.objects.get(case__external_id="c1", source__label="MedSumm-7B")
    assert output.metrics == {"rougeL": 0.4}
    more = later.replace('""rougeL"": 0.4', '""rougeL"": 0.4, ""bertscore"": 0.9')
    services.study_import_file(study=draft_study, filename="m.csv", content=more.encode())
    output.refresh_from_db()
    assert output.metrics == {"rougeL": 0.4, "bertscore": 0.9}
    changed = later.replace("0.4", "0.5")
    with pytest.raises(ImportRejected) as info:
        services.study_import_file(study=draft_study, filename="m.csv", content=changed.encode())
    assert [str(p) for p in info.value.problems] == [
        "m.csv, row 2, field 'metrics': 'rougeL' differs from the value stored"
    ]
    output.refresh_from_db()
    assert output.metrics == {"rougeL": 0.4, "bertscore": 0.9}
    fresh = head + 'c7,New case,MedSumm-7B,New output,"{""rougeL"": 0.1}"\n'
    services.study_import_file(study=draft_study, filename="n.csv", content=fresh.encode())
    assert Output.objects.get(case__external_id="c7").metrics == {"rougeL": 0.1}


HUGE = "9" * 400  # an integer JSON reads, too large for a float


def test_importances_too_large_to_sum_are_refused_naming_row_and_field():
    def line(case_id, importance):
        facts = f'[{{"id": "f1", "text": "A", "importance": {importance}}}]'
        return f'{{"case_id": "{case_id}", "input": "Q", "facts": {facts}}}'

    lines = [line("a", HUGE), line("b", "1e308"), line("c", "1000000"), line("d", 1000001)]
    assert rejected("f.jsonl", "\n".join(lines)) == [
        f"f.jsonl, row {row}, field 'facts': fact 1: importance must be at most 1,000,000"
        for row in (1, 2, 4)
    ]
    [row] = parse_study_file("f.jsonl", line("c", 1e6).encode())
    assert row.facts[0]["importance"] == 1e6


def test_a_metric_too_large_for_a_float_is_refused_naming_row_and_field():
    text = f'case_id,input,source,output,metrics\nc1,Q,M,Out,"{{""rougeL"": {HUGE}}}"\n'
    [problem] = rejected("m.csv", text)
    assert problem.startswith("m.csv, row 2, field 'metrics': 'rougeL' must be a finite number")


def test_a_number_past_pythons_digit_limit_is_refused_naming_the_row():
    line = '{"case_id": "a", "input": "Q", "metrics": {"x": ' + "9" * 5000 + "}}"
    assert rejected("f.jsonl", line) == ["f.jsonl, row 1: holds a number too long to read"]


@pytest.mark.django_db
def test_the_api_refuses_a_huge_importance_with_a_400(client, study_admin, draft_study):
    facts = f'[{{"id": "f1", "text": "A", "importance": {HUGE}}}]'
    line = f'{{"case_id": "n1", "input": "Q", "facts": {facts}}}'
    upload = SimpleUploadedFile("facts.jsonl", line.encode())
    url = f"/api/v1/studies/{draft_study.token}/import/"
    token = Token.objects.get_or_create(user=study_admin)[0].key
    response = client.post(url, {"file": upload}, headers={"Authorization": f"Token {token}"})
    assert response.status_code == 400
    [problem] = response.json()["problems"]
    assert (problem["file"], problem["row"], problem["field"]) == ("facts.jsonl", 1, "facts")
    assert not Case.objects.filter(external_id="n1").exists()
