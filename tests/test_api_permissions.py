"""Who gets what from every endpoint of the API: the study's admin, one of its raters, a
signed-in outsider and an anonymous caller. The endpoints are read from the OpenAPI schema,
so one added without a row here fails the first test."""

import json

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from tests.test_api import close_response
from tests.test_blinding import as_text

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "outsider", "rater", "admin")


def admins(ok: int) -> dict:
    return {"anonymous": 401, "outsider": 404, "rater": 403, "admin": ok}


def members(ok: int, rater: int | None = None) -> dict:
    return {"anonymous": 401, "outsider": 404, "rater": rater or ok, "admin": ok}


def anyone(ok: int, admin: int | None = None) -> dict:
    return {"anonymous": 401, "outsider": ok, "rater": ok, "admin": admin or ok}


def own_items(ok: int) -> dict:
    # A rater's own work: the study's admin has no items in it, so it is 404 to them too.
    return {"anonymous": 401, "outsider": 404, "rater": ok, "admin": 404}


def report_part(ok: int) -> dict:
    # Reports are shared with their lead and assessors (the admin here), no one else.
    return {"anonymous": 401, "outsider": 404, "rater": 404, "admin": ok}


S = "/api/v1/studies/{study_token}"
R = "/api/v1/reports/{token}"
MATRIX = {
    ("GET", "/api/v1/studies/"): anyone(200),
    # Creating a study needs the permission to (a study admin's group has it).
    ("POST", "/api/v1/studies/"): {**anyone(403), "admin": 201},
    ("GET", f"{S}/"): members(200),
    # The audit log (issue 25): a study's for its admins, the whole log for staff only (no
    # one in api_world is staff; tests/test_audit_reading.py has a staff caller).
    ("GET", f"{S}/audit/"): admins(200),
    ("GET", "/api/v1/audit/"): {**anyone(403), "anonymous": 401},
    # Assisted reading (issue 23): a study and its arms; api_world's study is not one.
    ("POST", "/api/v1/reading-studies/"): {**anyone(403), "admin": 201},
    ("GET", f"{S}/arms/"): admins(200),
    ("POST", f"{S}/arms/"): admins(400),
    ("GET", f"{S}/reads/"): admins(200),
    ("GET", f"{S}/scorers/"): admins(200),
    ("POST", f"{S}/scorers/"): admins(400),  # api_world's study is not a reading study
    ("DELETE", f"{S}/scorers/{{username}}/"): admins(404),  # no such scorer
    ("POST", f"{S}/judges/{{id}}/score-answers/"): admins(409),  # not a reading study
    # Adjudication (issue 24): nobody in api_world adjudicates, so the queue is 404 to all.
    ("GET", f"{S}/adjudication-selections/"): admins(200),
    ("POST", f"{S}/adjudication-selections/"): admins(201),
    ("GET", f"{S}/adjudicators/"): admins(200),
    ("POST", f"{S}/adjudicators/"): admins(201),
    ("DELETE", f"{S}/adjudicators/{{username}}/"): admins(404),  # no such user
    ("GET", f"{S}/adjudications/"): admins(200),
    ("GET", "/api/v1/adjudicate/{study_token}/items/"): own_items(404),
    ("GET", "/api/v1/adjudicate/{study_token}/items/{token}/"): own_items(404),
    ("POST", "/api/v1/adjudicate/{study_token}/items/{token}/reference/"): own_items(404),
    ("PATCH", f"{S}/"): admins(200),
    ("POST", f"{S}/import/"): admins(400),  # open: no more imports
    ("POST", f"{S}/open/"): admins(409),  # already open
    ("POST", f"{S}/lock/"): admins(200),
    ("POST", f"{S}/archive/"): admins(409),  # not locked yet
    ("POST", f"{S}/reopen-analysis/"): admins(409),  # not locked yet
    ("POST", f"{S}/close-analysis/"): admins(409),  # not reopened
    ("POST", f"{S}/recompute/"): admins(202),
    ("GET", f"{S}/bundle/"): admins(200),
    ("POST", f"{S}/bundle/"): admins(202),
    ("GET", f"{S}/sources/"): admins(200),
    ("POST", f"{S}/sources/"): admins(400),  # open: no more sources
    ("GET", f"{S}/sources/{{id}}/"): admins(200),
    ("POST", f"{S}/sources/{{id}}/fetch/"): admins(409),  # imported: no endpoint
    ("PATCH", f"{S}/sources/{{id}}/"): admins(409),  # open: sources are fixed
    ("GET", f"{S}/cases/"): admins(200),
    ("GET", f"{S}/cases/{{id}}/"): admins(200),
    ("GET", f"{S}/outputs/"): admins(200),
    ("GET", f"{S}/outputs/{{id}}/"): admins(200),
    ("GET", f"{S}/questions/"): members(200),
    ("POST", f"{S}/questions/"): admins(400),  # open: the rubric is fixed
    ("GET", f"{S}/questions/{{key}}/"): members(200),
    ("DELETE", f"{S}/questions/{{key}}/"): admins(409),
    ("GET", f"{S}/assignments/"): admins(200),
    ("GET", f"{S}/assignments/{{token}}/"): admins(200),
    ("GET", f"{S}/judges/"): admins(200),
    ("POST", f"{S}/judges/"): admins(201),
    ("GET", f"{S}/judges/{{id}}/"): admins(200),
    ("POST", f"{S}/judges/{{id}}/run/"): admins(202),
    ("PATCH", f"{S}/judges/{{id}}/"): admins(200),  # it has not run
    ("GET", f"{S}/results/"): admins(200),
    ("GET", f"{S}/results/{{id}}/"): admins(200),
    ("GET", f"{S}/notifications/"): admins(200),
    ("GET", f"{S}/notifications/settings/"): admins(200),
    ("PATCH", f"{S}/notifications/settings/"): admins(200),
    ("GET", f"{S}/tasks/"): admins(200),
    ("GET", f"{S}/tasks/{{id}}/"): admins(200),
    ("POST", f"{S}/tasks/{{id}}/cancel/"): admins(200),
    ("GET", f"{S}/ratings/"): admins(200),
    ("GET", f"{S}/judge-ratings/"): admins(200),
    ("GET", f"{S}/unblinding-key/"): admins(200),
    ("GET", f"{S}/rating-history/"): admins(200),
    ("GET", f"{S}/generations/"): admins(200),
    ("GET", f"{S}/judge-calls/"): admins(200),
    ("GET", f"{S}/raters/"): admins(200),
    ("POST", f"{S}/raters/"): admins(400),  # nobody named
    ("GET", f"{S}/raters/candidates/"): admins(200),
    ("POST", f"{S}/raters/{{pseudonym}}/reassign/"): admins(200),
    ("DELETE", f"{S}/raters/{{pseudonym}}/"): admins(200),  # R2 has saved nothing
    ("GET", f"{S}/invitations/"): admins(200),
    ("POST", f"{S}/invitations/"): admins(400),  # no address
    ("POST", f"{S}/invitations/{{id}}/revoke/"): admins(200),
    ("GET", f"{S}/comments/"): admins(200),
    ("POST", f"{S}/questions-from-template/"): admins(400),  # no template named
    ("GET", f"{S}/plan/pilots/"): admins(200),
    # Adaptive extra raters (issue 24): set only while a draft; api_world's study is open.
    ("GET", f"{S}/adaptive/setting/"): admins(200),
    ("POST", f"{S}/adaptive/setting/"): admins(400),
    ("POST", f"{S}/adaptive/off/"): admins(400),
    ("GET", f"{S}/adaptive/extras/"): admins(200),
    ("GET", f"{S}/figures/"): admins(200),
    ("GET", f"{S}/figures/{{name}}.{{fmt}}/"): admins(404),  # no such figure
    ("POST", f"{S}/plan/power/"): admins(400),  # no pilot named
    ("POST", f"{S}/plan/width/"): admins(400),
    ("GET", "/api/v1/rate/"): anyone(200),
    ("GET", "/api/v1/rate/{study_token}/items/"): own_items(200),
    ("GET", "/api/v1/rate/{study_token}/items/{token}/"): own_items(200),
    ("GET", "/api/v1/rate/{study_token}/items/{token}/images/{image_token}/"): own_items(200),
    ("POST", "/api/v1/rate/{study_token}/items/{token}/answers/"): own_items(200),
    ("POST", "/api/v1/rate/{study_token}/items/{token}/submit/"): own_items(400),  # unanswered
    # A study item: feedback follows training items only.
    ("GET", "/api/v1/rate/{study_token}/items/{token}/feedback/"): own_items(409),
    # Consent and the questions about raters (docs/consent.md); bodies are empty: 400.
    ("GET", f"{S}/consent/"): admins(200),
    ("POST", f"{S}/consent/"): admins(400),
    ("GET", f"{S}/consent/raters/"): admins(200),
    ("GET", f"{S}/rater-questions/"): admins(200),
    ("POST", f"{S}/rater-questions/"): admins(400),
    ("DELETE", f"{S}/rater-questions/{{key}}/"): admins(400),  # open: fixed
    ("GET", "/api/v1/rate/{study_token}/consent/"): own_items(200),
    ("POST", "/api/v1/rate/{study_token}/consent/accept/"): own_items(400),
    ("POST", "/api/v1/rate/{study_token}/consent/background/"): own_items(400),
    ("POST", "/api/v1/rate/{study_token}/consent/post-study/"): own_items(400),
    ("POST", "/api/v1/rate/{study_token}/consent/withdraw/"): own_items(400),
    ("GET", "/api/v1/checklists/"): anyone(200),
    ("GET", "/api/v1/checklists/{slug}/"): anyone(200),
    ("GET", "/api/v1/reports/"): anyone(200),
    ("POST", "/api/v1/reports/"): anyone(201),
    ("GET", f"{R}/"): report_part(200),
    ("GET", f"{R}/assessments/{{assessment_token}}/responses/"): report_part(200),
    ("PUT", f"{R}/responses/{{code}}/"): report_part(200),
    ("PATCH", f"{R}/responses/{{code}}/"): report_part(200),
    ("POST", f"{R}/submit/"): report_part(400),  # unanswered
    ("GET", f"{R}/export/{{fmt}}/"): report_part(200),
    # MI-CLAIM-GEN has no modules, so its lead's scope is refused.
    ("PUT", f"{R}/scope/"): report_part(400),
}


def _url(template: str, path: dict) -> str:
    values = {k: v for k, v in path.items() if not isinstance(v, dict)}
    if "{id}" in template:
        collection = template.split("/{id}/")[0].rsplit("/", 1)[1]
        values["id"] = path["id"][collection]
    if template.startswith("/api/v1/studies/") and "{token}" in template:
        values["token"] = path["assignment"]
    if template.startswith("/api/v1/rate/") and "{token}" in template:
        values["token"] = path["own_item"]
    if template.startswith("/api/v1/adjudicate/") and "{token}" in template:
        values["token"] = "nosuchitem"
    if "/figures/{name}" in template:
        values.update(name="no-such-figure", fmt="svg")
    if "/rater-questions/{key}" in template:
        values["key"] = "nobody"
    if "{username}" in template:
        values["username"] = "nobody"
    if "{pseudonym}" in template:
        values["pseudonym"] = "R2"  # the second rater, who has not started
    return template.format(**values)


def _body(method: str, template: str, api_world: dict) -> dict | None:
    key = api_world["question"].key
    bodies = {
        "/api/v1/studies/": {"title": "Another", "question_prompt": "How good?"},
        "/api/v1/reading-studies/": {
            "title": "Reading",
            "layout": "sequential",
            "answer_kind": "text",
            "prompt": "Diagnosis?",
        },
        f"{S}/": {"judge_epsilon": 0.15},
        f"{S}/reopen-analysis/": {"reason": "A judge was left out"},
        f"{S}/sources/": {
            "label": "New model",
            "base_url": "http://127.0.0.1:9/v1",
            "model_name": "m",
        },
        f"{S}/questions/": {
            "key": "harm",
            "prompt": "Harmful?",
            "kind": "yes_no",
            "level": "nominal",
        },
        f"{S}/judges/": {
            "label": "second judge",
            "base_url": "http://127.0.0.1:9/v1",
            "model_name": "m",
        },
        f"{S}/judges/{{id}}/": {"temperature": 0.5},
        f"{S}/scorers/": {"username": "rater1"},
        f"{S}/notifications/settings/": {"reminder_stall_days": 5},
        f"{S}/adjudication-selections/": {"mode": "all"},
        f"{S}/adjudicators/": {"username": "rater1"},
        f"{S}/sources/{{id}}/": {"label": "Renamed"},
        "/api/v1/rate/{study_token}/items/{token}/answers/": {"question": key, "answer": 4},
        "/api/v1/reports/": {"checklist": "mi-claim-gen", "title": "A report"},
        f"{R}/responses/{{code}}/": {"answer": ["unstructured"], "location": "Methods"},
    }
    if template == f"{S}/import/":
        return None  # multipart, below
    return bodies.get(template, {}) if method != "GET" else None


def _call(client, method: str, url: str, body, headers: dict):
    if url.endswith("/import/"):
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile("more.csv", b"case_id,input,source,output\nx,y,z,w\n")
        return client.post(url, {"file": upload}, headers=headers)
    call = getattr(client, method.lower())
    if body is None:
        return call(url, headers=headers)
    return call(url, json.dumps(body), content_type="application/json", headers=headers)


def _operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
    }


def test_every_endpoint_in_the_schema_is_in_the_matrix():
    assert _operations() == set(MATRIX)


@pytest.mark.parametrize(
    ("method", "template"), sorted(MATRIX), ids=[" ".join(k) for k in sorted(MATRIX)]
)
def test_each_caller_gets_exactly_what_they_should(client, api_world, method, template):
    url = _url(template, api_world["path"])
    body = _body(method, template, api_world)
    seen = {}
    for role in ROLES:  # the admin last: their call may change the study
        user = api_world["users"].get(role)
        headers = {}
        if user:
            headers["Authorization"] = f"Token {Token.objects.get_or_create(user=user)[0].key}"
        response = _call(client, method, url, body, headers)
        seen[role] = response.status_code
        if role == "rater" and response.status_code < 400 and "/checklists/" not in url:
            _assert_blind_to(api_world["study"], as_text(response))
        close_response(response)  # a download holds its file open until then
    assert seen == MATRIX[(method, template)], url


def _assert_blind_to(study, body: str) -> None:
    """What a rater got names no source and no other rater's answer."""
    lowered = body.lower()
    for source in study.sources.all():
        assert source.label.lower() not in lowered
    assert "source" not in lowered
    for token in study.items.values_list("token", flat=True):
        assert token not in body
