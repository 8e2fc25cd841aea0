"""Clerk-shaped payloads: event envelopes, the users, organizations and memberships inside them, Svix headers.

One builder for everything that plays Clerk: the tests' factories, `manage.py
send_clerk_webhook` and the benchmark (bench/payloads.py). The shapes follow
Clerk's documented samples (https://clerk.com/docs/webhooks/overview, and the
Backend API's User object: https://clerk.com/docs/reference/backend-api/tag/Users).
Plain functions taking keyword arguments, importing nothing from Django, so
the benchmark can use them outside the app; another kind of payload is one
more function of the same shape.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from svix.webhooks import Webhook


def now_ms() -> int:
    """Now, as Clerk writes times: milliseconds since the epoch."""
    return int(time.time() * 1000)


def new_id(prefix: str) -> str:
    """A fresh id shaped like Clerk's and Svix's: `prefix`, an underscore and 27 characters (`msg_…`, `user_…`)."""
    return f"{prefix}_{uuid.uuid4().hex[:27]}"


def email_address_object(address: str, *, email_id: str) -> dict[str, Any]:
    """One of a User's `email_addresses`: verified, linked to nothing."""
    return {
        "id": email_id,
        "object": "email_address",
        "email_address": address,
        "linked_to": [],
        "verification": {"status": "verified", "strategy": "email_code"},
    }


def user_object(
    *,
    clerk_id: str | None = None,
    email: str | None = None,
    email_id: str | None = None,
    created_at: int | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A Clerk User object, as `user.created` and `user.updated` carry it and the Backend API returns it.

    `clerk_id` (the object's `id`) defaults to a new `user_…` id. `email` is the
    user's one address, made primary (none when it is None or empty), with the
    id `email_id` (default a new `idn_…`). `created_at` is in milliseconds
    (default now). Any field in `fields` (`first_name`, `last_name`,
    `username`, `updated_at`, `image_url`, ...; `email_addresses` too) is set as
    given, None and malformed values included; the others are a new user's:
    no name, phone or metadata, `updated_at` equal to `created_at`, an
    img.clerk.com `image_url` for the id.
    """
    clerk_id = clerk_id or new_id("user")
    created_at = now_ms() if created_at is None else created_at
    email_id = email_id or new_id("idn")
    return {
        "object": "user",
        "id": clerk_id,
        "username": None,
        "first_name": None,
        "last_name": None,
        "image_url": f"https://img.clerk.com/{clerk_id}",
        "profile_image_url": f"https://img.clerk.com/{clerk_id}",
        "has_image": False,
        "email_addresses": [email_address_object(email, email_id=email_id)] if email else [],
        "primary_email_address_id": email_id if email else None,
        "phone_numbers": [],
        "primary_phone_number_id": None,
        "web3_wallets": [],
        "primary_web3_wallet_id": None,
        "external_accounts": [],
        "external_id": None,
        "public_metadata": {},
        "private_metadata": {},
        "unsafe_metadata": {},
        "birthday": "",
        "gender": "",
        "password_enabled": True,
        "two_factor_enabled": False,
        "banned": False,
        "locked": False,
        "created_at": created_at,
        "updated_at": created_at,
        "last_sign_in_at": None,
    } | fields


def user_deleted_object(*, clerk_id: str) -> dict[str, Any]:
    """The `data` of `user.deleted`: the id and `deleted: true`, nothing more."""
    return {"object": "user", "id": clerk_id, "deleted": True}


def session_object(*, user_id: str, id: str | None = None, created_at: int | None = None) -> dict[str, Any]:
    """A Clerk Session object, as session.created carries it (`created_at` in milliseconds, default now)."""
    created_at = now_ms() if created_at is None else created_at
    return {
        "object": "session",
        "id": id or new_id("sess"),
        "user_id": user_id,
        "client_id": new_id("client"),
        "status": "active",
        "last_active_at": created_at,
        "expire_at": created_at + 7 * 24 * 3600 * 1000,
        "created_at": created_at,
        "updated_at": created_at,
    }


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
    created_at = now_ms() if created_at is None else created_at
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
    created_at = now_ms() if created_at is None else created_at
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


def event_envelope(
    event_type: str,
    data: Any,
    *,
    timestamp: int | None = None,
    instance_id: str = "ins_local",
    client_ip: str = "127.0.0.1",
    user_agent: str = "clerk-sync",
) -> dict[str, Any]:
    """The event Clerk sends through Svix around `data` (`timestamp` in milliseconds, default now)."""
    return {
        "object": "event",
        "type": event_type,
        "data": data,
        "instance_id": instance_id,
        "timestamp": now_ms() if timestamp is None else timestamp,
        "event_attributes": {"http_request": {"client_ip": client_ip, "user_agent": user_agent}},
    }


def svix_headers(body: str, *, secret: str, msg_id: str, timestamp: dt.datetime | None = None) -> dict[str, str]:
    """The three headers Svix sends with `body`, signed with `secret` (a `whsec_…`) by the svix library.

    `timestamp` defaults to now; Svix's receivers refuse one more than 5 minutes away.
    """
    timestamp = timestamp or dt.datetime.now(dt.UTC)
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(timestamp.timestamp())),
        "svix-signature": Webhook(secret).sign(msg_id, timestamp, body),
    }
