"""Property: Clerk's user.* events converge on one table whatever the arrival order.

Svix delivers at least once and in no particular order. Whatever the order and
however often a message is re-delivered, the local users must end up as if
every event had arrived once, in the order Clerk produced them:

- upserts are keyed by clerk_id and guarded by Clerk's `updated_at` (an older
  state changes nothing);
- the ledger runs each svix message id once;
- a user.deleted tombstones the user, creating the tombstone when unseen, and a
  tombstone is final.

The last rule makes a deleted user's profile depend on what arrived before the
delete (a user.created arriving after its tombstone is a no-op, by contract).
So the reference stream is: every event in Clerk's order, once, except that a
deleted user's events arriving (in the shuffled stream) after its user.deleted
are left out. For users never deleted that is exactly "everything, in order".

Events go through `webhook_event_deliver`, the path the HTTP view takes after
verifying the signature, with the body parsed by `webhook_payload_parse` as the
view does.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from accounts.models import User, UserProvisioning
from accounts.tests.delivery_streams import arrival_order, deliver_through_ledger
from accounts.tests.factories import (
    ClerkUserDataFactory,
    user_deleted_event,
    user_event,
)
from webhooks.models import WebhookAttempt, WebhookEvent

# Fields compared for every user; username only where Clerk's own username decides it.
COMPARED_FIELDS = ("email", "first_name", "last_name", "image_url", "clerk_updated_at", "is_active")


@dataclass(frozen=True)
class Event:
    msg_id: str
    clerk_id: str
    payload: dict[str, Any]
    updated_at: int | None  # Clerk's updated_at (ms); None for user.deleted
    username: str | None  # Clerk's username in this state; None for user.deleted or no username

    @property
    def is_delete(self) -> bool:
        return self.payload["type"] == "user.deleted"


@dataclass(frozen=True)
class Scenario:
    events: list[Event]  # in Clerk's order: per user created, updated…, optionally deleted
    stream: list[int]  # indices into `events`: the shuffled arrival order, with re-deliveries

    def first_arrivals(self) -> list[int]:
        """Event indices in the order of their first delivery (later copies are duplicates)."""
        seen: dict[int, None] = {}
        for index in self.stream:
            seen.setdefault(index, None)
        return list(seen)

    def effective_events(self) -> list[Event]:
        """The reference stream: Clerk's order, minus events arriving after their user's tombstone."""
        position = {index: at for at, index in enumerate(self.first_arrivals())}
        delete_at = {e.clerk_id: position[i] for i, e in enumerate(self.events) if e.is_delete}
        return [
            event
            for i, event in enumerate(self.events)
            if event.is_delete or position[i] < delete_at.get(event.clerk_id, len(position))
        ]


# --- Strategies ----------------------------------------------------------------

# Names: absent, plain, or any Unicode text (NUL included: the parser drops it, as the view's does).
names = st.one_of(st.none(), st.sampled_from(["Ada", "Grace", "Zoë", "李", ""]), st.text(max_size=20))
emails = st.one_of(st.none(), st.emails(), st.sampled_from(["shared@example.com", "Mixed.Case@Example.COM"]))
image_urls = st.one_of(
    st.none(),
    st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=12).map(
        lambda path: f"https://img.clerk.com/{path}"
    ),
    st.text(max_size=10),  # mostly not a URL: stored as ""
)


@st.composite
def user_events(draw, index: int) -> list[Event]:
    """One Clerk user's events: user.created, then user.updated's with strictly newer
    updated_at, optionally a user.deleted. Each has its own svix message id."""
    clerk_id = f"user_prop{index:08d}"
    # Usernames from a pool of this user's own, so no other user can hold them.
    usernames = st.one_of(st.none(), st.sampled_from([f"u{index}name{j}" for j in range(3)]))
    created_at = draw(st.integers(1_600_000_000_000, 1_800_000_000_000))
    updated_at = created_at + draw(st.integers(0, 1000))
    events = []
    for version in range(draw(st.integers(1, 4))):
        if version:
            updated_at += draw(st.integers(1, 10**8))  # strictly newer, at least 1 ms
        email = draw(emails)
        username = draw(usernames)
        data = ClerkUserDataFactory(
            id=clerk_id,
            email=email,
            email_id=f"idn_{index}_{version}",
            username=username,
            first_name=draw(names),
            last_name=draw(names),
            image_url=draw(image_urls),
            created_at=created_at,
            updated_at=updated_at,
        )
        event_type = "user.created" if version == 0 else "user.updated"
        events.append(Event(f"msg_{index}_{version}", clerk_id, user_event(event_type, data), updated_at, username))
    if draw(st.booleans()):
        events.append(Event(f"msg_{index}_deleted", clerk_id, user_deleted_event(clerk_id), None, None))
    return events


@st.composite
def scenarios(draw) -> Scenario:
    events = [e for index in range(draw(st.integers(1, 4))) for e in draw(user_events(index))]
    return Scenario(events, draw(arrival_order(len(events))))


# --- Helpers -------------------------------------------------------------------


def deliver_all(events: list[Event]) -> list[str]:
    """Deliver each event through the ledger; returns the outcomes."""
    return [deliver_through_ledger(e.msg_id, e.payload) for e in events]


def users_table() -> dict[str, dict[str, Any]]:
    """The Clerk users as they stand: clerk_id -> compared fields."""
    provisioned = set(UserProvisioning.objects.values_list("user__clerk_id", flat=True))
    table = {}
    for row in User.objects.filter(clerk_id__isnull=False).values(
        "clerk_id", "username", "deleted_at", *COMPARED_FIELDS
    ):
        row["deleted"] = row.pop("deleted_at") is not None
        row["provisioned"] = row["clerk_id"] in provisioned
        table[row["clerk_id"]] = row
    return table


def in_rolled_back_transaction(run):
    """Run `run()` in a transaction rolled back afterwards, returning what it read."""
    with transaction.atomic():
        result = run()
        transaction.set_rollback(True)
    return result


def newest_usernames(effective: list[Event]) -> dict[str, str | None]:
    """Per user, Clerk's username in the newest state that takes effect (None: none, or never seen)."""
    newest: dict[str, Event] = {}
    for candidate in effective:
        if candidate.is_delete:
            continue
        current = newest.get(candidate.clerk_id)
        if current is None or candidate.updated_at > current.updated_at:
            newest[candidate.clerk_id] = candidate
    return {clerk_id: state.username for clerk_id, state in newest.items()}


# --- The property --------------------------------------------------------------


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_shuffled_duplicated_stream_converges_to_in_order_result(scenario: Scenario) -> None:
    """Shuffled, re-delivered user.* events leave the same users as one in-order delivery of each."""
    effective = scenario.effective_events()
    event(f"users: {len({e.clerk_id for e in scenario.events})}")
    event(f"re-deliveries: {'yes' if len(scenario.stream) > len(scenario.events) else 'no'}")
    event(f"events dropped after a tombstone: {'yes' if len(effective) < len(scenario.events) else 'no'}")
    note(f"arrival order: {[scenario.events[i].msg_id for i in scenario.stream]}")
    note(f"reference order: {[e.msg_id for e in effective]}")

    def run_reference():
        deliver_all(effective)
        return users_table()

    reference = in_rolled_back_transaction(run_reference)

    def run_shuffled():
        outcomes = deliver_all([scenario.events[i] for i in scenario.stream])
        ledger = {
            row["event_id"]: row
            for row in WebhookEvent.objects.filter(source="clerk").values("event_id", "status", "attempts")
        }
        failed_attempts = WebhookAttempt.objects.filter(outcome=WebhookAttempt.Outcome.FAILED).count()
        return outcomes, users_table(), ledger, failed_attempts

    outcomes, result, ledger, failed_attempts = in_rolled_back_transaction(run_shuffled)

    # Users: the same ones, in the same state.
    assert result.keys() == reference.keys()
    for clerk_id, expected in reference.items():
        actual = result[clerk_id]
        for field in (*COMPARED_FIELDS, "deleted", "provisioned"):
            assert actual[field] == expected[field], f"{clerk_id}.{field}"
    for clerk_id, username in newest_usernames(effective).items():
        if result[clerk_id]["deleted"]:  # a tombstone's username is erased: it names no one
            assert result[clerk_id]["username"].startswith("deleted-")
        elif username:
            assert result[clerk_id]["username"] == username == reference[clerk_id]["username"]

    # Ledger: one row per message id, each run once; re-deliveries answered as duplicates.
    deliveries = {e.msg_id: 0 for e in scenario.events}
    for index in scenario.stream:
        deliveries[scenario.events[index].msg_id] += 1
    assert ledger.keys() == deliveries.keys()
    assert {msg_id: row["attempts"] for msg_id, row in ledger.items()} == deliveries
    assert {row["status"] for row in ledger.values()} == {WebhookEvent.Status.PROCESSED}
    assert failed_attempts == 0
    seen: set[int] = set()
    for index, outcome in zip(scenario.stream, outcomes, strict=True):
        expected_outcome = WebhookAttempt.Outcome.DUPLICATE if index in seen else WebhookAttempt.Outcome.PROCESSED
        assert outcome == expected_outcome, scenario.events[index].msg_id
        seen.add(index)
