"""Replaying stored webhook events (`webhook_event_replay`), at the service level.

A replay runs the stored event's handler again through the delivery path and
records a WebhookAttempt of kind "replay"; a replay of a failed event processes
it; a failing replay is recorded, not raised. Events here are the ledger's
stand-in source's (webhooks/tests/ledger_source.py); what replaying Clerk's
events does to users is in accounts/tests/test_clerk_replay.py.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from webhooks.models import WebhookAttempt, WebhookEvent
from webhooks.services import webhook_event_deliver, webhook_event_replay
from webhooks.tests.deliveries import assert_processed_then_replayed, replay_attempts
from webhooks.tests.factories import WebhookEventFactory
from webhooks.tests.ledger_source import runs, thing_event, things_recorded

pytestmark = pytest.mark.django_db

Outcome = WebhookAttempt.Outcome
Status = WebhookEvent.Status


class HandlerBroke(RuntimeError):
    pass


def broken_handler(event: WebhookEvent) -> None:
    raise HandlerBroke(f"handler broke on {event.event_id}")


# --- (a) a processed event ---------------------------------------------------------


def test_replaying_a_processed_event_runs_its_handler_again_and_records_the_attempt(
    things, django_capture_on_commit_callbacks
):
    payload = thing_event()
    delivered = webhook_event_deliver(things, event_id="msg_replay_a", payload=payload)
    assert delivered.outcome == Outcome.PROCESSED

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = webhook_event_replay(delivered.event_pk)

    assert result.outcome == Outcome.PROCESSED
    assert callbacks == []  # the ledger itself queues nothing on commit
    assert runs.event_ids == ["msg_replay_a", "msg_replay_a"]
    assert runs.data == [payload["data"], payload["data"]]  # the stored payload, as delivered
    assert things_recorded() == [payload["data"]["id"]]
    assert_processed_then_replayed(delivered.event_pk)


@pytest.mark.django_db(transaction=True)
def test_replays_after_real_commits_are_each_counted(things):
    delivered = webhook_event_deliver(things, event_id="msg_replay_a_commit", payload=thing_event())

    webhook_event_replay(delivered.event_pk)
    webhook_event_replay(delivered.event_pk)

    event = WebhookEvent.objects.get(pk=delivered.event_pk)
    assert (event.status, event.attempts) == (Status.PROCESSED, 3)
    assert [a.outcome for a in replay_attempts(event)] == [Outcome.PROCESSED, Outcome.PROCESSED]
    assert len(runs.event_ids) == 3


# --- (b) a failed event --------------------------------------------------------


def test_replaying_a_failed_event_processes_it():
    """An event stored failed is processed by replay: its handler's write is there, the error is cleared."""
    stored = WebhookEventFactory(status=Status.FAILED, last_error="boom")
    thing = stored.payload["data"]["id"]
    assert things_recorded() == []

    result = webhook_event_replay(stored.pk)

    assert (result.outcome, result.error) == (Outcome.PROCESSED, "")
    stored.refresh_from_db()
    assert (stored.status, stored.last_error, stored.attempts) == (Status.PROCESSED, "", 2)
    assert stored.processed_at is not None
    assert things_recorded() == [thing]
    assert runs.event_ids == [stored.event_id]
    [attempt] = replay_attempts(stored)
    assert (attempt.outcome, attempt.http_status) == (Outcome.PROCESSED, None)


# --- (c) a handler that raises ---------------------------------------------------


@pytest.mark.parametrize("status", [Status.RECEIVED, Status.FAILED, Status.PROCESSED])
def test_replay_whose_handler_raises_marks_event_failed_without_raising(webhook_source, status):
    """The failure is stored (last_error, a failed replay attempt with the traceback); nothing raises."""
    broken_source = webhook_source({"thing.happened": broken_handler}, name="test-broken")
    stored = WebhookEventFactory(
        source=broken_source.name,
        payload={"type": "thing.happened", "data": {"id": "thing_1"}},
        status=status,
        last_error="an older error" if status == Status.FAILED else "",
    )

    result = webhook_event_replay(stored.pk)

    expected_error = f"HandlerBroke: handler broke on {stored.event_id}"
    assert (result.event_pk, result.outcome, result.error) == (stored.pk, Outcome.FAILED, expected_error)
    stored.refresh_from_db()
    assert (stored.status, stored.last_error, stored.attempts) == (Status.FAILED, expected_error, 2)
    assert stored.processed_at is None
    [attempt] = replay_attempts(stored)
    assert (attempt.outcome, attempt.http_status) == (Outcome.FAILED, None)
    assert attempt.error.startswith("Traceback (most recent call last)")
    assert "in broken_handler" in attempt.error
    assert attempt.error.rstrip().endswith(expected_error)


def test_replay_whose_handler_raises_a_key_error_is_recorded_as_failed(webhook_source):
    """A handler's own KeyError is a failure like any other, not "this source is not registered"."""

    def reads_a_missing_key(event):
        return event.payload["data"]["missing"]

    source = webhook_source({"thing.happened": reads_a_missing_key}, name="test-key-error")
    stored = WebhookEventFactory(source=source.name, payload={"type": "thing.happened", "data": {"id": "thing_1"}})

    result = webhook_event_replay(stored.pk)

    assert (result.outcome, result.error) == (Outcome.FAILED, "KeyError: 'missing'")
    stored.refresh_from_db()
    assert (stored.status, stored.last_error) == (Status.FAILED, "KeyError: 'missing'")
    [attempt] = replay_attempts(stored)
    assert attempt.outcome == Outcome.FAILED


def test_replay_rolls_back_the_writes_of_a_handler_that_raises(webhook_source):
    """What a failing handler wrote before raising is not kept."""

    def writes_then_breaks(event):
        Group.objects.create(name="half-done")
        raise HandlerBroke("after writing")

    broken_source = webhook_source({"thing.happened": writes_then_breaks}, name="test-broken")
    stored = WebhookEventFactory(source=broken_source.name, payload={"type": "thing.happened", "data": {}})

    assert webhook_event_replay(stored.pk).outcome == Outcome.FAILED

    assert not Group.objects.filter(name="half-done").exists()
    stored.refresh_from_db()
    assert (stored.status, stored.last_error) == (Status.FAILED, "HandlerBroke: after writing")


# --- (d) a type without a handler -----------------------------------------------


@pytest.mark.parametrize("event_type", ["thing.ignored", "something.nobody.handles"])
def test_replaying_event_without_handler_keeps_it_ignored(event_type):
    """A type the source leaves alone, or one nobody knows: still ignored, attempt counted."""
    stored = WebhookEventFactory(payload=thing_event(event_type), status=Status.IGNORED)

    result = webhook_event_replay(stored.pk)

    assert result.outcome == Outcome.IGNORED
    stored.refresh_from_db()
    assert (stored.status, stored.attempts, stored.last_error) == (Status.IGNORED, 2, "")
    [attempt] = replay_attempts(stored)
    assert (attempt.outcome, attempt.http_status) == (Outcome.IGNORED, None)
    assert runs.event_ids == [] and things_recorded() == []


# --- What replay refuses -------------------------------------------------------------


def test_replaying_unknown_event_raises_does_not_exist():
    with pytest.raises(WebhookEvent.DoesNotExist):
        webhook_event_replay(987_654_321)


def test_replaying_event_of_unregistered_source_raises_and_records_nothing():
    stored = WebhookEventFactory(source="gone", status=Status.FAILED, last_error="boom")

    with pytest.raises(LookupError, match="'gone' is not registered"):
        webhook_event_replay(stored.pk)

    stored.refresh_from_db()
    assert (stored.status, stored.attempts, stored.last_error) == (Status.FAILED, 1, "boom")
    assert not stored.attempt_log.exists()
