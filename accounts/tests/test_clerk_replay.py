"""Replaying stored Clerk events (`webhook_event_replay`): what a replay does to the user, at the service level.

Clerk's handlers converge, so a replay never changes anything current nor
provisions anyone twice; a replay of a failed user.created creates the user; an
older state or a tombstoned user stays as it is. The replay mechanics
themselves are tested with the ledger's stand-in source in webhooks/tests/test_replay.py.

`django_capture_on_commit_callbacks(execute=True)` runs the on-commit
callbacks (the `user_provisioned` signal, the welcome email) that the test
transaction would otherwise never commit.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.forms.models import model_to_dict

from accounts.clerk_source.handlers import clerk_source
from accounts.models import User
from accounts.tests.factories import ClerkEventFactory, ClerkLedgerEventFactory, ClerkUserDataFactory, user_event
from webhooks.models import WebhookAttempt, WebhookEvent
from webhooks.services import webhook_event_deliver, webhook_event_replay
from webhooks.tests.deliveries import assert_processed_then_replayed, replay_attempts

pytestmark = pytest.mark.django_db

Outcome = WebhookAttempt.Outcome
Status = WebhookEvent.Status


def user_state(clerk_id: str) -> dict:
    return model_to_dict(User.objects.get(clerk_id=clerk_id))


# --- (a) a processed event ---------------------------------------------------------


def test_replaying_processed_user_created_changes_nothing_and_provisions_nothing(
    django_capture_on_commit_callbacks, mailoutbox, provisioned
):
    """The user row stays as it was; no second welcome email, no second user_provisioned."""
    payload = user_event("user.created", ClerkUserDataFactory(email="ada@example.com", first_name="Ada"))
    clerk_id = payload["data"]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        delivered = webhook_event_deliver(clerk_source, event_id="msg_replay_a", payload=payload)
    assert delivered.outcome == Outcome.PROCESSED
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["ada@example.com"]
    assert [clerk for clerk, _created_via in provisioned] == [clerk_id]
    before = user_state(clerk_id)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = webhook_event_replay(delivered.event_pk)

    assert result.outcome == Outcome.PROCESSED
    assert callbacks == []
    assert len(mailoutbox) == 1
    assert len(provisioned) == 1
    assert user_state(clerk_id) == before
    assert User.objects.filter(clerk_id=clerk_id).count() == 1
    assert_processed_then_replayed(delivered.event_pk)


@pytest.mark.django_db(transaction=True)
def test_replaying_processed_user_created_sends_nothing_after_real_commits(mailoutbox, provisioned):
    """The same with real commits: every on-commit callback that would go out does."""
    payload = user_event("user.created", ClerkUserDataFactory(email="grace@example.com"))
    delivered = webhook_event_deliver(clerk_source, event_id="msg_replay_a_commit", payload=payload)
    assert len(mailoutbox) == 1 and len(provisioned) == 1

    webhook_event_replay(delivered.event_pk)
    webhook_event_replay(delivered.event_pk)

    assert len(mailoutbox) == 1
    assert len(provisioned) == 1
    event = WebhookEvent.objects.get(pk=delivered.event_pk)
    assert (event.status, event.attempts) == (Status.PROCESSED, 3)
    assert [a.outcome for a in replay_attempts(event)] == [Outcome.PROCESSED, Outcome.PROCESSED]


# --- (b) a failed event --------------------------------------------------------


def test_replaying_failed_user_created_processes_it(django_capture_on_commit_callbacks, mailoutbox, provisioned):
    """An event stored failed is processed by replay: the user exists, the error is cleared."""
    stored = ClerkLedgerEventFactory(
        status=Status.FAILED,
        last_error="boom",
        payload=user_event("user.created", ClerkUserDataFactory(email="lin@example.com", first_name="Lin")),
    )
    clerk_id = stored.payload["data"]["id"]
    assert not User.objects.filter(clerk_id=clerk_id).exists()

    with django_capture_on_commit_callbacks(execute=True):
        result = webhook_event_replay(stored.pk)

    assert (result.outcome, result.error) == (Outcome.PROCESSED, "")
    stored.refresh_from_db()
    assert (stored.status, stored.last_error, stored.attempts) == (Status.PROCESSED, "", 2)
    assert stored.processed_at is not None
    user = User.objects.get(clerk_id=clerk_id)
    assert (user.email, user.first_name, user.is_active, user.created_via) == (
        "lin@example.com",
        "Lin",
        True,
        User.CreatedVia.WEBHOOK,
    )
    # First time this user is created, so it is provisioned now, once.
    assert [clerk for clerk, _created_via in provisioned] == [clerk_id]
    assert [m.to for m in mailoutbox] == [["lin@example.com"]]
    [attempt] = replay_attempts(stored)
    assert (attempt.outcome, attempt.http_status) == (Outcome.PROCESSED, None)


# --- (e) the stale guard -----------------------------------------------------------


def test_replaying_older_user_updated_after_newer_one_changes_nothing():
    """Clerk's updated_at decides: a replayed older state does not overwrite the newer one."""
    data = ClerkUserDataFactory(email="v1@example.com", first_name="One", username="one", created_at=1_700_000_000_000)
    clerk_id = data["id"]
    created = dict(data)
    older = dict(data, first_name="Two", username="two", updated_at=data["updated_at"] + 1_000)
    newer = dict(data, first_name="Three", username="three", updated_at=data["updated_at"] + 2_000)
    webhook_event_deliver(clerk_source, event_id="msg_e_created", payload=user_event("user.created", created))
    old = webhook_event_deliver(clerk_source, event_id="msg_e_older", payload=user_event("user.updated", older))
    webhook_event_deliver(clerk_source, event_id="msg_e_newer", payload=user_event("user.updated", newer))
    before = user_state(clerk_id)
    assert (before["first_name"], before["username"]) == ("Three", "three")

    result = webhook_event_replay(old.event_pk)

    assert result.outcome == Outcome.PROCESSED  # a stale event is not an error
    assert user_state(clerk_id) == before
    user = User.objects.get(clerk_id=clerk_id)
    assert user.clerk_updated_at == dt.datetime.fromtimestamp(newer["updated_at"] / 1000, tz=dt.UTC)
    event = WebhookEvent.objects.get(pk=old.event_pk)
    assert (event.status, event.attempts) == (Status.PROCESSED, 2)


def test_replaying_user_created_after_user_deleted_does_not_revive():
    """A tombstone is final: replaying the user's user.created leaves it deleted."""
    payload = user_event("user.created", ClerkUserDataFactory())
    clerk_id = payload["data"]["id"]
    created = webhook_event_deliver(clerk_source, event_id="msg_tomb_created", payload=payload)
    webhook_event_deliver(
        clerk_source,
        event_id="msg_tomb_deleted",
        payload=ClerkEventFactory(type="user.deleted", data={"object": "user", "id": clerk_id, "deleted": True}),
    )
    before = user_state(clerk_id)
    assert before["is_active"] is False

    assert webhook_event_replay(created.event_pk).outcome == Outcome.PROCESSED

    assert user_state(clerk_id) == before
    assert User.objects.get(clerk_id=clerk_id).deleted_at is not None
