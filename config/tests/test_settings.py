"""Settings read from the environment: the embedded default, production fail-fast, PostgreSQL options."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config.tests.processes import ROOT, clean_env

READ = (
    "import json, django; from django.conf import settings; django.setup(); "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({'debug': settings.DEBUG, 'engine': db['ENGINE'], 'name': str(db['NAME']), "
    "'max_age': db.get('CONN_MAX_AGE'), 'health': db.get('CONN_HEALTH_CHECKS'), "
    "'hosts': settings.ALLOWED_HOSTS, 'secrets': settings.CLERK_WEBHOOK_SECRET, "
    "'api': settings.CLERK_API_URL, 'parties': settings.CLERK_AUTHORIZED_PARTIES, "
    "'email': settings.EMAIL_BACKEND, 'limit': settings.WEBHOOKS_MAX_BODY_BYTES}))"
)


def read_settings(*, root: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    """config.settings loaded in a fresh process that sees only `env` (no developer environment, no .env)."""
    variables = clean_env(DJANGO_SETTINGS_MODULE="config.settings", PYTHONPATH=f"{root}:{ROOT}", **env)
    return subprocess.run(
        [sys.executable, "-c", READ], cwd=root, env=variables, capture_output=True, text=True, timeout=300
    )


def settings_with(*, root: Path = ROOT, **env: str) -> dict:
    result = read_settings(root=root, **env)
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


def test_a_dot_env_in_the_checkout_does_not_reach_these_tests(tmp_path):
    """The quick start writes .env with a webhook secret; the settings tests still see nothing set."""
    copy = tmp_path / "checkout"
    (copy / "config").mkdir(parents=True)
    for module in (ROOT / "config").glob("*.py"):  # settings.py and what it names (the admin site, logging)
        shutil.copy(module, copy / "config" / module.name)
    (copy / ".env").write_text("CLERK_WEBHOOK_SECRET=whsec_ZnJvbS10aGUtZG90LWVudi1maWxl\nWEBHOOKS_MAX_BODY_BYTES=7\n")

    as_tests_read = settings_with(root=copy)
    as_the_app_reads = settings_with(root=copy, DJANGO_READ_DOT_ENV="1")

    assert (as_tests_read["secrets"], as_tests_read["limit"]) == ("", 1024 * 1024)
    assert (as_the_app_reads["secrets"], as_the_app_reads["limit"]) == ("whsec_ZnJvbS10aGUtZG90LWVudi1maWxl", 7)
    assert as_tests_read["name"].startswith(str(copy))  # the copy's settings were the ones loaded


def test_admins_are_read_from_name_address_entries():
    from config.operations import admins_from_env

    assert admins_from_env("Ops Team <ops@example.com>, second@example.com") == [
        ("Ops Team", "ops@example.com"),
        ("second@example.com", "second@example.com"),
    ]
    assert admins_from_env("") == []
