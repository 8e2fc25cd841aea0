"""A source may store another payload than the delivered one (a handler's return value, its stored_payload hook)."""

from __future__ import annotations

import pytest

from webhooks.models import ERASED_KEY, WebhookEvent
from webhooks.services import webhook_event_replay
from webhooks.tests.deliveries import deliver_to, statements_at_most
from webhooks.tests.factories import WebhookEventFactory

pytestmark = pytest.mark.django_db

PATH = "/webhooks/flaky/"
REDACTED = {"type": "thing.done", "data": {"id": "thing_1"}, ERASED_KEY: "2026-01-01T00:00:00+00:00"}


def redacted(payload):
    return REDACTED | {"type": payload["type"]}


def failing(event):
    raise RuntimeError("downstream is down")


def test_a_handlers_returned_payload_is_stored_in_the_outcomes_statement(client, webhook_source):
    webhook_source({"thing.done": lambda event: redacted(event.payload)})
    kept_as_sent = {"type": "thing.done", "data": {"id": "thing_1", "secret": "x"}}

    # savepoint, upsert, outcome (with the payload) and attempt, release; on PostgreSQL the redelivery
    # check comes first and the outcome and the attempt are one statement
    with statements_at_most(5):
        assert deliver_to(client, kept_as_sent, path=PATH, msg_id="msg_1").status_code == 200

    event = WebhookEvent.objects.get()
    assert event.payload == REDACTED and event.payload_erased_at == REDACTED[ERASED_KEY]
    assert deliver_to(client, kept_as_sent, path=PATH, msg_id="msg_1").status_code == 202  # a duplicate keeps it
    assert WebhookEvent.objects.get().payload == REDACTED


def test_a_handler_returning_nothing_keeps_the_delivered_payload(client, webhook_source):
    webhook_source({"thing.done": lambda event: None})
    sent = {"type": "thing.done", "data": {"id": "thing_1", "secret": "x"}}
    deliver_to(client, sent, path=PATH, msg_id="msg_1")

    assert WebhookEvent.objects.get().payload == sent and WebhookEvent.objects.get().payload_erased_at is None


def test_the_hook_decides_for_ignored_and_failed_events_and_replays(client, webhook_source):
    webhook_source({"thing.failed": failing}, stored_payload=redacted)

    ignored = deliver_to(client, {"type": "thing.other", "data": {"secret": "x"}}, path=PATH, msg_id="msg_i")
    failed = deliver_to(client, {"type": "thing.failed", "data": {"secret": "x"}}, path=PATH, msg_id="msg_f")

    assert (ignored.json()["outcome"], failed.json()["outcome"]) == ("ignored", "failed")
    assert WebhookEvent.objects.get(event_id="msg_i").payload == redacted({"type": "thing.other"})
    assert WebhookEvent.objects.get(event_id="msg_f").payload == redacted({"type": "thing.failed"})
    stored = WebhookEventFactory(source="flaky", payload={"type": "thing.failed", "data": {"secret": "x"}})
    webhook_event_replay(stored.pk)
    assert WebhookEvent.objects.get(pk=stored.pk).payload == redacted({"type": "thing.failed"})


def test_a_broken_hook_does_not_lose_the_failure(client, webhook_source):
    def broken(payload):
        raise ValueError("hook bug")

    webhook_source({"thing.failed": failing}, stored_payload=broken)
    response = deliver_to(client, {"type": "thing.failed", "data": {}}, path=PATH, msg_id="msg_f")

    assert response.status_code == 500
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.FAILED
