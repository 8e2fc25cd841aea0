"""The ledger's hand-written SQL, every statement in one place, in accounts/db.py's style.

Why not the ORM: on the delivery path its query building cost more than the round trips
(bench/README.md, "Where the time went"), and some statements have no ORM spelling (an upsert
that increments, a data-modifying CTE). Each function sends one statement on the database the
router picks for writing its model (`webhooks/tests/test_db.py` pins it on PostgreSQL and SQLite
3.35+). Names come from the models' metadata, each statement is built once per process and
database, and values are adapted by their model fields first, as the ORM would.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.db import connections, models, router

from config.database import prepared_cursor, prepared_fetchone
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


# An attempt's columns, as both statements that insert one name them.
_ATTEMPT_COLUMNS = (
    "({a.event}, {a.kind}, {a.outcome}, {a.http_status}, {a.started_at}, {a.duration_ms}, {a.error}, {a.request_id})"
)

# Not the ORM: it has no INSERT … ON CONFLICT DO UPDATE that increments and returns the row (bulk_create
# can only copy the new values), and one statement is the point: concurrent deliveries of one id cannot
# both insert, and the row stays locked until the transaction ends.
_EVENT_UPSERT = """
    INSERT INTO {e.table}
        ({e.source}, {e.event_id}, {e.event_type}, {e.subject_id}, {e.payload}, {e.status}, {e.attempts},
         {e.last_error}, {e.received_at})
    VALUES (%s, %s, %s, %s, %s, %s, 1, '', %s)
    ON CONFLICT ({e.source}, {e.event_id}) DO UPDATE SET {e.attempts} = {e.table}.{e.attempts} + 1
    RETURNING {e.id}, {e.status}, {e.attempts}
"""


def event_upsert(
    *, source: str, event_id: str, event_type: str, subject_id: str, payload: Any, received_at: dt.datetime
) -> UpsertedEvent:
    """Insert the event as received, or count one more attempt on the stored one; lock its row."""
    connection, statements = _writing(WebhookEvent)
    stored = _prepared(WebhookEvent, "payload", payload, connection)
    received = _prepared(WebhookEvent, "received_at", received_at, connection)
    params = [source, event_id, event_type, subject_id, stored, WebhookEvent.Status.RECEIVED, received]
    with prepared_cursor(connection) as cursor:
        cursor.execute(statements.event_upsert, params)
        return UpsertedEvent(*cursor.fetchone())


# PostgreSQL only (no data-modifying CTEs in SQLite): a redelivery of a done event, the commonest after
# the first, counted with its attempt row, without the payload and without BEGIN and COMMIT. On its own
# (autocommit) it turns synchronous_commit off for its implicit transaction (set_config(…, true) is SET
# LOCAL): a crash can lose the last fraction of a second of attempt counts, never an event or a status
# (docs/webhook-endpoint.md). A done event held by a replay is waited for, then re-checked (READ COMMITTED);
# any other (new, failed, or a first delivery not committed yet) matches no row: the upsert waits instead.
_DUPLICATE_RECORD = """
    WITH "event" AS (
        UPDATE {e.table} SET {e.attempts} = {e.attempts} + 1
        WHERE {e.source} = %s AND {e.event_id} = %s AND {e.status} IN (%s, %s)
        RETURNING {e.id}
    ), "attempt" AS (
        INSERT INTO {a.table} {attempt_columns}
        SELECT {e.id}, %s, %s, %s, %s, 0, '', %s FROM "event"
    )
    SELECT {e.id},
        CASE WHEN %s THEN set_config('synchronous_commit', 'off', true) ELSE current_setting('synchronous_commit') END
    FROM "event"
"""


@dataclass(frozen=True)
class RecordedDuplicate:
    pk: int
    synchronous_commit: str  # as the statement's own transaction committed: "off" when run on its own


def duplicate_record(
    *, source: str, event_id: str, started_at: dt.datetime, http_status: int, request_id: str = ""
) -> RecordedDuplicate | None:
    """Count a redelivery of a processed or ignored event and store its attempt: one statement, PostgreSQL only.

    None when the event is not stored, not done (its handler must run), or
    the database is not PostgreSQL: the caller then takes the full path. It
    may run twice (`prepared_fetchone`) if the connection dies with the answer
    on its way: one more attempt row, as Svix's redelivery of a lost answer.
    """
    connection, statements = _writing(WebhookEvent)
    if connection.vendor != "postgresql":
        return None
    kind, outcome = WebhookAttempt.Kind.DELIVERY, WebhookAttempt.Outcome.DUPLICATE
    started = _prepared(WebhookAttempt, "started_at", started_at, connection)
    alone = connection.get_autocommit()  # on its own, not inside a caller's transaction
    params = [source, event_id, *sorted(DONE_STATUSES), kind, outcome, http_status, started, request_id, alone]
    row = prepared_fetchone(connection, statements.duplicate_record, params)
    return None if row is None else RecordedDuplicate(*row)


# Not the ORM: its update cost 0.33 ms against 0.12 for this statement (bench/README.md, change 4).
# processed_at is kept when none is given (a failure does not erase when it last succeeded), and so is
# the payload (a source replaces it only to store it without personal data).
_EVENT_OUTCOME_STORE = """
    UPDATE {e.table}
    SET {e.status} = %s, {e.last_error} = %s, {e.attempts} = {e.attempts} + %s,
        {e.processed_at} = COALESCE(%s, {e.processed_at}), {e.payload} = COALESCE(%s, {e.payload})
    WHERE {e.id} = %s
"""


# PostgreSQL: the outcome and its attempt row in one statement (a data-modifying CTE), one round trip
# less for every delivery and replay that runs a handler; elsewhere the two statements.
_EVENT_OUTCOME_WITH_ATTEMPT = 'WITH "outcome" AS ({outcome}) {attempt}'


@dataclass(frozen=True)
class Attempt:
    """One delivery or replay of an event and what came of it: a WebhookAttempt row."""

    kind: str
    outcome: str
    http_status: int | None
    started_at: dt.datetime
    duration_ms: int
    error: str = ""
    request_id: str = ""


def event_outcome_store(
    pk: int,
    *,
    status: str,
    last_error: str,
    attempts_added: int,
    processed_at: dt.datetime | None = None,
    payload=None,
    attempt: Attempt | None = None,
) -> None:
    """Store what processing the event came to; `attempts_added` counts attempts not counted by the upsert.

    `payload`, when given, replaces the stored one in the same statement;
    `attempt`, when given, is inserted too (in the same statement on PostgreSQL).
    """
    connection, statements = _writing(WebhookEvent)
    stored = None if payload is None else _prepared(WebhookEvent, "payload", payload, connection)
    processed = _prepared(WebhookEvent, "processed_at", processed_at, connection)
    sql, params = statements.event_outcome_store, [status, last_error, attempts_added, processed, stored, pk]
    if attempt is not None and connection.vendor == "postgresql":
        sql, params = statements.event_outcome_with_attempt, params + _attempt_params(pk, attempt, connection)
        attempt = None  # inserted with the outcome
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
    if attempt is not None:
        attempt_insert(pk, attempt)


# Not the ORM: its insert cost 0.33 ms against 0.12 for this statement (bench/README.md, change 4).
_ATTEMPT_INSERT = "INSERT INTO {a.table} {attempt_columns} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"


def attempt_insert(event_pk: int, attempt: Attempt) -> None:
    """Record one delivery or replay of the event and what came of it."""
    connection, statements = _writing(WebhookAttempt)
    with prepared_cursor(connection) as cursor:
        cursor.execute(statements.attempt_insert, _attempt_params(event_pk, attempt, connection))


def _attempt_params(event_pk: int, a: Attempt, connection) -> list[Any]:
    started_at = _prepared(WebhookAttempt, "started_at", a.started_at, connection)
    return [event_pk, a.kind, a.outcome, a.http_status, started_at, a.duration_ms, a.error, a.request_id]


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
    duplicate_record: str
    event_outcome_store: str
    event_outcome_with_attempt: str
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
    attempt_columns = _ATTEMPT_COLUMNS.format(a=a)
    outcome, attempt = _EVENT_OUTCOME_STORE.format(e=e), _ATTEMPT_INSERT.format(a=a, attempt_columns=attempt_columns)
    return _Statements(
        event_upsert=_EVENT_UPSERT.format(e=e),
        duplicate_record=_DUPLICATE_RECORD.format(e=e, a=a, attempt_columns=attempt_columns),
        event_outcome_store=outcome,
        event_outcome_with_attempt=_EVENT_OUTCOME_WITH_ATTEMPT.format(outcome=outcome, attempt=attempt),
        attempt_insert=attempt,
        rejection_count=_REJECTION_COUNT.format(r=r),
    )
