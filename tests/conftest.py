"""Shared fixtures: users in every role, a study built through the real services, a real Celery
worker process on the configured broker, and a local OpenAI-compatible server."""

import os
import socket
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.utils import timezone, translation

from annotation import services
from annotation.models import Attachment, Invitation, Result, Study, TaskRun
from annotation.services.external_ratings import study_import_ratings
from annotation.sso.provider import discovery_forget
from checklists import services as checklist_services
from checklists.models import ChecklistDefinition, Report
from tests.factories import UserFactory
from tests.support.fake_llm import FakeLLMServer
from tests.support.oidc_server import CLIENT_ID, OidcProvider
from tests.support.vanveen import as_long_csv, vanveen_rows
from tests.support.worker import start_worker, stop_worker, worker_settle

ROOT = Path(__file__).resolve().parent.parent

# pytest-django empties a transactional test's database with `flush`, which the audit log's
# PostgreSQL trigger refuses unless this is set (evalapp.db.postgresql; docs/audit.md).
django_settings.AUDIT_LOG_FLUSHABLE = True
# Tests that migrate back past the audit trail's migration (0048) drop a throwaway log, which
# the migration otherwise refuses while it has entries (docs/audit.md).
os.environ["AUDIT_LOG_DROP_ON_ROLLBACK"] = "1"

STUDY_ROWS = (Path(__file__).parent / "data" / "study.csv").read_bytes()


@pytest.fixture
def study_admin(db):
    user = UserFactory(username="studyadmin")
    group, _ = Group.objects.get_or_create(name="Study admins")
    group.permissions.add(Permission.objects.get(codename="add_study"))
    user.groups.add(group)
    return user


@pytest.fixture
def raters(db):
    return [UserFactory(username=f"rater{i}") for i in range(1, 4)]


@pytest.fixture
def rater(raters):
    return raters[0]


@pytest.fixture
def rater_client(client, rater):
    client.force_login(rater)
    return client


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


def study_drafted(admin, raters, title: str = "Summaries of patient questions") -> Study:
    """The draft behind `draft_study`: tests/data/study.csv, two raters per item, seed 1234."""
    study = services.study_create(
        creator=admin,
        title=title,
        raters_per_item=2,
        question_prompt="How well does the summary capture the question?",
        seed=1234,
    )
    services.study_import_file(study=study, filename="study.csv", content=STUDY_ROWS)
    services.study_add_raters(study=study, users=raters)
    return study


@pytest.fixture
def draft_study(study_admin, raters) -> Study:
    return study_drafted(study_admin, raters)


@pytest.fixture
def open_study(draft_study) -> Study:
    services.study_open(study=draft_study)
    draft_study.refresh_from_db()
    return draft_study


@pytest.fixture
def mi_claim(db) -> ChecklistDefinition:
    checklist_services.checklists_load(paths=checklist_services.definition_files_shipped())
    return ChecklistDefinition.objects.get(slug="mi-claim-gen")


@pytest.fixture
def assessors(db):
    return [UserFactory(username=f"assessor{i}") for i in (1, 2)]


@pytest.fixture
def appraisal(mi_claim, assessors) -> Report:
    """An MI-CLAIM-GEN appraisal by two assessors, led by someone who only coordinates."""
    report = checklist_services.report_create(
        lead=UserFactory(username="lead"),
        definition=mi_claim,
        title="Adapted LLMs summarise patient questions",
        lead_assesses=False,
    )
    for user in assessors:
        checklist_services.report_add_assessor(report=report, user=user)
    return report


@pytest.fixture
def fake_llm():
    with FakeLLMServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _english_between_tests():
    """Each test starts in English. A request through the test client activates its language
    (LocaleMiddleware) in this thread and nothing resets it, so a German page in one test
    made the next test's service messages German (test_sso after test_checklist_i18n)."""
    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fast_test_settings(settings):
    # A deliberately slow password hash is the point in production and pure cost in tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Hashed file names need `collectstatic`; tests serve static files straight from the finders.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Keep retry backoff short so fault-injection tests take milliseconds, not seconds.
    settings.LLM_BACKOFF_FACTOR = 0.01
    settings.LLM_REQUEST_TIMEOUT = 2.0
    # The fake endpoint listens on loopback, which production refuses unless named.
    settings.LLM_PRIVATE_HOSTS_ALLOWED = ["127.0.0.1"]
    # The tests' sources call that fake endpoint without a connection: a keyless host the
    # operator allows (none by default).
    settings.LLM_KEYLESS_HOSTS = ["127.0.0.1"]
    # A cache of its own for each test (throttle counts; with Redis configured, as on CI, the
    # sessions and users too), never the Redis CI shares.
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"test-{uuid.uuid4().hex}",
        }
    }
    if "sessions" in settings.CACHES:
        caches["sessions"] = {**caches["default"], "LOCATION": f"test-s-{uuid.uuid4().hex}"}
    settings.CACHES = caches


def _worker_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `celery worker` process on the configured broker, reading the test database.

    Tests using it need committed data: mark them django_db(transaction=True).
    """
    from evalapp.celery import app

    queue = f"evalapp-test-{uuid.uuid4().hex[:8]}"
    # Jobs are queued to the setting's queue (evalapp.task_queue); a test's own `.delay` goes
    # through Celery, which reads it under its Django name (namespace CELERY) first.
    django_settings.CELERY_TASK_DEFAULT_QUEUE = queue
    app.conf["CELERY_TASK_DEFAULT_QUEUE"] = queue
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with django_db_blocker.unblock():
        env = {
            "DATABASE_URL": _worker_database_url(),
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "LLM_BACKOFF_FACTOR": "0.01",
            "LLM_REQUEST_TIMEOUT": "2",
            "LLM_PRIVATE_HOSTS_ALLOWED": "127.0.0.1",
        }
    process = start_worker(env, log, queue)
    _session_worker.update(app=app, name=f"{queue}@{socket.gethostname()}", queue=queue)
    try:
        yield process
    finally:
        _session_worker.clear()
        stop_worker(process)


_session_worker: dict = {}


@pytest.fixture(autouse=True)
def _session_worker_idle_before_the_flush(request):
    # Torn down before pytest-django empties a transactional test's database (its autouse
    # fixture is set up first): a job the test queued for the session's worker ends first, as
    # PostgreSQL's TRUNCATE and the job's reads can deadlock (it failed one CI run). SQLite's
    # flush waits for the job's lock instead, and the filesystem broker answers the worker's
    # status only once a second, so there the check is left out.
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or any(
        name in request.fixturenames for name in ("live_server", "transactional_db")
    )
    settle = transactional and _session_worker and connection.vendor == "postgresql"
    if settle and not worker_settle(**_session_worker):
        pytest.fail(f"the session's worker was still busy 60 s after {request.node.name}")


@pytest.fixture
def vanveen_study(study_admin) -> Study:
    study = services.study_create(
        creator=study_admin,
        title="Van Veen et al. 2024, patient questions",
        question_prompt="unused",
        design=Study.Design.PAIRWISE,
    )
    services.questions_add_template(study=study, name="vanveen")
    services.question_remove(study=study, key="preference")
    return study


@pytest.fixture
def imported(vanveen_study) -> Study:
    count = study_import_ratings(
        study=vanveen_study, filename="vanveen.csv", content=as_long_csv(vanveen_rows())
    )
    assert count == 1496
    vanveen_study.refresh_from_db()
    return vanveen_study


@pytest.fixture
def api_world(open_study, study_admin, raters, outsider, mi_claim, settings, tmp_path):
    """One of everything each endpoint can name, and each caller's token."""
    settings.EXPORT_DIR = tmp_path
    rater = raters[0]
    source = open_study.sources.order_by("label").first()
    judge = services.judge_create(
        study=open_study, label="judge", base_url="http://127.0.0.1:9/v1", model_name="m"
    )
    question = open_study.questions.get()
    result = Result.objects.create(
        study=open_study,
        question=question,
        statistic="alpha",
        value=0.5,
        n_units=1,
        n_raters=2,
        n_ratings=2,
        detail={"ci": [0.1, 0.9]},
        inputs_hash="0" * 64,
        computed_at=timezone.now(),
    )
    bundle = TaskRun.objects.create(
        study=open_study,
        kind=TaskRun.Kind.EXPORT_BUNDLE,
        status=TaskRun.Status.SUCCEEDED,
        finished_at=timezone.now(),
    )
    services.bundle_path(bundle).write_bytes(b"PK\x05\x06" + b"\0" * 18)
    report = checklist_services.report_create(
        lead=study_admin, definition=mi_claim, title="Our paper", lead_assesses=True
    )
    own = report.assessments.get(assessor=study_admin)
    invitation = Invitation.objects.create(
        study=open_study, email="invited@example.org", created_by=study_admin
    )
    mine = open_study.assignments.filter(rater=rater, kind="study").order_by("position").first()
    image = Attachment.objects.create(
        case=mine.item.output.case,
        position=0,
        name="Model-A-view.png",
        content_type="image/png",
        width=1,
        height=1,
        sha256="0" * 64,
        data=b"\x89PNG\r\n\x1a\n",
    )
    return {
        "users": {"outsider": outsider, "rater": rater, "admin": study_admin},
        "study": open_study,
        "path": {
            "study_token": open_study.token,
            "id": {
                "sources": source.pk,
                "cases": open_study.cases.first().pk,
                "outputs": source.outputs.first().pk,
                "judges": judge.pk,
                "results": result.pk,
                "tasks": bundle.pk,
                "invitations": invitation.pk,
            },
            "key": question.key,
            "assignment": open_study.assignments.filter(rater=raters[1]).first().token,
            "own_item": mine.token,
            "image_token": image.token,
            "slug": "mi-claim-gen",
            "token": report.token,
            "assessment_token": own.token,
            "code": "1.5",
            "fmt": "json",
        },
        "question": question,
    }


@pytest.fixture(scope="session")
def oidc_provider(live_server, tmp_path_factory):
    """A real OpenID Connect provider (django-oauth-toolkit) in a process of its own, with its
    own SQLite database, for the whole session; evalapp's live server is its registered client."""
    provider = OidcProvider(
        redirect_base=live_server.url, data_dir=tmp_path_factory.mktemp("oidc-provider")
    )
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture
def sso_on(settings):
    """Single sign-on with every endpoint set by hand, at a provider no test reaches."""
    settings.OIDC_RP_CLIENT_ID = "evalapp"
    settings.OIDC_RP_CLIENT_SECRET = "s3cret"
    settings.OIDC_ISSUER = ""
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "https://idp.example/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = "https://idp.example/token"
    settings.OIDC_OP_JWKS_ENDPOINT = "https://idp.example/jwks"
    settings.OIDC_OP_LOGOUT_ENDPOINT = "https://idp.example/logout"
    discovery_forget()
    yield settings
    discovery_forget()


@pytest.fixture
def sso_settings(settings, oidc_provider):
    """evalapp signing in with the test provider, found through its discovery document."""
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = oidc_provider.client_secret
    settings.OIDC_ISSUER = oidc_provider.issuer
    settings.OIDC_ADMIN_CLAIM = "groups"
    settings.OIDC_ADMIN_VALUES = ["evalapp-admins"]
    settings.OIDC_PROVIDER_NAME = "Contoso Health"
    discovery_forget()
    yield settings
    discovery_forget()
