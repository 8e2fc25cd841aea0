"""Property: organization.* and organizationMembership.* events converge whatever the arrival order.

Every order of organization created / updated, membership created / role
changed / deleted and organization deleted, each message possibly delivered
more than once, must leave the tables as the rules say, and a receiver that
keeps its own tenant table from the three membership signals must end with
exactly the current members and their roles.

The rules make the expected state a function of the arrival order:
- an organization holds its newest state (by Clerk's `updated_at`; at an equal
  one, its own event's over a copy embedded in a membership event) among the
  states that arrived before its organization.deleted, whether they came in
  organization.* events or embedded in membership events; unseen before the
  delete, it is the bare tombstone. Embedded copies are sometimes stale as in
  Clerk's own examples: the previous state stamped with the newer `updated_at`;
- a membership holds its newest state among its events that arrived up to its
  organizationMembership.deleted (the delete applies its data, then tombstones);
- a membership counts while neither it nor its organization is deleted.
Without deletes that is simply Clerk's final state, which is asserted too.

Events go through `webhook_event_deliver`, the path the HTTP view takes after
verifying the signature, with the body parsed as the view does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.db.models import F
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from accounts.clerk.data import clerk_timestamp
from accounts.clerk.payloads import membership_data, organization_data, organization_deleted_data
from accounts.models import Organization, OrganizationMembership
from accounts.signals import (
    organization_membership_changed,
    organization_membership_created,
    organization_membership_removed,
)
from accounts.sync.organizations import organization_current_members
from accounts.tests.delivery_streams import arrival_order, deliver_through_ledger
from accounts.tests.organization_factories import org_event
from webhooks.models import WebhookEvent


@dataclass(frozen=True)
class Event:
    msg_id: str
    payload: dict[str, Any]
    organization_id: str
    organization_state: dict[str, Any] | None  # the Organization object it carries (None: organization.deleted)
    membership_id: str | None = None  # for membership events
    membership_state: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        return self.payload["type"]


@dataclass(frozen=True)
class Scenario:
    events: list[Event]  # in Clerk's order
    stream: list[int]  # the arrival order, with re-deliveries

    def arrivals(self) -> list[Event]:
        """Events in the order of their first delivery."""
        return [self.events[i] for i in dict.fromkeys(self.stream)]


# --- Strategies ----------------------------------------------------------------

names = st.sampled_from(["Acme", "Acme Corp", "Zoë & Co", "李氏", ""])
roles = st.sampled_from(["org:admin", "org:member", "org:billing"])
permissions = st.lists(
    st.sampled_from(["org:posts:read", "org:posts:write", "org:sys_memberships:manage"]), unique=True
)


def newer(draw, updated_at: int) -> int:
    return updated_at + draw(st.integers(1, 10**8))


@st.composite
def organization_events(draw, index: int) -> list[Event]:
    """One organization's events in Clerk's order: created, updated…, its memberships', perhaps deleted."""
    org_id = f"org_prop{index:04d}"
    updated_at = draw(st.integers(1_600_000_000_000, 1_700_000_000_000))
    versions = []
    for version in range(draw(st.integers(1, 3))):
        if version:
            updated_at = newer(draw, updated_at)
        slug = draw(st.sampled_from([f"acme-{index}", f"acme-{index}-renamed", "shared-slug"]))
        versions.append(organization_data(id=org_id, name=draw(names), slug=slug, updated_at=updated_at))
    events = [
        Event(f"msg_o{index}_{v}", org_event(f"organization.{'updated' if v else 'created'}", state), org_id, state)
        for v, state in enumerate(versions)
    ]
    stale_copies = [old | {"updated_at": new["updated_at"]} for old, new in zip(versions, versions[1:], strict=False)]
    for member in range(draw(st.integers(0, 3))):
        membership_id, member_updated_at = f"orgmem_prop{index}x{member}", updated_at
        for version in range(draw(st.integers(1, 3))):
            member_updated_at = newer(draw, member_updated_at)
            # The organization as it stood when Clerk sent it, or a stale copy as in Clerk's own examples.
            embedded = draw(st.sampled_from(versions + stale_copies))
            state = membership_data(
                id=membership_id,
                organization=embedded,
                user_id=f"user_prop{index}x{member}",
                role=draw(roles),
                permissions=draw(permissions),
                updated_at=member_updated_at,
            )
            kind = "organizationMembership.updated" if version else "organizationMembership.created"
            msg_id = f"msg_m{index}_{member}_{version}"
            events.append(Event(msg_id, org_event(kind, state), org_id, embedded, membership_id, state))
        if draw(st.booleans()):  # Clerk's delete carries the membership's last state
            last = events[-1]
            deleted = org_event("organizationMembership.deleted", last.membership_state)
            msg_id = f"msg_m{index}_{member}_deleted"
            events.append(Event(msg_id, deleted, org_id, last.organization_state, membership_id, last.membership_state))
    if draw(st.booleans()):
        deleted = org_event("organization.deleted", organization_deleted_data(id=org_id, slug=versions[-1]["slug"]))
        events.append(Event(f"msg_o{index}_deleted", deleted, org_id, None))
    return events


@st.composite
def scenarios(draw) -> Scenario:
    events = [e for index in range(draw(st.integers(1, 2))) for e in draw(organization_events(index))]
    return Scenario(events, draw(arrival_order(len(events))))


# --- The expected state ----------------------------------------------------------


def newest(states: list[dict[str, Any]]) -> dict[str, Any] | None:
    return max(states, key=lambda state: state["updated_at"], default=None)


def expected_tables(scenario: Scenario) -> tuple[dict, dict]:
    """(organizations, memberships) as the rules leave them after `scenario`'s arrival order."""
    arrivals = scenario.arrivals()
    organizations, memberships = {}, {}
    for org_id in dict.fromkeys(e.organization_id for e in scenario.events):
        own = [e for e in arrivals if e.organization_id == org_id]
        deleted_at = next((at for at, e in enumerate(own) if e.kind == "organization.deleted"), None)
        before = own if deleted_at is None else own[:deleted_at]
        own_first = sorted(before, key=lambda e: not e.kind.startswith("organization."))  # max keeps the first
        state = newest([e.organization_state for e in own_first if e.organization_state is not None])
        if state is None:  # the tombstone came first
            delete = own[deleted_at].payload["data"]
            state = {"name": "", "slug": delete["slug"], "image_url": "", "updated_at": None}
        organizations[org_id] = {
            "name": state["name"],
            "slug": state["slug"],
            "image_url": state["image_url"] or "",
            "clerk_updated_at": clerk_timestamp(state["updated_at"]),
            "deleted": deleted_at is not None,
        }
    for membership_id in dict.fromkeys(e.membership_id for e in scenario.events if e.membership_id):
        own = [e for e in arrivals if e.membership_id == membership_id]
        deleted_at = next((at for at, e in enumerate(own) if e.kind.endswith(".deleted")), None)
        state = newest([e.membership_state for e in (own if deleted_at is None else own[: deleted_at + 1])])
        memberships[membership_id] = {
            "organization_clerk_id": own[0].organization_id,
            "role": state["role"],
            "permissions": state["permissions"],
            "clerk_updated_at": clerk_timestamp(state["updated_at"]),
            "deleted": deleted_at is not None,
        }
    return organizations, memberships


def clerk_final_roles(scenario: Scenario) -> dict[str, str]:
    """Clerk's final role per membership, for memberships and organizations never deleted."""
    deleted = {e.organization_id for e in scenario.events if e.kind == "organization.deleted"}
    deleted |= {e.membership_id for e in scenario.events if e.kind == "organizationMembership.deleted"}
    final = {}
    for e in scenario.events:
        if e.membership_id and e.membership_id not in deleted and e.organization_id not in deleted:
            final[e.membership_id] = e.membership_state["role"]
    return final


# --- Helpers -----------------------------------------------------------------------


def actual_tables() -> tuple[dict, dict]:
    organizations = Organization.objects.values(
        "clerk_id", "name", "slug", "image_url", "clerk_updated_at", "deleted_at"
    )
    memberships = OrganizationMembership.objects.values(
        "clerk_id",
        "role",
        "permissions",
        "clerk_updated_at",
        "deleted_at",
        organization_clerk_id=F("organization__clerk_id"),
    )
    return by_clerk_id(organizations), by_clerk_id(memberships)


def by_clerk_id(rows) -> dict[str, dict]:
    return {row.pop("clerk_id"): row | {"deleted": row.pop("deleted_at") is not None} for row in rows}


class TenantTable:
    """A receiver keeping its own table of current members from the three signals, checking each transition."""

    def __init__(self) -> None:
        self.roles: dict[str, str] = {}
        self.errors: list[str] = []
        self.ended: set[str] = set()

    def created(self, sender, membership, **kwargs) -> None:
        if membership.clerk_id in self.roles or membership.clerk_id in self.ended:
            self.errors.append(f"created twice: {membership.clerk_id}")
        self.roles[membership.clerk_id] = membership.role

    def changed(self, sender, membership, old_role, new_role, **kwargs) -> None:
        if self.roles.get(membership.clerk_id) != old_role or old_role == new_role:
            self.errors.append(f"changed from {old_role} but the table says {self.roles.get(membership.clerk_id)}")
        self.roles[membership.clerk_id] = new_role

    def removed(self, sender, membership, **kwargs) -> None:
        if self.roles.pop(membership.clerk_id, None) is None:
            self.errors.append(f"removed without being current: {membership.clerk_id}")
        self.ended.add(membership.clerk_id)

    def __enter__(self) -> TenantTable:
        organization_membership_created.connect(self.created, dispatch_uid="tenant-table-created")
        organization_membership_changed.connect(self.changed, dispatch_uid="tenant-table-changed")
        organization_membership_removed.connect(self.removed, dispatch_uid="tenant-table-removed")
        return self

    def __exit__(self, *exc) -> None:
        for signal, uid in [
            (organization_membership_created, "tenant-table-created"),
            (organization_membership_changed, "tenant-table-changed"),
            (organization_membership_removed, "tenant-table-removed"),
        ]:
            signal.disconnect(dispatch_uid=uid)


# --- The property ------------------------------------------------------------------


@pytest.mark.django_db
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_shuffled_duplicated_organization_events_converge(scenario: Scenario) -> None:
    event(f"organizations: {len({e.organization_id for e in scenario.events})}")
    event(f"re-deliveries: {'yes' if len(scenario.stream) > len(scenario.events) else 'no'}")
    event(f"organization deleted: {'yes' if any(e.kind == 'organization.deleted' for e in scenario.events) else 'no'}")
    note(f"arrival order: {[scenario.events[i].msg_id for i in scenario.stream]}")

    with transaction.atomic(), TenantTable() as tenants:
        for index in scenario.stream:
            deliver_through_ledger(scenario.events[index].msg_id, scenario.events[index].payload)
        organizations, memberships = actual_tables()
        current = {
            m.clerk_id: m.role
            for organization in Organization.objects.all()
            for m in organization_current_members(organization)
        }
        ledger = {row[0]: row[1:] for row in WebhookEvent.objects.values_list("event_id", "status", "attempts")}
        transaction.set_rollback(True)

    expected_organizations, expected_memberships = expected_tables(scenario)
    assert organizations == expected_organizations
    assert memberships == expected_memberships
    deliveries = Counter(scenario.events[index].msg_id for index in scenario.stream)
    assert ledger == {msg_id: (WebhookEvent.Status.PROCESSED, count) for msg_id, count in deliveries.items()}
    assert current == {
        membership_id: state["role"]
        for membership_id, state in expected_memberships.items()
        if not state["deleted"] and not expected_organizations[state["organization_clerk_id"]]["deleted"]
    }
    for membership_id, role in clerk_final_roles(scenario).items():
        assert current[membership_id] == role
    assert tenants.errors == []
    assert tenants.roles == current
