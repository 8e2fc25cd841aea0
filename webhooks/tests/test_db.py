"""webhooks/db.py: each hand-written statement is one statement, does its job, on both databases.

Counted in real transactions (transactional_db), leaving out transaction control
(Django logs SQLite's BEGIN and COMMIT, not PostgreSQL's), so a count means the
same on both backends.
"""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from webhooks import db
from webhooks.models import WebhookAttempt, WebhookEvent, WebhookRejection
from webhooks.services import webhook_event_deliver
from webhooks.tests.factories import WebhookEventFactory

pytestmark = pytest.mark.django_db(transaction=True)

TRANSACTION_CONTROL = {"BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"}
NOW = dt.datetime(2026, 11, 30, 12, 34, 56, tzinfo=dt.UTC)


class Statements(CaptureQueriesContext):
    """The SQL statements sent inside the block, transaction control left out."""

    def __init__(self) -> None:
        super().__init__(connection)

    @property
    def sent(self) -> list[str]:
        return [q["sql"] for q in self.captured_queries if q["sql"].strip().upper() not in TRANSACTION_CONTROL]


def upsert(event_id: str = "msg_1", **duplicate):
    return db.event_upsert(
        source="things",
        event_id=event_id,
        event_type="thing.happened",
        subject_id="thing_1",
        payload={"type": "thing.happened", "data": {"id": "thing_1"}},
        received_at=NOW,
        **duplicate,
    )


def test_event_upsert_inserts_then_counts_attempts_one_statement_each():
    with Statements() as first, transaction.atomic():
        inserted = upsert()
    with Statements() as second, transaction.atomic():
        counted = upsert()

    assert (len(first.sent), len(second.sent)) == (1, 1)
    assert (inserted.pk, inserted.status, inserted.attempts) == (counted.pk, "received", 1)
    assert counted.attempts == 2 and not counted.duplicate_recorded
    event = WebhookEvent.objects.get()
    assert (event.attempts, event.subject_id, event.received_at) == (2, "thing_1", NOW)
    assert event.payload == {"type": "thing.happened", "data": {"id": "thing_1"}}


@pytest.mark.parametrize("status", ["processed", "ignored"])
def test_event_upsert_records_a_duplicates_attempt_in_the_same_statement_on_postgresql_only(status):
    """The vendor fork: on PostgreSQL the CTE writes the attempt; elsewhere the caller must."""
    stored = WebhookEventFactory(event_id="msg_done", status=status, attempts=1)

    with Statements() as statements, transaction.atomic():
        row = upsert("msg_done", duplicate_started_at=NOW, duplicate_http_status=202)

    on_postgresql = connection.vendor == "postgresql"
    assert len(statements.sent) == 1
    assert (row.pk, row.attempts, row.duplicate_recorded) == (stored.pk, 2, on_postgresql)
    recorded = list(WebhookAttempt.objects.values_list("kind", "outcome", "http_status", "started_at", "duration_ms"))
    assert recorded == ([("delivery", "duplicate", 202, NOW, 0)] if on_postgresql else [])


def test_event_upsert_of_an_unfinished_event_records_no_attempt_even_on_postgresql():
    WebhookEventFactory(event_id="msg_failed", status="failed")

    with transaction.atomic():
        row = upsert("msg_failed", duplicate_started_at=NOW, duplicate_http_status=202)

    assert (row.status, row.duplicate_recorded) == ("failed", False)
    assert not WebhookAttempt.objects.exists()


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("stored_status", "commit"),
    [(None, "on"), ("received", "on"), ("failed", "on"), ("processed", "off"), ("ignored", "off")],
    ids=["first delivery", "received", "failed", "processed", "ignored"],
)
def test_only_a_duplicates_transaction_commits_without_waiting_for_the_flush(stored_status, commit):
    """A duplicate only counts an attempt; a first delivery, and one that will run the handler, stay durable."""
    if stored_status is not None:
        WebhookEventFactory(event_id="msg_1", status=stored_status)

    with transaction.atomic():
        upsert("msg_1", duplicate_started_at=NOW, duplicate_http_status=202)
        assert synchronous_commit() == commit
    assert synchronous_commit() == "on"  # SET LOCAL: the connection's next transaction is durable again

    with transaction.atomic():
        upsert("msg_2")  # without a duplicate to record (replays, failures): always durable
        assert synchronous_commit() == "on"


def test_redelivery_of_a_processed_event_is_one_statement_on_postgresql_two_elsewhere(things):
    """Pins the CTE: switched off, PostgreSQL would send the attempt insert separately."""
    payload = {"type": "thing.ignored", "data": {"id": "thing_1"}}
    webhook_event_deliver(things, event_id="msg_twice", payload=payload)

    with Statements() as statements:
        result = webhook_event_deliver(things, event_id="msg_twice", payload=payload)

    assert result.outcome == "duplicate"
    assert len(statements.sent) == (1 if connection.vendor == "postgresql" else 2), statements.sent
    assert WebhookAttempt.objects.filter(outcome="duplicate").count() == 1


def test_event_outcome_store_is_one_statement_and_keeps_processed_at_when_given_none():
    event = WebhookEventFactory(status="processed", attempts=1, processed_at=NOW)

    with Statements() as statements:
        db.event_outcome_store(event.pk, status="failed", last_error="boom", attempts_added=1)

    assert len(statements.sent) == 1
    event.refresh_from_db()
    assert (event.status, event.last_error, event.attempts, event.processed_at) == ("failed", "boom", 2, NOW)
    later = NOW + dt.timedelta(minutes=1)
    db.event_outcome_store(event.pk, status="processed", last_error="", attempts_added=0, processed_at=later)
    event.refresh_from_db()
    assert (event.status, event.last_error, event.attempts, event.processed_at) == ("processed", "", 2, later)


def test_attempt_insert_is_one_statement():
    event = WebhookEventFactory()

    with Statements() as statements:
        db.attempt_insert(
            event.pk, kind="replay", outcome="failed", http_status=None, started_at=NOW, duration_ms=7, error="trace"
        )

    assert len(statements.sent) == 1
    attempt = event.attempt_log.get()
    assert (attempt.kind, attempt.outcome, attempt.http_status) == ("replay", "failed", None)
    assert (attempt.started_at, attempt.duration_ms, attempt.error) == (NOW, 7, "trace")


def test_rejection_count_is_one_statement_and_counts_into_the_hour():
    with Statements() as statements:
        db.rejection_count("things", "bad_signature", seen_at=NOW, detail="first", event_id="msg_a")
    later, next_hour = NOW + dt.timedelta(minutes=5), NOW + dt.timedelta(hours=1)
    db.rejection_count("things", "bad_signature", seen_at=later, detail="second", event_id="msg_b")
    db.rejection_count("things", "bad_signature", seen_at=next_hour, detail="next hour", event_id="")

    assert len(statements.sent) == 1
    rows = list(WebhookRejection.objects.order_by("hour").values_list("hour", "count", "last_detail", "last_event_id"))
    hour = NOW.replace(minute=0, second=0)
    assert rows == [(hour, 2, "second", "msg_b"), (hour + dt.timedelta(hours=1), 1, "next hour", "")]
    assert timezone.is_aware(rows[0][0])
