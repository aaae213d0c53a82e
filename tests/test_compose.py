"""docker-compose.yml cannot be started here (no Docker engine); check its shape instead, and
the proxy's configuration (deploy/Caddyfile) where it meets the app's settings."""

import re
import subprocess
from pathlib import Path

import yaml

from annotation.apps import site_url_check

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS = (ROOT / "evalapp" / "settings.py").read_text()
CADDYFILE = (ROOT / "deploy" / "Caddyfile").read_text()


def test_the_stack_has_every_service_with_health_checks():
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat", "proxy"}
    for name in ("postgres", "redis", "web", "worker"):
        assert "test" in services[name]["healthcheck"], name


def test_web_and_worker_wait_for_migrations_and_healthy_services():
    for name in ("web", "worker"):
        depends = COMPOSE["services"][name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"
    migrate = COMPOSE["services"]["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["command"][:2] == ["sh", "-c"]
    assert migrate["command"][2].split(" && ") == [
        "python manage.py migrate --noinput",
        "python manage.py load_checklists",
        "python manage.py connections_sync",
    ]


def test_web_runs_gunicorn_and_worker_runs_celery():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "evalapp.wsgi:application"' in dockerfile
    assert COMPOSE["services"]["worker"]["command"][:3] == ["celery", "-A", "evalapp"]


def test_every_setting_compose_passes_is_one_the_app_reads():
    env = COMPOSE["services"]["web"]["environment"]
    read = set(re.findall(r'env_\w+\(\s*"([A-Z_]+)"', SETTINGS))
    read |= set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', SETTINGS))
    # API keys are read per source, by the name the source gives; they carry the settings' prefix.
    keys = {name for name in env if name.startswith("EVALAPP_LLM_KEY_")}
    assert keys
    app_settings = set(env) - keys
    assert app_settings <= read, app_settings - read
    assert env["DATABASE_URL"].startswith("postgres://")
    assert env["CELERY_BROKER_URL"].startswith("redis://")


def test_web_and_worker_share_the_volume_bundles_are_written_to():
    services = COMPOSE["services"]
    where = services["web"]["environment"]["EVALAPP_EXPORT_DIR"]
    for name in ("web", "worker"):
        assert f"exports:{where}" in services[name]["volumes"], name
    assert "exports" in COMPOSE["volumes"]


def test_only_the_proxy_is_published_and_it_waits_for_a_healthy_web():
    services = COMPOSE["services"]
    published = {name for name, service in services.items() if "ports" in service}
    assert published == {"proxy"}
    assert services["proxy"]["ports"] == ["80:80", "443:443"]
    assert services["web"]["expose"] == ["8000"]
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]


def test_the_proxy_serves_the_apps_host_over_https_and_forwards_to_gunicorn():
    lines = [line.strip() for line in CADDYFILE.splitlines() if not line.strip().startswith("#")]
    assert "{$EVALAPP_HOST:localhost} {" in lines
    assert "tls {$EVALAPP_TLS:internal}" in lines
    assert "reverse_proxy web:8000" in lines
    environment = COMPOSE["services"]["proxy"]["environment"]
    assert set(environment) == {"EVALAPP_HOST", "EVALAPP_TLS"}


def test_web_trusts_exactly_one_proxy_and_keeps_the_secure_defaults():
    web = COMPOSE["services"]["web"]["environment"]
    assert web["NUM_PROXIES"] == "1"
    assert web["SECURE_PROXY_SSL_HEADER"] == "1"
    assert web["DEBUG"] == "0"
    # Left to their defaults: Secure cookies, the redirect to https, HSTS.
    for name in ("SECURE_COOKIES", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"):
        assert name not in web, name
    # The worker gets the shared settings, not the web's proxy settings.
    assert "NUM_PROXIES" not in COMPOSE["services"]["worker"]["environment"]


def test_the_web_health_check_names_an_allowed_host_over_plain_http():
    check = COMPOSE["services"]["web"]["healthcheck"]["test"]
    assert "http://127.0.0.1:8000/healthz" in check[-1]
    assert "os.environ['ALLOWED_HOSTS'].split(',')[0]" in check[-1]


def test_one_beat_schedules_the_reminders_apart_from_the_workers():
    services = COMPOSE["services"]
    beat = services["beat"]
    assert beat["command"][:4] == ["celery", "-A", "evalapp", "beat"]
    # Scaling the workers must not multiply the schedule: no worker runs an embedded beat.
    assert "-B" not in services["worker"]["command"]
    assert "--beat" not in services["worker"]["command"]
    assert beat["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert beat["environment"]["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    assert (
        services["web"]["environment"]["SITE_URL"]
        == "${SITE_URL:-https://${EVALAPP_HOST:-localhost}}"
    )


def _check_deploy(env_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "scripts" / "check-deploy"), "--env-file", str(env_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def _quick_start_env() -> str:
    """The .env that docs/deployment.md's quick start writes, placeholders filled in."""
    docs = (ROOT / "docs" / "deployment.md").read_text()
    text = re.search(r"cat > \.env <<'ENV'\n(.*?)\nENV\n", docs, re.DOTALL).group(1)
    return text.replace(
        "<50 random characters>", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
    ).replace("<a password>", "pw")


def test_the_quick_start_links_reminders_to_the_site_and_passes_check_deploy(tmp_path):
    env = tmp_path / ".env"
    env.write_text(_quick_start_env())
    result = _check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  SITE_URL=https://evalapp.example.org\n" in result.stdout
    # Without SITE_URL in .env, compose builds it from EVALAPP_HOST: the same address.
    env.write_text(re.sub(r"^SITE_URL=.*\n", "", _quick_start_env(), flags=re.MULTILINE))
    result = _check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  SITE_URL=https://evalapp.example.org\n" in result.stdout


def test_check_deploy_fails_when_the_site_url_is_not_an_allowed_host(tmp_path):
    env = tmp_path / ".env"
    env.write_text(_quick_start_env() + "\nSITE_URL=https://elsewhere.example.org\n")
    result = _check_deploy(env)
    assert result.returncode != 0
    assert "annotation.W001" in result.stdout + result.stderr


def test_the_site_url_check_warns_when_its_host_is_not_allowed(settings):
    settings.ALLOWED_HOSTS = ["evalapp.example.org"]
    settings.SITE_URL = "https://evalapp.example.org"
    assert site_url_check() == []
    settings.SITE_URL = "https://localhost"
    (warning,) = site_url_check()
    assert warning.id == "annotation.W001"
    assert "'localhost' is not in ALLOWED_HOSTS" in warning.msg
    settings.ALLOWED_HOSTS = [".example.org"]
    settings.SITE_URL = "https://evalapp.example.org:8443"
    assert site_url_check() == []
