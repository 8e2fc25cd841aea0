"""Cursors for the hot path's hand-written statements: PostgreSQL parses and plans each once per connection.

Django's psycopg cursors bind parameters on the client (the values are written
into the SQL text), so PostgreSQL parses and plans every statement anew: for
the user lookup by Clerk id that was 0.11 of the 0.17 ms PostgreSQL spent per
`/api/me/` request (bench/README.md). `prepared_cursor` returns psycopg's
server-side binding cursor, which prepares each statement the first time a
connection runs it (`PREPARE` by protocol, named `_pg3_…`) and executes it by
name afterwards, wrapped as Django wraps its own (query logging, execute
wrappers, error translation), so query budgets count it like any statement.

Only for statements built once per process (the same text every time) and
holding one statement. Django's own queries stay unprepared. With
`DATABASE_PREPARED_STATEMENTS=0` (a pooler in transaction mode that does not
track prepared statements: PgBouncer before 1.21) nothing is prepared and the
cursor binds on the server only. On SQLite it is Django's cursor.
"""

from __future__ import annotations

import psycopg
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
    connection.ensure_connection()
    cursor = _PreparingCursor(connection.connection)
    return _LoggedAsWritten(cursor, connection) if connection.queries_logged else connection.make_cursor(cursor)
