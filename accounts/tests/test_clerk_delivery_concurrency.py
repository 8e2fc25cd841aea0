"""Concurrent Clerk deliveries creating, updating and deleting users, against a real PostgreSQL server.

These tests use real threads, each with its own test client and its own
database connection, released together by a barrier, so the row locks of
`webhook_event_record` and the race-safe inserts of `accounts.sync.users`
actually contend. The ledger's own concurrency (one event id, many deliveries)
is in webhooks/tests/test_concurrency.py. They need PostgreSQL: SQLite serialises writers and has no
row locks, so they are skipped there (and fail under REQUIRE_POSTGRES=1).

No sleeps as synchronisation: threads start on a barrier (or an Event), the
one forced interleaving waits for a condition observed in pg_stat_activity,
every wait is bounded, and every test asserts that all its threads finished.
"""

from __future__ import annotations

import copy
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from accounts.models import User, UserProvisioning
from accounts.tests.concurrency import UserInsertHeld
from accounts.tests.factories import (
    ClerkUserDataFactory,
    user_deleted_event,
    user_event,
)
from config.tests.helpers import deliver_to
from webhooks.models import WebhookAttempt, WebhookEvent
from webhooks.tests.concurrency import Answer, Around, Job, no_around, run_concurrently
from webhooks.tests.deliveries import new_msg_id

# Every test here runs real transactions, committed, in threads with connections of their own.
pytestmark = pytest.mark.django_db(transaction=True)


# --- helpers ---------------------------------------------------------------------------------------


@dataclass
class Delivery:
    payload: dict
    msg_id: str

    def job(self) -> Job:
        """POST this delivery, signed, with the thread's client; labelled by its svix-id."""
        return self.msg_id, lambda client: deliver_to(client, self.payload, msg_id=self.msg_id)


def deliver_concurrently(deliveries: Sequence[Delivery], *, around: Around = no_around) -> list[Answer]:
    """POST every delivery from its own thread, all released together; answers in input order.

    See `run_concurrently`: own Client and connection per thread, `around(index)`
    entered just before the request, any exception or hung thread fails the test.
    """
    return run_concurrently([delivery.job() for delivery in deliveries], around=around)


def welcome_emails_to(outbox, address: str) -> list:
    return [message for message in outbox if address in message.to]


def assert_each_processed(answers: list[Answer], count: int) -> None:
    """`count` deliveries, every one answered 200 `processed`, and as many processed events in the ledger."""
    assert not [answer for answer in answers if answer.status >= 500], answers
    assert [(answer.status, answer.body.get("outcome")) for answer in answers] == [(200, "processed")] * count, answers
    assert WebhookEvent.objects.filter(status="processed").count() == count


def the_only_user(clerk_id: str) -> User:
    """The one user synced from Clerk, which must be `clerk_id`: the racing events made no second row."""
    assert list(User.objects.filter(clerk_id__isnull=False).values_list("clerk_id", flat=True)) == [clerk_id]
    return User.objects.get(clerk_id=clerk_id)


def assert_provisioned_and_welcomed_once(data: dict, mailoutbox, provisioned) -> None:
    """The user in `data` was provisioned once, by the webhook, and is the one address greeted, once."""
    assert provisioned == [(data["id"], "webhook")]
    assert [message.to for message in mailoutbox] == [[data["email_addresses"][0]["email_address"]]]


# --- tests -----------------------------------------------------------------------------------------


@pytest.mark.postgres(
    reason="20 concurrent deliveries of one svix-id must queue on the ledger row lock "
    "(INSERT … ON CONFLICT DO UPDATE), which needs PostgreSQL's row locks and concurrent transactions"
)
def test_same_event_delivered_by_20_threads_runs_once(mailoutbox, provisioned):
    data = ClerkUserDataFactory()
    payload, msg_id = user_event("user.created", data), new_msg_id()

    answers = deliver_concurrently([Delivery(payload, msg_id)] * 20)

    assert Counter(answer.status for answer in answers) == {200: 1, 202: 19}
    assert Counter(answer.body.get("outcome") for answer in answers) == {"processed": 1, "duplicate": 19}
    assert all(answer.body.get("event_id") == msg_id for answer in answers)

    user = the_only_user(data["id"])
    assert user.email == data["email_addresses"][0]["email_address"]
    assert UserProvisioning.objects.filter(user=user).count() == 1

    event = WebhookEvent.objects.get()
    assert (event.source, event.event_id, event.status, event.attempts) == ("clerk", msg_id, "processed", 20)
    attempts = WebhookAttempt.objects.filter(event=event)
    assert attempts.count() == 20
    assert Counter(attempts.values_list("outcome", "http_status")) == {("processed", 200): 1, ("duplicate", 202): 19}

    assert_provisioned_and_welcomed_once(data, mailoutbox, provisioned)


@pytest.mark.postgres(
    reason="20 different events for one new user race to create and update its row; converging on "
    "one row with the newest state needs PostgreSQL's row locks and ON CONFLICT waiting on concurrent inserts"
)
def test_different_events_for_one_new_user_converge_on_the_newest(mailoutbox, provisioned):
    base = ClerkUserDataFactory(first_name="Created")
    start = base["updated_at"]
    deliveries = [Delivery(user_event("user.created", base), new_msg_id())]
    for step in range(1, 20):
        data = copy.deepcopy(base)
        data["updated_at"] = start + step * 1000
        data["first_name"] = f"Update{step:02d}"
        deliveries.append(Delivery(user_event("user.updated", data), new_msg_id()))
    newest = max(deliveries, key=lambda delivery: delivery.payload["data"]["updated_at"]).payload["data"]
    random.Random(20).shuffle(deliveries)

    answers = deliver_concurrently(deliveries)

    assert_each_processed(answers, 20)
    user = the_only_user(base["id"])
    assert user.first_name == newest["first_name"] == "Update19"
    assert user.clerk_updated_at.timestamp() * 1000 == pytest.approx(newest["updated_at"], abs=1)
    assert user.deleted_at is None and user.is_active
    assert UserProvisioning.objects.filter(user=user).count() == 1
    assert_provisioned_and_welcomed_once(base, mailoutbox, provisioned)


@pytest.mark.postgres(
    reason="two users racing for the same derived username rely on INSERT … ON CONFLICT DO NOTHING "
    "waiting on the other transaction's uncommitted row, which needs PostgreSQL"
)
def test_two_users_with_the_same_name_get_distinct_usernames(mailoutbox, provisioned):
    users = [ClerkUserDataFactory(first_name="John", last_name="", username=None, email=None) for _ in range(2)]
    deliveries = [Delivery(user_event("user.created", data), new_msg_id()) for data in users for _ in range(10)]
    random.Random(3).shuffle(deliveries)

    answers = deliver_concurrently(deliveries)

    assert_each_processed(answers, 20)
    rows = list(User.objects.filter(clerk_id__isnull=False).order_by("clerk_id"))
    assert [row.clerk_id for row in rows] == sorted(data["id"] for data in users)
    usernames = {row.username for row in rows}
    assert len(usernames) == 2
    assert "john" in usernames  # the first one takes the derived name, the other a unique variant
    assert all(row.email == "" for row in rows)
    assert sorted(provisioned) == sorted((data["id"], "webhook") for data in users)
    assert mailoutbox == []  # no address, no welcome email


@pytest.mark.postgres(
    reason="deletes racing the create of a never-seen user converge through row locks and "
    "ON CONFLICT inserts waiting on concurrent transactions, which needs PostgreSQL"
)
def test_deletes_racing_the_create_of_an_unseen_user_leave_one_tombstone(mailoutbox, provisioned):
    data = ClerkUserDataFactory()
    deliveries = [Delivery(user_deleted_event(data["id"]), new_msg_id()) for _ in range(20)]
    deliveries.append(Delivery(user_event("user.created", data), new_msg_id()))
    random.Random(5).shuffle(deliveries)

    answers = deliver_concurrently(deliveries)

    assert_each_processed(answers, 21)
    user = the_only_user(data["id"])
    assert user.deleted_at is not None
    assert user.is_active is False
    # Provisioned only if the create came first, and then only once; greeted only if the email
    # went out before a delete tombstoned the user (otherwise it is skipped, with the reason).
    assert len(provisioned) <= 1
    assert len(provisioned) == UserProvisioning.objects.filter(user=user).count()
    sent = UserProvisioning.objects.filter(user=user, welcome_email="sent").count()
    assert len(mailoutbox) == sent <= len(provisioned)


@pytest.mark.postgres(
    reason="holds one transaction's uncommitted user row while others block on it in "
    "INSERT … ON CONFLICT DO NOTHING, observed through pg_stat_activity: PostgreSQL only"
)
@pytest.mark.parametrize(
    ("leader_type", "racer_type"),
    [("user.created", "user.deleted"), ("user.deleted", "user.created")],
    ids=["create-first", "delete-first"],
)
def test_insert_losing_to_an_uncommitted_one_converges_on_the_winner(leader_type, racer_type, mailoutbox, provisioned):
    """Forces the interleaving the stress test above only hits by chance.

    The leader inserts the user row and holds its transaction open until all
    five racers are blocked inserting the same clerk_id; then it commits and
    every racer must take the "a concurrent transaction created it first"
    path and converge on the leader's row: one tombstoned user either way.
    """
    data = ClerkUserDataFactory()
    email = data["email_addresses"][0]["email_address"]
    payloads = {"user.created": user_event("user.created", data), "user.deleted": user_deleted_event(data["id"])}
    racers = 5
    deliveries = [Delivery(payloads[leader_type], new_msg_id())]
    deliveries += [Delivery(payloads[racer_type], new_msg_id()) for _ in range(racers)]
    hold = UserInsertHeld(racers)
    answers = deliver_concurrently(deliveries, around=hold.around)
    hold.assert_happened()
    assert_each_processed(answers, racers + 1)
    user = the_only_user(data["id"])
    assert user.deleted_at is not None and user.is_active is False
    if leader_type == "user.created":  # provisioned by the create, once, then tombstoned
        assert provisioned == [(data["id"], "webhook")]
        # Sent if it went out before a delete committed, skipped (with the reason) after.
        provisioning = UserProvisioning.objects.get(user=user)
        assert provisioning.welcome_email in ("sent", "skipped")
        expected = 1 if provisioning.welcome_email == "sent" else 0
        assert len(welcome_emails_to(mailoutbox, email)) == len(mailoutbox) == expected
    else:  # a create that loses to a tombstone changes nothing and provisions nothing
        assert provisioned == []
        assert mailoutbox == []
        assert UserProvisioning.objects.filter(user=user).count() == 0
