"""The ledger's hand-written SQL, every statement in one place.

Why not the ORM: on the delivery path its per-call query building cost more
than the round trips themselves (bench/README.md, "Where the time went": the
status update and the attempt insert went from 0.33 to 0.12 ms each), and
some statements here have no ORM spelling at all (an upsert that increments,
a data-modifying CTE). Each function sends exactly one statement on the
default database; `webhooks/tests/test_db.py` pins that on PostgreSQL and
SQLite (3.35 or newer: `RETURNING`).

One style: identifiers double-quoted (standard SQL, read alike by both
backends), table names taken from the models, values passed as parameters and
adapted by their model fields first, as the ORM would (raw SQL gets no
adaptation: SQLite stores datetimes as text, JSON must be dumped).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection, models

from webhooks.models import DONE_STATUSES, WebhookAttempt, WebhookEvent, WebhookRejection


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _prepared(model: type[models.Model], field_name: str, value: Any) -> Any:
    """`value` as the backend stores it for this field."""
    return model._meta.get_field(field_name).get_db_prep_save(value, connection)


@dataclass(frozen=True)
class UpsertedEvent:
    pk: int
    status: str
    attempts: int
    duplicate_recorded: bool  # the statement also wrote this redelivery's attempt row


# Not the ORM: it has no INSERT … ON CONFLICT DO UPDATE that increments and returns the row
# (bulk_create(update_conflicts=True) can only copy the new values), and one statement is the
# point: concurrent deliveries of one id cannot both insert, and the row stays locked until
# the transaction ends.
_EVENT_UPSERT = """
    INSERT INTO {events}
        ("source", "event_id", "event_type", "subject_id", "payload", "status", "attempts", "last_error", "received_at")
    VALUES (%s, %s, %s, %s, %s, %s, 1, '', %s)
    ON CONFLICT ("source", "event_id") DO UPDATE SET "attempts" = {events}."attempts" + 1
    RETURNING "id", "status", "attempts"
"""
# PostgreSQL only (SQLite has no data-modifying CTEs): the same upsert also writes a redelivery's
# attempt row when the event is already done, so a duplicate costs one statement instead of two
# (bench/README.md, change 5). Its duration is recorded as 0.
_EVENT_UPSERT_RECORDING_DUPLICATE = """
    WITH "event" AS ({upsert}), "duplicate" AS (
        INSERT INTO {attempts} ("event_id", "kind", "outcome", "http_status", "started_at", "duration_ms", "error")
        SELECT "id", %s, %s, %s, %s, 0, '' FROM "event" WHERE "status" IN (%s, %s)
    )
    SELECT "id", "status", "attempts" FROM "event"
"""


def event_upsert(
    *,
    source: str,
    event_id: str,
    event_type: str,
    subject_id: str,
    payload: Any,
    received_at: dt.datetime,
    duplicate_started_at: dt.datetime | None = None,
    duplicate_http_status: int | None = None,
) -> UpsertedEvent:
    """Insert the event as received, or count one more attempt on the stored one; lock its row.

    With `duplicate_started_at` (and the status the sender is answered) on
    PostgreSQL, a redelivery of a processed or ignored event also gets its
    delivery attempt row, outcome duplicate, in the same statement.
    """
    sql = _EVENT_UPSERT.format(events=_table(WebhookEvent))
    params = [
        source,
        event_id,
        event_type,
        subject_id,
        _prepared(WebhookEvent, "payload", payload),
        WebhookEvent.Status.RECEIVED,
        _prepared(WebhookEvent, "received_at", received_at),
    ]
    records_duplicate = duplicate_started_at is not None and connection.vendor == "postgresql"
    if records_duplicate:
        sql = _EVENT_UPSERT_RECORDING_DUPLICATE.format(upsert=sql, attempts=_table(WebhookAttempt))
        params += [
            WebhookAttempt.Kind.DELIVERY,
            WebhookAttempt.Outcome.DUPLICATE,
            duplicate_http_status,
            _prepared(WebhookAttempt, "started_at", duplicate_started_at),
            *sorted(DONE_STATUSES),
        ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk, status, attempts = cursor.fetchone()
    return UpsertedEvent(pk, status, attempts, records_duplicate and status in DONE_STATUSES)


# Not the ORM: its update cost 0.33 ms against 0.12 for this statement (bench/README.md, change 4).
# processed_at is kept when none is given (a failure does not erase when it last succeeded).
_EVENT_OUTCOME_STORE = """
    UPDATE {events}
    SET "status" = %s, "last_error" = %s, "attempts" = "attempts" + %s, "processed_at" = COALESCE(%s, "processed_at")
    WHERE "id" = %s
"""


def event_outcome_store(
    pk: int, *, status: str, last_error: str, attempts_added: int, processed_at: dt.datetime | None = None
) -> None:
    """Store what processing the event came to; `attempts_added` counts attempts not counted by the upsert."""
    with connection.cursor() as cursor:
        cursor.execute(
            _EVENT_OUTCOME_STORE.format(events=_table(WebhookEvent)),
            [status, last_error, attempts_added, _prepared(WebhookEvent, "processed_at", processed_at), pk],
        )


# Not the ORM: its insert cost 0.33 ms against 0.12 for this statement (bench/README.md, change 4).
_ATTEMPT_INSERT = """
    INSERT INTO {attempts} ("event_id", "kind", "outcome", "http_status", "started_at", "duration_ms", "error")
    VALUES (%s, %s, %s, %s, %s, %s, %s)
"""


def attempt_insert(
    event_pk: int,
    *,
    kind: str,
    outcome: str,
    http_status: int | None,
    started_at: dt.datetime,
    duration_ms: int,
    error: str = "",
) -> None:
    """Record one delivery or replay of the event and what came of it."""
    with connection.cursor() as cursor:
        cursor.execute(
            _ATTEMPT_INSERT.format(attempts=_table(WebhookAttempt)),
            [
                event_pk,
                kind,
                outcome,
                http_status,
                _prepared(WebhookAttempt, "started_at", started_at),
                duration_ms,
                error,
            ],
        )


# Not the ORM: counting into the hour's row must be one statement (two refusals in the same
# hour may race), and the ORM has no upsert that increments.
_REJECTION_COUNT = """
    INSERT INTO {rejections}
        ("source", "reason", "hour", "count", "last_seen_at", "last_detail", "last_event_id")
    VALUES (%s, %s, %s, 1, %s, %s, %s)
    ON CONFLICT ("source", "reason", "hour") DO UPDATE SET
        "count" = {rejections}."count" + 1,
        "last_seen_at" = excluded."last_seen_at",
        "last_detail" = excluded."last_detail",
        "last_event_id" = excluded."last_event_id"
"""


def rejection_count(source: str, reason: str, *, seen_at: dt.datetime, detail: str, event_id: str) -> None:
    """Count one refused delivery into the row of its source, reason and hour."""
    hour = seen_at.replace(minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(
            _REJECTION_COUNT.format(rejections=_table(WebhookRejection)),
            [
                source,
                reason,
                _prepared(WebhookRejection, "hour", hour),
                _prepared(WebhookRejection, "last_seen_at", seen_at),
                detail,
                event_id,
            ],
        )
