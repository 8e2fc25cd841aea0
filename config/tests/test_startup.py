"""Startup mistakes read as one line each: manage.py in a fresh process with a chosen environment."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from config.tests.processes import ROOT, clean_env, free_port, wait_until_answering
from webhooks.tests.deliveries import TEST_WEBHOOK_SECRET

# Made for the tests; long and varied enough for `check --deploy`.
PRODUCTION_SECRET_KEY = "k3Qv9-production-looking-secret-key-for-check-deploy-x7Rz2pLw0"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "env, reason",
    [
        ({"DEBUG": "0"}, "ImproperlyConfigured: SECRET_KEY must be set when DEBUG is off."),
        ({"DATABASE_URL": "postgres//postgres@127.0.0.1:5432/app"}, "ImproperlyConfigured: DATABASE_URL is not"),
        ({"DATABASE_URL": "mysqlx://db/app"}, "ImproperlyConfigured: DATABASE_URL is not"),
        ({"DATABASE_URL": "postgres://u:hunter2@db:99999/app"}, "ImproperlyConfigured: DATABASE_URL is not"),
        ({"TASKS_BACKEND": "celery"}, "ImproperlyConfigured: TASKS_BACKEND must be 'database' or 'immediate'"),
        ({"ADMINS": "Ops <ops-at-example>, B"}, "ImproperlyConfigured: ADMINS must be comma-separated"),
        ({"LOG_FORMAT": "xml"}, "ImproperlyConfigured: LOG_FORMAT must be 'plain' or 'json'"),
    ],
)
@pytest.mark.parametrize("command", [["check"], ["runserver", "--noreload"], ["migrate"]])
def test_unusable_variable_stops_with_one_line_naming_it(command, env, reason):
    result = manage(*command, **env)

    assert result.returncode != 0
    assert result.stderr.strip().startswith(reason), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "hunter2" not in result.stderr


def test_runserver_without_database_says_so_in_one_line_and_serves(tmp_path):
    port = free_port()
    log = tmp_path / "runserver.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],  # the README's, with its reloader
            cwd=ROOT,
            env=clean_env(DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/nowhere"),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the reloader's child is in the group too
        )
    try:
        health = wait_until_answering(f"http://127.0.0.1:{port}/healthz", server)
        assert health.status_code == 503
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    printed = log.read_text()
    reasons = [line for line in printed.splitlines() if "database cannot be reached" in line]

    assert len(reasons) == 1, printed
    assert "check DATABASE_URL" in reasons[0] and "Connection refused" in reasons[0]
    assert "Traceback" not in printed


# docs/admin.md's production settings.
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": PRODUCTION_SECRET_KEY,
    "ALLOWED_HOSTS": "app.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/app",
    "CLERK_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
    "CLERK_SECRET_KEY": "sk_live_production_key",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "smtp.example.com",
}


def test_check_deploy_is_clean_on_the_readme_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    "email_backend, warned",
    [
        (None, True),  # unset: the console default
        ("django.core.mail.backends.console.EmailBackend", True),
        ("django.core.mail.backends.locmem.EmailBackend", True),
        ("django.core.mail.backends.smtp.EmailBackend", False),
    ],
)
def test_production_without_a_real_mail_backend_is_warned_about(email_backend, warned):
    env = {name: value for name, value in PRODUCTION.items() if name != "EMAIL_BACKEND"}
    if email_backend:
        env["EMAIL_BACKEND"] = email_backend

    result = manage("check", "--deploy", **env)

    assert result.returncode == 0, result.stderr
    assert ("(clerk_sync.W010) DEBUG is off but EMAIL_BACKEND is" in result.stderr) is warned, result.stderr
    if warned:
        assert "SILENCED_SYSTEM_CHECKS=clerk_sync.W010" in result.stderr  # the hint says how to mean it


def test_the_console_mail_warning_is_silenced_on_purpose_and_not_in_development():
    silenced = {name: value for name, value in PRODUCTION.items() if name != "EMAIL_BACKEND"}
    silenced["SILENCED_SYSTEM_CHECKS"] = "clerk_sync.W010"

    quiet = manage("check", "--deploy", "--fail-level", "WARNING", **silenced)
    development = manage("check")

    assert quiet.returncode == 0, quiet.stderr
    assert "no issues (3 silenced)" in quiet.stdout and "W010" not in quiet.stderr  # with the two of settings.py
    assert "W010" not in development.stderr  # DEBUG on: the console is where development mail belongs


def test_development_defaults_warn_about_the_missing_clerk_secrets():
    result = manage("check")

    assert result.returncode == 0
    assert "(clerk_sync.W001) CLERK_WEBHOOK_SECRET is not set" in result.stderr
    assert "(clerk_sync.W003) CLERK_SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    "env, reason",
    [
        ({"DEBUG": "0"}, "ImproperlyConfigured: SECRET_KEY must be set when DEBUG is off."),
        ({"DATABASE_URL": "postgres//postgres@127.0.0.1:5432/app"}, "ImproperlyConfigured: DATABASE_URL is not"),
    ],
)
def test_gunicorn_stops_with_the_one_line_reason(env, reason):
    gunicorn = Path(sys.executable).with_name("gunicorn")
    result = subprocess.run(
        [str(gunicorn), "config.wsgi", "--bind", f"127.0.0.1:{free_port()}", "--workers", "1"],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode != 0
    assert [line for line in result.stderr.splitlines() if line.startswith(reason)], result.stderr
    assert "Traceback" not in result.stderr
