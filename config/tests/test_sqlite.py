"""SQLite as the embedded default: its connection options, and the refusal of a too-old SQLite."""

import json
import sqlite3

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from config.tests.test_settings import read_settings
from webhooks.checks import sqlite_version_errors

READ_OPTIONS = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {})))"
)


def options_with(**env: str) -> dict:
    result = read_settings(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_sqlite_transactions_begin_as_writes_wait_for_the_lock_and_use_wal(monkeypatch):
    monkeypatch.setattr("config.tests.test_settings.READ", READ_OPTIONS)

    assert options_with(DATABASE_URL="sqlite:////tmp/x.sqlite3") == {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL",
    }
    assert "transaction_mode" not in options_with(DATABASE_URL="postgres://u@127.0.0.1:5432/x")


SQLITE = "django.db.backends.sqlite3"


def test_an_sqlite_older_than_3_35_is_refused_with_a_clear_message(monkeypatch):
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.34.1")

    errors = sqlite_version_errors(["django.db.backends.postgresql", SQLITE])

    assert [error.id for error in errors] == ["webhooks.E001"]
    assert "SQLite 3.34.1 is too old" in errors[0].msg and "3.35 or newer" in errors[0].msg


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")  # only the check reads the extra alias
def test_the_check_is_registered_and_reads_the_configured_databases(monkeypatch, settings):
    """Through `manage.py check`, with an SQLite database configured beside whatever the run uses."""
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    settings.DATABASES = {**settings.DATABASES, "embedded": {"ENGINE": SQLITE, "NAME": "embedded.sqlite3"}}

    with pytest.raises(SystemCheckError, match="webhooks.E001"):
        call_command("check")


@pytest.mark.parametrize("version", [(3, 35, 0), (3, 45, 1)])
def test_sqlite_3_35_and_newer_pass(monkeypatch, version):
    monkeypatch.setattr(sqlite3, "sqlite_version_info", version)

    assert sqlite_version_errors([SQLITE]) == []


def test_an_old_sqlite_library_does_not_matter_without_an_sqlite_database(monkeypatch):
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 8, 0))

    assert sqlite_version_errors(["django.db.backends.postgresql"]) == []
