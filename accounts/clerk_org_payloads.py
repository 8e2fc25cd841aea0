"""Clerk-shaped Organization and OrganizationMembership objects, and their event envelopes.

Shaped like Clerk's webhook samples and Backend API answers, for the test
suite and the Clerk stand-in; plain functions with keyword arguments, each
value the caller leaves out made up or derived. Only the fields this project
reads vary; the rest are Clerk's usual ones, so a payload reads like Clerk's.
"""

from __future__ import annotations

import time
from typing import Any


def organization_data(
    *,
    id: str,
    name: str = "Acme Corp",
    slug: str | None = None,
    image_url: str | None = "https://img.clerk.com/org",
    members_count: int = 1,
    created_at: int | None = None,
    updated_at: int | None = None,
) -> dict[str, Any]:
    """A Clerk Organization object (organization.created/updated `data`, GET /v1/organizations/{id})."""
    created_at = _now_ms() if created_at is None else created_at
    return {
        "object": "organization",
        "id": id,
        "name": name,
        "slug": slug if slug is not None else id.removeprefix("org_").lower(),
        "image_url": image_url,
        "has_image": bool(image_url),
        "members_count": members_count,
        "max_allowed_memberships": 5,
        "admin_delete_enabled": True,
        "public_metadata": {},
        "private_metadata": {},
        "created_by": "",
        "created_at": created_at,
        "updated_at": created_at if updated_at is None else updated_at,
    }


def organization_deleted_data(*, id: str, slug: str = "") -> dict[str, Any]:
    """organization.deleted's `data`: only these four keys."""
    return {"object": "organization", "id": id, "slug": slug, "deleted": True}


def membership_data(
    *,
    id: str,
    organization: dict[str, Any],
    user_id: str,
    role: str = "org:member",
    permissions: list[str] | None = None,
    first_name: str = "Jane",
    last_name: str = "Doe",
    created_at: int | None = None,
    updated_at: int | None = None,
) -> dict[str, Any]:
    """A Clerk OrganizationMembership object, embedding `organization` (an organization_data())."""
    created_at = _now_ms() if created_at is None else created_at
    return {
        "object": "organization_membership",
        "id": id,
        "role": role,
        "role_name": role.removeprefix("org:").title(),
        "permissions": ["org:sys_profile:read"] if permissions is None else permissions,
        "public_metadata": {},
        "private_metadata": {},
        "organization": organization,
        "public_user_data": {
            "user_id": user_id,
            "first_name": first_name,
            "last_name": last_name,
            "image_url": "https://img.clerk.com/user",
            "has_image": True,
            "identifier": f"{first_name}.{last_name}@example.com".lower(),
        },
        "created_at": created_at,
        "updated_at": created_at if updated_at is None else updated_at,
    }


def organization_event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The envelope Clerk sends through Svix around an organization.* or organizationMembership.* `data`."""
    return {
        "object": "event",
        "type": event_type,
        "data": data,
        "instance_id": "ins_local",
        "timestamp": _now_ms(),
        "event_attributes": {"http_request": {"client_ip": "127.0.0.1", "user_agent": "clerk-sync"}},
    }


def _now_ms() -> int:
    return int(time.time() * 1000)
