"""What the database outage tests check after the database is back: shared by the ledger's and Clerk's.

The outage itself is the `db_behind_proxy` fixture (conftest.py): a TcpProxy in front of PostgreSQL, cut and restored.
"""

from __future__ import annotations

import json

import psycopg
from django.db import close_old_connections, connection
from django.test import Client

from webhooks.models import WebhookEvent
from webhooks.tests.deliveries import deliver_to
from webhooks.tests.tcp_proxy import TcpProxy


class ServerLikeClient(Client):
    """The test client, with what a WSGI server's request cycle does to the database connection.

    Django's test client leaves `close_old_connections` out at a request's start and end;
    a server runs it, and it is what replaces a connection that failed (or fails its
    CONN_HEALTH_CHECKS check) before the next request uses it.
    """

    def request(self, **request):
        close_old_connections()
        try:
            return super().request(**request)
        finally:
            close_old_connections()


def stored_event_count(proxy: TcpProxy, event_id: str) -> int:
    """Ledger rows for `event_id`, read on a direct connection of our own, not through the proxy."""
    host, port = proxy.upstream
    params = connection.settings_dict
    with psycopg.connect(host=host, port=port, dbname=params["NAME"], user=params["USER"]) as direct:
        table = WebhookEvent._meta.db_table
        return direct.execute(f"SELECT count(*) FROM {table} WHERE event_id = %s", [event_id]).fetchone()[0]


def assert_retry_processed_once_the_database_is_back(
    client, proxy: TcpProxy, payload: dict, msg_id: str, *, path: str
) -> None:
    """Nothing of the refused delivery was kept, and Svix's next retry of it is processed as its first attempt."""
    assert stored_event_count(proxy, msg_id) == 0, "the refused delivery left its ledger row"
    response = deliver_to(client, payload, msg_id=msg_id, path=path)
    assert response.status_code == 200, (response.status_code, response.content)
    assert json.loads(response.content)["outcome"] == "processed"
    event = WebhookEvent.objects.get(event_id=msg_id)
    assert (event.status, event.attempts) == ("processed", 1)
    assert list(event.attempt_log.values_list("outcome", "http_status")) == [("processed", 200)]
