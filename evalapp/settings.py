"""evalapp settings: every knob comes from the environment, with safe local defaults.

Locally nothing needs a server: SQLite under var/ and a filesystem broker. Point DATABASE_URL and
CELERY_BROKER_URL at PostgreSQL and Redis for anything shared (see docs/deployment.md).
"""

import os
import secrets
import sys
import tomllib
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EVALAPP_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


DEBUG = env_bool("DEBUG", False)
# `manage.py agreement` and `plan_study` read a CSV and print statistics: they serve, sign and store
# nothing, so they run without a secret (the README's command lines on a fresh clone), with a
# random key that dies with the process. Every other command and the web server still refuse.
SECRETLESS_COMMANDS = ("agreement", "plan_study", "mrmc")
SECRETLESS_COMMAND = Path(sys.argv[0]).name == "manage.py" and any(
    sys.argv[1:2] == [name] for name in SECRETLESS_COMMANDS
)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not SECRETLESS_COMMAND:
        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=1 for a local, throwaway key).")
    SECRET_KEY = (
        "insecure-local-development-key-do-not-deploy" if DEBUG else secrets.token_urlsafe(50)
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # intcomma: a job's count at a million ("180,056 / 1,000,000") in the dashboard.
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "csp",
    "annotation",
    "checklists",
    # Forgets a cached signed-in user when their row changes (evalapp.auth_cache).
    "evalapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "evalapp.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The page's language: the switcher's cookie, else the browser's Accept-Language, else
    # LANGUAGE_CODE. After the sessions (as Django asks), before CommonMiddleware.
    "django.middleware.locale.LocaleMiddleware",
    # ... except the REST API, which stays English; and the cookie for a signed-in user's
    # stored language, set at sign-in (annotation/views/language.py).
    "evalapp.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who acts and from where, for the audit trail: after the user is known.
    "evalapp.middleware.AuditActingMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "evalapp.urls"
WSGI_APPLICATION = "evalapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # The dashboard's charts as SVG (no inline style for the Content-Security-Policy).
            "libraries": {"charts": "evalapp.charts", "modules": "evalapp.modules"},
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'evalapp.sqlite3'}"),
        # Persistent connections: opening one costs each request more than its queries do.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# Server-side parameters, so that psycopg prepares a statement the fifth time a connection runs
# it: the rater pages' joins cost more to plan (about 1 ms) than to run (0.2 ms).
POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if POSTGRES and env_bool("DATABASE_PREPARED_STATEMENTS", True):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=5
    )
if POSTGRES:
    # The same backend, with bulk inserts and cascade deletes split to fit the 65,535
    # parameters a server-side bound statement can take, and a flush that can empty the
    # audit log where AUDIT_LOG_FLUSHABLE allows it (below).
    DATABASES["default"]["ENGINE"] = "evalapp.db.postgresql"
# `manage.py flush` empties every table; on PostgreSQL the audit log refuses TRUNCATE
# (docs/audit.md), so a flush fails unless this is set. The test suite sets it; a production
# database should never need it.
AUDIT_LOG_FLUSHABLE = env_bool("AUDIT_LOG_FLUSHABLE", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker are separate processes sharing one file: wait for locks
    # instead of failing, and give tests a file (not :memory:) that a worker process can open.
    # IMMEDIATE: a transaction takes the write lock when it begins, so two that read and then
    # write (two tabs saving one answer) queue for the lock instead of one failing with
    # "database is locked", which the busy timeout cannot prevent for deferred transactions.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    # One test database per test run (by process id), so two runs at once do not collide.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-evalapp-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"

# Password guessing (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one user name,
# or from one address, that user name and that address are refused (429, the lockout page) for
# AXES_COOLOFF_MINUTES, even with the right password. Its backend comes first so that a locked
# out login is refused before a password is checked. Attempts are rows in the database, which
# every web process shares; staff unlock in the admin ("Access attempts") or with
# `manage.py axes_reset_username <name>` / `axes_reset_ip <address>` (docs/deployment.md).
# Then ModelBackend, whose get_user reads the signed-in user from the cache when that is shared
# (USER_CACHE_SECONDS below); the plain ModelBackend after it only keeps sessions signed in
# before it was listed.
# With LOCAL_PASSWORDS=0, annotation.sso.backends.LocalPasswordsBackend refuses a password
# to all but superusers before it is checked; OidcBackend (listed always, idle unless single
# sign-on is configured) takes only the provider's answer to a sign-in, never a password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "annotation.sso.backends.LocalPasswordsBackend",
    "evalapp.auth_cache.CachedModelBackend",
    "django.contrib.auth.backends.ModelBackend",
    "annotation.sso.backends.OidcBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10)
# No start-up banner on stderr: every management command (`agreement` among them) would print it.
AXES_VERBOSE = False
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Not True: a success would delete every count for its user name and for its address, so one
# who guesses another's password could clear the count by logging in to an account of their own.
AXES_RESET_ON_SUCCESS = False
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# 429 with templates/registration/locked_out.html, which says for how long.
AXES_LOCKOUT_CALLABLE = "annotation.views.account.login_locked_out"
# Behind a reverse proxy every request comes from the proxy: the client's address is then read
# from X-Forwarded-For, counting NUM_PROXIES hops from the right (the same rule as the API's
# throttles), so a client cannot choose its own address by sending the header itself.
NUM_PROXIES = env_int("NUM_PROXIES", 0)
AXES_CLIENT_IP_CALLABLE = "evalapp.api.client_address"
# Single sign-ons are neither stopped nor counted by django-axes (annotation.sso.backends).
AXES_WHITELIST_CALLABLE = "annotation.sso.backends.axes_skips_sso"

# Single sign-on with an OpenID Connect provider (Entra ID, Okta, Keycloak...; docs/deployment.md,
# "Single sign-on"): off unless OIDC_RP_CLIENT_ID is set. The provider's endpoints come from its
# discovery document at OIDC_ISSUER, read at the first sign-in (never at start-up) and kept for
# an hour, unless each is named in OIDC_OP_*_ENDPOINT. `manage.py check` reports a half-done
# configuration. The redirect URI to register with the provider is https://<host>/oidc/callback/.
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").rstrip("/")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_OP_LOGOUT_ENDPOINT = os.environ.get("OIDC_OP_LOGOUT_ENDPOINT", "")
OIDC_RP_SCOPES = os.environ.get("OIDC_RP_SCOPES", "openid email profile")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "RS256")
# Which claim gives the username (kept from the first sign-in) and which the e-mail address.
OIDC_USERNAME_CLAIM = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_EMAIL_CLAIM = os.environ.get("OIDC_EMAIL_CLAIM", "email")
# An address is taken only with `email_verified: true`, unless the operator trusts every address
# the provider sends (a directory whose addresses the organisation's IT assigns, e.g. Entra ID,
# which sends no email_verified).
OIDC_TRUST_UNVERIFIED_EMAIL = env_bool("OIDC_TRUST_UNVERIFIED_EMAIL", False)
# A claim (e.g. groups, roles) holding one of these values makes the account a study admin, and
# its absence takes that away, at every sign-in. Unset: study admins are chosen in evalapp.
OIDC_ADMIN_CLAIM = os.environ.get("OIDC_ADMIN_CLAIM", "")
OIDC_ADMIN_VALUES = env_list("OIDC_ADMIN_VALUES", [])
# The sign-in button says "Sign in with <this>".
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "")
# Signing out of evalapp after a single sign-on also signs out at the provider, when it
# publishes an end_session_endpoint (post_logout_redirect_uri: https://<host>/accounts/login/).
OIDC_PROVIDER_LOGOUT = env_bool("OIDC_PROVIDER_LOGOUT", True)
# Seconds each call to the provider may take.
OIDC_TIMEOUT = env_float("OIDC_TIMEOUT", 10.0)
# The client authenticates at the token endpoint with HTTP Basic (client_secret_basic, which
# every provider must accept); 0 sends the secret in the body (client_secret_post).
OIDC_TOKEN_USE_BASIC_AUTH = env_bool("OIDC_TOKEN_USE_BASIC_AUTH", True)
# PKCE (S256) as well as the client secret; the ID token is kept in the session for sign-out.
OIDC_USE_PKCE = True
OIDC_STORE_ID_TOKEN = True
# Passwords: 0 removes the password form from the sign-in page and refuses a posted password,
# except a superuser's at /admin/ (the way in when the provider is down).
LOCAL_PASSWORDS = env_bool("LOCAL_PASSWORDS", True)

# E-mail (rater invitations, reminders and notices): printed to the console unless a real
# backend is configured; with DEBUG=0 invitations are refused on the console, file and dummy
# backends (the link would land in a log or a file, or nowhere). Reminders and notices carry no
# such link (theirs need a sign-in), so they go through whichever backend is set.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "evalapp <evalapp@localhost>")
# Seconds each step with the mail server may take: without it a server that accepts the
# connection and then says nothing holds a web request or a worker slot forever. At most a
# minute, so that one send fits many times into the reminders' time limit (below).
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 30.0)
if not 0 < EMAIL_TIMEOUT <= 60:
    raise ImproperlyConfigured(f"EMAIL_TIMEOUT={EMAIL_TIMEOUT} must be more than 0 and at most 60")
# Where the file backend (django.core.mail.backends.filebased) writes each e-mail.
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
# An invitation link works this many days after it was sent (counted from then, so changing the
# setting also shortens or lengthens the links already out).
INVITATION_MAX_AGE_DAYS = env_int("INVITATION_MAX_AGE_DAYS", 14)
if INVITATION_MAX_AGE_DAYS < 1:
    raise ImproperlyConfigured("INVITATION_MAX_AGE_DAYS must be at least 1")
# Reminders and notifications (docs/deployment.md): the worker's beat sends them every this many
# seconds, with links to this site. The worker has no request to take the host from, so the
# address people reach the site at is set here.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
if not SITE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"SITE_URL={SITE_URL!r} must start with http:// or https://")
NOTIFICATIONS_BEAT_SECONDS = env_float("NOTIFICATIONS_BEAT_SECONDS", 3600.0)
if NOTIFICATIONS_BEAT_SECONDS <= 0:
    raise ImproperlyConfigured("NOTIFICATIONS_BEAT_SECONDS must be more than 0")
# One beat's sending is stopped after this long (what is left goes at the next beat), and its
# worker process killed a minute later if it is still stuck. An e-mail claimed but left
# "sending" is claimed again only after the kill (services/notifications.py: SENDING_LEASE), so
# a slow send is never sent twice.
NOTIFICATIONS_SOFT_TIME_LIMIT_SECONDS = 600
NOTIFICATIONS_TIME_LIMIT_SECONDS = NOTIFICATIONS_SOFT_TIME_LIMIT_SECONDS + 60
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# The languages of the interface, each named in itself for the switcher (docs/translation.md).
# A code not listed here (in the cookie or in Accept-Language) falls back to LANGUAGE_CODE.
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("es", "Español")]
# One project catalogue (locale/<lang>/LC_MESSAGES/django.po and its compiled .mo, committed).
LOCALE_PATHS = [BASE_DIR / "locale"]
# The switcher's choice, kept for a year; sent over HTTPS only where the session cookie is.
# Dates and numbers follow the language (Django's formats), except English's short dates
# (evalapp/formats/en/formats.py).
FORMAT_MODULE_PATH = ["evalapp.formats"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
# WhiteNoise serves STATIC_ROOT after `collectstatic`; it only has to exist before that.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "evalapp.storage.StaticFilesStorage"
    },
}

# HTTPS. In production the site is served over HTTPS by the reverse proxy (docs/deployment.md):
# cookies travel over HTTPS only, a plain http:// request is redirected, and browsers are told to
# use HTTPS for a year (HSTS, sent on HTTPS responses only). SECURE_COOKIES=0 says the site is
# served over plain http (the test suite's servers; `make run`, DEBUG=1, on loopback): no Secure
# cookies, and no redirect either, which follows it unless SECURE_SSL_REDIRECT says otherwise.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", SESSION_COOKIE_SECURE)
# The orchestrator's health check asks gunicorn directly over http, inside the container network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
# Behind a TLS proxy gunicorn sees plain http: the proxy says the client's scheme in
# X-Forwarded-Proto, which is trusted only when the operator says that a proxy always sets it
# (SECURE_PROXY_SSL_HEADER=1). Without it the redirect would loop, and invitation links would
# go out as http://.
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
# A form posted with a stale CSRF token (signing in renews it) gets a page that says so; the
# background and post-study forms keep the answers typed (docs/consent.md).
CSRF_FAILURE_VIEW = "evalapp.views.csrf_failure"
# Not HttpOnly: the rater page's script reads the CSRF token from the cookie (rater-save.js).
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Rater pages' addresses hold assignment tokens: never sent to another site.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content-Security-Policy (django-csp): scripts, styles, images and requests from this site only;
# no inline script, no inline style (not even a style="" attribute), no plugins, no framing, and
# forms post only here. The API docs pages relax it for their own viewer (evalapp/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# The API takes a token (scripts) or the browser's session (the API pages, htmx); a session
# needs the CSRF token for anything but reads. Token first: an anonymous call gets 401 with
# `WWW-Authenticate: Token`. `Bearer <token>` is accepted too.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "evalapp.api.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Rates far above any script's or page's use; they stop a runaway client, not a user.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "1000/minute"),
        "user": os.environ.get("API_THROTTLE_USER", "20000/minute"),
    },
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON bodies only: a form body would turn a list answer into text. The one upload (a
    # study's import) takes multipart itself.
    "DEFAULT_PARSER_CLASSES": ["evalapp.api.StrictJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "evalapp.api.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

# Imports of cases and outputs are parsed in memory: these bound what one upload may take. A zip
# is unpacked in chunks and stopped at the data limit, whatever its headers claim. Images are
# re-encoded without their metadata; more pixels (every frame of an animation counted) are
# refused. An upload larger than IMPORT_BACKGROUND_BYTES (a zip: unpacked) is stored in the
# database and imported by a worker, with progress on the dashboard; a smaller one at once, in
# the web process.
IMPORT_MAX_UPLOAD_BYTES = env_int("IMPORT_MAX_UPLOAD_BYTES", 500 * 1024**2)
IMPORT_MAX_DATA_BYTES = env_int("IMPORT_MAX_DATA_BYTES", 50 * 1024**2)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 100_000)
IMPORT_MAX_IMAGE_PIXELS = env_int("IMPORT_MAX_IMAGE_PIXELS", 50_000_000)
IMPORT_BACKGROUND_BYTES = env_int("IMPORT_BACKGROUND_BYTES", 2 * 1024**2)
# A study whose outputs times raters (the most assignments opening can make) pass this is opened
# by a worker, with the job under Background jobs: a million assignments take longer to store
# than a web request may last.
OPEN_BACKGROUND_PLACEMENTS = env_int("OPEN_BACKGROUND_PLACEMENTS", 200_000)
# Such a study opens before each rater's assignments are written; a rater who signs in first has
# theirs written in the request, if they are no more than this many (about 3 s on PostgreSQL),
# else is told they are being prepared while the worker writes them.
RATER_ASSIGNMENTS_WRITE_MAX = env_int("RATER_ASSIGNMENTS_WRITE_MAX", 100_000)

# Celery. The default broker is kombu's filesystem transport: a real worker process with no
# server to install. Redis (CELERY_BROKER_URL=redis://...) is what production and CI use.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
BROKER_DIR = Path(os.environ.get("CELERY_BROKER_DIR", VAR_DIR / "broker"))
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A message taken by a worker that then died is handed to another after this long, by the
    # next sweep of a running worker (every CELERY_RESTORE_SWEEP_SECONDS) or a starting one.
    # Longer than a fetch is fine: a copy delivered while the first still runs waits for it
    # (annotation.tasks).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
        "unacked_restore_interval": env_int("CELERY_RESTORE_SWEEP_SECONDS", 10),
        "unacked_restore_throttle": 1,
    }
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "evalapp")
# Progress and results are written to our own tables, so no result backend is needed.
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged only once it has finished: a worker that dies mid-task hands it back.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The beat (one per deployment: `worker -B` locally, a service of its own in docker-compose)
# queues the reminders and notices. A beat the workers could not take in time expires rather
# than piling up behind an outage: the next one does the same work.
CELERY_BEAT_SCHEDULE = {
    "notifications-send": {
        "task": "annotation.tasks.notifications_send",
        "schedule": NOTIFICATIONS_BEAT_SECONDS,
        "options": {"expires": NOTIFICATIONS_BEAT_SECONDS},
    }
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# The cache holds the API's throttle counts, so every web process must share it: Redis (the
# broker's, unless CACHE_URL names another) in production; this process's memory locally.
CACHE_URL = os.environ.get(
    "CACHE_URL",
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "locmem://",
)
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "evalapp-cache",
        }
    }
elif CACHE_URL == "locmem://":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    raise ImproperlyConfigured(f"CACHE_URL={CACHE_URL!r}: use redis://... or locmem://")
# With Redis, a request reads its session and its user from the cache, not the database: the
# session is written through to the database (cached_db), and a cached user is forgotten when
# their row changes (evalapp.apps). Not with this process's memory, which other processes
# could not clear: a logout or a password change elsewhere would go unseen here.
SHARED_CACHE = CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
if SHARED_CACHE:
    # Its own alias: a Redis outage makes each read a miss (the database answers), and a page
    # waits at most half a second for a Redis that does not answer (evalapp.cache).
    CACHES["sessions"] = {
        "BACKEND": "evalapp.cache.OutageTolerantRedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": "evalapp-sessions",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
    SESSION_ENGINE = "evalapp.sessions"
    SESSION_CACHE_ALIAS = "sessions"
# How long a session's cached copy lives (the database keeps the session itself).
SESSION_CACHE_SECONDS = env_int("SESSION_CACHE_SECONDS", 300)
# How long a signed-in user's row is served from the cache (0: read every request); a change
# clears it at once, so this only bounds what a change made outside Django could leave behind.
USER_CACHE_SECONDS = env_int("USER_CACHE_SECONDS", 60) if SHARED_CACHE else 0
# An address that sends this many wrong API tokens within the window gets 429 until it ends.
API_TOKEN_FAILURE_LIMIT = env_int("API_TOKEN_FAILURE_LIMIT", 20)
API_TOKEN_FAILURE_WINDOW_SECONDS = env_int("API_TOKEN_FAILURE_WINDOW_SECONDS", 900)
# An API token older than this is refused (the user makes a new one); 0 keeps tokens for ever.
API_TOKEN_MAX_AGE_DAYS = env_int("API_TOKEN_MAX_AGE_DAYS", 0)


# LLM endpoints: how long one HTTP call may take and how often a transient failure is retried.
LLM_REQUEST_TIMEOUT = env_float("LLM_REQUEST_TIMEOUT", 60.0)
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 5)
LLM_BACKOFF_FACTOR = env_float("LLM_BACKOFF_FACTOR", 1.0)
# Connections: the model endpoints the operator set up, each with its host, allowed models and
# where its key comes from. Study admins pick one by name and never name a key themselves.
# The file (JSON or YAML) is loaded by `manage.py connections_sync` (also run by `make run`).
EVALAPP_CONNECTIONS_FILE = os.environ.get("EVALAPP_CONNECTIONS_FILE", "")
# A connection's key variable must start with this prefix, so even a mistyped connection never
# sends SECRET_KEY or DATABASE_URL to an endpoint.
LLM_KEY_ENV_PREFIX = "EVALAPP_LLM_KEY_"
# Hosts a study admin may type as an endpoint of their own, without a connection and never with
# a key (e.g. a model served inside the hospital). Empty, the default: no such endpoint.
LLM_KEYLESS_HOSTS = env_list("LLM_KEYLESS_HOSTS", [])
# Where a connection's key file is read from (a Docker or Kubernetes secrets mount).
LLM_SECRETS_DIR = os.environ.get("LLM_SECRETS_DIR", "/run/secrets")
# Where every worker shares each source's limits (calls at once, calls a minute): the Redis
# broker by default; none with the embedded broker, and then each process keeps its own.
LLM_LIMITS_REDIS_URL = os.environ.get(
    "LLM_LIMITS_REDIS_URL",
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)
# A judge's reply that does not parse as the rubric's answers is asked again, up to this many
# calls in all; then the unit is recorded as failed.
JUDGE_MAX_ATTEMPTS = env_int("JUDGE_MAX_ATTEMPTS", 3)
# How long a call waits for Redis to come back before it is recorded as failed, not sent.
LLM_LIMITS_OUTAGE_SECONDS = env_float("LLM_LIMITS_OUTAGE_SECONDS", 120.0)
# Hosts model endpoints may live on (comma-separated); empty allows any host with public
# addresses. Checked when an endpoint is saved and again on every call.
LLM_ALLOWED_HOSTS = env_list("LLM_ALLOWED_HOSTS", [])
# The worker never calls private, loopback, link-local, unique-local, multicast or cloud metadata
# addresses, whatever a host name resolves to, except for the exact hosts named here
# (comma-separated, e.g. a model server inside the hospital). Locally (DEBUG) the demo's fake
# endpoint on this machine is allowed; in production nothing is until the operator says so.
LLM_PRIVATE_HOSTS_ALLOWED = env_list(
    "LLM_PRIVATE_HOSTS_ALLOWED", ["127.0.0.1", "localhost"] if DEBUG else []
)
# A running task that has not reported progress for this long is taken to be dead: the workers'
# sweep queues it again, and a click takes it over. Running jobs beat every 0.5 s.
TASK_RUN_LEASE_SECONDS = env_int("TASK_RUN_LEASE_SECONDS", 45)
# How often every worker looks for runs whose worker died or whose message was lost (also once
# at start-up); 0 turns the sweep off.
TASK_RUN_SWEEP_SECONDS = env_float("TASK_RUN_SWEEP_SECONDS", 10.0)
# How long a worker keeps retrying a write (a call's result, a heartbeat) while the database is
# unreachable, and how soon a task that could not claim its run for that reason tries again.
TASK_DATABASE_OUTAGE_SECONDS = env_float("TASK_DATABASE_OUTAGE_SECONDS", 25.0)
TASK_CLAIM_RETRY_SECONDS = env_float("TASK_CLAIM_RETRY_SECONDS", 5.0)
# A worker waiting out an outage sends no heartbeat: were the wait as long as the lease, another
# worker's sweep would take the run over while this one still carries on with it, and both would
# pay for the same calls. So the wait must end well within the lease.
if TASK_DATABASE_OUTAGE_SECONDS > TASK_RUN_LEASE_SECONDS * 2 / 3:
    raise ImproperlyConfigured(
        f"TASK_DATABASE_OUTAGE_SECONDS={TASK_DATABASE_OUTAGE_SECONDS:g} must be at most two thirds"
        f" of TASK_RUN_LEASE_SECONDS={TASK_RUN_LEASE_SECONDS} (at most"
        f" {TASK_RUN_LEASE_SECONDS * 2 / 3:g} s), or a run whose worker waits out a database"
        " outage is taken over by another worker while the first carries on."
    )
# A job whose database stays away this many outage waits in a row is given up on (failed, with
# a message saying so) rather than sent back to the queue for ever.
TASK_DATABASE_GIVE_UP_SECONDS = env_float(
    "TASK_DATABASE_GIVE_UP_SECONDS", 12 * TASK_DATABASE_OUTAGE_SECONDS
)
# A queued run counts as lost (and the sweep sends it again) only when neither sent nor seen by
# a worker's task for this long: its message may wait that long behind busy workers.
TASK_RUN_QUEUED_SECONDS = env_int("TASK_RUN_QUEUED_SECONDS", 300)

SPECTACULAR_SETTINGS = {
    "TITLE": "evalapp API",
    "DESCRIPTION": "Blinded clinician reader studies and reporting checklists: everything a paper "
    "needs, for a study's admins; a rater's own work, blinded. See docs/api.md.",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Errors on every operation, ids as integers, the answers' shared types (docs/api.md).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "evalapp.schema.document_errors_and_ids",
        "annotation.api.schema.add_components",
    ],
    "ENUM_NAME_OVERRIDES": {
        "SourceKindEnum": "annotation.models.Source.Kind",
        "QuestionKindEnum": "annotation.models.Question.Kind",
        "AssignmentKindEnum": "annotation.models.Assignment.Kind",
        "TaskKindEnum": "annotation.models.TaskRun.Kind",
    },
}

# The version a paper bundle's manifest names: pyproject.toml's, read once here.
with (BASE_DIR / "pyproject.toml").open("rb") as _pyproject:
    EVALAPP_VERSION = tomllib.load(_pyproject)["project"]["version"]
SPECTACULAR_SETTINGS["VERSION"] = EVALAPP_VERSION
# Where workers write paper bundles for study admins to download: a disk web and worker share.
EXPORT_DIR = Path(os.environ.get("EVALAPP_EXPORT_DIR", VAR_DIR / "exports"))

# Statistics: bootstrap resamples behind every confidence interval (seeded by the study's seed).
AGREEMENT_BOOTSTRAP_RESAMPLES = env_int("AGREEMENT_BOOTSTRAP_RESAMPLES", 1000)
# After a rater submits, statistics are recomputed this much later, once for every submit in
# between (a debounce: not one computation per click).
STATS_RECOMPUTE_DELAY_SECONDS = env_int("STATS_RECOMPUTE_DELAY_SECONDS", 30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
