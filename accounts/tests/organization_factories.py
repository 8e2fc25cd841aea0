"""Clerk-shaped organizations and memberships with fresh ids, built by accounts/clerk/payloads.py."""

from __future__ import annotations

import itertools
from typing import Any

from accounts.clerk.payloads import event_envelope, membership_data, organization_data

_ids = itertools.count(1)


def new_organization(**fields: Any) -> dict[str, Any]:
    """organization_data() with a fresh `org_…` id unless one is given."""
    number = next(_ids)
    fields.setdefault("id", f"org_test{number:06d}")
    fields.setdefault("name", f"Organization {number}")
    return organization_data(**fields)


def new_membership(*, organization: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """membership_data() with a fresh `orgmem_…` id, member and organization unless given."""
    number = next(_ids)
    fields.setdefault("id", f"orgmem_test{number:06d}")
    fields.setdefault("user_id", f"user_member{number:06d}")
    return membership_data(organization=organization or new_organization(), **fields)


def org_event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return event_envelope(event_type, data)
