"""The welcome emails' records on their UserProvisioning rows: claim sends in batches with a lease, record outcomes.

A worker pays per batch, not per email: one UPDATE claims up to a batch of
pending, due, unclaimed sends (setting a lease and counting an attempt on
each), one query reads their users, and one UPDATE records every outcome.
The attempt number is each claim's token: an outcome is recorded only where
the row is still pending with that attempt number, so a worker whose lease
expired cannot overwrite the claim that replaced its own. The policy (when to
send, retry or give up) is accounts/welcome/delivery.py.

Both UPDATEs are hand-written, in accounts/db.py's style: the ORM's update()
returns no rows (the claim must say which rows it took) and cannot set a
different value on each row in one statement (the record). Each is built once
per process and database; `accounts/tests/test_welcome_email.py` pins a
batch's three statements.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import time
from dataclasses import dataclass
from types import SimpleNamespace

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connections, router
from django.db.models import Q
from django.utils import timezone

from accounts.models import User, UserProvisioning
from config.database import prepared_cursor

logger = logging.getLogger("accounts.welcome.delivery")

Status = UserProvisioning.WelcomeEmail

# A send due this far ahead by this host's clock is taken already: hosts' clocks differ a little.
CLOCK_TOLERANCE = dt.timedelta(seconds=5)


def lease() -> dt.timedelta:
    """How long a claim lasts (WELCOME_EMAIL_LEASE_SECONDS); after that another worker may take the send."""
    return dt.timedelta(seconds=settings.WELCOME_EMAIL_LEASE_SECONDS)


def send_seconds() -> float:
    """How long a claimed batch may take to send, counted from its claim: half the lease.

    The conversation with the mail server is cut at that deadline
    (accounts/welcome/smtp.py), so it never outlives the claims; the other half
    of the lease is the margin for recording the outcomes, a paused process
    and clocks that differ between hosts.
    """
    return settings.WELCOME_EMAIL_LEASE_SECONDS / 2


def unclaimed(now: dt.datetime) -> Q:
    """Rows no live worker holds: never claimed, or their lease has run out."""
    return Q(welcome_email_claimed_until__isnull=True) | Q(welcome_email_claimed_until__lt=now)


@dataclass(frozen=True)
class Claim:
    """One claimed send: its row, the claim's token (the attempt number), and the user."""

    pk: int
    attempt: int
    user: User


@dataclass(frozen=True)
class Outcome:
    """How a claimed send ended, as recorded: SENT, SKIPPED, FAILED, or PENDING again (a retry at `next_attempt_at`)."""

    pk: int
    attempt: int
    status: str
    error: str = ""
    sent_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None


def claim_due(*, limit: int, pk: int | None = None) -> list[Claim]:
    """Take up to `limit` pending, due, unclaimed sends, the longest due first (only row `pk`, if given).

    One UPDATE (rows another worker is claiming are skipped: `FOR UPDATE SKIP
    LOCKED`), then one query for their users. Returns what was claimed, in due
    order: nothing when nothing is due.
    """
    now = timezone.now()
    connection = connections[router.db_for_write(UserProvisioning)]
    statements = _statements(connection.alias)
    sql = statements.claim if pk is None else statements.claim_one
    field = UserProvisioning._meta.get_field
    params = [
        field("welcome_email_claimed_until").get_db_prep_save(now + lease(), connection),
        Status.PENDING,
        field("welcome_email_next_attempt_at").get_db_prep_save(now + CLOCK_TOLERANCE, connection),
        field("welcome_email_claimed_until").get_db_prep_save(now, connection),
        *([pk] if pk is not None else []),
        limit,
    ]
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return []
    users = User.objects.using(connection.alias).in_bulk([user_id for _, _, user_id in rows])
    return [Claim(claimed_pk, attempt, users[user_id]) for claimed_pk, attempt, user_id in sorted(rows)]


def outcomes_record(outcomes: list[Outcome]) -> set[int]:
    """Record how each claimed send ended, in one UPDATE; returns the pks whose claim still held.

    An unreachable database is retried for up to a lease rather than given up on:
    giving up would leave sent emails pending, to be sent again. While the
    claims last nobody else sends them; an outcome arriving after another
    worker claimed the send is refused by its attempt number and logged.
    """
    if not outcomes:
        return set()
    deadline = time.monotonic() + settings.WELCOME_EMAIL_LEASE_SECONDS
    while True:
        try:
            held = _outcomes_write(outcomes)
            break
        except (OperationalError, InterfaceError):  # unreachable; a statement's own error is not retried
            if time.monotonic() >= deadline:
                raise
            logger.warning("cannot record welcome email outcomes yet (database unavailable); retrying")
            connections[router.db_for_write(UserProvisioning)].close()
            time.sleep(1)
            close_old_connections()
    for outcome in outcomes:
        if outcome.pk not in held:
            logger.error(
                "welcome email provisioning=%s: its claim expired before its outcome (%s) was recorded%s",
                outcome.pk,
                outcome.status,
                "; another worker may send it again" if outcome.status == Status.SENT else "",
            )
    return held


def _outcomes_write(outcomes: list[Outcome]) -> set[int]:
    connection = connections[router.db_for_write(UserProvisioning)]
    field = UserProvisioning._meta.get_field

    def stored(name: str, value: dt.datetime | None) -> str | None:
        value = field(name).get_db_prep_save(value, connection)  # SQLite: its text; PostgreSQL: a datetime
        return value.isoformat() if isinstance(value, dt.datetime) else value

    rows = [
        {
            "id": outcome.pk,
            "attempt": outcome.attempt,
            "status": outcome.status,
            "error": outcome.error,
            "sent_at": stored("welcome_email_sent_at", outcome.sent_at),
            "next_attempt_at": stored("welcome_email_next_attempt_at", outcome.next_attempt_at),
        }
        for outcome in outcomes
    ]
    with prepared_cursor(connection) as cursor:
        cursor.execute(_statements(connection.alias).record, [json.dumps(rows), Status.PENDING])
        return {pk for (pk,) in cursor.fetchall()}


# The claim: a queue's UPDATE of the rows its subquery locked; the RETURNING says which rows were taken.
_CLAIM = """
    UPDATE {p.table} SET {p.claimed_until} = %s, {p.attempts} = {p.attempts} + 1
    WHERE {p.id} IN (
        SELECT {p.id} FROM {p.table}
        WHERE {p.status} = %s AND {p.due} <= %s AND ({p.claimed_until} IS NULL OR {p.claimed_until} < %s){only}
        ORDER BY {p.due} LIMIT %s{skip_locked}
    )
    RETURNING {p.id}, {p.attempts}, {p.user}
"""
# The record: every outcome in one UPDATE, its rows given as one JSON array (a table of values whose
# types both databases read the same way; SQLite's datetimes are text, already in its format).
_RECORD = """
    UPDATE {p.table} SET {p.status} = v.status, {p.sent_at} = v.sent_at, {p.due} = v.next_attempt_at,
        {p.last_error} = v.error, {p.claimed_until} = NULL
    FROM {rows}
    WHERE {p.table}.{p.id} = v.id AND {p.table}.{p.attempts} = v.attempt AND {p.table}.{p.status} = %s
    RETURNING {p.table}.{p.id}
"""
_ROWS = {
    "postgresql": "jsonb_to_recordset(%s::jsonb) AS v(id bigint, attempt bigint, status text, error text, "
    "sent_at timestamptz, next_attempt_at timestamptz)",
    "sqlite": "(SELECT value ->> 'id' AS id, value ->> 'attempt' AS attempt, value ->> 'status' AS status, "
    "value ->> 'error' AS error, value ->> 'sent_at' AS sent_at, value ->> 'next_attempt_at' AS next_attempt_at "
    "FROM json_each(%s)) AS v",
}


@dataclass(frozen=True)
class _Statements:
    claim: str
    claim_one: str
    record: str


@functools.cache
def _statements(alias: str) -> _Statements:
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = UserProvisioning._meta
    p = SimpleNamespace(
        table=quote(meta.db_table),
        **{
            short: quote(meta.get_field(name).column)
            for short, name in [
                ("id", "id"),
                ("user", "user"),
                ("status", "welcome_email"),
                ("attempts", "welcome_email_attempts"),
                ("due", "welcome_email_next_attempt_at"),
                ("claimed_until", "welcome_email_claimed_until"),
                ("sent_at", "welcome_email_sent_at"),
                ("last_error", "welcome_email_last_error"),
            ]
        },
    )
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    rows = _ROWS["postgresql" if connection.vendor == "postgresql" else "sqlite"]
    if connection.vendor == "sqlite":  # RETURNING may not name the table there; the FROM's columns are unambiguous
        record = _RECORD.replace("RETURNING {p.table}.{p.id}", "RETURNING {p.id}")
    else:
        record = _RECORD
    return _Statements(
        claim=_CLAIM.format(p=p, only="", skip_locked=skip_locked),
        claim_one=_CLAIM.format(p=p, only=f" AND {p.id} = %s", skip_locked=skip_locked),
        record=record.format(p=p, rows=rows),
    )
