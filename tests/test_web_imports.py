"""The web process loads no numpy, scipy, matplotlib or pandas (nor Pillow, pyreadstat or
krippendorff) until a view that needs them runs (issue 22): together they take some 200 MB in
every gunicorn worker, and only the worker's statistics, the bundle, image imports and a few
figure and planning requests use them.

This test process has loaded them all, so the check runs in fresh interpreters on an SQLite
file of their own: one builds a small study, its stored statistics and a checklist appraisal
(numpy allowed: it is the worker's work); another, as the web would, sets Django up, loads the
view of every URL pattern and serves the pages an admin and a rater use most, recording who
imports each heavy module first, then draws a figure, which must load matplotlib. gunicorn's
master loads the application and every view before forking the workers (gunicorn.conf.py), so
what it loads is in every worker: a third checks that too, and that it leaves the workers no
database connection to share.

Nor does the web load what only single sign-on's callback needs (LAZY): mozilla-django-oidc's
backend with PyJWT and cryptography, about 10 MB a process, which Django would load with every
password sign-in and permission check (annotation.sso.oidc); nor the HTTP client that only the
worker calls models with, and single sign-on reads the provider with (requests, urllib3 and
charset_normalizer, about 6 MB a process: annotation.core.llm_http), which DRF would import for
its test client (evalapp.apps); nor Celery (some 4 MB), the web queuing jobs by name with kombu
(evalapp.task_queue). A password sign-in, the admin's pages, the API and a submit, which queues
the statistics' recomputation, are served before checking.
"""

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "scipy", "matplotlib", "pandas", "PIL", "pyreadstat", "krippendorff")
LAZY = (
    "mozilla_django_oidc.auth",
    "jwt",
    "cryptography.hazmat",
    "requests",
    "urllib3",
    "charset_normalizer",
    "celery",
)
ADMIN, RATERS = "imports-admin", ("imports-rater1", "imports-rater2", "imports-rater3")


def _watched(fullname: str) -> str | None:
    """The name in HEAVY or LAZY that `fullname` is, or is inside of."""
    for name in HEAVY + LAZY:
        if fullname == name or fullname.startswith(name + "."):
            return name
    return None


class _FirstImports:
    """A finder that never finds anything: it notes, for each watched module, the stack of our
    own code at the moment something first asks for it, so a failure names the import chain."""

    def __init__(self) -> None:
        self.chains: dict[str, list[str]] = {}

    def find_spec(self, fullname: str, path=None, target=None) -> None:
        name = _watched(fullname)
        if name is not None and name not in self.chains:
            self.chains[name] = [
                f"{Path(frame.filename).relative_to(ROOT)}:{frame.lineno} ({frame.name})"
                for frame in traceback.extract_stack()[:-1]
                if frame.filename.startswith(str(ROOT)) and "/.venv/" not in frame.filename
            ]


def _lazy_loaded() -> set[str]:
    return {name for name in LAZY if name in sys.modules}


def _django() -> None:
    import django

    django.setup()


def seed() -> None:
    """Child process: migrate the SQLite file, and build a rated study whose statistics are
    stored, with one assignment left to answer, and a checklist appraisal."""
    _django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from annotation import services
    from annotation.models import TaskRun
    from checklists import services as checklist_services
    from checklists.models import ChecklistDefinition

    call_command("migrate", verbosity=0)
    users = get_user_model().objects
    admin = users.create_superuser(ADMIN, password="unused")
    raters = [users.create_user(name, password="unused") for name in RATERS]
    study = services.study_create(
        creator=admin, title="Imports", raters_per_item=2, question_prompt="Quality?", seed=7
    )
    rows = (ROOT / "tests" / "data" / "study.csv").read_bytes()
    services.study_import_file(study=study, filename="study.csv", content=rows)
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    question = study.questions.get()
    assignments = list(study.assignments.order_by("pk"))
    for n, assignment in enumerate(assignments[:-1]):  # the last one stays for the rater
        services.rating_save(assignment=assignment, question=question, answer=1 + n % 5)
        services.assignment_submit(assignment=assignment)
    run = TaskRun.objects.get(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT, status="queued")
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    checklist_services.checklists_load(paths=checklist_services.definition_files_shipped())
    report = checklist_services.report_create(
        lead=admin,
        definition=ChecklistDefinition.objects.get(slug="mi-claim-gen"),
        title="Appraisal",
    )
    print(json.dumps({"results": study.results.count(), "report": report.token}))


def serve() -> None:
    """Child process: what a web worker does, then a figure; prints what loaded, and where."""
    first = _FirstImports()
    sys.meta_path.insert(0, first)
    _django()
    before_client = _lazy_loaded()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment
    from django.urls import URLResolver, get_resolver

    # The test client's own (django.test): the master's check below sees the web without it.
    client_loaded = _lazy_loaded() - before_client

    from annotation.models import Assignment, Study
    from checklists.models import Report

    def callbacks(patterns) -> list:
        found = []
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                found += callbacks(pattern.url_patterns)
            else:
                found.append(pattern.callback)
        return found

    views = callbacks(get_resolver().url_patterns)
    for view in views:
        __import__(view.__module__)
    setup_test_environment()  # the test client's host, and mail kept in memory
    storage = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    users = get_user_model().objects
    study = Study.objects.get()
    waiting = Assignment.objects.get(study=study, submitted_at__isnull=True)
    admin, rater = Client(), Client()
    admin.force_login(users.get(username=ADMIN))
    rater.force_login(waiting.rater)
    item = f"/rate/{study.token}/{waiting.token}/"
    pages = {
        "study list": (admin, "get", "/studies/"),
        "dashboard": (admin, "get", f"/studies/{study.token}/"),
        "checklist report": (admin, "get", f"/reports/{Report.objects.get().token}/"),
        "API study list": (admin, "get", "/api/v1/studies/"),
        "API study": (admin, "get", f"/api/v1/studies/{study.token}/"),
        "rater home": (rater, "get", "/rate/"),
        "item page": (rater, "get", item),
        "save": (rater, "post", item, {"question": "overall", "answer": "4"}),
        "submit": (rater, "post", f"{item}submit/"),
        "review": (rater, "get", f"/rate/{study.token}/review/"),
        # Django makes every listed backend for a password sign-in and a permission check.
        "password sign-in": (
            Client(),
            "post",
            "/accounts/login/",
            {"username": RATERS[1], "password": "unused"},
        ),
        "admin site": (admin, "get", "/admin/"),
    }
    messages = settings.BROKER_DIR / "queue"  # the filesystem broker's, one file a message
    queued_before = len(list(messages.iterdir()))
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": storage}):
        status = {
            name: getattr(c, verb)(*args).status_code for name, (c, verb, *args) in pages.items()
        }
        loaded = {name: first.chains.get(name, []) for name in HEAVY if name in sys.modules}
        lazy = {name: first.chains.get(name, []) for name in _lazy_loaded() - client_loaded}
        drawn = admin.get(f"/studies/{study.token}/figures/overall-agreement.svg")
        schema = admin.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    report = {
        "views": len(views),
        "status": status,
        "loaded": loaded,
        "saved": waiting.ratings.get().value,
        "messages_queued": len(list(messages.iterdir())) - queued_before,
        "figure": drawn.status_code,
        "figure_loaded": sorted(name for name in HEAVY if name in sys.modules),
        "lazy_loaded": lazy,
        "schema": schema.status_code,
        "schema_body": schema.content.decode(),
        "schema_loaded": sorted(_lazy_loaded()),
    }
    print(json.dumps(report))


def _view_modules(patterns) -> set[str]:
    """The modules of every view the URL patterns name."""
    from django.urls import URLResolver

    found = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found |= _view_modules(pattern.url_patterns)
        else:
            found.add(pattern.callback.__module__)
    return found


class _Arbiter:
    """What `pre_fork` reads of gunicorn's arbiter: its settings."""

    def __init__(self, preload_app: bool) -> None:
        self.cfg = type("Config", (), {"preload_app": preload_app})()


def master_default() -> None:
    """Child process: gunicorn's master as configured (gunicorn.conf.py), forking a worker;
    then what the worker does as it starts: load the application, then its hook."""
    import runpy

    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config["pre_fork"](_Arbiter(config["preload_app"]), None)
    in_master = sorted(m for m in ("django.db", "django.urls") if m in sys.modules)
    from django.urls import get_resolver

    import evalapp.wsgi  # noqa: F401 (the worker loads the application)

    before_hook = set(sys.modules)
    config["post_worker_init"](None)

    views = _view_modules(get_resolver().url_patterns)
    report = {
        "preload": config["preload_app"],
        "django_loaded": in_master,
        "views_loaded_by_the_hook": len(views - before_hook),
        "views_not_loaded": sorted(views - set(sys.modules)),
    }
    print(json.dumps(report))


def master() -> None:
    """Child process: what gunicorn's master does before its first fork when started with
    --preload (gunicorn.conf.py), with a database connection open as the application's import
    could have left one."""
    import gc
    import runpy

    first = _FirstImports()
    sys.meta_path.insert(0, first)
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    from django.db import connections
    from django.urls import get_resolver

    import evalapp.wsgi  # noqa: F401 (--preload: the master imports the application)

    connections["default"].ensure_connection()
    config["pre_fork"](_Arbiter(True), None)
    config["pre_fork"](_Arbiter(True), None)  # once per worker: the later calls do nothing
    loaded = set(sys.modules)

    views = _view_modules(get_resolver().url_patterns)
    report = {
        "views": len(views),
        "views_not_loaded": sorted(views - loaded),
        "open_connections": [c.alias for c in connections.all() if c.connection is not None],
        "frozen": gc.get_freeze_count(),
        "loaded": {name: first.chains.get(name, []) for name in HEAVY if name in sys.modules},
        "lazy_loaded": {name: first.chains.get(name, []) for name in _lazy_loaded()},
    }
    print(json.dumps(report))


def _child(step: str, folder: Path) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "evalapp.settings",
        "PYTHONPATH": str(ROOT),
        # Its own database, broker and cache: nothing it queues may reach a shared worker.
        "DATABASE_URL": f"sqlite:///{folder / 'web.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_DIR": str(folder / "broker"),
        "CACHE_URL": "locmem://",
    }
    done = subprocess.run(
        [sys.executable, "-c", f"from tests.test_web_imports import {step}; {step}()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_web_process_loads_no_numerical_library_until_a_figure_is_drawn(tmp_path):
    seeded = _child("seed", tmp_path)
    assert seeded["results"] > 0  # the dashboard shows stored statistics

    served = _child("serve", tmp_path)

    assert served["views"] > 100  # every URL pattern's view was loaded
    assert served["status"] == {
        "study list": 200,
        "dashboard": 200,
        "checklist report": 200,
        "API study list": 200,
        "API study": 200,
        "rater home": 200,
        "item page": 200,
        "save": 302,  # back to the item page, the answer saved
        "submit": 302,  # on to the next page, the recomputation queued
        "review": 200,
        "password sign-in": 302,
        "admin site": 200,
    }
    assert served["saved"] == 4
    assert served["messages_queued"] >= 1  # the submit's recomputation, sent without Celery
    chains = "\n".join(f"{name}: " + " -> ".join(chain) for name, chain in served["loaded"].items())
    assert served["loaded"] == {}, f"imported by the web process:\n{chains}"
    # The control: drawing a figure does load matplotlib, in the same process, so the check
    # above would have seen it had any page drawn one.
    assert served["figure"] == 200
    assert "matplotlib" in served["figure_loaded"]


def _chains(loaded: dict) -> str:
    return "\n".join(f"{name}: " + " -> ".join(chain) for name, chain in loaded.items())


def test_web_process_loads_the_sso_exchange_only_at_a_callback(
    tmp_path,
):
    _child("seed", tmp_path)

    served = _child("serve", tmp_path)

    assert served["status"]["password sign-in"] == 302  # signed in: every backend was made
    assert served["status"]["admin site"] == 200  # permission checks, every backend's too
    assert served["status"]["API study list"] == 200  # the viewsets, through DRF's router
    lazy = served["lazy_loaded"]
    assert lazy == {}, f"imported by the web process:\n{_chains(lazy)}"
    # The schema, made in the same process, still holds every view's annotations (the
    # study's creation takes its own serializer).
    assert served["schema"] == 200
    schema = json.loads(served["schema_body"])
    creation = schema["paths"]["/api/v1/studies/"]["post"]["requestBody"]["content"]
    assert creation["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StudyCreateRequest"
    }


def test_gunicorns_master_loads_no_application_by_default(tmp_path):
    # Each worker loads its own: the RSS sum over the tree is then the 300 MB or less
    # (gunicorn.conf.py, docs/benchmarks.md).
    done = _child("master_default", tmp_path)

    assert done["preload"] is False
    assert done["django_loaded"] == []
    # Each worker imports every view as it starts, not while serving its first request.
    assert done["views_loaded_by_the_hook"] > 10
    assert done["views_not_loaded"] == []


def test_gunicorns_master_with_preload_loads_every_view_but_no_numerical_library_or_connection(
    tmp_path,
):
    done = _child("master", tmp_path)

    assert done["views"] > 10  # the view modules of every URL pattern, all imported
    assert done["views_not_loaded"] == []
    assert done["open_connections"] == []  # closed before the fork, not shared by the workers
    assert done["frozen"] > 10_000  # the master's objects, out of the workers' collections
    chains = "\n".join(f"{name}: " + " -> ".join(chain) for name, chain in done["loaded"].items())
    assert done["loaded"] == {}, f"imported by gunicorn's master, so in every worker:\n{chains}"
    lazy = done["lazy_loaded"]
    assert lazy == {}, f"imported by gunicorn's master, so in every worker:\n{_chains(lazy)}"
