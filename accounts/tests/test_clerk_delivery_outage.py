"""A database outage during Clerk deliveries: 503 and no half-written user, then every user synced and greeted once.

The outage is the `db_behind_proxy` fixture (a TCP proxy in front of PostgreSQL, cut and
restored). The ledger's side of outages is in webhooks/tests/test_database_outage.py.
"""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import User
from accounts.tests.factories import ClerkUserDataFactory, user_event
from config.tests.helpers import CLERK_WEBHOOK_PATH, deliver_to
from webhooks.models import WebhookEvent
from webhooks.tests.deliveries import new_msg_id
from webhooks.tests.outage import ServerLikeClient, assert_retry_processed_once_the_database_is_back

# The connection is cut under the app mid-test, so no test may run inside a test-case transaction.
pytestmark = pytest.mark.django_db(transaction=True)


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
    client = ServerLikeClient()

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

    assert_retry_processed_once_the_database_is_back(client, proxy, second_payload, second_msg, path=CLERK_WEBHOOK_PATH)
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
    client = ServerLikeClient()
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
    assert_retry_processed_once_the_database_is_back(client, proxy, payload, msg_id, path=CLERK_WEBHOOK_PATH)
    assert User.objects.filter(clerk_id=data["id"]).count() == 1
    assert len(mailoutbox) == 1
