"""Inputs built to break the parsers rather than to be read: JSON nested past the parser's
recursion, NUL characters that PostgreSQL cannot store, a zip that unpacks a hundredfold, a file
of more rows than anyone rates. Each is refused with 400 (or the import's own refusal) naming
the file, row and field, never a server error or a worker out of memory."""

import io
import json
import tracemalloc
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.authtoken.models import Token

from annotation.core import archives, rubric
from annotation.models import Case
from checklists.models import Response

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000 + "]" * 100_000  # far past Python's recursion limit
# Far past the depth limit, yet parsed by json inside a request: json's recursion shares
# Python's limit (1000) with the request's own frames (each middleware adds some: 900 levels
# stopped parsing once the language and audit middlewares came in).
JUST_INSIDE = "[" * 800 + "]" * 800
# Past the recursion limit, and within the csv module's own limit on a cell (131,072).
DEEP_CELL = "[" * 60_000 + "]" * 60_000


def auth(user) -> dict:
    return {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}


def api_import(client, admin, study, name: str, content: bytes):
    file = SimpleUploadedFile(name, content)
    url = f"/api/v1/studies/{study.token}/import/"
    return client.post(url, {"file": file}, headers=auth(admin))


def refused_problems(response) -> list[tuple]:
    assert response.status_code == 400, response.content[:300]
    assert Case.objects.filter(external_id__startswith="d").count() == 0
    return [(p["file"], p["row"], p["field"], p["message"]) for p in response.json()["problems"]]


@pytest.mark.parametrize("deep", [DEEP, JUST_INSIDE], ids=["past-recursion", "just-inside"])
def test_deep_json_in_a_jsonl_row_is_refused_naming_row_and_field(
    client, study_admin, draft_study, deep
):
    good = {"case_id": "d1", "input": "Q", "source": "M", "output": "A"}
    line = json.dumps({**good, "case_id": "d2"})[:-1] + f', "metadata": {deep}}}'
    content = (json.dumps(good) + "\n" + line + "\n").encode()
    problems = refused_problems(api_import(client, study_admin, draft_study, "c.jsonl", content))
    assert problems == [("c.jsonl", 2, "metadata", "JSON nested more than 32 levels deep")]


@pytest.mark.parametrize("deep", [DEEP_CELL, JUST_INSIDE], ids=["past-recursion", "just-inside"])
def test_deep_json_in_a_csv_metadata_cell_is_refused_naming_row_and_field(
    client, study_admin, draft_study, deep
):
    content = f"case_id,input,metadata\nd1,Q,{{}}\nd2,Q,{deep}\n".encode()
    problems = refused_problems(api_import(client, study_admin, draft_study, "c.csv", content))
    assert problems == [("c.csv", 3, "metadata", "JSON nested more than 32 levels deep")]


def test_deep_json_in_a_marked_span_answer_is_a_refused_answer():
    spec = rubric.QuestionSpec(kind=rubric.SPAN, scale=({"value": "wrong"},), maximum=10)
    with pytest.raises(rubric.AnswerError, match="could not be read"):
        rubric.parse_answer(spec, DEEP)


def test_a_json_body_nested_deeper_than_the_limit_is_refused(client, study_admin, draft_study):
    # Just inside json's own recursion, past what the checks after it may read.
    body = '{"title": ' + JUST_INSIDE + "}"
    url = f"/api/v1/studies/{draft_study.token}/"
    refused = client.patch(url, body, content_type="application/json", headers=auth(study_admin))
    assert refused.status_code == 400
    assert refused.json()["detail"] == "The JSON is nested more than 32 levels deep."


def test_a_nul_in_the_rater_form_is_a_400_naming_the_field(client, open_study, raters):
    assignment = open_study.assignments.filter(rater=raters[0]).first()
    client.force_login(raters[0])
    url = reverse("rater_item", args=[open_study.token, assignment.token])
    for field, body in [
        ("comment", {"question": "overall", "answer": "4", "comment": "fine\x00"}),
        ("question", {"question": "overall\x00", "answer": "4"}),
    ]:
        refused = client.post(url, body, headers={"HX-Request": "true"})
        assert refused.status_code == 400
        assert refused.json()["field"] == field
        assert "NUL" in refused.json()["detail"]
    assert not assignment.ratings.exists()


def test_a_nul_in_the_checklist_form_is_a_400_naming_the_field(client, appraisal, assessors):
    client.force_login(assessors[0])
    url = reverse("response_save", args=[appraisal.token, "1.1"])
    for field in ("notes", "location", "answer"):
        body = {"answer": "yes", "location": "p. 3", "notes": "ok", field: "x\x00y"}
        refused = client.post(url, body)
        assert refused.status_code == 400
        assert refused.json()["field"] == field
    assert not Response.objects.exists()
    # Multipart (as the page's beacon sends) is read the same way.
    refused = client.post(url, {"notes": "\x00", "file": SimpleUploadedFile("a", b"\x00")})
    assert refused.status_code == 400
    assert refused.json()["field"] == "notes"


def zip_of(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_bomb_stops_at_the_data_cap(client, study_admin, draft_study, settings):
    settings.IMPORT_MAX_DATA_BYTES = 1024 * 1024
    row = b"d1,Q,M," + b"A" * 1000 + b"\n"
    bomb = zip_of("cases.csv", b"case_id,input,source,output\n" + row * 30_000)  # 30 MB
    assert len(bomb) < 200_000
    tracemalloc.start()
    try:
        response = api_import(client, study_admin, draft_study, "bomb.zip", bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused_problems(response) == [
        (
            "bomb.zip/cases.csv",
            None,
            None,
            "larger than the limit of 1 MB for a data file (IMPORT_MAX_DATA_BYTES); "
            "split it into several files",
        )
    ]
    assert peak < 8 * 1024 * 1024  # never the 30 MB it unpacks to


def test_a_zip_whose_header_understates_its_size_is_read_only_to_the_cap():
    data = b"case_id,input\n" + b"d1,Q\n" * 400_000  # 2 MB
    content = zip_of("cases.csv", data)
    archive = zipfile.ZipFile(io.BytesIO(content))
    member = archive.infolist()[0]
    member.file_size = 100  # what a forged header claims: zipfile stops there and refuses
    with pytest.raises(zipfile.BadZipFile, match="CRC"):
        archives._read_bounded(archive, member, 1024 * 1024)
    member.file_size = len(data)
    assert archives._read_bounded(archive, member, 1024 * 1024) is None


def test_an_upload_over_the_byte_cap_is_refused_by_its_size(
    client, study_admin, draft_study, settings
):
    settings.IMPORT_MAX_UPLOAD_BYTES = 100
    content = b"case_id,input\n" + b"d1,Question\n" * 20
    problems = refused_problems(api_import(client, study_admin, draft_study, "c.csv", content))
    assert problems == [
        (
            "c.csv",
            None,
            None,
            "larger than the limit of 100 bytes for an upload (IMPORT_MAX_UPLOAD_BYTES); "
            "split it into several files",
        )
    ]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_file_over_the_rows_cap_is_refused(client, study_admin, draft_study, settings, fmt):
    settings.IMPORT_MAX_ROWS = 3
    if fmt == "csv":
        content = "case_id,input\n" + "".join(f"d{i},Q\n" for i in range(4))
    else:
        content = "".join(json.dumps({"case_id": f"d{i}", "input": "Q"}) + "\n" for i in range(4))
    problems = refused_problems(
        api_import(client, study_admin, draft_study, f"c.{fmt}", content.encode())
    )
    assert problems == [
        (
            f"c.{fmt}",
            None,
            None,
            "more than the limit of 3 rows (IMPORT_MAX_ROWS); split it into several files",
        )
    ]
    settings.IMPORT_MAX_ROWS = 4
    assert (
        api_import(client, study_admin, draft_study, f"c.{fmt}", content.encode()).status_code
        == 200
    )
