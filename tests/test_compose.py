"""docker-compose.yml cannot be started here (no Docker engine); check its shape instead."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS = (ROOT / "evalapp" / "settings.py").read_text()


def test_the_stack_has_every_service_with_health_checks():
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker"}
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
