"""Production defaults: with DEBUG=0 and only a SECRET_KEY, plain http is redirected to https
(except /healthz, the orchestrator's probe), and every page carries HSTS, a strict
Content-Security-Policy, nosniff, a frame denial and a referrer policy. The pages satisfy that
policy in Chromium; the compose file's environment passes `check --deploy`."""

import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from annotation import services
from annotation.models import TaskRun
from tests.factories import UserFactory, submit_rated
from tests.support.browser import BROWSER_MARKS, CspViolation, browser_page, log_in
from tests.support.worker import ROOT, free_port

CSP_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def directives(header: str) -> dict[str, str]:
    parts = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in parts}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, headers: dict | None = None) -> tuple[int, dict]:
    """A plain http request as a browser or a probe sends it; redirects are not followed."""
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory) -> Path:
    """Where a production server keeps its files, with the static files collected (as the
    image's build does): pages name them by their hashed names. The API docs' and the
    admin's are left out, for speed."""
    var = tmp_path_factory.mktemp("var")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"]
        + ["-i", "drf_spectacular_sidecar", "-i", "admin", "-i", "rest_framework"],
        cwd=ROOT,
        env=production_env(var),
        check=True,
    )
    return var


def production_env(var: Path) -> dict[str, str]:
    """DEBUG=0 and nothing else set but a long random SECRET_KEY, and where files go."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(var),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "EVALAPP_VAR_DIR": str(var),
        "CELERY_BROKER_DIR": str(var / "broker"),
    }


@contextmanager
def production_server(var: Path, **extra: str) -> Iterator[str]:
    """The app with the production defaults (production_env), served on loopback over plain
    http, as gunicorn is behind the proxy."""
    port = free_port()
    env = {**production_env(var), **extra}
    log = var / f"server-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                fetch(f"{url}/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_plain_http_is_redirected_to_https_but_the_health_check_is_not(var_dir):
    with production_server(var_dir) as url:
        status, headers = fetch(f"{url}/accounts/login/?next=/rate/")
        assert status == 301
        assert headers["Location"] == f"https{url[4:]}/accounts/login/?next=/rate/"
        # The orchestrator probes gunicorn over http inside the container network.
        status, _ = fetch(f"{url}/healthz")
        assert status == 200


def test_behind_the_tls_proxy_a_page_carries_every_security_header(var_dir):
    with production_server(var_dir, SECURE_PROXY_SSL_HEADER="1") as url:
        status, headers = fetch(f"{url}/accounts/login/", {"X-Forwarded-Proto": "https"})
        assert status == 200
        hsts = headers["Strict-Transport-Security"]
        assert hsts == "max-age=31536000; includeSubDomains; preload"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert directives(headers["Content-Security-Policy"]) == CSP_DIRECTIVES
        assert "Secure" in headers["Set-Cookie"]  # the CSRF cookie travels over https only
        # The proxy's header is what says https: a request that reached the proxy over http
        # (the proxy says so) is redirected like any other.
        status, _ = fetch(f"{url}/accounts/login/", {"X-Forwarded-Proto": "http"})
        assert status == 301


def test_the_compose_files_environment_passes_check_deploy():
    result = subprocess.run(
        [str(ROOT / "scripts" / "check-deploy")], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_fails_on_a_compose_file_that_turns_secure_cookies_off(tmp_path):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    compose["x-app"]["environment"]["SECURE_COOKIES"] = "0"
    compose["services"]["web"]["environment"] = compose["x-app"]["environment"]
    unsafe = tmp_path / "docker-compose.yml"
    unsafe.write_text(yaml.safe_dump(compose))
    result = subprocess.run(
        [str(ROOT / "scripts" / "check-deploy"), str(unsafe)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "security.W012" in result.stderr + result.stdout  # SESSION_COOKIE_SECURE


# --- The pages satisfy the policy in Chromium ----------------------------------------------


def in_chromium(test):
    for mark in BROWSER_MARKS:
        test = mark(test)
    return test


def rated_and_computed(study) -> None:
    """Every item answered and submitted, and the statistics computed: the dashboard shows
    its distribution bars and submits per day."""
    question = study.questions.get()
    for n, assignment in enumerate(study.assignments.all()):
        services.rating_save(assignment=assignment, question=question, answer=1 + n % 5)
    submit_rated(study)
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))


@in_chromium
def test_the_main_pages_load_in_chromium_without_a_csp_violation(
    live_server, open_study, study_admin, raters, appraisal, assessors
):
    rated_and_computed(open_study)
    staff = UserFactory(username="operator", is_staff=True, is_superuser=True)
    study, report = open_study.token, appraisal.token
    # Each page, and what shows that it was drawn (its scripts ran, its styles applied).
    visits = {
        raters[0].username: [("/rate/", "main"), (f"/rate/{study}/", "form")],
        study_admin.username: [
            (f"/studies/{study}/", "svg.bars rect.bar-1"),
            (f"/studies/{study}/", "svg.sparkbars rect"),
            (f"/studies/{study}/comments/", "main"),
            ("/account/token/", "main"),
            ("/api/v1/docs/", "#swagger-ui .opblock"),
            ("/api/v1/redoc/", "#redoc-container h1, redoc h1"),
        ],
        assessors[0].username: [
            (f"/reports/{report}/", "main"),
            (f"/reports/{report}/export.html", "button[data-print]"),
        ],
        staff.username: [("/admin/", "#content"), ("/admin/annotation/study/", "#changelist")],
    }
    # Redoc asks its maker's CDN for a logo: refused, as no page here calls another site.
    logo = ["https://cdn.redoc.ly/redoc/logo-mini.svg"]
    for username, pages in visits.items():
        with browser_page(live_server.url, refusals_expected=logo) as page:
            log_in(page, username)
            for path, drawn in pages:
                page.goto(path)
                page.wait_for_selector(drawn, state="attached")
                page.wait_for_load_state("networkidle")
                assert page.url.startswith(live_server.url), page.url
            if username == assessors[0].username:  # the print view's own styles applied
                font = page.evaluate("() => getComputedStyle(document.body).fontFamily")
                assert font.startswith("Georgia"), font
        # Here browser_page raised CspViolation, had any of those pages broken the policy.


def page_with_injected_style(base_url: str, seen: list[str]) -> None:
    with browser_page(base_url) as page:
        page.goto("/accounts/login/")
        page.evaluate(
            """() => document.body.insertAdjacentHTML(
                'beforeend', '<p id="injected" style="color: red">injected</p>')"""
        )
        seen.append(page.evaluate("() => getComputedStyle(injected).color"))


@in_chromium
def test_an_injected_inline_style_is_refused_and_fails_the_browser_test(live_server):
    seen: list[str] = []
    with pytest.raises(CspViolation, match="style-src-attr refused inline"):
        page_with_injected_style(live_server.url, seen)
    assert seen == ["rgb(29, 38, 48)"]  # the page's ink (app.css), not the injected red
