"""One updated_at guard for every row mirroring Clerk: users, organizations, memberships.

Newer data applies and older never does; data without `updated_at` applies
only while none is stored. At an equal `updated_at` the object's own data (its
own event, or Clerk's answer for it) applies, while a copy embedded in another
object's event (the organization in a membership event) does not: Clerk's own
examples embed an organization older than the organization.updated carrying
the same `updated_at`. Through the services every path calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from accounts.models import Organization, OrganizationMembership, User
from accounts.sync.organizations import membership_upsert_from_clerk, organization_upsert_from_clerk
from accounts.sync.users import user_upsert_from_clerk
from accounts.tests.factories import ClerkUserDataFactory
from accounts.tests.organization_factories import new_membership, new_organization

pytestmark = pytest.mark.django_db

VIA = "webhook"
STORED_AT = 1_000


@dataclass(frozen=True)
class Mirror:
    """Writes a value (a name, or a role) stamped `updated_at` to one Clerk object, and reads the stored value."""

    write: Callable[[str, int | None], object]
    read: Callable[[], str]


def user_mirror() -> Mirror:
    data = ClerkUserDataFactory()

    def write(value, updated_at):
        return user_upsert_from_clerk(data | {"first_name": value, "updated_at": updated_at}, created_via=VIA)

    return Mirror(write, lambda: User.objects.get().first_name)


def organization_mirror() -> Mirror:
    data = new_organization()

    def write(value, updated_at):
        return organization_upsert_from_clerk(data | {"name": value, "updated_at": updated_at}, created_via=VIA)

    return Mirror(write, lambda: Organization.objects.get().name)


def membership_mirror() -> Mirror:
    data = new_membership(updated_at=STORED_AT)

    def write(value, updated_at):
        return membership_upsert_from_clerk(data | {"role": value, "updated_at": updated_at}, created_via=VIA)

    return Mirror(write, lambda: OrganizationMembership.objects.get().role)


def embedded_organization_mirror() -> Mirror:
    """The organization as membership events embed it, each event of another membership; stored by its own event."""
    organization = new_organization()

    def write(value, updated_at):
        embedded = organization | {"name": value, "updated_at": updated_at}
        if not Organization.objects.exists():  # the state stored first: the organization's own event
            return organization_upsert_from_clerk(embedded, created_via=VIA)
        return membership_upsert_from_clerk(new_membership(organization=embedded), created_via=VIA)

    return Mirror(write, lambda: Organization.objects.get().name)


OWN = {"user": user_mirror, "organization": organization_mirror, "membership": membership_mirror}
MIRRORS = OWN | {"organization embedded in a membership event": embedded_organization_mirror}

# (stored updated_at, incoming updated_at) -> whether the incoming value applies, for own data and embedded copies.
CASES = {
    "older": (STORED_AT, STORED_AT - 1, False, False),
    "equal": (STORED_AT, STORED_AT, True, False),
    "newer": (STORED_AT, STORED_AT + 1, True, True),
    "none incoming": (STORED_AT, None, False, False),
    "none stored": (None, STORED_AT, True, True),
    "none either": (None, None, True, True),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", MIRRORS)
def test_one_guard_for_every_mirror(kind, case):
    mirror = MIRRORS[kind]()
    stored_at, incoming_at, own_applies, embedded_applies = CASES[case]
    mirror.write("org:first", stored_at)

    mirror.write("org:second", incoming_at)

    applies = own_applies if kind in OWN else embedded_applies
    assert mirror.read() == ("org:second" if applies else "org:first")


def test_a_copy_embedded_in_another_objects_event_creates_the_row_when_missing():
    organization = new_organization(name="Embedded", updated_at=STORED_AT)

    membership_upsert_from_clerk(new_membership(organization=organization), created_via=VIA)

    assert Organization.objects.get().name == "Embedded"
