"""/readyz (database and migrations), request ids on answers, log lines and ledger attempts, and LOG_FORMAT=json."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.db.migrations.recorder import MigrationRecorder

from config.tests.helpers import load_fixture
from config.tests.processes import ROOT, clean_env
from webhooks.models import WebhookAttempt
from webhooks.tests.deliveries import svix_headers

pytestmark = pytest.mark.django_db


def test_readyz_is_200_when_the_database_answers_and_every_migration_is_applied(client):
    response = client.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_is_503_naming_an_unapplied_migration(client):
    MigrationRecorder.Migration.objects.filter(app="webhooks", name="0004_attempt_request_id").delete()

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "migrations_unapplied": ["webhooks.0004_attempt_request_id"]}


@pytest.mark.postgres(reason="a database outage is simulated by cutting a TCP proxy in front of the PostgreSQL server")
@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_when_the_database_cannot_be_reached_and_200_when_it_is_back(client, db_behind_proxy):
    port = db_behind_proxy.port
    db_behind_proxy.stop()
    down = client.get("/readyz")
    db_behind_proxy.start(port)

    assert (down.status_code, down.json()["database"]) == (503, "unreachable")
    assert client.get("/readyz").status_code == 200


def test_a_request_id_is_made_or_taken_returned_and_kept_on_the_ledger_attempt(client):
    def deliver(request_id=None):
        body = json.dumps(load_fixture("user__created"))
        headers = svix_headers(body) | ({"X-Request-ID": request_id} if request_id else {})
        return client.post("/webhooks/clerk/", data=body, content_type="application/json", headers=headers)

    made, given, hostile = deliver(), deliver("req-from-the-proxy-1"), deliver("<script>")

    assert len(made["X-Request-ID"]) == 32
    assert given["X-Request-ID"] == "req-from-the-proxy-1"
    assert len(hostile["X-Request-ID"]) == 32  # replaced: only letters, digits and a few marks are kept
    stored = list(WebhookAttempt.objects.order_by("pk").values_list("request_id", flat=True))
    assert stored == [made["X-Request-ID"], "req-from-the-proxy-1", hostile["X-Request-ID"]]


SCRIPT = """
import django, logging
django.setup()
from django.test import Client
response = Client().get("/healthz", HTTP_X_REQUEST_ID="req-json-1")
logging.getLogger("django.request").warning("inside no request")
"""


def test_log_format_json_writes_one_object_per_line_with_the_request_id(tmp_path):
    env = clean_env(
        LOG_FORMAT="json",
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'logs.sqlite3'}",
        SECRET_KEY="test-secret-key-for-logs",
        DEBUG="0",
        ALLOWED_HOSTS="testserver",
    )
    script = SCRIPT.replace('"/healthz"', '"/no-such-page"')
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=120)

    lines = [json.loads(line) for line in result.stderr.decode().splitlines() if line.startswith("{")]
    assert len(lines) >= 2
    by_message = {line["message"]: line for line in lines}
    not_found = by_message["Not Found: /no-such-page"]
    assert {"timestamp", "level", "logger", "message", "request_id"} <= not_found.keys()
    assert (not_found["level"], not_found["logger"], not_found["request_id"]) == (
        "WARNING",
        "django.request",
        "req-json-1",
    )
    assert by_message["inside no request"]["request_id"] == ""


def test_the_default_log_format_stays_human_readable(tmp_path):
    env = clean_env(DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=f"sqlite:///{tmp_path / 'l.sqlite3'}")
    script = 'import django, logging\ndjango.setup()\nlogging.getLogger("x").warning("plain line")'
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=120)

    assert result.stderr.decode().strip().endswith("WARNING x plain line")


@pytest.mark.parametrize("value", ["nonsense", "postgres//nohost"])
def test_db_worker_with_a_malformed_database_url_exits_with_the_one_line_error(value):
    env = clean_env(DATABASE_URL=value)
    result = subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--no-reload"], cwd=ROOT, env=env, capture_output=True, timeout=120
    )

    (line,) = result.stderr.decode().strip().splitlines()
    assert result.returncode == 1
    assert line.startswith("ImproperlyConfigured: DATABASE_URL is not a database URL")


SENTRY_SCRIPT = """
import json, django, sentry_sdk
django.setup()
options = sentry_sdk.get_client().options
integrations = sorted(sentry_sdk.get_client().integrations)
print(json.dumps({"dsn": options["dsn"], "pii": options["send_default_pii"], "django": "django" in integrations,
                  "bodies": options["max_request_body_size"]}))
"""


def test_sentry_dsn_turns_on_error_tracking_with_the_django_integration_and_no_personal_data(tmp_path):
    dsn = "https://public@sentry.example.invalid/1"
    env = clean_env(
        SENTRY_DSN=dsn, DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=f"sqlite:///{tmp_path / 's.sqlite3'}"
    )
    result = subprocess.run([sys.executable, "-c", SENTRY_SCRIPT], cwd=ROOT, env=env, capture_output=True, timeout=120)

    assert json.loads(result.stdout) == {"dsn": dsn, "pii": False, "django": True, "bodies": "never"}
