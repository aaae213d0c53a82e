"""The API as client generators read it: JSON bodies only (but for the upload), every error
documented, ids as integers, typed answers, CSV declared as CSV, and `Bearer` tokens."""

import csv
import io
import json
from datetime import timedelta

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from annotation import services
from annotation.core import rubric
from annotation.models import Assignment, Study
from tests.test_sets import _study

pytestmark = pytest.mark.django_db


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {Token.objects.get_or_create(user=user)[0].key}"}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        raw = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(raw, default=str))


def _operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_only_the_upload_takes_a_form_every_other_body_is_json(schema):
    bodies = {
        (method, path): sorted(operation["requestBody"]["content"])
        for path, method, operation in _operations(schema)
        if "requestBody" in operation
    }
    upload = ("post", "/api/v1/studies/{study_token}/import/")
    assert bodies.pop(upload) == ["multipart/form-data"]
    assert len(bodies) > 8
    assert set(map(tuple, bodies.values())) == {("application/json",)}


def test_a_form_body_is_refused_where_json_is_expected(client, raters, open_study):
    item = open_study.assignments.filter(rater=raters[0]).first()
    url = f"/api/v1/rate/{open_study.token}/items/{item.token}/answers/"
    # What a client that sends forms would send: a list answer flattened to text. (The stream
    # is read before the view by the NUL check, as Django's CSRF check would, so DRF finds it
    # empty: refused as missing fields rather than 415, and nothing is saved.)
    form = client.post(url, {"question": "overall", "answer": "4"}, headers=bearer(raters[0]))
    assert form.status_code == 400
    assert form.json()["answer"] == ["This field is required."]
    assert not item.ratings.exists()
    # A form body that reaches the parser is 415.
    patch = client.patch(
        f"/api/v1/studies/{open_study.token}/",
        "p_adjustment=holm",
        content_type="application/x-www-form-urlencoded",
        headers=bearer(open_study.memberships.get(role="admin").user),
    )
    assert patch.status_code == 415
    as_json = client.post(
        url,
        json.dumps({"question": "overall", "answer": 4}),
        content_type="application/json",
        headers=bearer(raters[0]),
    )
    assert as_json.status_code == 200
    assert item.ratings.get().answer == 4


def test_every_operation_documents_401_403_404_with_the_shared_error(schema):
    error = {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]
    operations = list(_operations(schema))
    assert len(operations) > 50
    for path, method, operation in operations:
        for code in ("401", "403", "404"):
            content = operation["responses"][code]["content"]["application/json"]
            if path.endswith("/bundle/") or "/images/" in path:
                continue  # their own 404 says more (PROBLEM has `detail` too)
            assert content["schema"] == error, (method, path, code)


@pytest.mark.parametrize("table", ["ratings", "judge-ratings", "unblinding-key", "rating-history"])
def test_a_table_is_json_pages_or_one_csv_file(schema, table):
    ok = schema["paths"][f"/api/v1/studies/{{study_token}}/{table}/"]["get"]["responses"]
    assert ok["200"]["content"]["text/csv"]["schema"] == {"type": "string"}
    page = ok["200"]["content"]["application/json"]["schema"]["$ref"]
    assert page.split("/")[-1].startswith("Paginated")
    # Asked for CSV, an error comes as CSV too.
    assert set(ok["403"]["content"]) == {"application/json", "text/csv"}


def test_downloads_are_declared_with_their_binary_media_types(schema):
    bundle = schema["paths"]["/api/v1/studies/{study_token}/bundle/"]["get"]["responses"]
    assert bundle["200"]["content"]["application/zip"]["schema"]["format"] == "binary"
    image = "/api/v1/rate/{study_token}/items/{token}/images/{image_token}/"
    content = schema["paths"][image]["get"]["responses"]["200"]["content"]
    assert {"image/png", "image/jpeg"} <= set(content)


def test_ids_in_paths_are_integers_and_tokens_strings(schema):
    path = schema["paths"]["/api/v1/studies/{study_token}/sources/{id}/"]["get"]
    params = {p["name"]: p["schema"] for p in path["parameters"]}
    assert params["id"]["type"] == "integer"
    assert params["study_token"]["type"] == "string"
    fmt = schema["paths"]["/api/v1/reports/{token}/export/{fmt}/"]["get"]["parameters"]
    assert next(p for p in fmt if p["name"] == "fmt")["schema"]["enum"] == [
        "csv",
        "html",
        "json",
        "md",
        "tex",
    ]


def test_answers_and_case_data_have_types(schema):
    components = schema["components"]["schemas"]
    answer = components["RatingRow"]["properties"]["answer"]
    forms = answer["anyOf"]
    kinds = {a["type"] + ":" + json.dumps(a.get("items", {})) for a in forms if "type" in a}
    assert "string:{}" in kinds
    assert "number:{}" in kinds
    assert 'array:{"$ref": "#/components/schemas/Span"}' in kinds
    # The object answers by name: an omission's marks, a correction as stored.
    named = {a["$ref"].rsplit("/", 1)[-1] for a in forms if "$ref" in a}
    assert named == {"OmissionAnswer", "Correction"}
    case = components["Case"]["properties"]
    assert case["metadata"]["type"] == "object"
    assert case["criteria"]["items"] == {"$ref": "#/components/schemas/Criterion"}
    assert case["expected"]["additionalProperties"]["type"] == "array"
    metrics = components["Output"]["properties"]["metrics"]
    assert metrics["additionalProperties"] == {"type": "number"}
    assert components["Span"]["required"] == ["start", "end", "category", "severity"]


def test_the_token_is_declared_as_http_bearer(schema):
    scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


def test_a_ranking_answer_comes_back_as_a_list_and_the_csv_keeps_its_text(
    client, study_admin, raters
):
    study = _study(study_admin, raters, design=Study.Design.RANKING, n_cases=2)
    assignment = Assignment.objects.filter(study=study, rater=raters[0]).first()
    services.rating_save(assignment=assignment, question=study.questions.get(), answer=[2, 3, 1])
    services.rating_save(assignment=assignment, question=study.questions.get(), answer=[1, 3, 2])
    url = f"/api/v1/studies/{study.token}/ratings/"
    [row] = client.get(url, headers=bearer(study_admin)).json()["results"]
    assert row["answer"] == [1, 3, 2]
    [cell] = csv.DictReader(
        io.StringIO(b"".join(client.get(f"{url}?format=csv", headers=bearer(study_admin))).decode())
    )
    assert cell["answer"] == "[1, 3, 2]"
    history = client.get(
        f"/api/v1/studies/{study.token}/rating-history/", headers=bearer(study_admin)
    )
    changes = [(r["old_answer"], r["new_answer"]) for r in history.json()["results"]]
    assert changes == [("", [2, 3, 1]), ([2, 3, 1], [1, 3, 2])]


def test_a_free_text_answer_that_looks_like_a_list_stays_text(client, study_admin, raters):
    draft = rubric.QuestionDraft(key="why", prompt="Why?", kind="text", level="", required=False)
    study = services.study_create(
        creator=study_admin, title="Text", question_prompt="How good?", seed=3
    )
    services.question_add(study=study, draft=draft)
    services.study_import_file(
        study=study, filename="s.csv", content=b"case_id,input,source,output\nc1,Q,M,A\n"
    )
    services.study_add_raters(study=study, users=raters[:2])
    services.study_open(study=study)
    assignment = study.assignments.first()
    question = study.questions.get(key="why")
    services.rating_save(assignment=assignment, question=question, answer="[1, 2]")
    rows = client.get(f"/api/v1/studies/{study.token}/ratings/", headers=bearer(study_admin))
    assert [r["answer"] for r in rows.json()["results"]] == ["[1, 2]"]


def test_bearer_and_token_reach_the_same_account(client, study_admin, open_study):
    key = Token.objects.create(user=study_admin).key
    for keyword in ("Bearer", "Token", "bearer"):
        response = client.get("/api/v1/studies/", headers={"Authorization": f"{keyword} {key}"})
        assert response.status_code == 200, keyword
        assert [s["token"] for s in response.json()["results"]] == [open_study.token]


@pytest.mark.parametrize("keyword", ["Bearer", "Token"])
def test_a_wrong_token_is_refused_alike_and_says_nothing_more(client, study_admin, keyword):
    real = Token.objects.create(user=study_admin).key
    wrong = real[:-1] + ("0" if real[-1] != "0" else "1")
    response = client.get("/api/v1/studies/", headers={"Authorization": f"{keyword} {wrong}"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    assert "studyadmin" not in response.content.decode()


def test_an_expired_bearer_token_is_refused(client, study_admin, settings):
    settings.API_TOKEN_MAX_AGE_DAYS = 30
    token = Token.objects.create(user=study_admin)
    Token.objects.filter(pk=token.pk).update(created=token.created - timedelta(days=31))
    response = client.get("/api/v1/studies/", headers={"Authorization": f"Bearer {token.key}"})
    assert response.status_code == 401
    body = response.content.decode()
    assert "expired" in response.json()["detail"]
    assert token.key not in body
    assert "studyadmin" not in body


def test_an_address_no_api_route_matches_is_a_json_404(client):
    response = client.get("/api/v1/checklists/not a slug/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")
