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


def upsert(event_id: str = "msg_1"):
    return db.event_upsert(
        source="things",
        event_id=event_id,
        event_type="thing.happened",
        subject_id="thing_1",
        payload={"type": "thing.happened", "data": {"id": "thing_1"}},
        received_at=NOW,
    )


def test_event_upsert_inserts_then_counts_attempts_one_statement_each():
    with Statements() as first, transaction.atomic():
        inserted = upsert()
    with Statements() as second, transaction.atomic():
        counted = upsert()

    assert (len(first.sent), len(second.sent)) == (1, 1)
    assert (inserted.pk, inserted.status, inserted.attempts) == (counted.pk, "received", 1)
    assert counted.attempts == 2
    event = WebhookEvent.objects.get()
    assert (event.attempts, event.subject_id, event.received_at) == (2, "thing_1", NOW)
    assert event.payload == {"type": "thing.happened", "data": {"id": "thing_1"}}


def duplicate(event_id: str = "msg_done"):
    return db.duplicate_record(source="things", event_id=event_id, started_at=NOW, http_status=202, request_id="req_1")


@pytest.mark.postgres
@pytest.mark.parametrize("status", ["processed", "ignored"])
def test_duplicate_record_counts_a_redelivery_of_a_done_event_and_writes_its_attempt_in_one_statement(status):
    stored = WebhookEventFactory(event_id="msg_done", status=status, attempts=1)

    with Statements() as statements, CaptureQueriesContext(connection) as everything:
        recorded = duplicate()

    assert len(statements.sent) == len(everything.captured_queries) == 1  # no BEGIN, no COMMIT of its own
    assert recorded.pk == stored.pk
    stored.refresh_from_db()
    assert (stored.attempts, stored.status) == (2, status)
    attempts = WebhookAttempt.objects.values_list("event", "kind", "outcome", "http_status", "started_at")
    assert list(attempts) == [(stored.pk, "delivery", "duplicate", 202, NOW)]
    assert WebhookAttempt.objects.get().duration_ms == 0
    assert WebhookAttempt.objects.get().request_id == "req_1"


@pytest.mark.postgres
@pytest.mark.parametrize("status", [None, "received", "failed"], ids=["not stored", "received", "failed"])
def test_duplicate_record_leaves_an_event_whose_handler_must_run_to_the_full_path(status):
    if status is not None:
        WebhookEventFactory(event_id="msg_done", status=status, attempts=1)

    assert duplicate() is None

    assert list(WebhookEvent.objects.values_list("attempts", flat=True)) == ([1] if status else [])
    assert not WebhookAttempt.objects.exists()


def test_duplicate_record_is_not_tried_on_sqlite():
    """SQLite has no data-modifying CTEs: a redelivery takes the full path there (two statements, below)."""
    WebhookEventFactory(event_id="msg_done", status="processed", attempts=1)

    with Statements() as statements:
        recorded = duplicate()

    if connection.vendor == "postgresql":
        assert recorded is not None
    else:
        assert (recorded, statements.sent) == (None, [])


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_a_duplicate_on_its_own_commits_without_waiting_for_the_flush_and_only_its_own_statement():
    """set_config(…, true) lasts until its transaction ends: here the statement's implicit one."""
    WebhookEventFactory(event_id="msg_done", status="processed")

    assert duplicate().synchronous_commit == "off"
    assert synchronous_commit() == "on"  # the connection's next statement is durable again


@pytest.mark.postgres
def test_a_duplicate_inside_a_callers_transaction_leaves_its_durability_alone():
    """The caller's transaction may write what must be durable: the statement does not turn the flush off."""
    WebhookEventFactory(event_id="msg_done", status="processed")

    with transaction.atomic():
        assert duplicate().synchronous_commit == "on"
        assert synchronous_commit() == "on"


def test_redelivery_of_a_processed_event_is_one_statement_on_postgresql_two_elsewhere(things):
    """Pins the duplicate statement: without it, PostgreSQL would upsert and insert the attempt in a transaction."""
    payload = {"type": "thing.ignored", "data": {"id": "thing_1"}}
    webhook_event_deliver(things, event_id="msg_twice", payload=payload)

    with CaptureQueriesContext(connection) as statements:
        result = webhook_event_deliver(things, event_id="msg_twice", payload=payload)

    assert result.outcome == "duplicate"
    # Transaction control counted too: on PostgreSQL the one statement is the whole exchange.
    sent = [q["sql"] for q in statements.captured_queries]
    assert len(sent) == (1 if connection.vendor == "postgresql" else 4), sent
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
        db.attempt_insert(event.pk, db.Attempt("replay", "failed", None, started_at=NOW, duration_ms=7, error="trace"))

    assert len(statements.sent) == 1
    attempt = event.attempt_log.get()
    assert (attempt.kind, attempt.outcome, attempt.http_status) == ("replay", "failed", None)
    assert (attempt.started_at, attempt.duration_ms, attempt.error) == (NOW, 7, "trace")


def test_an_outcome_with_its_attempt_is_one_statement_on_postgresql_two_elsewhere():
    event = WebhookEventFactory(status="received", attempts=1)
    attempt = db.Attempt("delivery", "processed", 200, started_at=NOW, duration_ms=3, request_id="req_9")

    with Statements() as statements:
        db.event_outcome_store(event.pk, status="processed", last_error="", attempts_added=0, attempt=attempt)

    assert len(statements.sent) == (1 if connection.vendor == "postgresql" else 2), statements.sent
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("processed", 1)
    stored = event.attempt_log.get()
    assert (stored.kind, stored.outcome, stored.http_status, stored.started_at) == ("delivery", "processed", 200, NOW)
    assert (stored.duration_ms, stored.error, stored.request_id) == (3, "", "req_9")


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
