"""The ledger's hand-written SQL, every statement in one place, in accounts/db.py's style.

Why not the ORM: on the delivery path its per-call query building cost more
than the round trips themselves (bench/README.md, "Where the time went": the
status update and the attempt insert went from 0.33 to 0.12 ms each), and
some statements here have no ORM spelling at all (an upsert that increments,
a data-modifying CTE). Each function sends exactly one statement on the
database the router picks for writing its model; `webhooks/tests/test_db.py`
pins that on PostgreSQL and SQLite (3.35 or newer: `RETURNING`).

Tables and columns come from the models' metadata, quoted by the connection's
backend, and each statement is built once per process and database (the
delivery path pays no string building); values are passed as parameters and
adapted by their model fields first, as the ORM would (raw SQL gets no
adaptation: SQLite stores datetimes as text, JSON must be dumped).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.db import connections, models, router

from config.database import prepared_cursor
from webhooks.models import DONE_STATUSES, WebhookAttempt, WebhookEvent, WebhookRejection


def _prepared(model: type[models.Model], field_name: str, value: Any, connection) -> Any:
    """`value` as the backend stores it for this field."""
    return model._meta.get_field(field_name).get_db_prep_save(value, connection)


def _writing(model: type[models.Model]):
    """The connection the router picks for writing `model`, and the statements built for it."""
    connection = connections[router.db_for_write(model)]
    return connection, _statements(connection.alias)


@dataclass(frozen=True)
class UpsertedEvent:
    pk: int
    status: str
    attempts: int
    duplicate_recorded: bool  # the statement also wrote this redelivery's attempt row


# An attempt's columns, as both statements that insert one name them.
_ATTEMPT_COLUMNS = (
    "({a.event}, {a.kind}, {a.outcome}, {a.http_status}, {a.started_at}, {a.duration_ms}, {a.error}, {a.request_id})"
)

# Not the ORM: it has no INSERT … ON CONFLICT DO UPDATE that increments and returns the row
# (bulk_create(update_conflicts=True) can only copy the new values), and one statement is the
# point: concurrent deliveries of one id cannot both insert, and the row stays locked until
# the transaction ends.
_EVENT_UPSERT = """
    INSERT INTO {e.table}
        ({e.source}, {e.event_id}, {e.event_type}, {e.subject_id}, {e.payload}, {e.status}, {e.attempts},
         {e.last_error}, {e.received_at})
    VALUES (%s, %s, %s, %s, %s, %s, 1, '', %s)
    ON CONFLICT ({e.source}, {e.event_id}) DO UPDATE SET {e.attempts} = {e.table}.{e.attempts} + 1
    RETURNING {e.id}, {e.status}, {e.attempts}
"""
# PostgreSQL only (SQLite has no data-modifying CTEs): the same upsert also writes a redelivery's
# attempt row when the event is already done, so a duplicate costs one statement instead of two
# (bench/README.md, change 5). Its duration is recorded as 0. "event" and "duplicate" name the CTEs.
# A duplicate's transaction writes nothing else, so the statement also turns synchronous_commit off
# for it (SET LOCAL): its commit does not wait for the WAL flush. A crash can lose the last fraction
# of a second of attempt counts, never an event or a status (docs/webhook-endpoint.md).
_EVENT_UPSERT_RECORDING_DUPLICATE = """
    WITH "event" AS ({upsert}), "duplicate" AS (
        INSERT INTO {a.table} {attempt_columns}
        SELECT {e.id}, %s, %s, %s, %s, 0, '', %s FROM "event" WHERE {e.status} IN (%s, %s)
    )
    SELECT {e.id}, {e.status}, {e.attempts},
        CASE WHEN {e.status} IN (%s, %s) THEN set_config('synchronous_commit', 'off', true) END
    FROM "event"
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
    request_id: str = "",
) -> UpsertedEvent:
    """Insert the event as received, or count one more attempt on the stored one; lock its row.

    With `duplicate_started_at` (and the status the sender is answered) on
    PostgreSQL, a redelivery of a processed or ignored event also gets its
    delivery attempt row, outcome duplicate, in the same statement, and its
    commit does not wait for the flush: the caller must write nothing else.
    """
    connection, statements = _writing(WebhookEvent)
    params = [
        source,
        event_id,
        event_type,
        subject_id,
        _prepared(WebhookEvent, "payload", payload, connection),
        WebhookEvent.Status.RECEIVED,
        _prepared(WebhookEvent, "received_at", received_at, connection),
    ]
    records_duplicate = duplicate_started_at is not None and connection.vendor == "postgresql"
    sql = statements.event_upsert_recording_duplicate if records_duplicate else statements.event_upsert
    if records_duplicate:
        params += [
            WebhookAttempt.Kind.DELIVERY,
            WebhookAttempt.Outcome.DUPLICATE,
            duplicate_http_status,
            _prepared(WebhookAttempt, "started_at", duplicate_started_at, connection),
            request_id,
            *sorted(DONE_STATUSES),
            *sorted(DONE_STATUSES),
        ]
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
        pk, status, attempts = cursor.fetchone()[:3]
    return UpsertedEvent(pk, status, attempts, records_duplicate and status in DONE_STATUSES)


# Not the ORM: its update cost 0.33 ms against 0.12 for this statement (bench/README.md, change 4).
# processed_at is kept when none is given (a failure does not erase when it last succeeded), and so is
# the payload (a source replaces it only to store it without personal data).
_EVENT_OUTCOME_STORE = """
    UPDATE {e.table}
    SET {e.status} = %s, {e.last_error} = %s, {e.attempts} = {e.attempts} + %s,
        {e.processed_at} = COALESCE(%s, {e.processed_at}), {e.payload} = COALESCE(%s, {e.payload})
    WHERE {e.id} = %s
"""


def event_outcome_store(
    pk: int, *, status: str, last_error: str, attempts_added: int, processed_at: dt.datetime | None = None, payload=None
) -> None:
    """Store what processing the event came to; `attempts_added` counts attempts not counted by the upsert.

    `payload`, when given, replaces the stored one in the same statement.
    """
    connection, statements = _writing(WebhookEvent)
    stored = None if payload is None else _prepared(WebhookEvent, "payload", payload, connection)
    processed = _prepared(WebhookEvent, "processed_at", processed_at, connection)
    with prepared_cursor(connection) as cursor:
        cursor.execute(statements.event_outcome_store, [status, last_error, attempts_added, processed, stored, pk])


# Not the ORM: its insert cost 0.33 ms against 0.12 for this statement (bench/README.md, change 4).
_ATTEMPT_INSERT = """
    INSERT INTO {a.table} {attempt_columns}
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
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
    request_id: str = "",
) -> None:
    """Record one delivery or replay of the event and what came of it."""
    connection, statements = _writing(WebhookAttempt)
    with prepared_cursor(connection) as cursor:
        cursor.execute(
            statements.attempt_insert,
            [
                event_pk,
                kind,
                outcome,
                http_status,
                _prepared(WebhookAttempt, "started_at", started_at, connection),
                duration_ms,
                error,
                request_id,
            ],
        )


# Not the ORM: counting into the hour's row must be one statement (two refusals in the same
# hour may race), and the ORM has no upsert that increments.
_REJECTION_COUNT = """
    INSERT INTO {r.table}
        ({r.source}, {r.reason}, {r.hour}, {r.count}, {r.last_seen_at}, {r.last_detail}, {r.last_event_id})
    VALUES (%s, %s, %s, 1, %s, %s, %s)
    ON CONFLICT ({r.source}, {r.reason}, {r.hour}) DO UPDATE SET
        {r.count} = {r.table}.{r.count} + 1,
        {r.last_seen_at} = excluded.{r.last_seen_at},
        {r.last_detail} = excluded.{r.last_detail},
        {r.last_event_id} = excluded.{r.last_event_id}
"""


def rejection_count(source: str, reason: str, *, seen_at: dt.datetime, detail: str, event_id: str) -> None:
    """Count one refused delivery into the row of its source, reason and hour."""
    connection, statements = _writing(WebhookRejection)
    hour = _prepared(WebhookRejection, "hour", seen_at.replace(minute=0, second=0, microsecond=0), connection)
    seen = _prepared(WebhookRejection, "last_seen_at", seen_at, connection)
    with prepared_cursor(connection) as cursor:
        cursor.execute(statements.rejection_count, [source, reason, hour, seen, detail, event_id])


@dataclass(frozen=True)
class _Statements:
    event_upsert: str
    event_upsert_recording_duplicate: str
    event_outcome_store: str
    attempt_insert: str
    rejection_count: str


@functools.cache
def _statements(alias: str) -> _Statements:
    """Every statement above for the database `alias`, its names quoted by that database's backend."""
    quote = connections[alias].ops.quote_name

    def names(model: type[models.Model]) -> SimpleNamespace:
        """`table`, then each concrete field's column by the field's name (a foreign key's is `…_id`)."""
        meta = model._meta
        columns = {field.name: quote(field.column) for field in meta.concrete_fields}
        return SimpleNamespace(table=quote(meta.db_table), **columns)

    e, a, r = names(WebhookEvent), names(WebhookAttempt), names(WebhookRejection)
    upsert, attempt_columns = _EVENT_UPSERT.format(e=e), _ATTEMPT_COLUMNS.format(a=a)
    return _Statements(
        event_upsert=upsert,
        event_upsert_recording_duplicate=_EVENT_UPSERT_RECORDING_DUPLICATE.format(
            upsert=upsert, e=e, a=a, attempt_columns=attempt_columns
        ),
        event_outcome_store=_EVENT_OUTCOME_STORE.format(e=e),
        attempt_insert=_ATTEMPT_INSERT.format(a=a, attempt_columns=attempt_columns),
        rejection_count=_REJECTION_COUNT.format(r=r),
    )
