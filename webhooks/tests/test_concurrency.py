"""Concurrent deliveries to the ledger, against a real PostgreSQL server.

Real threads, each with its own test client and database connection, released
together by a barrier, so the row lock of `webhook_event_record` actually
contends. They need PostgreSQL: SQLite serialises writers and has no row locks,
so they are skipped there (and fail under REQUIRE_POSTGRES=1). Deliveries go to
the stand-in source; Clerk's races (users created, updated and deleted at once)
are in accounts/tests/test_clerk_delivery_concurrency.py.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, transaction
from django.test import Client

from webhooks.models import WebhookAttempt, WebhookEvent
from webhooks.tests.concurrency import JOIN_TIMEOUT, Job, run_concurrently, wait_until_waiting_on_locks
from webhooks.tests.deliveries import deliver_to, new_msg_id
from webhooks.tests.ledger_source import PATH, runs, thing_event, things_recorded

# Every test here runs real transactions, committed, in threads with connections of their own.
pytestmark = pytest.mark.django_db(transaction=True)


def delivery(payload: dict, msg_id: str) -> Job:
    """POST this delivery, signed, to the stand-in source with the thread's client; labelled by its svix-id."""
    return msg_id, lambda client: deliver_to(client, payload, msg_id=msg_id, path=PATH)


@pytest.mark.postgres(
    reason="20 concurrent deliveries of one svix-id must queue on the ledger row lock "
    "(INSERT … ON CONFLICT DO UPDATE), which needs PostgreSQL's row locks and concurrent transactions"
)
def test_same_event_delivered_by_20_threads_runs_its_handler_once():
    payload, msg_id = thing_event(), new_msg_id()

    answers = run_concurrently([delivery(payload, msg_id)] * 20)

    assert Counter(answer.status for answer in answers) == {200: 1, 202: 19}
    assert Counter(answer.body.get("outcome") for answer in answers) == {"processed": 1, "duplicate": 19}
    assert all(answer.body.get("event_id") == msg_id for answer in answers)
    assert runs.event_ids == [msg_id]
    assert things_recorded() == [payload["data"]["id"]]

    event = WebhookEvent.objects.get()
    assert (event.source, event.event_id, event.status, event.attempts) == ("things", msg_id, "processed", 20)
    attempts = WebhookAttempt.objects.filter(event=event)
    assert attempts.count() == 20
    assert Counter(attempts.values_list("outcome", "http_status")) == {("processed", 200): 1, ("duplicate", 202): 19}


@pytest.mark.postgres(
    reason="20 different events delivered at once commit their ledger rows and handlers' writes side by side, "
    "which needs PostgreSQL's concurrent transactions"
)
def test_different_events_delivered_at_once_are_each_recorded_and_handled_once():
    deliveries = [(thing_event(), new_msg_id()) for _ in range(20)]

    answers = run_concurrently([delivery(payload, msg_id) for payload, msg_id in deliveries])

    assert [(answer.status, answer.body.get("outcome")) for answer in answers] == [(200, "processed")] * 20, answers
    assert sorted(runs.event_ids) == sorted(msg_id for _, msg_id in deliveries)
    assert things_recorded() == sorted(payload["data"]["id"] for payload, _ in deliveries)
    assert Counter(WebhookEvent.objects.values_list("status", "attempts")) == {("processed", 1): 20}
    assert WebhookAttempt.objects.count() == 20


@pytest.mark.postgres(
    reason="a redelivery waits on the row lock a replay's transaction holds, which needs PostgreSQL's row locks"
)
@pytest.mark.parametrize(
    ("replay_leaves", "answer"),
    [("processed", (202, "duplicate")), ("failed", (200, "processed"))],
    ids=["replay succeeds", "replay fails"],
)
def test_a_redelivery_waits_for_a_replay_holding_its_done_event_and_follows_what_it_committed(replay_leaves, answer):
    """duplicate_record's UPDATE waits for the row, then re-reads its status: a duplicate only if still done."""
    payload, msg_id = thing_event(), new_msg_id()
    assert deliver_to(Client(), payload, msg_id=msg_id, path=PATH).status_code == 200
    backends, answers = [], []

    def redeliver() -> None:
        try:
            connection.ensure_connection()
            backends.append(connection.connection.info.backend_pid)
            answers.append(deliver_to(Client(), payload, msg_id=msg_id, path=PATH))
        finally:
            connection.close()

    redelivery = threading.Thread(target=redeliver, daemon=True)
    with transaction.atomic():  # a replay, holding the event's row until it commits what its handler came to
        WebhookEvent.objects.select_for_update().filter(event_id=msg_id).update(status=replay_leaves)
        redelivery.start()
        wait_until_waiting_on_locks(backends, 1)
    redelivery.join(timeout=JOIN_TIMEOUT)

    [response] = answers
    assert (response.status_code, response.json()["outcome"]) == answer
    assert runs.event_ids == [msg_id] * (1 if answer[0] == 202 else 2)
    assert WebhookEvent.objects.get().status == "processed"
