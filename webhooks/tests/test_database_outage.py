"""A database outage: 503 and nothing kept while it lasts, recovery without a restart.

A small TCP proxy (the `db_behind_proxy` fixture) sits between the app and
PostgreSQL; cutting it breaks the persistent connection the way a server
restart does. Deliveries go to the ledger's stand-in source; the same outages
during Clerk deliveries are in accounts/tests/test_clerk_delivery_outage.py.
"""

from __future__ import annotations

import json

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import RequestFactory

from webhooks.models import WebhookEvent
from webhooks.tests.deliveries import deliver_to, new_msg_id, svix_headers
from webhooks.tests.ledger_source import PATH, runs, thing_event, things_recorded
from webhooks.tests.outage import ServerLikeClient, assert_retry_processed_once_the_database_is_back

# The connection is cut under the app mid-test, so no test may run inside a test-case transaction.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.postgres(
    reason="a database outage is simulated by cutting a TCP proxy in front of the PostgreSQL server; "
    "the app's persistent connection and health checks are configured for PostgreSQL only"
)
def test_database_outage_answers_503_and_recovers_without_restart(db_behind_proxy):
    proxy = db_behind_proxy
    port = proxy.port
    first, second = thing_event(), thing_event()
    first_msg, second_msg = new_msg_id(), new_msg_id()
    client = ServerLikeClient()

    response = deliver_to(client, first, msg_id=first_msg, path=PATH)
    assert response.status_code == 200, response.content
    assert connection.connection is not None, "expected a persistent connection after the request"
    assert connection.connection.info.port == port, "the request did not go through the proxy"
    assert proxy.connections == 1

    proxy.stop()  # the outage: the persistent connection is cut, new ones are refused

    response = deliver_to(client, second, msg_id=second_msg, path=PATH)
    assert response.status_code == 503, (response.status_code, response.content)
    assert response["Retry-After"] == "30"
    # A retry during the outage: still 503, never 500.
    response = deliver_to(client, second, msg_id=second_msg, path=PATH)
    assert response.status_code == 503, (response.status_code, response.content)

    proxy.start(port)  # the database is back, on the same address

    assert_retry_processed_once_the_database_is_back(client, proxy, second, second_msg, path=PATH)
    assert connection.connection.info.port == port
    assert WebhookEvent.objects.get(event_id=first_msg).status == "processed"
    assert things_recorded() == sorted([first["data"]["id"], second["data"]["id"]])


@pytest.mark.postgres(
    reason="a database outage is simulated by cutting a TCP proxy in front of the PostgreSQL server "
    "in the middle of a delivery's transaction"
)
def test_database_cut_mid_transaction_answers_503_keeps_nothing_and_recovers(db_behind_proxy):
    """The connection dies after the ledger row is written, before the handler's row: all or nothing."""
    proxy = db_behind_proxy
    port = proxy.port
    payload, msg_id = thing_event(), new_msg_id()
    client = ServerLikeClient()
    cuts = []

    def cut_before_the_handlers_insert(execute, sql, params, many, context):
        if not cuts and sql.lstrip().upper().startswith('INSERT INTO "AUTH_GROUP"'):
            assert connection.in_atomic_block
            cuts.append(sql)
            proxy.stop()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(cut_before_the_handlers_insert):
        response = deliver_to(client, payload, msg_id=msg_id, path=PATH)
    assert cuts, "the delivery never reached the handler's insert"
    assert response.status_code == 503, (response.status_code, response.content)

    proxy.start(port)

    # The ledger row went with the rolled-back transaction.
    assert_retry_processed_once_the_database_is_back(client, proxy, payload, msg_id, path=PATH)
    assert things_recorded() == [payload["data"]["id"]]
    assert runs.event_ids == [msg_id, msg_id]  # cut during the first run, done by the retry


def deliver_through_wsgi(payload: dict, *, msg_id: str) -> tuple[int, dict]:
    """One signed delivery through Django's real WSGIHandler, as gunicorn calls it.

    Unlike the test client, the WSGI handler keeps `close_old_connections`
    connected to request_started/request_finished, so the CONN_HEALTH_CHECKS
    check of a persistent connection runs as in production.
    """
    body = json.dumps(payload)
    request = RequestFactory().post(
        PATH, data=body, content_type="application/json", headers=svix_headers(body, msg_id=msg_id)
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

    status, _ = deliver_through_wsgi(thing_event(), msg_id=new_msg_id())
    assert status == 200
    dead = connection.connection
    assert dead is not None and dead.info.port == port, "expected a persistent connection through the proxy"

    proxy.stop()  # cuts the idle persistent connection…
    proxy.start(port)  # …and the database is back before the next delivery

    msg_id = new_msg_id()
    second = thing_event()
    status, body = deliver_through_wsgi(second, msg_id=msg_id)
    assert (status, body.get("outcome")) == (200, "processed"), body
    assert connection.connection is not dead, "the dead connection was not replaced"
    assert WebhookEvent.objects.get(event_id=msg_id).attempts == 1
    assert second["data"]["id"] in things_recorded()


@pytest.mark.postgres(reason="a database outage is simulated by cutting a TCP proxy in front of the PostgreSQL server")
def test_healthz_follows_the_database(db_behind_proxy):
    proxy = db_behind_proxy
    port = proxy.port
    client = ServerLikeClient()
    assert client.get("/healthz").status_code == 200

    proxy.stop()
    down = client.get("/healthz")
    proxy.start(port)

    assert down.status_code == 503
    assert down.json() == {"status": "unavailable", "database": "unreachable"}
    assert client.get("/healthz").status_code == 200
