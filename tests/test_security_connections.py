"""The organisation's keys belong to the operator: a study admin picks a connection by name and a
model it allows, never names a key, never pairs a key with a host of their own, and a connection
whose key is missing fails at once. Each test is the attack, then the refusal."""

import json
import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection as db_connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from annotation import services
from annotation.models import Connection, Judge, JudgeVerdict, Output, Source, TaskRun
from tests.conftest import STUDY_ROWS
from tests.support.fake_llm import Delay
from tests.test_api import auth
from tests.test_fetch_outputs import run_fetch
from tests.test_import_formats import texts
from tests.test_limits import REDIS_URL, _redis

pytestmark = pytest.mark.django_db

KEY = "sk-organisation-key-31337"
ATTACKER = "https://attacker.example/v1"


@pytest.fixture
def openai(monkeypatch) -> Connection:
    monkeypatch.setenv("EVALAPP_LLM_KEY_OPENAI", KEY)
    return Connection.objects.create(
        name="openai",
        base_url="https://api.openai.com/v1",
        allowed_models=["gpt-4o", "gpt-4o-mini"],
        api_key_env="EVALAPP_LLM_KEY_OPENAI",
    )


def _post_source(client, study, data: dict) -> list[str]:
    response = client.post(reverse("study_add_source", args=[study.token]), data, follow=True)
    return texts(response.content.decode(), "li", "error")


def _api_source(client, user, study, body: dict):
    url = f"/api/v1/studies/{study.token}/sources/"
    return client.post(url, body, content_type="application/json", headers=auth(user))


# --- naming a key -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key_field",
    [{"api_key_env": "EVALAPP_LLM_KEY_OPENAI"}, {"api_key_file": "postgres-password"}],
)
def test_the_form_refuses_a_key_sent_to_the_admins_own_host(
    client, study_admin, draft_study, openai, key_field
):
    client.force_login(study_admin)
    data = {"label": "Exfil", "base_url": ATTACKER, "model_name": "m", **key_field}
    errors = _post_source(client, draft_study, data)
    assert any("Choose a connection" in e for e in errors), errors
    assert not Source.objects.filter(label="Exfil").exists()


def test_a_key_field_on_an_allowed_keyless_host_is_ignored(
    client, study_admin, draft_study, openai, settings
):
    settings.LLM_KEYLESS_HOSTS = ["models.hospital.example"]
    client.force_login(study_admin)
    data = {
        "label": "Local",
        "base_url": "https://models.hospital.example/v1",
        "model_name": "m",
        "api_key_env": "EVALAPP_LLM_KEY_OPENAI",
    }
    _post_source(client, draft_study, data)
    source = Source.objects.get(label="Local")
    assert source.connection is None
    assert source.endpoint().api_key == ""


@pytest.mark.parametrize(
    "key_field",
    [{"api_key_env": "EVALAPP_LLM_KEY_OPENAI"}, {"api_key_file": "postgres-password"}],
)
def test_the_api_refuses_a_key_sent_to_the_admins_own_host(
    client, study_admin, draft_study, openai, key_field
):
    body = {"label": "Exfil", "base_url": ATTACKER, "model_name": "m", **key_field}
    response = _api_source(client, study_admin, draft_study, body)
    assert response.status_code == 400
    assert "connection" in response.json()
    assert not Source.objects.filter(label="Exfil").exists()


def test_the_api_ignores_a_key_field_and_never_shows_one(
    client, study_admin, draft_study, openai, settings
):
    settings.LLM_KEYLESS_HOSTS = ["models.hospital.example"]
    body = {
        "label": "Local",
        "base_url": "https://models.hospital.example/v1",
        "model_name": "m",
        "api_key_env": "EVALAPP_LLM_KEY_OPENAI",
    }
    response = _api_source(client, study_admin, draft_study, body)
    assert response.status_code == 201, response.content
    assert "api_key_env" not in response.json()
    assert response.json()["connection"] is None
    assert Source.objects.get(label="Local").endpoint().api_key == ""


# --- a connection's key with another host, or another model ----------------------------------


def test_a_connection_cannot_be_pointed_at_another_host(client, study_admin, draft_study, openai):
    client.force_login(study_admin)
    data = {"label": "Exfil", "connection": "openai", "base_url": ATTACKER, "model_name": "gpt-4o"}
    errors = _post_source(client, draft_study, data)
    assert any("The connection sets the base URL" in e for e in errors), errors
    body = {**data, "label": "Exfil2"}
    response = _api_source(client, study_admin, draft_study, body)
    assert response.status_code == 400
    assert "The connection sets the base URL" in json.dumps(response.json())
    assert not Source.objects.filter(label__startswith="Exfil").exists()


def test_a_judge_cannot_take_a_connection_to_another_host(open_study, openai):
    with pytest.raises(ValidationError) as caught:
        services.judge_create(
            study=open_study,
            label="Exfil",
            connection=openai,
            base_url=ATTACKER,
            model_name="gpt-4o",
        )
    assert "The connection sets the base URL" in str(caught.value)
    assert not Judge.objects.exists()


def test_a_model_the_connection_does_not_allow_is_refused(client, study_admin, draft_study, openai):
    client.force_login(study_admin)
    data = {"label": "Big", "connection": "openai", "model_name": "o3-pro"}
    errors = _post_source(client, draft_study, data)
    assert any("allows these models: gpt-4o, gpt-4o-mini" in e for e in errors), errors
    response = _api_source(client, study_admin, draft_study, {**data, "label": "Big2"})
    assert response.status_code == 400
    assert not Source.objects.filter(label__startswith="Big").exists()


def test_a_source_on_a_connection_calls_its_host_with_its_key(
    client, study_admin, draft_study, openai
):
    body = {"label": "GPT", "connection": "openai", "model_name": "gpt-4o-mini"}
    response = _api_source(client, study_admin, draft_study, body)
    assert response.status_code == 201, response.content
    assert response.json()["connection"] == "openai"
    endpoint = Source.objects.get(label="GPT").endpoint()
    assert (endpoint.base_url, endpoint.model, endpoint.api_key) == (
        "https://api.openai.com/v1",
        "gpt-4o-mini",
        KEY,
    )


# --- keyless endpoints ------------------------------------------------------------------------


def test_a_keyless_endpoint_is_refused_unless_the_operator_allows_its_host(
    client, study_admin, draft_study, settings
):
    settings.LLM_KEYLESS_HOSTS = []  # the default
    client.force_login(study_admin)
    data = {"label": "Own", "base_url": "https://models.hospital.example/v1", "model_name": "m"}
    assert any("Choose a connection" in e for e in _post_source(client, draft_study, data))
    settings.LLM_KEYLESS_HOSTS = ["other.hospital.example"]
    assert any("Choose a connection" in e for e in _post_source(client, draft_study, data))
    assert not Source.objects.filter(label="Own").exists()
    settings.LLM_KEYLESS_HOSTS = ["models.hospital.example"]
    _post_source(client, draft_study, data)
    assert Source.objects.get(label="Own").base_url == "https://models.hospital.example/v1"


# --- a missing key ----------------------------------------------------------------------------


def test_a_missing_key_variable_fails_the_run_at_once(draft_study, study_admin, fake_llm):
    gone = Connection.objects.create(
        name="gone",
        base_url=fake_llm.base_url,
        allowed_models=["m"],
        api_key_env="EVALAPP_LLM_KEY_NEVER_SET",
    )
    source = services.source_create(study=draft_study, label="M", connection=gone, model_name="m")
    run = TaskRun.objects.create(
        study=draft_study, source=source, created_by=study_admin, kind="fetch_outputs"
    )
    services.outputs_fetch_missing(run=services.task_run_claim(run_id=run.pk))
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.message == "Connection gone: its key variable EVALAPP_LLM_KEY_NEVER_SET is not set."
    assert fake_llm.requests == []


def test_a_missing_key_file_fails_a_judge_run_at_once(open_study, fake_llm, settings, tmp_path):
    settings.LLM_SECRETS_DIR = str(tmp_path)
    gone = Connection.objects.create(
        name="gone-file",
        base_url=fake_llm.base_url,
        allowed_models=["judge-1"],
        api_key_file="judge-key",
    )
    judge = services.judge_create(
        study=open_study, label="J", connection=gone, model_name="judge-1"
    )
    run = TaskRun.objects.create(study=open_study, judge=judge, kind=TaskRun.Kind.RUN_JUDGE)
    services.judge_run(run=services.task_run_claim(run_id=run.pk))
    run.refresh_from_db()
    assert run.status == "failed"
    assert "Connection gone-file: its key file judge-key" in run.message
    assert fake_llm.requests == []


# --- the operator's side ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"api_key_env": "SECRET_KEY"}, "api_key_env", "must start with EVALAPP_LLM_KEY_"),
        ({"api_key_file": "../etc/passwd"}, "api_key_file", "no path"),
        ({"api_key_file": ".hidden"}, "api_key_file", "no path"),
        ({"api_key_file": "k", "api_key_env": "EVALAPP_LLM_KEY_X"}, "api_key_file", "not both"),
        ({"allowed_models": []}, "allowed_models", "at least one"),
    ],
)
def test_a_connection_that_would_leak_is_refused(fields, field, message):
    values = {"name": "c", "base_url": "https://h.example/v1", "allowed_models": ["m"], **fields}
    with pytest.raises(ValidationError) as caught:
        Connection(**values).full_clean()
    assert message in " ".join(caught.value.message_dict[field])


def test_staff_see_connections_in_the_admin_and_study_admins_do_not(
    admin_client, client, study_admin, openai
):
    url = reverse("admin:annotation_connection_changelist")
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "openai" in page.text
    assert "EVALAPP_LLM_KEY_OPENAI" in page.text
    assert KEY not in page.text
    client.force_login(study_admin)
    assert client.get(url).status_code == 302  # to the admin's login, not the list


def test_the_connections_file_is_loaded_and_a_bad_row_is_named(tmp_path):
    good = tmp_path / "connections.yaml"
    good.write_text(
        "connections:\n"
        "  - name: openai\n"
        "    base_url: https://api.openai.com/v1\n"
        "    models: [gpt-4o]\n"
        "    api_key_env: EVALAPP_LLM_KEY_OPENAI\n"
        "    max_concurrency: 8\n"
    )
    call_command("connections_sync", str(good))
    made = Connection.objects.get(name="openai")
    assert (made.allowed_models, made.api_key_env, made.max_concurrency) == (
        ["gpt-4o"],
        "EVALAPP_LLM_KEY_OPENAI",
        8,
    )
    bad = tmp_path / "bad.json"
    rows = [
        {"name": "ok", "base_url": "https://a.example/v1", "models": ["m"]},
        {"name": "leak", "base_url": "https://b.example/v1", "models": ["m"], "api_key_env": "X"},
    ]
    bad.write_text(json.dumps(rows))
    with pytest.raises(CommandError) as caught:
        call_command("connections_sync", str(bad))
    assert str(caught.value).startswith(f"{bad}, connection 2, field api_key_env: ")
    assert not Connection.objects.filter(name="ok").exists()  # all or nothing


# --- the migration ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_turns_an_old_keyed_source_into_a_connection(study_admin):
    executor = MigrationExecutor(db_connection)
    executor.migrate([("annotation", "0026_span_criteria_empty_lists")])
    old = executor.loader.project_state(("annotation", "0026_span_criteria_empty_lists")).apps
    study = old.get_model("annotation", "Study").objects.create(
        title="Old", created_by_id=study_admin.pk
    )
    old.get_model("annotation", "Source").objects.create(
        study=study,
        label="Old GPT",
        base_url="https://api.openai.com/v1",
        model_name="gpt-4o",
        api_key_env="EVALAPP_LLM_KEY_OPENAI",
    )
    executor = MigrationExecutor(db_connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    source = Source.objects.get(label="Old GPT")
    made = source.connection
    assert (made.name, made.base_url, made.allowed_models, made.api_key_env) == (
        "api-openai-com",
        "https://api.openai.com/v1",
        ["gpt-4o"],
        "EVALAPP_LLM_KEY_OPENAI",
    )


# --- the operator's caps hold for the whole connection ----------------------------------------


@pytest.fixture(params=["one process", "redis"])
def limits_held(request, settings):
    """Where the limits are kept: this process (the embedded default), or Redis, as every worker
    of a production install shares them."""
    if request.param == "redis":
        client = _redis()
        settings.LLM_LIMITS_REDIS_URL = REDIS_URL
        yield
        # This test's keys only: other test runs may share the Redis.
        callers = [f"connection:{pk}" for pk in Connection.objects.values_list("pk", flat=True)]
        callers += [f"source:{pk}" for pk in Source.objects.values_list("pk", flat=True)]
        callers += [f"judge:{pk}" for pk in Judge.objects.values_list("pk", flat=True)]
        for caller in callers:
            for key in client.scan_iter(f"evalapp:limits:{caller}:*"):
                client.delete(key)
    else:
        settings.LLM_LIMITS_REDIS_URL = ""
        yield


def _sources_on(connection: Connection, admin) -> list[Source]:
    """Three sources on one connection, in two studies, each within the connection's caps."""
    studies = []
    for title in ("First study", "Second study"):
        study = services.study_create(
            creator=admin, title=title, raters_per_item=1, question_prompt="How good?", seed=1
        )
        services.study_import_file(study=study, filename="study.csv", content=STUDY_ROWS)
        studies.append(study)
    return [
        services.source_create(
            study=study, label=label, connection=connection, model_name="m", max_concurrency=1
        )
        for study, label in ((studies[0], "A"), (studies[0], "B"), (studies[1], "C"))
    ]


def _fetch_all_at_once(sources: list[Source], user) -> None:
    _all_at_once([lambda source=source: run_fetch(source, user) for source in sources])


def _all_at_once(jobs) -> None:
    """Each job on its own thread (as on its own worker), all started together."""
    start, errors = threading.Barrier(len(jobs)), []

    def work(job) -> None:
        try:
            start.wait()
            job()
        except BaseException as exc:  # reported below, with the assertion
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_sources_on_one_connection_never_pass_its_calls_at_once_together(
    study_admin, fake_llm, limits_held
):
    capped = Connection.objects.create(
        name="capped", base_url=fake_llm.base_url, allowed_models=["m"], max_concurrency=1
    )
    sources = _sources_on(capped, study_admin)
    fake_llm.set_default(Delay(0.05))  # each call long enough for the others to pile up
    _fetch_all_at_once(sources, study_admin)
    assert len(fake_llm.requests) == 3 * 3
    assert fake_llm.max_in_flight == 1  # the operator's cap, across sources and studies
    assert Output.objects.filter(source__in=sources).count() == 3 * 3


@pytest.mark.django_db(transaction=True)
def test_sources_on_one_connection_never_pass_its_calls_a_minute_together(
    study_admin, fake_llm, limits_held
):
    paced = Connection.objects.create(
        name="paced", base_url=fake_llm.base_url, allowed_models=["m"], requests_per_minute=600
    )
    sources = _sources_on(paced, study_admin)
    assert {source.requests_per_minute for source in sources} == {600}  # each within the cap
    started = time.monotonic()
    _fetch_all_at_once(sources, study_admin)
    # Nine calls, one every 0.1 s over the whole connection: at least 0.8 s. Each source on
    # its own would have made its three in 0.2 s.
    assert time.monotonic() - started >= 0.75
    assert len(fake_llm.requests) == 3 * 3


@pytest.mark.django_db(transaction=True)
def test_a_judge_and_a_source_on_one_connection_share_its_calls_at_once(
    open_study, study_admin, fake_llm, settings, limits_held
):
    settings.JUDGE_MAX_ATTEMPTS = 1
    capped = Connection.objects.create(
        name="capped", base_url=fake_llm.base_url, allowed_models=["m"], max_concurrency=1
    )
    judge = services.judge_create(
        study=open_study, label="J", connection=capped, model_name="m", max_concurrency=1
    )
    source = _sources_on(capped, study_admin)[2]  # in another study, still a draft
    judging = TaskRun.objects.create(study=open_study, judge=judge, kind=TaskRun.Kind.RUN_JUDGE)
    fake_llm.set_default(Delay(0.05))
    _all_at_once(
        [
            lambda: services.judge_run(run=services.task_run_claim(run_id=judging.pk)),
            lambda: run_fetch(source, study_admin),
        ]
    )
    judged = [r for r in fake_llm.requests if "response_format" in r["json"]]
    assert len(judged) == JudgeVerdict.objects.filter(judge=judge).count() > 0
    assert len(fake_llm.requests) - len(judged) == 3  # the source's three cases
    assert fake_llm.max_in_flight == 1
