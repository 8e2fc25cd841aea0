"""Cursors for the hot path's hand-written statements: PostgreSQL parses and plans each once per connection.

Django's psycopg cursors bind parameters on the client (the values are written
into the SQL text), so PostgreSQL parses and plans every statement anew: for
the user lookup by Clerk id that was 0.11 of the 0.17 ms PostgreSQL spent per
`/api/me/` request (bench/README.md). `prepared_cursor` returns psycopg's
server-side binding cursor, which prepares each statement the first time a
connection runs it (`PREPARE` by protocol, named `_pg3_…`) and executes it by
name afterwards, wrapped as Django wraps its own (query logging, execute
wrappers, error translation), so query budgets count it like any statement.

`prepared_fetchone` runs such a statement as the request's first on its
connection without Django's health check `SELECT 1` before it: the
statement is the check, run again on a new connection if the old one is dead.

Only for statements built once per process (the same text every time) and
holding one statement. Django's own queries stay unprepared. With
`DATABASE_PREPARED_STATEMENTS=0` (a pooler in transaction mode that does not
track prepared statements: PgBouncer before 1.21) nothing is prepared and the
cursor binds on the server only. On SQLite it is Django's cursor.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db import InterfaceError, OperationalError
from django.db.backends.utils import CursorDebugWrapper


class _PreparingCursor(psycopg.Cursor):
    """psycopg's server-side binding cursor, preparing every statement it runs (unless the connection never does)."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


class _LoggedAsWritten(CursorDebugWrapper):
    """Django's query log (DEBUG, the tests' query budgets) with the statement as written, %s and all.

    Django would ask the cursor what it last sent, which a client-binding cursor knows and this one does not.
    """

    def debug_sql(self, sql=None, params=None, use_last_executed_query=False, many=False):
        return super().debug_sql(sql, params, use_last_executed_query=False, many=many)


def prepared_cursor(connection):
    """A cursor on Django's `connection` whose statements are prepared once per database connection."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    # As Django's own cursor() does: a persistent connection is checked (CONN_HEALTH_CHECKS) before its
    # first use in a request, so a connection the server dropped meanwhile is replaced, not failed on.
    connection.close_if_health_check_failed()
    return _unchecked_cursor(connection)


def prepared_fetchone(connection, sql: str, params: list[Any]) -> tuple | None:
    """The first row (or None) of a statement run on `prepared_cursor`, which is also the connection's health check.

    Only for a statement that may run twice: a read, or a write whose repeat
    is harmless. Before a persistent connection's first statement in a
    request Django sends `SELECT 1` (CONN_HEALTH_CHECKS), a round trip that
    cost `/api/me/` 0.1 ms of CPU, a fifth of its time in the app. Here the
    statement goes first instead: if the connection turns out to be dead, it
    is replaced and the statement runs once more on the new one. Inside a
    transaction, or once the connection is checked, it runs once, as usual.
    """
    if connection.vendor == "postgresql" and _unchecked(connection):
        try:
            row = _fetchone(_unchecked_cursor(connection), sql, params)
        except (OperationalError, InterfaceError):
            connection.close()  # dead (or the statement failed: it runs once more either way, on a new connection)
        else:
            connection.health_check_done = True
            return row
    return _fetchone(prepared_cursor(connection), sql, params)


def _fetchone(cursor, sql: str, params: list[Any]) -> tuple | None:
    with cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _unchecked(connection) -> bool:
    """A persistent connection, outside any transaction, not yet checked in this request."""
    return (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and connection.get_autocommit()
    )


def _unchecked_cursor(connection):
    connection.ensure_connection()
    cursor = _PreparingCursor(connection.connection)
    return _LoggedAsWritten(cursor, connection) if connection.queries_logged else connection.make_cursor(cursor)
