"""The audit trail's remaining families, through the pages, the API and the commands people use:
adjudicators and scorers added and removed, the paper bundle downloaded (page and API), the
operator's connections file loaded."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotation.models import AuditEvent, TaskRun
from tests import adjudication_support
from tests.factories import UserFactory
from tests.reading_support import reading_study
from tests.test_api_adjudication import api

pytestmark = pytest.mark.django_db

ADDRESS = "198.51.100.11"


def _newest(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-seq").first()


def test_adjudicators_added_on_the_page_and_removed_through_the_api(client, study_admin, raters):
    study = adjudication_support.rated_study(study_admin, raters)
    UserFactory(username="senior")
    client.force_login(study_admin)
    client.post(
        reverse("adjudicator_add", args=[study.token]), {"username": "senior"}, REMOTE_ADDR=ADDRESS
    )
    added = _newest("adjudicator.added")
    assert added.details == {"adjudicator": "A1", "user": "senior"}
    assert (added.study_id, added.actor_username, added.via, added.address) == (
        study.pk,
        "studyadmin",
        "web",
        ADDRESS,
    )
    url = f"/api/v1/studies/{study.token}/adjudicators/senior/"
    assert api(client, study_admin, "delete", url).status_code == 204
    removed = _newest("adjudicator.removed")
    assert removed.details == {"adjudicator": "A1", "user": "senior"}
    assert (removed.actor_username, removed.via) == ("studyadmin", "api")


def test_scorers_added_on_the_page_and_removed_through_the_api(client, study_admin, raters):
    study = reading_study(study_admin, raters)
    UserFactory(username="marker")
    client.force_login(study_admin)
    client.post(
        reverse("reading_scorer_add", args=[study.token]),
        {"username": "marker"},
        REMOTE_ADDR=ADDRESS,
    )
    added = _newest("scorer.added")
    assert (added.details, added.study_id, added.via) == ({"user": "marker"}, study.pk, "web")
    assert added.address == ADDRESS
    url = f"/api/v1/studies/{study.token}/scorers/marker/"
    assert api(client, study_admin, "delete", url).status_code == 204
    removed = _newest("scorer.removed")
    assert (removed.details, removed.actor_username, removed.via) == (
        {"user": "marker"},
        "studyadmin",
        "api",
    )


@pytest.fixture
def built_bundle(open_study, study_admin, settings, tmp_path):
    """A bundle job that has finished, and its file (what a worker leaves behind)."""
    settings.EXPORT_DIR = tmp_path
    run = TaskRun.objects.create(
        study=open_study,
        kind=TaskRun.Kind.EXPORT_BUNDLE,
        status=TaskRun.Status.SUCCEEDED,
        created_by=study_admin,
        finished_at=datetime(2026, 12, 6, 12, 0, tzinfo=UTC),
    )
    (tmp_path / f"study-{open_study.token}-bundle-{run.pk}.zip").write_bytes(
        b"PK\x05\x06" + bytes(18)
    )
    return run


def test_the_bundle_downloaded_on_the_page_and_through_the_api_is_recorded(
    client, study_admin, open_study, built_bundle
):
    name = f"evalapp-{open_study.token}-20261206-120000.zip"
    client.force_login(study_admin)
    response = client.get(
        reverse("study_bundle_download", args=[open_study.token, built_bundle.pk]),
        REMOTE_ADDR=ADDRESS,
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"PK")
    page = _newest("bundle.downloaded")
    assert (page.details, page.via, page.address) == ({"file": name}, "web", ADDRESS)
    assert (page.object_type, page.object_id) == ("taskrun", str(built_bundle.pk))
    response = api(client, study_admin, "get", f"/api/v1/studies/{open_study.token}/bundle/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"PK")
    through_api = _newest("bundle.downloaded")
    assert through_api.seq > page.seq
    assert (through_api.details, through_api.via) == ({"file": name}, "api")
    assert through_api.actor_username == "studyadmin"


def test_a_bundle_download_refused_to_a_rater_is_not_recorded(
    client, rater, open_study, built_bundle
):
    client.force_login(rater)
    response = client.get(
        reverse("study_bundle_download", args=[open_study.token, built_bundle.pk])
    )
    assert response.status_code in (403, 404)
    assert _newest("bundle.downloaded") is None


def test_loading_the_connections_file_is_recorded_as_a_command(tmp_path):
    path = tmp_path / "connections.yaml"
    path.write_text(
        "connections:\n"
        "  - name: hospital-llm\n"
        "    base_url: https://llm.hospital.example/v1\n"
        "    models: [m1]\n"
    )
    call_command("connections_sync", str(path), stdout=StringIO())
    synced = _newest("connections.synced")
    assert synced.details == {"file": "connections.yaml", "connections": ["hospital-llm"]}
    assert synced.via == "command"
    assert synced.study_id is None
