"""Server-side requests: a study admin points an endpoint where the worker must not go (another
host by a redirect, a name that resolves inside the network, a cloud metadata service, a port
scan) and the worker refuses, storing generic words while the log keeps the detail."""

import ipaddress
import logging
import os
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import redis
from django.db import connection as db_connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from annotation import services
from annotation.core import limits, llm
from annotation.models import Connection, Generation, JudgeVerdict, Output, TaskRun
from tests.support.fake_llm import FakeLLMServer, Status
from tests.support.worker import ROOT, free_port
from tests.test_fetch_outputs import run_fetch
from tests.test_judges import _run

pytestmark = pytest.mark.django_db

NOT_ALLOWED = "the endpoint's address is not allowed"


@pytest.fixture
def endpoint_at(draft_study, settings, caplog):
    """A keyless source at `base_url`, made while that URL is allowed."""
    settings.LLM_MAX_RETRIES = 1
    caplog.set_level(logging.INFO, logger="annotation.core.llm")

    def make(base_url: str):
        # Keyless endpoints are for hosts the operator names (where that setting exists).
        settings.LLM_KEYLESS_HOSTS = [urlsplit(base_url).hostname]
        return services.source_create(
            study=draft_study,
            label="Echo-70B",
            base_url=base_url,
            model_name="echo-70b",
            max_concurrency=1,
        )

    return make


@pytest.fixture
def resolve_to(monkeypatch):
    """DNS as the attacker controls it: `name` resolves to `addresses`, other names as usual."""
    real = socket.getaddrinfo

    def install(name: str, *addresses: str) -> None:
        def getaddrinfo(host, port, *args, **kwargs):
            if host != name:
                return real(host, port, *args, **kwargs)
            return [info for address in addresses for info in real(address, port, *args, **kwargs)]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    return install


def _errors(source) -> set[str]:
    return set(Generation.objects.filter(source=source).values_list("error", flat=True))


def _stored(source) -> str:
    return str(list(Generation.objects.filter(source=source).values("error", "retries")))


def test_a_redirect_to_another_server_is_not_followed_and_nothing_is_stored(
    endpoint_at, fake_llm, study_admin, caplog
):
    with FakeLLMServer() as elsewhere:
        target = elsewhere.base_url + "/chat/completions"
        fake_llm.set_default(Status(307, body="", headers={"Location": target}))
        source = endpoint_at(fake_llm.base_url)
        run = run_fetch(source, study_admin)
        assert elsewhere.requests == []
    assert run.status == "failed"
    assert Output.objects.filter(source=source).count() == 0
    assert _errors(source) == {"the endpoint redirected; redirects are not followed"}
    assert target in caplog.text


def test_a_name_allowed_when_saved_that_resolves_to_loopback_is_refused_when_called(
    endpoint_at, fake_llm, study_admin, settings, resolve_to, caplog
):
    settings.LLM_ALLOWED_HOSTS = ["llm.hospital.example"]
    port = urlsplit(fake_llm.base_url).port
    source = endpoint_at(f"http://llm.hospital.example:{port}/v1")
    # Only the exact host 127.0.0.1 is allowed to be private, not any name pointing there.
    resolve_to("llm.hospital.example", "127.0.0.1")
    run = run_fetch(source, study_admin)
    assert fake_llm.requests == []
    assert run.status == "failed"
    assert Output.objects.filter(source=source).count() == 0
    assert _errors(source) == {NOT_ALLOWED}
    assert "llm.hospital.example resolves to 127.0.0.1" in caplog.text


def test_a_name_with_one_private_address_among_public_ones_is_refused(
    endpoint_at, fake_llm, study_admin, resolve_to
):
    port = urlsplit(fake_llm.base_url).port
    source = endpoint_at(f"http://llm.hospital.example:{port}/v1")
    resolve_to("llm.hospital.example", "93.184.215.14", "127.0.0.1")
    run_fetch(source, study_admin)
    assert fake_llm.requests == []
    assert _errors(source) == {NOT_ALLOWED}


def test_a_host_taken_off_the_allowlist_after_saving_is_refused_when_called(
    endpoint_at, fake_llm, study_admin, settings
):
    source = endpoint_at(fake_llm.base_url)
    settings.LLM_ALLOWED_HOSTS = ["llm.hospital.example"]
    run_fetch(source, study_admin)
    assert fake_llm.requests == []
    assert _errors(source) == {NOT_ALLOWED}


def test_another_loopback_address_than_the_one_named_is_refused(endpoint_at, study_admin):
    source = endpoint_at(f"http://127.0.0.2:{free_port()}/v1")
    run_fetch(source, study_admin)
    assert _errors(source) == {NOT_ALLOWED}


@pytest.mark.parametrize(
    ("base_url", "allowlist"),
    [
        ("http://169.254.169.254/latest/meta-data", []),
        # On the allowlist is not enough: a metadata address must be named as a private host.
        ("http://169.254.169.254/latest/meta-data", ["169.254.169.254"]),
        ("http://[fd00:ec2::254]/latest/meta-data", []),
        ("http://metadata.google.internal/computeMetadata/v1", []),
        ("http://100.100.100.200/latest/meta-data", []),
    ],
)
def test_a_cloud_metadata_service_is_refused(
    endpoint_at, study_admin, settings, base_url, allowlist, caplog
):
    source = endpoint_at(base_url)
    settings.LLM_ALLOWED_HOSTS = allowlist
    run = run_fetch(source, study_admin)
    assert run.status == "failed"
    assert _errors(source) == {NOT_ALLOWED}
    assert "refused" in caplog.text


def test_a_port_scan_learns_nothing_from_the_stored_error(
    endpoint_at, study_admin, caplog, settings
):
    port = free_port()  # nothing listens there
    source = endpoint_at(f"http://127.0.0.1:{port}/v1")
    run_fetch(source, study_admin)
    assert _errors(source) == {"could not connect to the endpoint"}
    stored = _stored(source)
    assert str(port) not in stored
    assert "refused" not in stored.lower()
    assert "Errno" not in stored
    assert f"port={port}" in caplog.text


def test_a_judge_at_a_metadata_address_is_refused_in_generic_words(open_study, caplog, settings):
    caplog.set_level(logging.INFO, logger="annotation.core.llm")
    settings.LLM_KEYLESS_HOSTS = ["169.254.169.254"]
    judge = services.judge_create(
        study=open_study,
        label="GPT-judge",
        base_url="http://169.254.169.254/v1",
        model_name="judge-1",
    )
    run = _run(judge)
    assert run.status == "failed"
    errors = set(JudgeVerdict.objects.filter(judge=judge).values_list("error", flat=True))
    assert errors == {NOT_ALLOWED}
    assert "169.254.169.254" in caplog.text


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "192.0.0.192",
        "::1",
        "::",
        "fe80::1",
        "fd00:ec2::254",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::1",
    ],
)
def test_every_private_loopback_link_local_or_metadata_address_is_refused(address):
    assert llm.address_refused(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_a_public_address_is_not_refused(address):
    assert not llm.address_refused(ipaddress.ip_address(address))


@pytest.mark.parametrize(("debug", "expected"), [("1", "['127.0.0.1', 'localhost']"), ("0", "[]")])
def test_only_a_local_install_allows_loopback_by_default(debug, expected):
    env = {k: v for k, v in os.environ.items() if k != "LLM_PRIVATE_HOSTS_ALLOWED"}
    env.update(DEBUG=debug, SECRET_KEY="test-only", DJANGO_SETTINGS_MODULE="evalapp.settings")
    code = "from evalapp import settings; print(settings.LLM_PRIVATE_HOSTS_ALLOWED)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == expected


def test_a_redis_outage_stores_no_redis_address_with_the_call(caplog):
    port = free_port()  # nothing listens there
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    shared = limits.SharedLimits(
        client,
        "evalapp:limits:test",
        concurrency=1,
        per_minute=None,
        lease_seconds=30,
        outage_seconds=0,
    )
    with pytest.raises(limits.LimitsUnavailable) as refused:
        shared.acquire("run-1")
    assert str(refused.value) == "Redis unreachable for the limits: the call was not sent"
    assert str(port) in caplog.text


# --- an endpoint of the admin's own, after the operator took its host back ---------------------


def test_a_keyless_endpoint_whose_host_the_operator_removed_calls_nothing(
    endpoint_at, fake_llm, study_admin, settings, caplog
):
    source = endpoint_at(fake_llm.base_url)  # saved while 127.0.0.1 was a keyless host
    settings.LLM_KEYLESS_HOSTS = ["models.hospital.example"]  # the operator takes it back
    run = run_fetch(source, study_admin)
    assert fake_llm.requests == []
    assert run.status == "failed"
    assert Output.objects.filter(source=source).count() == 0
    assert _errors(source) == {NOT_ALLOWED}
    assert "127.0.0.1 is not in LLM_KEYLESS_HOSTS" in caplog.text
    # The operator's own connection to that host is not an endpoint of the admin's: it calls.
    local = Connection.objects.create(
        name="local", base_url=fake_llm.base_url, allowed_models=["m"]
    )
    own = services.source_create(
        study=source.study, label="Local", connection=local, model_name="m"
    )
    assert run_fetch(own, study_admin).status == "succeeded"


def test_a_keyless_judge_whose_host_the_operator_removed_calls_nothing(
    open_study, fake_llm, settings, caplog
):
    caplog.set_level(logging.INFO, logger="annotation.core.llm")
    judge = services.judge_create(
        study=open_study, label="Own judge", base_url=fake_llm.base_url, model_name="judge-1"
    )
    settings.LLM_KEYLESS_HOSTS = []  # the default, set after the judge was saved
    run = _run(judge)
    assert fake_llm.requests == []
    assert run.status == "failed"
    errors = set(JudgeVerdict.objects.filter(judge=judge).values_list("error", flat=True))
    assert errors == {NOT_ALLOWED}
    assert "not in LLM_KEYLESS_HOSTS" in caplog.text


# --- what was stored before errors were generic ------------------------------------------------

REFUSED = (
    "ConnectionError: HTTPConnectionPool(host='10.0.0.5', port=5432): Max retries exceeded with "
    "url: /v1/chat/completions (Caused by NewConnectionError(\"HTTPConnection(host='10.0.0.5', "
    'port=5432): Failed to establish a new connection: [Errno 111] Connection refused"))'
)
REFUSED_ATTEMPT = (
    "NewConnectionError(\"HTTPConnection(host='10.0.0.5', port=5432): Failed to establish a new "
    'connection: [Errno 111] Connection refused")'
)
TIMED_OUT = (
    "ConnectionError: HTTPConnectionPool(host='10.0.0.6', port=6379): Max retries exceeded with "
    "url: /v1/chat/completions (Caused by ReadTimeoutError(\"HTTPConnectionPool(host='10.0.0.6', "
    'port=6379): Read timed out. (read timeout=60.0)"))'
)


@pytest.fixture
def latest_migrations_after():
    # A test that migrates back must not leave the next test an old schema.
    yield
    executor = MigrationExecutor(db_connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_errors_stored_before_they_were_generic_no_longer_map_internal_ports(
    open_study, latest_migrations_after
):
    # Before 0031 a failed call kept the HTTP client's own words: which internal hosts and ports
    # answer, and how. An attacker who scanned then reads the result on the dashboard now.
    before = [("annotation", "0030_import_uploads")]
    after = [("annotation", "0031_call_errors_generic")]
    # Read before migrating back: today's models name columns the old schema lacks.
    case_id = open_study.cases.values_list("pk", flat=True).first()
    item_id = open_study.items.values_list("pk", flat=True).first()
    executor = MigrationExecutor(db_connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    now = timezone.now()
    source = apps.get_model("annotation", "Source").objects.create(
        study_id=open_study.pk, label="Scan", base_url="http://10.0.0.5:5432/v1", model_name="m"
    )
    judge = apps.get_model("annotation", "Judge").objects.create(
        study_id=open_study.pk, label="Scan judge", base_url="http://10.0.0.6/v1", model_name="m"
    )
    call = {"request": {}, "started_at": now, "finished_at": now}
    generations = apps.get_model("annotation", "Generation").objects

    def failed_call(sample: int, error: str, retries: list) -> int:
        return generations.create(
            source_id=source.pk,
            case_id=case_id,
            sample=sample,
            outcome="failed",
            endpoint=source.base_url,
            error=error,
            retries=retries,
            **call,
        ).pk

    slow = "ReadTimeout: HTTPConnectionPool(host='10.0.0.6', port=6379): Read timed out."
    redis_away = "Redis unreachable for the limits: Error 111 connecting to 10.0.0.7:6379."
    rows = {
        "refused": failed_call(0, REFUSED, [{"status": None, "error": REFUSED_ATTEMPT}]),
        "slow": failed_call(1, slow, []),
        "redirected": failed_call(2, "TooManyRedirects: Exceeded 30 redirects.", []),
        "redis": failed_call(3, redis_away, []),
        "status": failed_call(4, "HTTP 503", [{"status": 503, "error": ""}]),
    }
    verdict = apps.get_model("annotation", "JudgeVerdict").objects.create(
        judge_id=judge.pk,
        item_id=item_id,
        outcome="failed",
        error=TIMED_OUT,
        attempts=[
            {"error": "malformed reply: no JSON", "http_status": 200},
            {"error": TIMED_OUT, "http_status": None},
        ],
        **call,
    )
    unsent = apps.get_model("annotation", "TaskRun").objects.create(
        study_id=open_study.pk,
        kind="compute_agreement",
        status="queued",
        message="Waiting for the task queue to come back (Error 111 connecting to 10.0.0.7:6379.).",
    )
    executor.loader.build_graph()
    executor.migrate(after)
    stored = {
        name: tuple(Generation.objects.filter(pk=pk).values_list("error", "retries").get())
        for name, pk in rows.items()
    }
    assert stored == {
        "refused": (
            "could not connect to the endpoint",
            [{"status": None, "error": "could not connect to the endpoint"}],
        ),
        "slow": ("the endpoint did not answer in time", []),
        "redirected": ("the endpoint redirected; redirects are not followed", []),
        "redis": ("Redis unreachable for the limits: the call was not sent", []),
        "status": ("HTTP 503", [{"status": 503, "error": ""}]),  # no detail: left as it was
    }
    # Read as the schema stands at 0031: later migrations add columns this state has not.
    verdict = (
        executor.loader.project_state(after)
        .apps.get_model("annotation", "JudgeVerdict")
        .objects.get(pk=verdict.pk)
    )
    assert verdict.error == "the endpoint did not answer in time"
    assert verdict.attempts == [
        {"error": "malformed reply: no JSON", "http_status": 200},
        {"error": "the endpoint did not answer in time", "http_status": None},
    ]
    message = TaskRun.objects.filter(pk=unsent.pk).values_list("message", flat=True).get()
    assert message == "Waiting for the task queue to come back."
