"""Svix-signed deliveries as any sender makes them, and SQL statement budgets: shared by every app's tests.

The webhook secrets the tests sign with (conftest.py sets the first for Clerk's
source and webhooks/tests/conftest.py for the ledger's stand-in source),
the three Svix headers signed by the svix library itself, a POST of a signed
delivery, and statement budgets. Nothing here knows a source: the ledger's
tests use it with their stand-in (webhooks/tests/ledger_source.py), Clerk's
tests through config/tests/helpers.py.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from svix.webhooks import Webhook

# Made for the tests: whsec_ + base64 of 24 fixed bytes each.
TEST_WEBHOOK_SECRET = "whsec_dGVzdC1zZWNyZXQtZm9yLWNsZXJrLXN5bmMh"
ROTATED_WEBHOOK_SECRET = "whsec_cm90YXRlZC1zZWNyZXQtZm9yLWNsZXJrLXN5bmM="
UNKNOWN_WEBHOOK_SECRET = "whsec_bm90LW91ci1zZWNyZXQtYXQtYWxsLWNsZXJrISE="


def new_msg_id() -> str:
    """A fresh Svix message id (`msg_…`)."""
    return f"msg_{uuid.uuid4().hex}"


def svix_headers(
    body: str,
    *,
    msg_id: str | None = None,
    secret: str = TEST_WEBHOOK_SECRET,
    timestamp: dt.datetime | None = None,
) -> dict[str, str]:
    """The three headers Svix sends with `body`, signed by the svix library (a new svix-id unless given).

    `timestamp` defaults to now; Svix's receivers refuse one more than 5 minutes away.
    """
    msg_id = msg_id or new_msg_id()
    timestamp = timestamp or dt.datetime.now(dt.UTC)
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(timestamp.timestamp())),
        "svix-signature": Webhook(secret).sign(msg_id, timestamp, body),
    }


def deliver_to(client, payload: Any, *, path: str, headers: dict | None = None, **sign):
    """POST `payload` (a dict, or the raw body) to `path` as a signed Svix delivery; `sign` goes to svix_headers."""
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    signed = svix_headers(text, **sign) if headers is None else headers
    return client.post(path, data=body, content_type="application/json", headers=signed)


@contextmanager
def statements_at_most(limit: int) -> Iterator[list[str]]:
    """Assert the block sends at most `limit` SQL statements; yields the list of them.

    Transaction control (BEGIN [IMMEDIATE]/COMMIT, which Django logs on SQLite but not
    on PostgreSQL) is left out, so a budget means the same on both backends.
    """
    statements: list[str] = []
    with CaptureQueriesContext(connection) as context:
        yield statements
    statements.extend(
        query["sql"]
        for query in context.captured_queries
        if query["sql"].strip().upper() not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
    )
    assert len(statements) <= limit, f"{len(statements)} statements, budget {limit}:\n" + "\n".join(statements)


def redelivered(deliver, payload: Any, capture_on_commit, *, msg_id: str) -> list:
    """Deliver `payload` twice under one id: the first is processed, the second a 202 duplicate.

    Returns the on-commit callbacks the duplicate queued (a duplicate queues none).
    """
    with capture_on_commit(execute=True):
        first = deliver(payload, msg_id=msg_id)
    with capture_on_commit(execute=True) as callbacks:
        second = deliver(payload, msg_id=msg_id)
    assert (first.status_code, second.status_code) == (200, 202)
    assert second.json()["outcome"] == "duplicate"
    return callbacks


def replay_attempts(event) -> list:
    """The event's attempts of kind replay, oldest first."""
    from webhooks.models import WebhookAttempt  # here: settings modules import this one

    return list(event.attempt_log.filter(kind=WebhookAttempt.Kind.REPLAY))


def assert_processed_then_replayed(event_pk: int) -> None:
    """The event was processed on delivery, then once more by one replay: two attempts, both recorded."""
    from webhooks.models import WebhookAttempt, WebhookEvent  # here: settings modules import this one

    event = WebhookEvent.objects.get(pk=event_pk)
    assert (event.status, event.attempts, event.last_error) == (WebhookEvent.Status.PROCESSED, 2, "")
    [attempt] = replay_attempts(event)
    assert (attempt.outcome, attempt.http_status, attempt.error) == (WebhookAttempt.Outcome.PROCESSED, None, "")
    assert list(event.attempt_log.values_list("kind", "outcome")) == [
        (WebhookAttempt.Kind.DELIVERY, WebhookAttempt.Outcome.PROCESSED),
        (WebhookAttempt.Kind.REPLAY, WebhookAttempt.Outcome.PROCESSED),
    ]
