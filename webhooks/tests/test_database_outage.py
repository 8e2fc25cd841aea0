"""A database outage: 503 and nothing kept while it lasts, recovery without a restart.

A small TCP proxy sits between the app and PostgreSQL; cutting it breaks the
persistent connection the way a server restart does.
"""

from __future__ import annotations

import json

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import Client, RequestFactory

from accounts.models import User
from accounts.tests.factories import ClerkUserDataFactory, user_event
from config.tests.helpers import deliver_to, svix_headers
from webhooks.models import WebhookEvent
from webhooks.tests.concurrency import new_msg_id
from webhooks.tests.tcp_proxy import TcpProxy

# The connection is cut under the app mid-test, so no test may run inside a test-case transaction.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def db_behind_proxy():
    """Point this thread's default connection at a TcpProxy in front of the real server; restore after."""
    settings_dict = connection.settings_dict
    original = {key: settings_dict[key] for key in ("HOST", "PORT")}
    upstream = (original["HOST"] or "127.0.0.1", int(original["PORT"] or 5432))
    proxy = TcpProxy(upstream)
    proxy.start()
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", proxy.port
    try:
        yield proxy
    finally:
        proxy.stop()
        connection.close()
        settings_dict.update(original)


def stored_event_count(proxy: TcpProxy, event_id: str) -> int:
    """Ledger rows for `event_id`, read on a direct connection of our own, not through the proxy."""
    host, port = proxy.upstream
    params = connection.settings_dict
    with psycopg.connect(host=host, port=port, dbname=params["NAME"], user=params["USER"]) as direct:
        table = WebhookEvent._meta.db_table
        return direct.execute(f"SELECT count(*) FROM {table} WHERE event_id = %s", [event_id]).fetchone()[0]


def assert_retry_processed_once_the_database_is_back(client, proxy: TcpProxy, payload: dict, msg_id: str) -> None:
    """Nothing of the refused delivery was kept, and Svix's next retry of it is processed as its first attempt."""
    assert stored_event_count(proxy, msg_id) == 0, "the refused delivery left its ledger row"
    response = deliver_to(client, payload, msg_id=msg_id)
    assert response.status_code == 200, (response.status_code, response.content)
    assert json.loads(response.content)["outcome"] == "processed"
    event = WebhookEvent.objects.get(event_id=msg_id)
    assert (event.status, event.attempts) == ("processed", 1)
    assert list(event.attempt_log.values_list("outcome", "http_status")) == [("processed", 200)]


@pytest.mark.postgres(
    reason="a database outage is simulated by cutting a TCP proxy in front of the PostgreSQL server; "
    "the app's persistent connection and health checks are configured for PostgreSQL only"
)
def test_database_outage_answers_503_and_recovers_without_restart(db_behind_proxy, mailoutbox):
    proxy = db_behind_proxy
    port = proxy.port
    first, second = ClerkUserDataFactory(), ClerkUserDataFactory()
    first_msg, second_msg = new_msg_id(), new_msg_id()
    second_payload = user_event("user.created", second)
    client = Client()

    response = deliver_to(client, user_event("user.created", first), msg_id=first_msg)
    assert response.status_code == 200, response.content
    assert connection.connection is not None, "expected a persistent connection after the request"
    assert connection.connection.info.port == port, "the request did not go through the proxy"
    assert proxy.connections == 1

    proxy.stop()  # the outage: the persistent connection is cut, new ones are refused

    response = deliver_to(client, second_payload, msg_id=second_msg)
    assert response.status_code == 503, (response.status_code, response.content)
    assert response["Retry-After"] == "30"
    # A retry during the outage: still 503, never 500.
    response = deliver_to(client, second_payload, msg_id=second_msg)
    assert response.status_code == 503, (response.status_code, response.content)

    proxy.start(port)  # the database is back, on the same address

    assert_retry_processed_once_the_database_is_back(client, proxy, second_payload, second_msg)
    assert connection.connection.info.port == port
    assert WebhookEvent.objects.get(event_id=first_msg).status == "processed"
    assert User.objects.filter(clerk_id__in=[first["id"], second["id"]]).count() == 2
    assert len(mailoutbox) == 2


@pytest.mark.postgres(
    reason="a database outage is simulated by cutting a TCP proxy in front of the PostgreSQL server "
    "in the middle of a delivery's transaction"
)
def test_database_cut_mid_transaction_answers_503_keeps_nothing_and_recovers(db_behind_proxy, mailoutbox):
    """The connection dies after the ledger row is written, before the user row: all or nothing."""
    proxy = db_behind_proxy
    port = proxy.port
    data, msg_id = ClerkUserDataFactory(), new_msg_id()
    payload = user_event("user.created", data)
    client = Client()
    cuts = []

    def cut_before_user_insert(execute, sql, params, many, context):
        if not cuts and sql.lstrip().upper().startswith('INSERT INTO "ACCOUNTS_USER"'):
            assert connection.in_atomic_block
            cuts.append(sql)
            proxy.stop()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(cut_before_user_insert):
        response = deliver_to(client, payload, msg_id=msg_id)
    assert cuts, "the delivery never reached the user insert"
    assert response.status_code == 503, (response.status_code, response.content)

    proxy.start(port)

    # The ledger row went with the rolled-back transaction.
    assert_retry_processed_once_the_database_is_back(client, proxy, payload, msg_id)
    assert User.objects.filter(clerk_id=data["id"]).count() == 1
    assert len(mailoutbox) == 1


def deliver_through_wsgi(payload: dict, *, msg_id: str) -> tuple[int, dict]:
    """One signed delivery through Django's real WSGIHandler, as gunicorn calls it.

    Unlike the test client, the WSGI handler keeps `close_old_connections`
    connected to request_started/request_finished, so the CONN_HEALTH_CHECKS
    check of a persistent connection runs as in production.
    """
    body = json.dumps(payload)
    request = RequestFactory().post(
        "/webhooks/clerk/", data=body, content_type="application/json", headers=svix_headers(body, msg_id=msg_id)
    )
    started: list[str] = []
    result = WSGIHandler()(request.environ, lambda status, headers, exc_info=None: started.append(status))
    try:
        content = b"".join(result)
    finally:
        result.close()  # request_finished, as a WSGI server does
    return int(started[0].split()[0]), json.loads(content or b"{}")


@pytest.mark.postgres(
    reason="a database restart is simulated by cutting and restoring a TCP proxy in front of the "
    "PostgreSQL server; CONN_MAX_AGE/CONN_HEALTH_CHECKS are set for PostgreSQL only"
)
def test_connection_cut_between_requests_is_replaced_by_the_health_check(db_behind_proxy):
    """The database restarted while the app was idle: the next delivery must not fail on the dead connection."""
    proxy = db_behind_proxy
    port = proxy.port
    first, second = ClerkUserDataFactory(), ClerkUserDataFactory()

    status, _ = deliver_through_wsgi(user_event("user.created", first), msg_id=new_msg_id())
    assert status == 200
    dead = connection.connection
    assert dead is not None and dead.info.port == port, "expected a persistent connection through the proxy"

    proxy.stop()  # cuts the idle persistent connection…
    proxy.start(port)  # …and the database is back before the next delivery

    msg_id = new_msg_id()
    status, body = deliver_through_wsgi(user_event("user.created", second), msg_id=msg_id)
    assert (status, body.get("outcome")) == (200, "processed"), body
    assert connection.connection is not dead, "the dead connection was not replaced"
    assert WebhookEvent.objects.get(event_id=msg_id).attempts == 1


@pytest.mark.postgres(reason="a database outage is simulated by cutting a TCP proxy in front of the PostgreSQL server")
def test_healthz_follows_the_database(db_behind_proxy):
    proxy = db_behind_proxy
    port = proxy.port
    client = Client()
    assert client.get("/healthz").status_code == 200

    proxy.stop()
    down = client.get("/healthz")
    proxy.start(port)

    assert down.status_code == 503
    assert down.json() == {"status": "unavailable", "database": "unreachable"}
    assert client.get("/healthz").status_code == 200
