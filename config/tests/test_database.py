"""config/database.py's prepared_fetchone: the request's first statement is its connection's health check.

On PostgreSQL, in real transactions (the connection must be persistent and
outside any test-case transaction), with CONN_HEALTH_CHECKS on as the
settings set it for PostgreSQL.
"""

from __future__ import annotations

import psycopg
import pytest
from django.db import OperationalError, connection, transaction

from config.database import prepared_fetchone

pytestmark = [
    pytest.mark.postgres(reason="prepared statements and the connection health check are PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]

SQL = "SELECT %s::text"


@pytest.fixture
def unchecked(monkeypatch):
    """A persistent connection at the start of a request (health checks on, not checked yet); is_usable's calls."""
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    connection.close()
    connection.connect()  # health_check_enabled is read from the settings when connecting
    calls = []
    is_usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: calls.append("SELECT 1") or is_usable())
    connection.health_check_done = False  # what request_started's close_old_connections leaves
    yield calls
    connection.close()


def backend_killed() -> None:
    """The server ends this connection's backend, as a restart would: the client finds out on its next statement."""
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(**{key: params[key] for key in ("dbname", "user", "host", "port") if key in params}) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_the_statement_is_the_check_no_select_1_first(unchecked):
    assert prepared_fetchone(connection, SQL, ["hello"]) == ("hello",)

    assert unchecked == []  # Django's check would have sent SELECT 1 before it
    assert connection.health_check_done
    with connection.cursor() as cursor:  # and nothing later in the request checks again
        cursor.execute("SELECT 1")
    assert unchecked == []


def test_a_dead_connection_is_replaced_and_the_statement_run_again(unchecked):
    dead = connection.connection
    backend_killed()

    assert prepared_fetchone(connection, SQL, ["again"]) == ("again",)

    assert connection.connection is not dead and not connection.errors_occurred


def test_once_checked_or_inside_a_transaction_it_runs_once_and_a_failure_propagates(unchecked):
    connection.health_check_done = True
    backend_killed()
    with pytest.raises(OperationalError):
        prepared_fetchone(connection, SQL, ["once"])

    connection.close()
    connection.connect()
    connection.health_check_done = False
    with pytest.raises(OperationalError), transaction.atomic():
        backend_killed()
        prepared_fetchone(connection, SQL, ["inside"])
