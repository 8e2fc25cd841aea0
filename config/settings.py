"""Settings, read once from the environment (and an optional `.env` file).

The names are fixed by the project's contract (see README.md, "Configuration").
With nothing set the app runs for development on SQLite; production sets
SECRET_KEY and DEBUG=0 and must not fall back to a development key.
"""

import os
import warnings
from pathlib import Path

import environ

from config.errors import ConfigurationError, number_at_least
from config.logs import logging_config
from config.operations import admins_from_env, metrics_dir_ensure, sentry_init

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# DJANGO_READ_DOT_ENV=0 ignores the checkout's .env (the settings tests use it to see only what they set).
if os.environ.get("DJANGO_READ_DOT_ENV", "1") != "0":
    environ.Env.read_env(BASE_DIR / ".env")  # a missing file is fine

# --- Core -------------------------------------------------------------------

_secret_key = env.str("SECRET_KEY", default="")
# DEBUG defaults to True only for a bare development checkout (no SECRET_KEY).
DEBUG = env.bool("DEBUG", default=not _secret_key)
if not _secret_key and not DEBUG:
    raise ConfigurationError("SECRET_KEY must be set when DEBUG is off.")
SECRET_KEY = _secret_key or "django-insecure-development-key-do-not-use-in-production"

# Local addresses by default: production lists its own hosts.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# TLS is terminated in front of the app; redirect only when asked.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Browsers reach production over HTTPS (at the proxy): cookies travel only there.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# The redirect to HTTPS and HSTS are the job of the proxy that terminates TLS, so
# `check --deploy` does not ask the app for them (SECURE_SSL_REDIRECT=1 still works).
# SILENCED_SYSTEM_CHECKS adds ids to silence on purpose, e.g. clerk_sync.W010 (console mail under DEBUG=0).
SILENCED_SYSTEM_CHECKS = ["security.W004", "security.W008", *env.list("SILENCED_SYSTEM_CHECKS", default=[])]

INSTALLED_APPS = [
    "config",  # first: its runserver extends webhooks' and staticfiles' (config/management/commands/)
    "config.admin_site.ControlRoomAdminConfig",  # django.contrib.admin, with our header and index
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "webhooks",  # before staticfiles: its runserver (chunked bodies) beats staticfiles'; config's, first, wins
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from here: /api/docs/ needs no CDN
    "accounts",  # before django_tasks_db: its db_worker command replaces the library's
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "config.json_errors.JsonErrorsMiddleware",  # first: it sees every answer, Django's own included; request ids
    "config.probes.ProbeMiddleware",  # before anything reads the Host header: probes answer whatever it is
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.api.authentication.ClerkAuthenticationMiddleware",
    "config.messages.LazyMessageMiddleware",  # Django's, building its storage only when a request uses it
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "accounts.alarms.banners.raised_alarms",  # the banners atop the admin index and sync health
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------


def _database_from_url(url: str) -> dict:
    """DATABASE_URL parsed by django-environ; a malformed one stops startup with one line naming it."""
    scheme, separator, _ = url.partition("://")
    try:
        if not separator:
            raise ValueError("no scheme://")
        if scheme not in environ.Env.DB_SCHEMES:
            raise ValueError(f"unknown scheme {scheme}://")
        with warnings.catch_warnings():  # django-environ's own warning would print the password
            warnings.simplefilter("ignore")
            return environ.Env.db_url_config(url)
    except ValueError as exc:
        raise ConfigurationError(
            f"DATABASE_URL is not a database URL ({exc}); expected e.g. postgres://user:password@host:5432/name"
        ) from None


DATABASES = {"default": _database_from_url(env.str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    # Persistent connections, checked before reuse, so the app recovers by
    # itself after a database outage; a short connect timeout turns an outage
    # into a quick 503 instead of a hung worker.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
    # The hot path's statements are prepared once per connection (config/database.py); Django's own never are.
    # Off behind a pooler in transaction mode that does not track prepared statements (PgBouncer before 1.21).
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 5)
else:
    # SQLite as a real embedded database for concurrent requests: transactions take the
    # write lock when they begin (SQLite refuses at once to upgrade a reader to a writer),
    # a writer waits for the lock instead of failing with "database is locked", and WAL
    # lets readers run beside the writer. webhooks/checks.py refuses SQLite before 3.35.
    _sqlite_options = DATABASES["default"].setdefault("OPTIONS", {})
    _sqlite_options.setdefault("transaction_mode", "IMMEDIATE")
    _sqlite_options.setdefault("timeout", 20)  # seconds a writer waits for the lock
    _sqlite_options.setdefault("init_command", "PRAGMA journal_mode=WAL")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# One way to write a moment everywhere in the admin: 2026-12-04 19:09:00 UTC (config/formats/en/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves static files (the admin's) from the app itself, also with DEBUG=0 under
# gunicorn: from STATIC_ROOT after `collectstatic`, or straight from the apps when it was not run.
WHITENOISE_USE_FINDERS = True

# --- Email and background work ----------------------------------------------

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
if "EMAIL_FILE_PATH" in env:
    EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webmaster@localhost")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# Seconds per socket operation with the mail server: a hung server fails the send, never blocks a worker.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10)

# Where background work (the welcome email) runs: "database" stores it in the same transaction
# as the user and `manage.py db_worker` runs it; "immediate" runs it in the web process right
# after the commit (development: the console shows the email with no second process).
TASKS_BACKEND = env.str("TASKS_BACKEND", default="immediate" if DEBUG else "database")
_TASKS_BACKENDS = {
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
    "database": "django_tasks_db.DatabaseBackend",
}
if TASKS_BACKEND not in _TASKS_BACKENDS:
    raise ConfigurationError(f"TASKS_BACKEND must be 'database' or 'immediate', not {TASKS_BACKEND!r}.")
TASKS = {"default": {"BACKEND": _TASKS_BACKENDS[TASKS_BACKEND]}}
# A worker's claim on a send lasts this long; a worker that died is replaced after it expires.
# The send itself is cut half a lease after the claim (accounts/welcome/smtp.py).
WELCOME_EMAIL_LEASE_SECONDS = number_at_least(env.float, "WELCOME_EMAIL_LEASE_SECONDS", 60, least=0.1)
# Each db_worker's mailer sends due emails this many at a time over one connection, and looks for due ones
# this often when none is left (accounts/welcome/mailer.py).
WELCOME_EMAIL_BATCH_SIZE = number_at_least(env.int, "WELCOME_EMAIL_BATCH_SIZE", 100, least=1)
WELCOME_EMAIL_POLL_SECONDS = number_at_least(env.float, "WELCOME_EMAIL_POLL_SECONDS", 1, least=0.01)
# Retries back off from this delay, doubling up to an hour apart, for at least 24 hours.
WELCOME_EMAIL_RETRY_BASE_SECONDS = env.float("WELCOME_EMAIL_RETRY_BASE_SECONDS", default=30)
WELCOME_EMAIL_RETRY_MAX_SECONDS = 3600
WELCOME_EMAIL_RETRY_FOR_SECONDS = 24 * 3600

# --- Clerk ------------------------------------------------------------------

# One or more whsec_ secrets separated by commas or spaces: all are accepted,
# so a secret can be rotated without dropping deliveries.
CLERK_WEBHOOK_SECRET = env.str("CLERK_WEBHOOK_SECRET", default="")
CLERK_SECRET_KEY = env.str("CLERK_SECRET_KEY", default="")
CLERK_API_URL = env.str("CLERK_API_URL", default="https://api.clerk.com").rstrip("/")
CLERK_JWT_KEY = env.str("CLERK_JWT_KEY", multiline=True, default="")
CLERK_AUTHORIZED_PARTIES = env.list("CLERK_AUTHORIZED_PARTIES", default=[])
# Seconds a request may wait for one call to Clerk's API, retries included, before answering 503.
CLERK_API_TIMEOUT = env.float("CLERK_API_TIMEOUT", default=5.0)
# Clerk's SDKs treat a v2 token of a session with pending tasks (sts="pending") as signed out.
CLERK_TREAT_PENDING_AS_SIGNED_OUT = env.bool("CLERK_TREAT_PENDING_AS_SIGNED_OUT", default=True)
# sync_clerk_users greets backfilled users only if their Clerk account is younger than this.
CLERK_SYNC_WELCOME_WINDOW_DAYS = env.int("CLERK_SYNC_WELCOME_WINDOW_DAYS", default=7)
# A user deleted in Clerk keeps no personal data here, on its row or in stored events (docs/privacy.md); 0 keeps all.
CLERK_ERASE_DELETED_USERS = env.bool("CLERK_ERASE_DELETED_USERS", default=True)

# --- The schedule every db_worker runs (docs/reconciliation.md): seconds between runs, 0 turns one off ---
CLERK_RECONCILE_INTERVAL = number_at_least(env.int, "CLERK_RECONCILE_INTERVAL", 900, least=0)
CLERK_RECONCILE_FULL_INTERVAL = number_at_least(env.int, "CLERK_RECONCILE_FULL_INTERVAL", 86400, least=0)
CLERK_RECONCILE_RATE = number_at_least(env.int, "CLERK_RECONCILE_RATE", 50, least=1)  # requests per 10 s to Clerk
MAINTENANCE_INTERVAL = number_at_least(env.int, "MAINTENANCE_INTERVAL", 86400, least=0)
_JOBS = "prune_webhook_events prune_task_results prune_rejections clear_sessions erase_deleted_users"
MAINTENANCE_JOBS = env.list("MAINTENANCE_JOBS", default=_JOBS.split())
TASK_RESULTS_RETENTION_DAYS = env.int("TASK_RESULTS_RETENTION_DAYS", default=7)
SCHEDULE_LEASE_SECONDS = number_at_least(env.float, "SCHEDULE_LEASE_SECONDS", 300, least=0.1)  # then taken over
SCHEDULE_TICK_SECONDS = number_at_least(env.float, "SCHEDULE_TICK_SECONDS", 15, least=0.1)

# --- API --------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api.authentication.ClerkSessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "clerk-sync API",
    "DESCRIPTION": "Authenticate with a Clerk session token (Authorization: Bearer, or the __session cookie).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # the API reference at /api/docs/ loads nothing from a CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# --- Webhooks ---------------------------------------------------------------

WEBHOOKS_MAX_BODY_BYTES = env.int("WEBHOOKS_MAX_BODY_BYTES", default=1024 * 1024)
# prune_webhook_events deletes processed/ignored events older than this (payloads hold personal data).
WEBHOOKS_RETENTION_DAYS = env.int("WEBHOOKS_RETENTION_DAYS", default=30)

# --- Logging ----------------------------------------------------------------

# LOG_FORMAT=json: one JSON object per line (timestamp, level, logger, message, request_id).
LOGGING = logging_config(log_format=env.str("LOG_FORMAT", default="plain"), level=env.str("LOG_LEVEL", default="INFO"))

# --- Operations (docs/operations.md, "Alarms and metrics") ------------------

# Who is mailed when an alarm is raised: "Name <address>, Name <address>".
ADMINS = admins_from_env(env.str("ADMINS", default=""))
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# How often each db_worker records its heartbeat and evaluates the alarms.
ALARM_INTERVAL_SECONDS = env.float("ALARM_INTERVAL_SECONDS", default=15)
# GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it is 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
metrics_dir_ensure(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))  # where each process writes its counters
sentry_init(env.str("SENTRY_DSN", default=""), environment=env.str("SENTRY_ENVIRONMENT", default=""))
