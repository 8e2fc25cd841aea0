"""Shared test fixtures: signed Svix deliveries as Clerk makes them, and PostgreSQL gating.

Tests marked `postgres` need PostgreSQL's row locks and real concurrent
transactions. On SQLite they are skipped with their reason; with
REQUIRE_POSTGRES=1 (CI) any skip is a failure, so CI cannot pass by skipping.
"""

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from svix.webhooks import Webhook

# Made for the tests: whsec_ + base64 of 24 fixed bytes each.
TEST_WEBHOOK_SECRET = "whsec_dGVzdC1zZWNyZXQtZm9yLWNsZXJrLXN5bmMh"
ROTATED_WEBHOOK_SECRET = "whsec_cm90YXRlZC1zZWNyZXQtZm9yLWNsZXJrLXN5bmM="
UNKNOWN_WEBHOOK_SECRET = "whsec_bm90LW91ci1zZWNyZXQtYXQtYWxsLWNsZXJrISE="

FIXTURES = Path(__file__).parent / "webhooks" / "tests" / "fixtures"
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES", "") not in ("", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if connection.vendor == "postgresql":
        return
    if REQUIRE_POSTGRES:
        raise pytest.UsageError("REQUIRE_POSTGRES is set but DATABASE_URL does not point at PostgreSQL.")
    for item in items:
        marker = item.get_closest_marker("postgres")
        if marker is not None:
            why = marker.kwargs.get("reason", "needs PostgreSQL")
            item.add_marker(pytest.mark.skip(reason=f"{why}; set DATABASE_URL=postgres://… to run it"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if REQUIRE_POSTGRES and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped while REQUIRE_POSTGRES is set: {report.longrepr}"
    return report


@pytest.fixture(autouse=True)
def _clerk_settings(settings):
    settings.CLERK_WEBHOOK_SECRET = TEST_WEBHOOK_SECRET


def load_fixture(name: str) -> dict[str, Any]:
    """A recorded Clerk payload from webhooks/tests/fixtures/<name>.json."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def svix_headers(
    body: str,
    *,
    msg_id: str | None = None,
    secret: str = TEST_WEBHOOK_SECRET,
    timestamp: dt.datetime | None = None,
) -> dict[str, str]:
    """The three headers Svix sends, signed by the svix library itself."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = timestamp or dt.datetime.now(dt.timezone.utc)
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(timestamp.timestamp())),
        "svix-signature": Webhook(secret).sign(msg_id, timestamp, body),
    }


def deliver_to(client, payload: Any, *, path: str = "/webhooks/clerk/", headers: dict | None = None, **sign):
    """POST `payload` (a dict, or the raw body) as a signed Svix delivery; `sign` goes to svix_headers."""
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    signed = svix_headers(text, **sign) if headers is None else headers
    return client.post(path, data=body, content_type="application/json", headers=signed)


@pytest.fixture
def deliver(client):
    """deliver(payload, msg_id=…, secret=…, timestamp=…, headers=…) -> response."""

    def _deliver(payload: Any, **kwargs):
        return deliver_to(client, payload, **kwargs)

    return _deliver


@contextmanager
def statements_at_most(limit: int) -> Iterator[list[str]]:
    """Assert the block sends at most `limit` SQL statements; yields the list of them.

    Transaction control (BEGIN/COMMIT, which Django logs on SQLite but not on
    PostgreSQL) is left out, so a budget means the same on both backends.
    """
    statements: list[str] = []
    with CaptureQueriesContext(connection) as context:
        yield statements
    statements.extend(
        query["sql"]
        for query in context.captured_queries
        if query["sql"].strip().upper() not in ("BEGIN", "COMMIT", "ROLLBACK")
    )
    assert len(statements) <= limit, f"{len(statements)} statements, budget {limit}:\n" + "\n".join(statements)
