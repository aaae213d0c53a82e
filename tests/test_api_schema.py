"""The OpenAPI schema: it validates, its pages are served from the app, and calls generated from
it (schemathesis, property-based) never get a server error and answer as documented."""

import io
import json
from collections import Counter

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_a_warning():
    out = io.StringIO()
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", stdout=out
    )
    schema = json.loads(out.getvalue())
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/studies/{study_token}/ratings/" in schema["paths"]


def test_the_schema_and_its_pages_are_served_without_a_cdn(client, study_admin):
    schema = client.get("/api/v1/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert schema.status_code == 200
    assert json.loads(schema.content)["info"]["title"] == "evalapp API"
    client.force_login(study_admin)
    page = client.get("/api/v1/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn" not in page.lower()


def _path_values(api_world: dict) -> dict[str, dict]:
    path = api_world["path"]
    return {
        "study_token": path["study_token"],
        "key": path["key"],
        "slug": path["slug"],
        "assessment_token": path["assessment_token"],
        "code": path["code"],
        "fmt": path["fmt"],
    }


def _known(operation, api_world: dict) -> dict:
    """Real values for the operation's path parameters, so calls reach real objects."""
    path = operation.path
    values = _path_values(api_world)
    if "{id}" in path:
        values["id"] = api_world["path"]["id"][path.split("/{id}/")[0].rsplit("/", 1)[1]]
    if "{token}" in path:
        token = {
            "/api/v1/rate/": api_world["path"]["own_item"],
            "/api/v1/reports/": api_world["path"]["token"],
        }
        values["token"] = next(
            (v for prefix, v in token.items() if path.startswith(prefix)),
            api_world["path"]["assignment"],
        )
    names = {p.name for p in operation.path_parameters}
    return {k: v for k, v in values.items() if k in names}


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def wsgi_app():
    """The app as a server runs it, in this test's transaction: as Django's test client does,
    a request's end must not close the connection the test's data lives in."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.parametrize("who", ["admin", "rater"])
def test_generated_calls_get_no_server_error_and_answer_as_documented(
    api_world,
    wsgi_app,
    settings,
    who,
):
    for bundle in settings.EXPORT_DIR.iterdir():
        bundle.unlink()  # a download streams from a file the WSGI client would leave open
    raw = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(raw, default=str)))
    user = api_world["users"][who]
    headers = {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    statuses = Counter()
    for operation in operations:
        known = _known(operation, api_world)
        pages = {"page": 1} if any(p.name == "page" for p in operation.query) else None
        # Real objects on a first page, then real objects anyhow, then random ids.
        for path, query in ((known, pages), (known, None), ({}, None)):
            strategy = operation.as_strategy(path_parameters=path or None, query=query)

            @hypothesis.given(case=strategy)
            @hypothesis.settings(
                max_examples=6,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def call(case) -> None:
                response = case.call(app=wsgi_app, headers=headers)
                statuses[response.status_code // 100] += 1
                case.validate_response(response, checks=CHECKS, headers=headers)

            call()
    # The calls reached real objects, and generated bodies and ids were refused too.
    # (A rater is refused most of the API: 403 for the admins' parts.)
    assert statuses[2] > {"admin": 250, "rater": 50}[who], statuses
    assert statuses[4] > 300, statuses
