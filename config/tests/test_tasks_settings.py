"""TASKS_BACKEND and the EMAIL_* settings from the environment, and the retry timings they imply."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READ = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'tasks': settings.TASKS['default']['BACKEND'], 'host': settings.EMAIL_HOST, "
    "'port': settings.EMAIL_PORT, 'user': settings.EMAIL_HOST_USER, 'password': settings.EMAIL_HOST_PASSWORD, "
    "'tls': settings.EMAIL_USE_TLS, 'timeout': settings.EMAIL_TIMEOUT, "
    "'lease': settings.WELCOME_EMAIL_LEASE_SECONDS, 'poll': settings.WELCOME_EMAIL_POLL_SECONDS, "
    "'batch': settings.WELCOME_EMAIL_BATCH_SIZE, "
    "'retry': settings.WELCOME_EMAIL_RETRY_BASE_SECONDS}))"
)
IMMEDIATE = "django_tasks.backends.immediate.ImmediateBackend"
DATABASE = "django_tasks_db.DatabaseBackend"


def read_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EMAIL_", "TASKS_", "WELCOME_EMAIL_")) and k not in ("DEBUG", "SECRET_KEY", "DATABASE_URL")
    }
    clean |= {"DJANGO_SETTINGS_MODULE": "config.settings", **env}
    return subprocess.run([sys.executable, "-c", READ], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)


def settings_with(**env: str) -> dict:
    result = read_settings(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_fresh_clone_runs_background_work_in_the_web_process_with_contract_defaults():
    values = settings_with()

    assert values["tasks"] == IMMEDIATE
    assert (values["host"], values["port"], values["user"], values["tls"], values["timeout"]) == (
        "localhost",
        25,
        "",
        False,
        10,
    )


def test_production_defaults_to_the_database_backend():
    assert settings_with(DEBUG="0", SECRET_KEY="x" * 50)["tasks"] == DATABASE


def test_either_backend_can_be_chosen():
    assert settings_with(TASKS_BACKEND="database")["tasks"] == DATABASE
    assert settings_with(DEBUG="0", SECRET_KEY="x" * 50, TASKS_BACKEND="immediate")["tasks"] == IMMEDIATE


def test_an_unknown_backend_is_refused_with_a_clear_message():
    result = read_settings(TASKS_BACKEND="celery")

    assert result.returncode != 0
    assert "TASKS_BACKEND must be 'database' or 'immediate'" in result.stderr


def test_email_settings_come_from_the_environment():
    values = settings_with(
        EMAIL_HOST="smtp.example.com",
        EMAIL_PORT="587",
        EMAIL_HOST_USER="apikey",
        EMAIL_HOST_PASSWORD="s3cret",
        EMAIL_USE_TLS="1",
        EMAIL_TIMEOUT="3.5",
    )

    assert (values["host"], values["port"], values["user"], values["password"]) == (
        "smtp.example.com",
        587,
        "apikey",
        "s3cret",
    )
    assert values["tls"] is True and values["timeout"] == 3.5


def test_default_timings_retry_a_dead_workers_send_within_two_minutes_and_first_failures_within_one():
    """A dead claim is taken again a lease plus a poll interval later at most; a retry a poll after it is due."""
    values = settings_with()

    assert values["lease"] + values["poll"] <= 120
    assert values["retry"] + values["poll"] <= 60
    assert values["batch"] >= 1


def test_a_lease_that_leaves_a_send_no_time_is_refused_with_a_clear_message():
    """A send must end half a lease after its claim: a lease of zero or less could never send anything."""
    result = read_settings(WELCOME_EMAIL_LEASE_SECONDS="0")

    assert result.returncode != 0
    assert "WELCOME_EMAIL_LEASE_SECONDS must be at least 0.1, not 0." in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CLERK_RECONCILE_INTERVAL", "-1", "CLERK_RECONCILE_INTERVAL must be at least 0, not -1."),
        ("CLERK_RECONCILE_RATE", "0", "CLERK_RECONCILE_RATE must be at least 1, not 0."),
        ("SCHEDULE_LEASE_SECONDS", "0", "SCHEDULE_LEASE_SECONDS must be at least 0.1, not 0."),
        ("WELCOME_EMAIL_BATCH_SIZE", "0", "WELCOME_EMAIL_BATCH_SIZE must be at least 1, not 0."),
        ("WELCOME_EMAIL_POLL_SECONDS", "0", "WELCOME_EMAIL_POLL_SECONDS must be at least 0.01, not 0."),
    ],
)
def test_a_schedule_setting_out_of_range_is_refused_with_a_clear_message(name, value, message):
    result = read_settings(**{name: value})

    assert result.returncode != 0
    assert message in result.stderr


def test_prepared_statements_are_on_unless_a_pooler_needs_them_off():
    """config/database.py prepares the hot path's statements; PgBouncer in transaction mode before 1.21 cannot."""
    read = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps(settings.DATABASES['default']['OPTIONS'].get('prepare_threshold')))"
    )
    url = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused"}  # settings only: nothing connects
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_PREPARED_STATEMENTS"} | {
        "DJANGO_SETTINGS_MODULE": "config.settings"
    }

    def threshold(**extra: str):
        done = subprocess.run(
            [sys.executable, "-c", read], cwd=ROOT, env=env | url | extra, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert threshold() == 5
    assert threshold(DATABASE_PREPARED_STATEMENTS="0") is None
