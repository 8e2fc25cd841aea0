"""Settings read from the environment: the embedded default, production fail-fast, PostgreSQL options."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READ = (
    "import json, django; from django.conf import settings; django.setup(); "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({'debug': settings.DEBUG, 'engine': db['ENGINE'], 'name': str(db['NAME']), "
    "'max_age': db.get('CONN_MAX_AGE'), 'health': db.get('CONN_HEALTH_CHECKS'), "
    "'hosts': settings.ALLOWED_HOSTS, 'secrets': settings.CLERK_WEBHOOK_SECRET, "
    "'api': settings.CLERK_API_URL, 'parties': settings.CLERK_AUTHORIZED_PARTIES, "
    "'email': settings.EMAIL_BACKEND, 'limit': settings.WEBHOOKS_MAX_BODY_BYTES}))"
)
NAMES = (
    "DATABASE_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CLERK_WEBHOOK_SECRET",
    "CLERK_SECRET_KEY",
    "CLERK_API_URL",
    "CLERK_JWT_KEY",
    "CLERK_AUTHORIZED_PARTIES",
    "EMAIL_BACKEND",
    "EMAIL_FILE_PATH",
    "WEBHOOKS_MAX_BODY_BYTES",
)


def read_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in NAMES}
    clean |= {"DJANGO_SETTINGS_MODULE": "config.settings", **env}
    return subprocess.run([sys.executable, "-c", READ], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)


def settings_with(**env: str) -> dict:
    result = read_settings(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_nothing_set_runs_for_development_on_sqlite():
    values = settings_with()

    assert values["debug"] is True
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"].endswith("db.sqlite3")
    assert values["api"] == "https://api.clerk.com"
    assert values["email"] == "django.core.mail.backends.console.EmailBackend"
    assert values["limit"] == 1024 * 1024
    assert values["secrets"] == ""


def test_production_without_secret_key_fails_fast():
    result = read_settings(DEBUG="0")

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_secret_key_alone_turns_debug_off():
    assert settings_with(SECRET_KEY="s3cret")["debug"] is False


def test_postgres_url_gets_persistent_health_checked_connections():
    values = settings_with(DATABASE_URL="postgres://postgres@127.0.0.1:5432/app")

    assert values["engine"] == "django.db.backends.postgresql"
    assert values["max_age"] == 60 and values["health"] is True


@pytest.mark.parametrize("raw", ["https://api.example.test/", "https://api.example.test"])
def test_contract_names_are_read(raw):
    values = settings_with(
        CLERK_WEBHOOK_SECRET="whsec_a, whsec_b",
        CLERK_API_URL=raw,
        CLERK_AUTHORIZED_PARTIES="https://app.example.com,https://admin.example.com",
        ALLOWED_HOSTS="app.example.com",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        WEBHOOKS_MAX_BODY_BYTES="4096",
    )

    assert values["secrets"] == "whsec_a, whsec_b"
    assert values["api"] == "https://api.example.test"
    assert values["parties"] == ["https://app.example.com", "https://admin.example.com"]
    assert values["hosts"] == ["app.example.com"]
    assert values["email"].endswith("filebased.EmailBackend")
    assert values["limit"] == 4096
