"""Ids, roles and permissions arrive exactly as Clerk sent them, or the delivery is refused.

PostgreSQL's jsonb cannot hold a NUL character or a lone surrogate, so the
ledger drops or replaces them before storing a payload. In free text (names)
that costs a character; in an id it would make another id (`org_abc\\u0000def`
becoming the valid `org_abcdef`), in a role or permission another grant. Those
deliveries are refused as `bad_data` over real signed deliveries, with nothing
kept, as for any other unusable data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from accounts.clerk.payloads import event_envelope, organization_deleted_data, user_deleted_object
from accounts.models import Organization, OrganizationMembership, User
from accounts.tests.factories import ClerkUserDataFactory
from accounts.tests.organization_factories import new_membership, new_organization
from webhooks.models import WebhookEvent, WebhookRejection

pytestmark = pytest.mark.django_db

# What the ledger cannot store as it is: NUL is dropped, a lone surrogate replaced.
UNSTORABLE = {"nul": "\x00", "lone-surrogate": "\ud800"}


@dataclass(frozen=True)
class Case:
    id: str
    event_type: str
    # The event's data with `bad` (an unstorable character) inside the field under test.
    data: Callable[[str], dict[str, Any]]


def membership(**fields: Any) -> dict[str, Any]:
    return new_membership(role="org:admin", permissions=["org:posts:read", "org:posts:write"]) | fields


def user_with_email_ids(bad: str, *, primary: bool) -> dict[str, Any]:
    """A user whose primary address id, or its one address's id, is `idn_a<bad>b`: altered, it would match `idn_ab`."""
    data = ClerkUserDataFactory(email_id="idn_ab")
    address = data["email_addresses"][0] | {"id": "idn_a" + bad + "b"}
    return data | {"primary_email_address_id": address["id"]} if primary else data | {"email_addresses": [address]}


CASES = [
    Case("user.created data.id", "user.created", lambda bad: ClerkUserDataFactory(id="user_ab" + bad + "cd")),
    Case("user.updated data.id", "user.updated", lambda bad: ClerkUserDataFactory(id="user_ab" + bad + "cd")),
    Case("user.deleted data.id", "user.deleted", lambda bad: user_deleted_object(clerk_id="user_ab" + bad + "cd")),
    Case(
        "user.created data.primary_email_address_id",
        "user.created",
        lambda bad: user_with_email_ids(bad, primary=True),
    ),
    Case(
        "user.updated data.email_addresses[0].id",
        "user.updated",
        lambda bad: user_with_email_ids(bad, primary=False),
    ),
    Case("organization.created data.id", "organization.created", lambda bad: new_organization(id=f"org_abc{bad}def")),
    Case("organization.updated data.id", "organization.updated", lambda bad: new_organization(id=f"org_abc{bad}def")),
    Case(
        "organization.deleted data.id",
        "organization.deleted",
        lambda bad: organization_deleted_data(id="org_abc" + bad + "def", slug="acme"),
    ),
    Case(
        "organizationMembership.created data.id",
        "organizationMembership.created",
        lambda bad: membership(id="orgmem_ab" + bad + "cd"),
    ),
    Case(
        "organizationMembership.deleted data.id",
        "organizationMembership.deleted",
        lambda bad: membership(id="orgmem_ab" + bad + "cd"),
    ),
    Case(
        "organizationMembership.created data.organization.id",
        "organizationMembership.created",
        lambda bad: new_membership(organization=new_organization(id="org_abc" + bad + "def")),
    ),
    Case(
        "organizationMembership.updated data.public_user_data.user_id",
        "organizationMembership.updated",
        lambda bad: new_membership(user_id="user_ab" + bad + "cd"),
    ),
    Case(
        "organizationMembership.updated data.role",
        "organizationMembership.updated",
        lambda bad: membership(role="org:ad" + bad + "min"),
    ),
    Case(
        "organizationMembership.created data.permissions[0]",
        "organizationMembership.created",
        lambda bad: membership(permissions=["org:posts:" + bad + "delete", "org:posts:read"]),
    ),
    Case(
        "organizationMembership.updated data.permissions[1]",
        "organizationMembership.updated",
        lambda bad: membership(permissions=["org:posts:read", "org:members:" + bad + "manage"]),
    ),
]


@pytest.mark.parametrize("bad", UNSTORABLE.values(), ids=UNSTORABLE.keys())
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_an_identifier_the_ledger_would_alter_is_refused_and_nothing_is_kept(deliver, case, bad):
    response = deliver(event_envelope(case.event_type, case.data(bad)))

    assert response.status_code == 400, response.content
    assert response.json()["reason"] == "bad_data"
    field = case.id.split(" ")[1]
    assert field in response.json()["error"]
    assert not User.objects.exists()
    assert not Organization.objects.exists() and not OrganizationMembership.objects.exists()
    # As for any bad_data refusal: no ledger row, one refusal counted.
    assert not WebhookEvent.objects.exists()
    assert list(WebhookRejection.objects.values_list("reason", "count")) == [("bad_data", 1)]


def test_an_existing_membership_is_left_as_it_was(deliver):
    """An altered role would have replaced the stored one: the stored one stays."""
    data = new_membership(role="org:member", permissions=["org:posts:read"], updated_at=1_000)
    assert deliver(event_envelope("organizationMembership.created", data)).status_code == 200

    later = data | {"role": "org:ad\x00min", "permissions": ["org:posts:read", "org:members:\x00manage"]}
    response = deliver(event_envelope("organizationMembership.updated", later | {"updated_at": 2_000}))

    assert response.status_code == 400 and response.json()["reason"] == "bad_data"
    stored = OrganizationMembership.objects.get()
    assert (stored.role, stored.permissions) == ("org:member", ["org:posts:read"])
    assert stored.clerk_updated_at.timestamp() == 1.0


@pytest.mark.parametrize("bad", UNSTORABLE.values(), ids=UNSTORABLE.keys())
def test_free_text_may_lose_the_characters_and_is_kept(deliver, bad):
    organization = new_organization(name="Ac" + bad + "me", slug="acme")
    data = new_membership(organization=organization, first_name="Ja" + bad + "ne", role="org:admin")

    assert deliver(event_envelope("organizationMembership.created", data)).status_code == 200
    assert (
        deliver(event_envelope("user.created", ClerkUserDataFactory(first_name="An" + bad + "na"))).status_code == 200
    )

    stored = OrganizationMembership.objects.select_related("organization").get()
    assert (stored.clerk_id, stored.role, stored.organization.clerk_id) == (data["id"], "org:admin", organization["id"])
    assert stored.organization.name == {"\x00": "Acme", "\ud800": "Ac?me"}[bad]
    assert User.objects.get().first_name == {"\x00": "Anna", "\ud800": "An?na"}[bad]
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}


SHAPES = {
    "membership-data-a-list": ("organizationMembership.created", ["orgmem_1", "\x00"], 400),
    "organization-a-string": (
        "organizationMembership.created",
        new_membership(first_name="\x00") | {"organization": "org_1"},
        400,
    ),
    "user-data-a-list": (
        "organizationMembership.updated",
        new_membership(first_name="\x00") | {"public_user_data": ["user_1"]},
        400,
    ),
    "permissions-an-object": (
        "organizationMembership.updated",
        new_membership(first_name="\x00") | {"permissions": {"0": "org:a"}},
        400,
    ),
    "user-data-a-string": ("user.created", "user_1\x00", 400),
    # Tolerated as without the escape: a user without a usable address has no email.
    "email-addresses-a-string": (
        "user.updated",
        ClerkUserDataFactory(first_name="\x00") | {"email_addresses": "a"},
        200,
    ),
    "email-addresses-not-objects": (
        "user.updated",
        ClerkUserDataFactory(first_name="\x00") | {"email_addresses": ["idn_1", None]},
        200,
    ),
}


@pytest.mark.parametrize(("event_type", "data", "status"), SHAPES.values(), ids=SHAPES.keys())
def test_any_shape_with_characters_to_alter_is_answered_as_without_them(deliver, event_type, data, status):
    """Looking for identifiers copes with any shape; the parser then decides as it would without the escape."""
    response = deliver(event_envelope(event_type, data))

    assert response.status_code == status
    if status == 400:
        assert response.json()["reason"] == "bad_data"
        assert not User.objects.exists() and not Organization.objects.exists()
    else:
        assert User.objects.get().email == ""
